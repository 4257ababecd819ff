"""Revocation jobs across runs: what a rerun retries, what `--fail-on-error` reports on every run,
how long a run waits for a busy provider (`--max-wait`), and the policy's approve/never gate.

State is checked at the fake providers (their own records of what was revoked), not only in
keysweep's tables."""

from __future__ import annotations

from tests.fakes.providers import FakeGitLab, FakeOpenAI, FakeProviders
from tests.revoke_helpers import env_for, plant_keys, set_env, write_config


def scan(run, root, db) -> list[dict]:
    result = run("scan", "dir", root, "--db", db, "--format", "json")
    assert result.code == 1, result
    return result.json()


def job_states(result) -> dict[str, str]:
    return {job["finding"]: job["state"] for job in result.json()["jobs"]}


def test_failed_permanent_is_retried_when_the_person_reruns_after_fixing_the_cause(run, tmp_path, keys,
                                                                                  monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 2})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    fake = FakeOpenAI(planted["openai"])
    command = ("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.01", "--config", config,
               "--format", "json")
    with FakeProviders(openai=fake) as fakes:
        env = env_for(fakes, db)
        del env["OPENAI_ADMIN_KEY"]  # the cause a person has to fix
        set_env(monkeypatch, env)
        first = run(*command)
        assert set(job_states(first).values()) == {"failed_permanent"}, first
        assert fake.active == set(planted["openai"]) and fake.revoke_requests == 0

        monkeypatch.setenv("OPENAI_ADMIN_KEY", fake.admin_key)  # fixed
        second = run(*command)
        assert set(job_states(second).values()) == {"confirmed"}, second
        assert not fake.active
        assert {fake.effective[v] for v in planted["openai"]} == {1}
        assert {fake.revoke_calls[v] for v in planted["openai"]} == {1}

    log = run("audit", "log", "--db", db, "--format", "json").json()
    retries = [row for row in log if row["action"] == "revoke.retry"]
    assert len(retries) == 2 and all("OPENAI_ADMIN_KEY" in str(row["result"]) for row in retries)


def test_fail_on_error_stays_red_on_every_rerun_until_settled(run, tmp_path, keys, monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    fake = FakeOpenAI(planted["openai"])
    execute = ("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.01", "--config", config)
    with FakeProviders(openai=fake) as fakes:
        env = env_for(fakes, db)
        del env["OPENAI_ADMIN_KEY"]
        set_env(monkeypatch, env)
        assert run(*execute).code == 0  # without --fail-on-error a failure is reported, exit 0
        assert run(*execute, "--fail-on-error").code == 3
        # A scheduled resume retries nothing here (the job needs a person) but must stay red.
        resumed = run("revoke", "--resume", "--fail-on-error", "--config", config)
        assert resumed.code == 3, resumed
        assert "1 failed_permanent" in resumed.stdout
        assert run("revoke", "--resume", "--provider", "openai", "--fail-on-error", "--config", config).code == 3

        monkeypatch.setenv("OPENAI_ADMIN_KEY", fake.admin_key)
        fixed = run(*execute, "--fail-on-error")
        assert fixed.code == 0, fixed
        assert not fake.active
        assert run("revoke", "--resume", "--fail-on-error", "--config", config).code == 0


def test_fail_on_error_counts_jobs_still_waiting_for_their_owner(run, tmp_path, keys, monkeypatch):
    """A notify-only key (no revocation API) is open until verified dead: a nightly run stays red."""
    from tests.fakes.providers import FakeWebhook

    value = keys.huggingface()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.env").write_text(f'HF_TOKEN = "{value}"\n')
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    hook = FakeWebhook()
    with FakeProviders(hook=hook):
        config = tmp_path / "keysweep.toml"
        config.write_text(f'[notify]\nwebhook = "{hook.url}"\nformat = "json"\n')
        monkeypatch.setenv("KEYSWEEP_DB", str(db))
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # verification cannot say dead
        command = ("revoke", "--all", "--execute", "--confirm-attempts", "1", "--config", config, "--fail-on-error")
        first = run(*command)
        assert first.code == 3, first
        assert run(*command).code == 3


# -- waiting for busy providers, and what counts as an attempt ------------------------------------
class FrozenClock:
    """A clock that moves only when the run sleeps: a test of waiting that waits for nothing."""

    def __init__(self) -> None:
        from datetime import datetime, timezone

        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds: float) -> None:
        from datetime import timedelta

        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


