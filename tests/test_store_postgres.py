"""A PostgreSQL store shared by several processes (issue 16): scans and two orchestrators at once,
each key revoked exactly once (counted at the fake providers), the audit chain intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from keysweep.remediation.orchestrator import abandoned_runs, finish_run, start_run
from keysweep.store import Store
from tests.conftest import KEYSWEEP_BIN, postgres_url_in_schema, validate_findings_output
from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import assert_each_key_revoked_once, env_for, plant_keys, write_config


def start(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(KEYSWEEP_BIN), *map(str, args)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    validate_findings_output([str(a) for a in process.args[1:]], out)  # held to `keysweep schema findings`
    return process.returncode, out, err


def test_two_orchestrators_on_one_postgresql_store_revoke_each_key_once(run_process, pg_url, tmp_path, keys, make_repo):
    planted = plant_keys(tmp_path / "code", keys, {"github": 6, "openai": 8, "anthropic": 6})
    first = run_process("scan", "dir", tmp_path / "code", "--db", pg_url, "--format", "json")
    assert first.code == 1, first
    assert len(json.loads(first.stdout)) == 20
    other = make_repo("other")
    other.commit("keys", {".env": f"OPENAI_API_KEY={keys.openai_project()}\n", "b.txt": f"{keys.github()}\n"})
    config = write_config(tmp_path / "keysweep.toml", rate=40.0)
    fakes = FakeProviders(github=FakeGitHub(planted["github"]), openai=FakeOpenAI(planted["openai"]),
                          anthropic=FakeAnthropic(planted["anthropic"]))
    with fakes:
        env = env_for(fakes, pg_url)
        scans = [start("scan", "git", other.path, "--format", "json", "--full", env=env) for _ in range(2)]
        scans += [start("scan", "dir", tmp_path / "code", "--format", "json", env=env) for _ in range(2)]
        # The four scans write concurrently; the revokers start once they are done, so that every one
        # of the 22 findings is there to select (a revoker selecting first would leave the others out).
        for process in scans:
            code, _, err = finish(process)
            assert code == 1, err
            assert "Traceback" not in err and "error" not in err, err
        revokers = [start("revoke", "--all", "--execute", "--yes", "--confirm-delay", "0.05", "--config", config,
                          "--format", "json", env={**env, "KEYSWEEP_ACTOR": f"responder-{i}"}) for i in range(2)]
        for process in revokers:
            code, _, err = finish(process)
            assert code == 0, err
            assert "Traceback" not in err and "internal error" not in err, err
        settle = run_process("revoke", "--resume", "--config", config, "--confirm-delay", "0.05", env=env)
        assert settle.code == 0, settle
        assert_each_key_revoked_once(fakes, planted)
    assert run_process("audit", "verify", env={"KEYSWEEP_DB": pg_url}).code == 0
    listed = run_process("findings", "--db", pg_url, "--format", "json")
    assert len(json.loads(listed.stdout)) == 22  # the planted twenty and the other repository's two
    # All of it lives in the PostgreSQL schema: one job per finding, whichever run made it.
    store = Store(pg_url)
    assert store.dialect == "postgresql"
    assert store.conn.execute("SELECT count(*), count(DISTINCT finding_id) FROM revocations").fetchone() == (22, 22)
    store.close()


def test_a_postgresql_store_that_cannot_be_used_is_a_one_line_error(run, pg_url):
    store = Store(pg_url)
    store.conn.raw.execute("DROP TABLE occurrences CASCADE")  # what a careless administrator can do
    store.close()
    result = run("findings", "--db", pg_url)
    assert result.code == 2, result
    assert result.stderr.startswith("keysweep: error: the findings store cannot be used:"), result.stderr
    assert 'relation "occurrences" does not exist' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def on_another_machine(store: Store, run_id: str) -> None:
    """What a run started elsewhere looks like in the store: another host, a pid that means nothing here."""
    with store.transaction():
        store.conn.execute("UPDATE remediation_runs SET host = 'another-machine', pid = 1 WHERE id = ?", [run_id])


def test_a_run_on_another_machine_is_abandoned_once_its_process_is_gone(pg_url, tmp_path):
    """A live run elsewhere keeps its claims; once its session ends (the machine died, the process
    was killed), another machine may take them over. On SQLite only this host's runs can be checked."""
    for location, shared in ((pg_url, True), (str(tmp_path / "store.db"), False)):
        elsewhere, here = Store(location), Store(location)
        first = start_run(elsewhere, "alice", "revoke --execute", "2026-01-01T00:00:00Z")
        on_another_machine(elsewhere, first)
        current = start_run(here, "bob", "revoke --resume", "2026-01-01T00:01:00Z")
        assert first not in abandoned_runs(here, current)  # alive: its claims stay its own
        elsewhere.close()  # the process is gone, with its session
        assert (first in abandoned_runs(here, current)) is shared
        finish_run(here, current, "2026-01-01T00:02:00Z", {})
        here.close()


