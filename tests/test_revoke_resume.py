"""Kill a real `keysweep revoke --execute` process mid-run (SIGKILL) and finish with `--resume`:
every key revoked exactly once (the fakes count each revoke request per key), none lost, every job
confirmed, and the audit chain intact across both runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from keysweep.testing.fakes import FakeAnthropic, FakeGitHub, FakeOpenAI, FakeProviders
from tests.conftest import KEYSWEEP_BIN
from tests.revoke_helpers import env_for, plant_keys, write_config


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
        env = dict(os.environ)
        env.update(env_for(fakes, db, KEYSWEEP_ACTOR="first-run"))
        process = subprocess.Popen([str(KEYSWEEP_BIN), "revoke", "--all", "--execute", "--yes", "--config",
                                    str(config), "--confirm-delay", "0.05"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        revoked = 0
        while time.monotonic() < deadline:
            revoked = fakes.call(lambda: sum(len(f.revoked) for f in fakes.providers.values()))
            if revoked >= total * 0.4 or process.poll() is not None:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed; slow the fakes down"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert 0 < revoked < total

        resumed = run_process("revoke", "--resume", "--config", config, "--confirm-delay", "0.05",
                              "--format", "json", env={**env_for(fakes, db, KEYSWEEP_ACTOR="second-run")})
        assert resumed.code == 0, resumed
        for name, values in planted.items():
            fake = fakes[name]
            assert not fake.active, f"{name}: {len(fake.active)} keys never revoked"
            assert {fake.effective[v] for v in values} == {1}, name
            repeats = {v: n for v, n in fake.revoke_calls.items() if n > 1}
            assert not repeats, f"{name}: {len(repeats)} keys were sent to the revoke endpoint twice"

    report = run_process("report", "--db", db, "--format", "json")
    data = report.json()
    assert data["totals"]["confirmed_dead"] == total
    assert run_process("audit", "verify", "--db", db).code == 0
    log = run_process("audit", "log", "--db", db, "--format", "json").json()
    assert {"first-run", "second-run"} <= {row["actor"] for row in log}
