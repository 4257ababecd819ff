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
