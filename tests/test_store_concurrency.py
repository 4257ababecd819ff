"""Two processes, one store (issue 10): any number of keysweep processes may write one store at
once; a locked store is waited for, then a one-line error; a store that cannot be written is a
one-line error before any network call; the store and every report are private to the user."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import KEYSWEEP_BIN, validate_findings_output
from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import assert_each_key_revoked_once, env_for, plant_keys, write_config


def start(*args, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(KEYSWEEP_BIN), *map(str, args)], env={**os.environ, **(env or {})}, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    validate_findings_output([str(a) for a in process.args[1:]], out)  # held to `keysweep schema findings`
    return process.returncode, out, err


def findings_by_id(findings: list[dict]) -> dict[str, set]:
    """What a scan says, without times: each finding id with its places."""
    return {f["id"]: {(o["source"], o["path"], o["line"], o.get("commit")) for o in f["occurrences"]}
            for f in findings}


def store_rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("keysweep: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


@pytest.fixture
def repo_with_keys(make_repo, keys):
    repo = make_repo()
    repo.commit("config", {".env": f"OPENAI_API_KEY={keys.openai_project()}\nGITHUB_TOKEN={keys.github()}\n"})
    repo.commit("more", {"deploy/settings.py": f'ANTHROPIC = "{keys.anthropic()}"\n',
                         "ci.yml": f"token: {keys.github()}\n"})
    return repo


# -- A: concurrent writers ------------------------------------------------------------------------
def test_four_concurrent_scans_into_a_fresh_store_all_succeed_and_agree(run, repo_with_keys, tmp_path):
    single = run("scan", "git", repo_with_keys.path, "--db", tmp_path / "single.db", "--format", "json")
    assert single.code == 1, single
    expected = findings_by_id(single.json())
    assert len(expected) == 4

    shared = tmp_path / "shared" / "store.db"
    processes = [start("scan", "git", repo_with_keys.path, "--db", shared, "--format", "json", "--full")
                 for _ in range(4)]
    results = [finish(p) for p in processes]
    import json

    for code, out, err in results:
        assert code == 1, err
        assert "Traceback" not in err and "error" not in err, err
        assert findings_by_id(json.loads(out)) == expected

    stored = run("findings", "--db", shared, "--format", "json")
    assert findings_by_id(stored.json()) == expected
    versions = [row[0] for row in store_rows(shared, "SELECT version FROM schema_migrations")]
    assert len(versions) == len(set(versions)) and versions
    # Each finding was new to exactly one of the four scans.
    detected = store_rows(shared, "SELECT finding_id, count(*) FROM events WHERE kind = 'detected' GROUP BY finding_id")
    assert sorted(detected) == sorted((finding_id, 1) for finding_id in expected)
    new_counts = [row[0] for row in store_rows(shared, "SELECT new_findings FROM scans")]
    assert sorted(new_counts) == [0, 0, 0, 4] or sum(new_counts) == 4


def test_four_scans_and_two_revocations_on_one_store_at_once(run_process, tmp_path, keys, make_repo):
    """The issue's "Done when": scans keep writing findings while two `revoke --execute` runs share
    the jobs; every key is revoked exactly once at the fake providers and nothing fails."""
    planted = plant_keys(tmp_path / "code", keys, {"github": 6, "openai": 8, "anthropic": 6})
    db = tmp_path / "store.db"
    first = run_process("scan", "dir", tmp_path / "code", "--db", db, "--format", "json")
    assert first.code == 1, first
    other = make_repo("other")
    other.commit("keys", {".env": f"OPENAI_API_KEY={keys.openai_project()}\n", "b.txt": f"{keys.github()}\n"})
    config = write_config(tmp_path / "keysweep.toml", rate=40.0)
    fakes = FakeProviders(github=FakeGitHub(planted["github"]), openai=FakeOpenAI(planted["openai"]),
                          anthropic=FakeAnthropic(planted["anthropic"]))
    with fakes:
        env = env_for(fakes, db)
        processes = [start("scan", "git", other.path, "--db", db, "--format", "json", "--full", env=env)
                     for _ in range(2)]
        processes += [start("scan", "dir", tmp_path / "code", "--db", db, "--format", "json", env=env)
                      for _ in range(2)]
        revokers = [start("revoke", "--all", "--execute", "--yes", "--confirm-delay", "0.05", "--config", config,
                          "--format", "json", env={**env, "KEYSWEEP_ACTOR": f"responder-{i}"}) for i in range(2)]
        for process in processes:
            code, _, err = finish(process)
            assert code == 1, err
            assert "Traceback" not in err and "error" not in err, err
        for process in revokers:
            code, _, err = finish(process)
            assert code == 0, err
            assert "Traceback" not in err and "internal error" not in err, err
        # Whatever the interleaving, a last pass finds nothing left and every key died exactly once.
        settle = run_process("revoke", "--resume", "--config", config, "--confirm-delay", "0.05", env=env)
        assert settle.code == 0, settle
        assert_each_key_revoked_once(fakes, planted)
    assert run_process("audit", "verify", "--db", db).code == 0


def test_a_locked_store_is_waited_for_with_a_message_then_a_one_line_error(run_process, tmp_path, keys):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    db = tmp_path / "store.db"
    assert run_process("scan", "dir", tmp_path / "code", "--db", db).code == 1
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction, for longer than we wait
    try:
        began = time.monotonic()
        result = run_process("scan", "dir", tmp_path / "code", "--db", db, env={"KEYSWEEP_LOCK_TIMEOUT": "2"})
        elapsed = time.monotonic() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 2, result
    assert "waiting for another process to release the store" in result.stderr
    line = one_line_error(result.stderr)
    assert str(db) in line and "locked by another process" in line
    assert 2 <= elapsed < 60  # waited out the whole timeout first


def test_a_store_locked_for_a_few_seconds_is_waited_for_then_used(run_process, tmp_path, keys):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    db = tmp_path / "store.db"
    assert run_process("scan", "dir", tmp_path / "code", "--db", db).code == 1
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    process = start("scan", "dir", tmp_path / "code", "--db", db, "--format", "json")
    try:
        waiting = process.stderr.readline()  # blocks until the scan says it waits for the store
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "waiting for another process to release the store" in waiting
    code, out, err = finish(process)
    assert code == 1, err
    import json

    assert len(json.loads(out)) == 1


def test_bad_lock_timeout_is_a_one_line_error(run, tmp_path, monkeypatch):
    monkeypatch.setenv("KEYSWEEP_LOCK_TIMEOUT", "soon")
    (tmp_path / "code").mkdir()
    result = run("scan", "dir", tmp_path / "code", "--db", tmp_path / "s.db")
    assert result.code == 2
    assert "KEYSWEEP_LOCK_TIMEOUT" in one_line_error(result.stderr)


# -- B: a store that cannot be written --------------------------------------------------------------
READ_ONLY_CLI = """
import sqlite3, sys
import keysweep.store as store
store._connect = lambda path, timeout: sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
from keysweep.cli import main
sys.argv = ["keysweep", *sys.argv[1:]]
main()
"""


def _verify_setup(run_process, tmp_path, keys, fake_api):
    from tests.fakes.api import Reply

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    db = tmp_path / "store.db"
    assert run_process("scan", "dir", tmp_path / "code", "--db", db).code == 1
    fake_api.add("GET", "/v1/models", Reply(200, {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}))
    return db, {"OPENAI_BASE_URL": f"{fake_api.url}/v1"}


def test_verify_of_a_read_only_store_fails_before_any_network_call(run_process, tmp_path, keys, fake_api):
    db, env = _verify_setup(run_process, tmp_path, keys, fake_api)
    before = store_rows(db, "SELECT count(*) FROM verifications")
    result = subprocess.run([sys.executable, "-c", READ_ONLY_CLI, "verify", "--db", str(db)], capture_output=True,
                            text=True, env={**os.environ, **env}, timeout=120)
    assert result.returncode == 2, result.stderr
    line = one_line_error(result.stderr)
    assert str(db) in line and "read-only" in line
    assert fake_api.seen() == [], "verify called the provider before finding out it could not record"
    assert store_rows(db, "SELECT count(*) FROM verifications") == before


def test_the_read_only_check_can_pass(run_process, tmp_path, keys, fake_api):
    """The same set-up with a writable store does call the provider (so the test above can fail)."""
    db, env = _verify_setup(run_process, tmp_path, keys, fake_api)
    result = run_process("verify", "--db", db, env=env)
    assert result.code == 1, result
    assert fake_api.seen()


def test_a_store_whose_directory_is_a_file_is_a_one_line_error_before_any_network_call(
        run_process, tmp_path, keys, fake_api):
    _, env = _verify_setup(run_process, tmp_path, keys, fake_api)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be\n")
    result = run_process("scan", "dir", tmp_path / "code", "--db", blocker / "store.db", "--verify", env=env)
    assert result.code == 2, result
    line = one_line_error(result.stderr)
    assert str(blocker / "store.db") in line and "Not a directory" in line
    assert fake_api.seen() == []


def test_findings_can_read_a_read_only_store(run_process, tmp_path, keys):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    db = tmp_path / "store.db"
    assert run_process("scan", "dir", tmp_path / "code", "--db", db).code == 1
    result = subprocess.run([sys.executable, "-c", READ_ONLY_CLI, "findings", "--db", str(db), "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    validate_findings_output(["findings", "--format", "json"], result.stdout)
    assert result.returncode == 1, result.stderr


# -- C: private files -----------------------------------------------------------------------------
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_its_directory_and_reports_are_private_whatever_the_umask(tmp_path, keys, run, monkeypatch):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    data_home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv("KEYSWEEP_DB")  # the default store, under XDG_DATA_HOME
    reports = tmp_path / "reports"
    reports.mkdir()
    expected_exit = {  # each command's own answer about one planted, unowned, unverified key
        ("scan", "dir", str(tmp_path / "code"), "--format", "json", "-o", str(reports / "scan.json")): 1,
        ("findings", "--format", "csv", "-o", str(reports / "findings.csv")): 1,
        ("verify", "--provider", "none", "--format", "json", "-o", str(reports / "verify.json")): 0,
        ("owners", "--offline", "--format", "json", "-o", str(reports / "owners.json")): 0,
        ("report", "--format", "json", "-o", str(reports / "report.json")): 0,
    }
    commands = list(expected_exit)
    previous = os.umask(0)
    try:
        for command in commands:
            result = run(*command)  # in process: the umask is the process's (the -o reports are validated too)
            assert result.code == expected_exit[command], (command, result)
    finally:
        os.umask(previous)
    store_dir = data_home / "keysweep"
    store = store_dir / "keysweep.db"
    assert _mode(data_home) == 0o700 and _mode(store_dir) == 0o700
    assert _mode(store) == 0o600
    for sidecar in (store_dir / "keysweep.db-wal", store_dir / "keysweep.db-shm"):
        if sidecar.exists():
            assert _mode(sidecar) == 0o600, sidecar
    for command in commands:
        report = Path(command[command.index("-o") + 1])
        assert report.exists(), command
        assert _mode(report) == 0o600, report


def test_an_existing_report_file_becomes_private_when_overwritten(tmp_path, keys, run):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    report = tmp_path / "out.json"
    report.write_text("old\n")
    report.chmod(0o644)
    result = run("scan", "dir", tmp_path / "code", "--no-store", "--format", "json", "-o", report)
    assert result.code == 1
    assert _mode(report) == 0o600
    assert report.read_text().startswith("[")
