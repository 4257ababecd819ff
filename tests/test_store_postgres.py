"""A PostgreSQL store shared by several processes (issue 16): scans and two orchestrators at once,
each key revoked exactly once (counted at the fake providers), the audit chain intact."""

from __future__ import annotations

import json
import os
import subprocess

from keysweep.store import Store
from tests.conftest import KEYSWEEP_BIN
from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import assert_each_key_revoked_once, env_for, plant_keys, write_config


def start(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(KEYSWEEP_BIN), *map(str, args)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
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
        revokers = [start("revoke", "--all", "--execute", "--yes", "--confirm-delay", "0.05", "--config", config,
                          "--format", "json", env={**env, "KEYSWEEP_ACTOR": f"responder-{i}"}) for i in range(2)]
        for process in scans:
            code, _, err = finish(process)
            assert code == 1, err
            assert "Traceback" not in err and "error" not in err, err
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
