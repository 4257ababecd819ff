"""`RevocationRun` (keysweep/remediation/run.py) as a library: the CLI's `revoke` only parses, calls it
and renders, so a run works, asks and refuses without click, and prints nothing itself."""

from __future__ import annotations

import asyncio

import pytest

from keysweep.remediation.orchestrator import Selection
from keysweep.remediation.run import RevocationRun, RevokeRequestError, RunHooks, RunOptions
from keysweep.settings import load_settings
from keysweep.store import Store
from tests.fakes.providers import FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import env_for, plant_keys, set_env, write_config


def _run(db, config, options: RunOptions, hooks: RunHooks | None = None):
    store = Store(db)
    try:
        return asyncio.run(RevocationRun(store, load_settings(str(config)), options, hooks).run())
    finally:
        store.close()


def _requests(fakes) -> int:
    return sum(len(p.requests) for p in fakes.providers.values())


def test_a_run_plans_asks_and_revokes_without_the_cli(run, tmp_path, keys, monkeypatch, capsys):
    planted = plant_keys(tmp_path / "code", keys, {"github": 2, "openai": 2})
    db = tmp_path / "store.db"
    assert run("scan", "dir", tmp_path / "code", "--db", db, "--format", "json").code == 1
    fakes = FakeProviders(github=FakeGitHub(planted["github"]), openai=FakeOpenAI(planted["openai"]))
    config = write_config(tmp_path / "keysweep.toml", providers=("github", "openai"))
    everything = Selection(all=True)
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        capsys.readouterr()

        dry = _run(db, config, RunOptions(selection=everything, actor="tester"))
        assert dry.dry_run and dry.status == 0
        assert sorted(e.revoker.name for e in dry.entries) == ["github", "github", "openai", "openai"]
        assert all(e.plan.calls for e in dry.entries)
        assert _requests(fakes) == 0, "a dry run sent a request"

        above = RunOptions(selection=everything, actor="tester", execute=True, threshold=1,
                           confirm_delay=0.05)
        with pytest.raises(RevokeRequestError, match="^4 credentials selected, above the threshold of 1: add --yes"):
            _run(db, config, above)  # nobody to ask
        one = RunOptions(selection=Selection(ids=(next(e for e in dry.entries if e.revoker.name == "github").finding.id,)), actor="tester",
                         execute=True, threshold=0, confirm_delay=0.05)
        with pytest.raises(RevokeRequestError, match="^1 credential selected, above the threshold of 0"):
            _run(db, config, one)
        asked: list[int] = []
        declined = _run(db, config, above, RunHooks(ask=lambda count: asked.append(count) or False))
        assert asked == [4] and declined.cancelled and declined.status == 2
        assert _requests(fakes) == 0

        shown: list[int] = []
        done = _run(db, config, above, RunHooks(ask=lambda count: True,
                                                show_plan=lambda entries: shown.append(len(entries))))
        assert shown == [4]
        assert done.status == 0 and not done.unsettled and not done.summary.errors
        assert {job.state for job in done.jobs} == {"confirmed"} and len(done.jobs) == 4
        for name, values in planted.items():
            assert all(fakes[name].effective[v] == 1 for v in values), name
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "the library printed"