def test_a_revocation_killed_on_another_machine_is_resumed_here_each_key_once(run_process, pg_url, tmp_path, keys):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 30, "anthropic": 30})
    assert run_process("scan", "dir", tmp_path / "code", "--db", pg_url, "--format", "json").code == 1
    config = write_config(tmp_path / "keysweep.toml", rate=200.0, providers=("openai", "anthropic"))
    # 20 revoke requests/s per provider: the run takes seconds, long enough to kill it mid-way.
    fakes = FakeProviders(openai=FakeOpenAI(planted["openai"], revoke_rate=20, burst=1),
                          anthropic=FakeAnthropic(planted["anthropic"], revoke_rate=20, burst=1))
    with fakes:
        env = env_for(fakes, pg_url, KEYSWEEP_ACTOR="first-run")
        process = start("revoke", "--all", "--execute", "--yes", "--config", config, "--confirm-delay", "0.05",
                        env=env)
        deadline = time.monotonic() + 120
        revoked = 0
        while time.monotonic() < deadline and process.poll() is None:
            revoked = fakes.call(lambda: sum(len(f.revoked) for f in fakes.providers.values()))
            if revoked >= 20:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed; slow the fakes down"
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
        assert 0 < revoked < 60
        store = Store(pg_url)
        killed = store.conn.execute("SELECT id FROM remediation_runs WHERE finished_at IS NULL").fetchall()
        assert len(killed) == 1
        on_another_machine(store, killed[0][0])
        holding = store.conn.execute("SELECT count(*) FROM revocations WHERE state = 'revoking' AND run_id = ?",
                                     [killed[0][0]]).fetchone()[0]
        store.close()
        resumed = run_process("revoke", "--resume", "--config", config, "--confirm-delay", "0.05", "--format", "json",
                              env=env_for(fakes, pg_url, KEYSWEEP_ACTOR="second-run"))
        assert resumed.code == 0, resumed
        assert_each_key_revoked_once(fakes, planted)
    store = Store(pg_url)
    states = dict(store.conn.execute("SELECT state, count(*) FROM revocations GROUP BY state").fetchall())
    store.close()
    assert states == {"confirmed": 60}, (states, holding)
    assert run_process("audit", "verify", "--db", pg_url).code == 0


def test_a_url_whose_schema_does_not_exist_is_a_one_line_error(run):
    result = run("findings", "--db", postgres_url_in_schema("keysweep_no_such_schema"))
    assert result.code == 2, result
    assert result.stderr.strip().endswith("cannot open store: no schema to create it in (check search_path)")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_every_store_command_runs_on_a_postgresql_store(run, pg_url, keys, tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    (code / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\nGITHUB_TOKEN={keys.github()}\n")
    monkeypatch.setenv("KEYSWEEP_DB", pg_url)
    monkeypatch.chdir(tmp_path)
    assert run("scan", "dir", code, "--format", "json").code == 1
    expected = {  # command -> its exit status with two open findings, nothing revoked
        ("status",): 0, ("report", "--format", "json"): 0, ("report", "--format", "html", "-o", "r.html"): 0,
        ("owners", "--offline"): 0, ("findings", "--format", "csv"): 1, ("audit", "log"): 0,
        ("audit", "verify"): 0, ("baseline", "create", "-o", "b.json"): 0, ("revoke", "--all"): 0,
    }
    for args, status in expected.items():
        result = run(*args)
        assert result.code == status, (args, result)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (args, result.stderr)
    assert run("report", "--format", "json").json()["totals"]["count"] == 2
    assert "unowned" in run("owners", "--offline").stderr
    store = Store(pg_url)
    assert store.conn.execute("SELECT count(*) FROM revocations").fetchone()[0] == 0  # a dry run writes no job
    store.close()
