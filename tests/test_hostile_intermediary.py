"""A proxy, WAF or gateway answering for the provider is never the provider's word: it cannot make
a live key dead (so `revoke --resume` cannot "confirm" a key that was never revoked), cannot
confirm a revocation, and its reply to a destructive call is not believed."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Jobs
from keysweep.remediation.orchestrator import finish_run, start_run
from keysweep.revokers import available_revokers
from keysweep.revokers._common import make_plan
from keysweep.store import Store
from tests.fakes.providers import INTERMEDIARY_REPLIES, FakeGitHub, FakeProviders
from tests.revoke_helpers import env_for, set_env, write_config
from tests.test_revokers import Harness, fast_http

KINDS = ["github", "github-installation", "gitlab", "slack", "openrouter", "openai", "anthropic"]
MODES = ["generic_401", "generic_403", "html_401", "html_403", "html_200", "truncated_200", "empty_list_200"]
# Replies a proxy may give a destructive call; a 2xx among them is "not believed", never success.
DESTRUCTIVE_MODES = ["generic_401", "html_401", "html_403", "html_200", "truncated_200", "empty_list_200"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_confirmation_needs_the_providers_documented_dead_answer_after_the_call(tmp_path, keys, kind, mode):
    h = Harness(tmp_path, kind, keys, n=1)
    revoker = available_revokers()[h.provider]
    finding = h.findings[0]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            h.fake.intermediary = mode
            assert await revoker.confirm(finding, ctx) is False, "a live key behind a proxy is not dead"
            h.fake.intermediary = None
            result = await revoker.revoke(await revoker.plan(finding, ctx), ctx)
            assert result.ok, result
            h.fake.intermediary = mode
            assert await revoker.confirm(finding, ctx) is False, "only the provider's word confirms"
            h.fake.intermediary = None
            assert await revoker.confirm(finding, ctx) is True

    with h.servers:
        asyncio.run(scenario())
        assert h.fake.effective[h.values[0]] == 1


@pytest.mark.parametrize("mode", DESTRUCTIVE_MODES)
@pytest.mark.parametrize("kind", [*KINDS, "perplexity"])  # Perplexity's confirm is its revoke call: not above
def test_a_destructive_call_answered_by_an_intermediary_is_not_believed(tmp_path, keys, kind, mode):
    h = Harness(tmp_path, kind, keys, n=1)
    revoker = available_revokers()[h.provider]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            h.fake.intermediary, h.fake.intermediary_on = mode, "revoke"
            result = await revoker.revoke(plan, ctx)
            assert not result.ok, (mode, result)
            if INTERMEDIARY_REPLIES[mode][0] == 200:
                assert result.retryable and "not believed" in result.detail, result

    with h.servers:
        asyncio.run(scenario())
        assert h.values[0] in h.fake.active


def test_resume_after_a_kill_does_not_confirm_a_never_revoked_key_behind_a_proxy(run, tmp_path, keys, monkeypatch):
    token = keys.github()
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "ci.env").write_text(f"GH_TOKEN={token}\n")
    db = tmp_path / "s.db"
    assert run("scan", "dir", folder, "--db", db).code == 1

    # A run claimed the job and was killed before its call went out.
    store = Store(db)
    finding = store.findings()[0]
    run_id = start_run(store, "killed-run", "revoke --all --execute", "2025-01-01T00:00:00Z")
    jobs = Jobs(store, "killed-run", run_id, lambda: "2025-01-01T00:00:00Z")
    plan = make_plan("github", finding, [("POST", "https://api.github.com/credentials/revoke", "revoke")], mode="list")
    job, _ = jobs.create(finding, "github", plan, approve=True)
    assert jobs.claim(job.id) is not None
    finish_run(store, run_id, "2025-01-01T00:00:01Z", {})
    store.conn.close()

    fake = FakeGitHub([token])
    fake.intermediary = "generic_401"  # GET /user answers {"detail": "nope"} with 401
    config = write_config(tmp_path / "k.toml", providers=("github",))
    with FakeProviders(github=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        resumed = run("revoke", "--resume", "--config", config, "--confirm-delay", "0", "--confirm-attempts", "1",
                      "--format", "json")
        states = {j["state"] for j in resumed.json()["jobs"]}
        assert J.CONFIRMED not in states, "confirmed on a proxy's 401 without revoking"
        assert fake.effective[token] == 1, "the resumed run must make the revoke call"
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM events WHERE kind = 'confirmed_dead'").fetchone()[0] == 0

        fake.intermediary = None
        again = run("revoke", "--resume", "--config", config, "--confirm-delay", "0", "--format", "json")
        assert {j["state"] for j in again.json()["jobs"]} == {J.CONFIRMED}, again
        assert fake.revoke_calls[token] == 1
