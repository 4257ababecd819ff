"""Kill a real `keysweep revoke --execute` process mid-run (SIGKILL) and finish with `--resume`:
every key revoked exactly once (the fakes count each revoke request per key), none lost, every job
confirmed, and the audit chain intact across both runs."""

from __future__ import annotations

from tests.conftest import KEYSWEEP_BIN
from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import assert_each_key_revoked_once, kill_mid_run_then_resume, plant_keys, write_config


def test_sigkill_mid_run_then_resume_revokes_each_key_once(run_process, tmp_path, keys):
    counts = {"github": 20, "openai": 30, "anthropic": 30}
    planted = plant_keys(tmp_path / "code", keys, counts)
    db = tmp_path / "store.db"
    scanned = run_process("scan", "dir", tmp_path / "code", "--db", db, "--format", "json")
    assert scanned.code == 1, scanned
    config = write_config(tmp_path / "keysweep.toml", rate=12.0)
    fakes = FakeProviders(github=FakeGitHub(planted["github"], revoke_rate=2, burst=1),
                          openai=FakeOpenAI(planted["openai"], projects=3, page_size=25),
                          anthropic=FakeAnthropic(planted["anthropic"], page_size=25))
    total = sum(counts.values())
    with fakes:
        resumed = kill_mid_run_then_resume(run_process, fakes, db, config, total, KEYSWEEP_BIN)
        assert resumed.code == 0, resumed
        assert_each_key_revoked_once(fakes, planted)

    report = run_process("report", "--db", db, "--format", "json")
    data = report.json()
    assert data["totals"]["confirmed_dead"] == total
    assert run_process("audit", "verify", "--db", db).code == 0
    log = run_process("audit", "log", "--db", db, "--format", "json").json()
    assert {"first-run", "second-run"} <= {row["actor"] for row in log}


def test_a_key_deleted_just_before_the_kill_is_confirmed_by_resume_without_a_second_call(run, tmp_path, keys,
                                                                                         monkeypatch):
    """OpenAI deleted the key, but the run was SIGKILLed before the answer arrived: its job is still
    `revoking`. `--resume` asks the verifier first, finds the key dead, records it revoked and
    confirmed without calling again — and says so, naming the key, instead of a bare "1 confirmed"."""
    import os
    import signal
    import subprocess
    import time

    from tests.revoke_helpers import env_for, set_env

    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    db = tmp_path / "store.db"
    (finding,) = run("scan", "dir", tmp_path / "code", "--db", db, "--format", "json").json()
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    fake = FakeOpenAI(planted["openai"])
    fake.respond_delay = 5.0  # the delete is done; its answer never reaches the killed run
    with FakeProviders(openai=fake) as fakes:
        env = env_for(fakes, db)
        process = subprocess.Popen([str(KEYSWEEP_BIN), "revoke", finding["id"], "--execute", "--config", str(config)],
                                   env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not fakes.call(lambda: fake.revoked):
            assert process.poll() is None, "the run ended before its delete"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        set_env(monkeypatch, env)
        assert run("revoke", finding["id"], "--db", db, "--config", config).stdout.count("job: revoking") == 1

        resumed = run("revoke", "--resume", "--config", config, "--confirm-delay", "0.05")
        assert resumed.code == 0, resumed
        assert resumed.stdout.startswith("1 confirmed in "), resumed.stdout
        assert (f"confirmed dead {finding['id']} {finding['redacted']} (already dead when this run took over a gone "
                f"run's claim: not called again)") in resumed.stderr.splitlines(), resumed.stderr
        deletes = [path for method, path in fake.requests if method == "DELETE"]
        assert len(deletes) == 1 and fake.effective[planted["openai"][0]] == 1 and not fake.active
    assert run("audit", "verify", "--db", db).code == 0