class ScriptedRevoker:
    """A revoker whose answers the test writes: each revoke() returns the next scripted result."""

    name = "scripted"

    def __init__(self, results) -> None:
        self.results = list(results)
        self.revoke_calls = 0
        self.dead = False

    def supports(self, finding) -> bool:
        return True

    async def plan(self, finding, ctx):
        from keysweep.revokers import Plan

        return Plan(self.name, finding.id, [])

    async def revoke(self, plan, ctx):
        self.revoke_calls += 1
        result = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        self.dead = self.dead or result.ok
        return result

    async def confirm(self, finding, ctx) -> bool:
        return self.dead


def stored_finding(tmp_path, value: str = "glpat-" + "Qw3rTy9UiOp4AsDfGh1J"):
    from keysweep.store import Store
    from tests.test_remediation import make_finding

    finding = make_finding("gitlab", "gitlab.pat", value)
    store = Store(tmp_path / "jobs.db")
    store.record([finding], "scope", "2026-01-01T00:00:00Z")
    return store, finding


async def run_scripted(store, finding, revoker, clock, *, max_wait: float, max_attempts: int = 5,
                       crashed_claims: int = 0):
    """One orchestrated run of the scripted revoker, after `crashed_claims` runs that each claimed
    the job and died before recording anything."""
    from keysweep.context import Context
    from keysweep.http import HttpClient
    from keysweep.remediation.jobs import Jobs
    from keysweep.remediation.orchestrator import Orchestrator, finish_run, start_run
    from keysweep.remediation.waits import WaitBudget

    job = None
    for _crash in range(crashed_claims):
        jobs = Jobs(store, "crashed", start_run(store, "crashed", "test", "2026-01-05T08:00:00Z"), lambda: "2026-01-05T08:00:00Z")
        if job is None:
            job, _ = jobs.create(finding, revoker.name, await revoker.plan(finding, None), approve=True)
        abandoned = {row[0] for row in store.conn.execute("SELECT id FROM remediation_runs WHERE finished_at IS NOT NULL")}
        assert jobs.claim(job.id, abandoned=abandoned) is not None
        finish_run(store, jobs.run_id, "2026-01-05T08:00:01Z", {})  # gone: its claim may be taken over
    async with HttpClient() as http:
        ctx = Context(http=http, store=store, clock=clock, sleep=clock.sleep, actor="tester")
        jobs = Jobs(store, "tester", start_run(store, "tester", "test", ctx.now()), ctx.now)
        if job is None:
            job, _ = jobs.create(finding, revoker.name, await revoker.plan(finding, ctx), approve=True)
        waits = WaitBudget(max_wait, clock, clock.sleep)
        orchestrator = Orchestrator(ctx, jobs, {revoker.name: revoker}, confirm_attempts=1, max_attempts=max_attempts,
                                    waits=waits)
        await orchestrator.run([jobs.get(job.id)])
        return jobs.get(job.id)


def test_rate_limits_wait_within_max_wait_then_stay_retryable_never_permanent(tmp_path):
    import asyncio

    from keysweep.revokers import RevokeResult

    store, finding = stored_finding(tmp_path)
    limited = RevokeResult(False, "GitLab token revocation: HTTP 429", retryable=True, busy=True, retry_after=120.0)
    revoker = ScriptedRevoker([limited])
    clock = FrozenClock()
    job = asyncio.run(run_scripted(store, finding, revoker, clock, max_wait=300, max_attempts=2))
    # Waited as asked (Retry-After 120) twice within 300 s; a third wait would pass the budget.
    assert clock.sleeps == [120.0, 120.0]
    assert revoker.revoke_calls == 3
    assert job.state == "failed_retryable", job  # more attempts than max_attempts, still never permanent
    assert job.attempts == 3
    assert job.next_attempt_at == "2026-01-05T09:06:00Z"  # the provider's word, on the run's clock

    # The next run starts a new budget and finishes the job once the provider lets it.
    revoker.results = [RevokeResult(True, "token revoked")]
    job = asyncio.run(run_scripted(store, finding, revoker, clock, max_wait=300, max_attempts=2))
    assert job.state == "confirmed" and revoker.revoke_calls == 4


