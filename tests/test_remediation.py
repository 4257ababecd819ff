"""AWS revocation against moto's server, notify-only providers (owner told, clock stops only when
the key is dead), policy decisions, the audit chain under tampering, report formats, and the
property that no secret value reaches any report, log, DB row or webhook body."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from keysweep.context import Context
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.http import HttpClient, RetryPolicy
from keysweep.models import Finding, Occurrence
from keysweep.remediation import audit
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Jobs
from keysweep.remediation.orchestrator import Orchestrator, start_run
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers
from keysweep.settings import Settings
from keysweep.store import Store
from keysweep.verify.model import Verification
from tests.fakes.providers import FakeProviders, FakeWebhook


def make_finding(provider: str, rule_id: str, value: str, key_id: str | None = None, repo: str | None = None,
                 path: str = "app.env") -> Finding:
    digest = secret_sha256(value)
    return Finding(id=finding_id(provider, digest), rule_id=rule_id, provider=provider, secret_sha256=digest,
                   redacted=redact(value, value[:3]), long_lived=True, key_id=key_id,
                   occurrences=[Occurrence(source="git", path=path, line=3, repo=repo, commit="c" * 40,
                                           committed_at="2025-01-01T00:00:00Z", locator={"repo": "r", "blob": "b"})])


class SwitchVerifier:
    """A stand-in verifier whose answer the test flips (for providers whose fake has no server)."""

    def __init__(self, status: str = "live") -> None:
        self.status = status
        self.calls = 0

    async def verify(self, credential, ctx):
        self.calls += 1
        return Verification(self.status, {"user": "bot"})


async def orchestrate(store, findings, ctx_settings, extra, revoker_name=None, confirm_attempts=1):
    revokers = available_revokers()
    async with HttpClient(policy=RetryPolicy(attempts=2, base_delay=0.01), default_rate=1000) as http:
        ctx = for_revocation(Context(http=http, settings=ctx_settings, store=store, extra=extra, actor="tester"))
        run_id = start_run(store, "tester", "test", ctx.now())
        jobs = Jobs(store, "tester", run_id, ctx.now)
        created = []
        for finding in findings:
            revoker = revokers[revoker_name] if revoker_name else \
                next(r for r in revokers.values() if r.supports(finding))
            job, _ = jobs.create(finding, revoker.name, await revoker.plan(finding, ctx), approve=True)
            created.append(job)
        orchestrator = Orchestrator(ctx, jobs, revokers, confirm_attempts=confirm_attempts, confirm_delay=0.01,
                                    retry_base=0.01, max_attempts=3)
        summary = await orchestrator.run(created)
        return summary, jobs


def test_aws_access_key_deactivated_and_confirmed_with_moto(tmp_path, monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="ci-bot")
        key = iam.create_access_key(UserName="ci-bot")["AccessKey"]
        finding = make_finding("aws", "aws.access-key-id", key["AccessKeyId"], key_id=key["AccessKeyId"])
        store = Store(tmp_path / "aws.db")
        store.record([finding], "scope", "2025-01-02T00:00:00Z")
        settings = Settings(env={"AWS_ENDPOINT_URL": endpoint})
        summary, jobs = asyncio.run(orchestrate(store, [finding], settings, {}))
        assert summary.states == {"confirmed": 1}, summary
        status = iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"][0]["Status"]
        assert status == "Inactive"
        # Deleting after the grace period (0 here), and again: "no such key" is success.
        settings = Settings(env={"AWS_ENDPOINT_URL": endpoint}, config={"providers": {"aws": {"delete_after_days": 0}}})

        async def twice():
            async with HttpClient() as http:
                ctx = for_revocation(Context(http=http, settings=settings, store=store))
                revoker = available_revokers()["aws"]
                plan = await revoker.plan(finding, ctx)
                assert [c.target for c in plan.calls][-1] == "iam:DeleteAccessKey"
                first, second = await revoker.revoke(plan, ctx), await revoker.revoke(plan, ctx)
                assert first.ok and second.ok and "already" in second.detail
        asyncio.run(twice())
        assert iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"] == []
    finally:
        server.stop()


def test_notify_only_provider_waits_for_owner_until_verified_dead(tmp_path):
    value = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
    finding = make_finding("huggingface", "huggingface.user-token", value, repo="acme/app")
    store = Store(tmp_path / "hf.db")
    store.record([finding], "scope", "2025-01-02T00:00:00Z")
    store.replace_owner_candidates(finding.id, [{"name": "alice", "team": "ml", "source": "codeowners",
                                                 "confidence": 0.9, "chosen": True}], "2025-01-02T00:00:00Z")
    hook = FakeWebhook()
    verifier = SwitchVerifier("live")
    with FakeProviders(hook=hook):
        settings = Settings(env={"ML_HOOK": hook.url},
                            config={"notify": {"teams": {"ml": {"webhook_env": "ML_HOOK", "format": "json"}}}})
        extra = {"verifiers": {"huggingface": verifier}, "secret_reader": lambda f: value}
        summary, jobs = asyncio.run(orchestrate(store, [finding], settings, extra))
        assert summary.states == {"awaiting_owner": 1}
        assert len(hook.bodies) == 1
        body = hook.bodies[0]
        assert body["event"] == "cannot_revoke" and body["team"] == "ml"
        assert body["console"] == "https://huggingface.co/settings/tokens"
        assert value not in hook.raw[0].decode()
        # The owner revokes it by hand; the next --resume re-verifies and stops the clock.
        verifier.status = "dead"

        async def resume():
            async with HttpClient() as http:
                ctx = for_revocation(Context(http=http, settings=settings, store=store, extra=extra))
                run_id = start_run(store, "tester", "resume", ctx.now())
                again = Jobs(store, "tester", run_id, ctx.now)
                return await Orchestrator(ctx, again, available_revokers(), confirm_delay=0.01).run(
                    again.find(states=J.OPEN_STATES))
        assert asyncio.run(resume()).states == {"confirmed": 1}
    kinds = {row[0] for row in store.conn.execute("SELECT kind FROM events WHERE finding_id = ?", [finding.id])}
    assert {"owner_notified", "confirmed_dead"} <= kinds and "revoked" not in kinds


def test_audit_chain_detects_tampering(tmp_path):
    store = Store(tmp_path / "a.db")
    for n in range(5):
        audit.append(store.conn, f"2025-01-01T00:00:0{n}Z", "alice", "revoke.call", {"job": n}, {"outcome": "202"})
    store.conn.commit()
    assert audit.verify_chain(store.conn).ok
    with pytest.raises(sqlite3.DatabaseError):
        store.conn.execute("UPDATE audit_log SET result = 'x' WHERE seq = 2")
    # Behind the triggers' back: rebuild the table with one row altered.
    store.conn.execute("DROP TRIGGER audit_log_no_update")
    store.conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    store.conn.commit()
    report = audit.verify_chain(store.conn)
    assert not report.ok and report.first_bad_seq == 3


def test_policy_decides_auto_approve_never(tmp_path):
    from keysweep.remediation.policy import parse

    policy = parse({"default": "approve", "rules": [
        {"name": "break-glass", "action": "never", "paths": ["ops/*"]},
        {"name": "public live AI keys", "action": "auto", "providers": ["openai", "github"],
         "repos": ["*github.com/acme/*"]},
    ]}, "test")
    auto = make_finding("openai", "openai.project-key", "sk-proj-" + "a1" * 40, repo="github.com/acme/web")
    never = make_finding("openai", "openai.project-key", "sk-proj-" + "b2" * 40, repo="github.com/acme/web",
                         path="ops/keys.env")
    other = make_finding("anthropic", "anthropic.api-key", "sk-ant-api03-" + "c3" * 45, repo="gitlab.com/x")
    assert policy.decide(auto).action == "auto"
    assert policy.decide(never).action == "never"
    assert policy.decide(other).action == "approve"
    from keysweep.errors import KeysweepError

    with pytest.raises(KeysweepError):
        parse({"rules": [{"action": "sometimes"}]}, "bad")


def test_report_formats_are_self_contained(tmp_path, run):
    store = Store(tmp_path / "r.db")
    finding = make_finding("openai", "openai.project-key", "sk-proj-" + "z9" * 40)
    store.record([finding], "scope", "2025-01-02T00:00:00Z")
    for kind, at in (("revoked", "2025-01-02T01:00:00Z"), ("confirmed_dead", "2025-01-02T01:00:05Z")):
        store.conn.execute("INSERT INTO events (finding_id, kind, at) VALUES (?, ?, ?)", [finding.id, kind, at])
    store.conn.commit()
    html_run = run("report", "--db", tmp_path / "r.db", "--format", "html")
    assert html_run.code == 0 and "<svg" in html_run.stdout
    assert "<script src" not in html_run.stdout and "cdn" not in html_run.stdout.lower()
    prom = run("report", "--db", tmp_path / "r.db", "--format", "prometheus").stdout
    assert 'keysweep_credentials_confirmed_dead{provider="openai"} 1' in prom
    data = run("report", "--db", tmp_path / "r.db", "--format", "json").json()
    row = data["credentials"][0]
    assert row["exposure_seconds"] == 24 * 3600 + 3605 and row["response_seconds"] == 3605
    view = run("report", "--db", tmp_path / "r.db", "--audit", "--format", "json").json()
    assert {r["id"] for r in view[0]["owasp_nhi_top10"]} >= {"NHI1", "NHI2", "NHI7"}


values = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/=",
                 min_size=24, max_size=60).filter(lambda v: len(set(v)) >= 12)


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret_body=values, fail=st.booleans())
def test_no_secret_value_in_reports_logs_rows_or_webhooks(tmp_path_factory, secret_body, fail):
    """Whatever the value and whether revocation fails, it appears in no output of remediation."""
    from keysweep.remediation import report as R
    from tests.fakes.providers import FakeGitLab

    value = "glpat-" + secret_body
    tmp = tmp_path_factory.mktemp("leak")
    finding = make_finding("gitlab", "gitlab.pat", value)
    store = Store(tmp / "s.db")
    store.record([finding], "scope", "2025-01-02T00:00:00Z")
    hook = FakeWebhook()
    # A refusal (403) ends the job failed_permanent and the owner is told; a 5xx would not (it is
    # never permanent: it waits for the next run).
    gitlab = FakeGitLab([value], fail_first=100 if fail else 0, fail_status=403)
    progress: list[str] = []
    with FakeProviders(hook=hook, gitlab=gitlab):
        settings = Settings(env={"GITLAB_URL": gitlab.base_url, "HOOK": hook.url},
                            config={"notify": {"webhook_env": "HOOK", "format": "slack"}})
        asyncio.run(orchestrate(store, [finding], settings, {"secret_reader": lambda f: value}))
    texts = [json.dumps(R.build(store)), R.render_html(R.build(store)), R.render_prometheus(R.build(store)),
             R.render_table(R.build(store)), *progress, *(raw.decode() for raw in hook.raw)]
    for table in ("revocations", "revocation_calls", "revocation_transitions", "audit_log", "events", "findings",
                  "remediation_runs", "verifications"):
        texts.extend(json.dumps(row) for row in store.conn.execute(f"SELECT * FROM {table}"))
    assert hook.raw, "the owner was told"
    for text in texts:
        assert value not in text and secret_body not in text