def test_server_errors_without_retry_after_back_off_within_the_budget(tmp_path):
    import asyncio

    from keysweep.revokers import RevokeResult

    store, finding = stored_finding(tmp_path)
    failing = RevokeResult(False, "HTTP 503", retryable=True, busy=True)
    revoker = ScriptedRevoker([failing, failing, failing, RevokeResult(True, "token revoked")])
    clock = FrozenClock()
    job = asyncio.run(run_scripted(store, finding, revoker, clock, max_wait=900, max_attempts=2))
    assert job.state == "confirmed", job
    assert clock.sleeps == [2.0, 4.0, 8.0]


def test_taking_over_a_crashed_claim_is_not_an_attempt(tmp_path):
    import asyncio

    from keysweep.revokers import RevokeResult

    store, finding = stored_finding(tmp_path)
    odd = RevokeResult(False, "HTTP 200 without the documented success body; not believed", retryable=True)
    revoker = ScriptedRevoker([odd, RevokeResult(True, "token revoked")])
    clock = FrozenClock()
    # Four runs claimed the job and died before any call: no attempt was spent, so the one odd
    # answer is retried (max 2 attempts) instead of ending the job as failed_permanent.
    job = asyncio.run(run_scripted(store, finding, revoker, clock, max_wait=900, max_attempts=2, crashed_claims=4))
    assert job.state == "confirmed", job
    assert job.attempts == 2 and revoker.revoke_calls == 2


def test_max_wait_bounds_a_real_run_against_a_rate_limited_fake(run, tmp_path, keys, monkeypatch):
    """GitLab's fake allows one revocation per 100 s: the second key is answered 429 with
    Retry-After ≈ 100 s, more than --max-wait 90s allows, so the run ends at once with that job
    failed_retryable; the next run, once the limit is lifted, revokes it (once)."""
    tokens = [keys.gitlab_pat() for _ in range(2)]
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "ci.env").write_text("".join(f'GL_{i} = "{t}"\n' for i, t in enumerate(tokens)))
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("gitlab",))
    fake = FakeGitLab(tokens, revoke_rate=0.01, burst=1)
    with FakeProviders(gitlab=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        import time

        started = time.monotonic()
        first = run("revoke", "--provider", "gitlab", "--execute", "--max-wait", "90s", "--confirm-delay", "0.01",
                    "--config", config, "--format", "json", "--fail-on-error")
        assert time.monotonic() - started < 30, "the run waited for the provider beyond --max-wait"
        assert first.code == 3, first
        assert sorted(job_states(first).values()) == ["confirmed", "failed_retryable"], first
        assert len(fake.active) == 1

        fakes.call(lambda: setattr(fake.bucket, "rate", None))  # the provider's limit resets
        second = run("revoke", "--resume", "--confirm-delay", "0.01", "--config", config, "--fail-on-error")
        assert second.code == 0, second
        assert not fake.active and {fake.revoke_calls[t] for t in tokens} == {1}


def test_max_wait_rejects_what_is_not_a_duration(run, tmp_path, keys, monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    bad = run("revoke", "--all", "--max-wait", "soon", "--db", db)
    assert bad.code == 2 and "--max-wait" in bad.stderr and "Traceback" not in bad.stderr
    assert planted


def test_parse_duration_accepts_seconds_minutes_hours():
    import pytest

    from keysweep.remediation.waits import parse_duration

    assert [parse_duration(t) for t in ("90", "90s", "15m", "1.5h", " 2M ")] == [90, 90, 900, 5400, 120]
    for bad in ("", "-5s", "15 minutes", "1d", "m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


# -- the policy gates every command -----------------------------------------------------------
POLICY = ('default = "auto"\n'
          '[[rules]]\nname = "openai needs a second pair of eyes"\naction = "approve"\nproviders = ["openai"]\n'
          '[[rules]]\nname = "break-glass"\naction = "never"\nproviders = ["gitlab"]\n')


def audit_rows(run, db, action: str) -> list[dict]:
    return [row for row in run("audit", "log", "--db", db, "--format", "json").json() if row["action"] == action]


def test_policy_approve_gates_revoke_execute_without_policy_flag(run, tmp_path, keys, monkeypatch):
    """A configured policy ([policy] in keysweep.toml here) classes OpenAI keys `approve`: a person
    running `revoke --execute` on them does not revoke them until they pass --approve."""
    planted = plant_keys(tmp_path / "code", keys, {"openai": 2})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",),
                          extra="\n[policy]\n" + POLICY.replace("[[rules]]", "[[policy.rules]]"))
    fake = FakeOpenAI(planted["openai"])
    command = ("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.01", "--config", config,
               "--actor", "alice@example.com")
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        held = run(*command, "--format", "json")
        assert held.code == 0, held
        assert fake.revoke_requests == 0 and fake.active == set(planted["openai"])
        assert len(held.json()["awaiting_approval"]) == 2
        assert run(*command, "--fail-on-error").code == 3  # planned, awaiting an approver: still open

        approved = run(*command, "--approve", "--format", "json")
        assert set(job_states(approved).values()) == {"confirmed"}, approved
        assert not fake.active and {fake.revoke_calls[v] for v in planted["openai"]} == {1}
    approvals = audit_rows(run, db, "revoke.approve")
    assert len(approvals) == 2 and {row["actor"] for row in approvals} == {"alice@example.com"}


def test_policy_never_holds_unless_forced_and_force_is_audited(run, tmp_path, keys, monkeypatch):
    tokens = [keys.gitlab_pat()]
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "ci.env").write_text(f'GL = "{tokens[0]}"\n')
    db = tmp_path / "store.db"
    (finding,) = scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("gitlab",))
    policy = tmp_path / "break-glass-policy.toml"
    policy.write_text(POLICY)
    fake = FakeGitLab(tokens)
    command = ("revoke", finding["id"], "--execute", "--confirm-delay", "0.01", "--config", config,
               "--policy-file", policy, "--actor", "bob@example.com", "--format", "json")
    with FakeProviders(gitlab=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        never = run(*command, "--approve")  # approving is not forcing
        assert never.code == 0, never
        assert fake.revoke_requests == 0 and fake.active == set(tokens)

        forced = run(*command, "--force")
        assert set(job_states(forced).values()) == {"confirmed"}, forced
        assert not fake.active and fake.revoke_calls[tokens[0]] == 1
    (force,) = audit_rows(run, db, "revoke.force")
    assert force["actor"] == "bob@example.com" and "break-glass" in str(force["result"])


def test_a_rerun_fails_again_without_a_call_while_the_binding_is_still_not_proven(run, tmp_path, keys, monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    env_file = tmp_path / "code" / "openai.env"
    kept = env_file.read_text()
    env_file.unlink()  # the value can no longer be re-read: nothing proves which inventory key it is
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    fake = FakeOpenAI(planted["openai"])
    command = ("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.01", "--config", config,
               "--format", "json")
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        first = run(*command)
        (job,) = first.json()["jobs"]
        assert job["state"] == "failed_permanent" and job["last_error"].startswith("needs a person"), first
        again = run(*command)
        (retried,) = again.json()["jobs"]
        assert retried["state"] == "failed_permanent" and retried["last_error"] == job["last_error"], again
        assert fake.revoke_requests == 0 and fake.active == set(planted["openai"])

        env_file.write_text(kept)  # the person restores what proves the binding
        fixed = run(*command)
        assert set(job_states(fixed).values()) == {"confirmed"}, fixed
        assert not fake.active and fake.revoke_calls[planted["openai"][0]] == 1
