"""Each built-in revoker against a local fake of its provider's documented endpoints:
plan() sends nothing, revoke() twice is safe, confirm() goes through verification, and 429/5xx
are retried by the client, then reported as retryable."""

from __future__ import annotations

import asyncio
import random
import string

import pytest

from keysweep.context import Context
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.http import HttpClient, RetryPolicy
from keysweep.models import Finding, Occurrence
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers
from keysweep.settings import Settings
from keysweep.store import Store
from tests.fakes import providers as F


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def make_value(kind: str, rng: random.Random, keys) -> tuple[str, str, str]:
    """(provider, rule_id, value) — generated, never real."""
    if kind == "github":
        return "github", "github.classic-pat", keys.github()
    if kind == "github-installation":
        return "github", "github.installation-token", keys.github("ghs_")
    if kind == "gitlab":
        return "gitlab", "gitlab.pat-routable", f"glpat-{_rand(rng, 20)}"
    if kind == "slack":
        return "slack", "slack.bot-token", f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{_rand(rng, 24)}"
    if kind == "perplexity":
        return "perplexity", "perplexity.api-key", f"pplx-{_rand(rng, 48)}"
    if kind == "openrouter":
        return "openrouter", "openrouter.api-key", f"sk-or-v1-{_rand(rng, 64, '0123456789abcdef')}"
    if kind == "openai":
        return "openai", "openai.project-key", keys.openai_project()
    if kind == "anthropic":
        return "anthropic", "anthropic.api-key", keys.anthropic()
    raise ValueError(kind)


FAKE_FOR = {"github": F.FakeGitHub, "github-installation": F.FakeGitHub, "gitlab": F.FakeGitLab, "slack": F.FakeSlack,
            "perplexity": F.FakePerplexity, "openrouter": F.FakeOpenRouter, "openai": F.FakeOpenAI,
            "anthropic": F.FakeAnthropic}


class Harness:
    def __init__(self, tmp_path, kind: str, keys, n: int = 2, **fake_kw) -> None:
        rng = random.Random(kind)
        made = [make_value(kind, rng, keys) for _ in range(n)]
        self.provider = made[0][0]
        self.values = [value for _, _, value in made]
        if kind == "github-installation":
            self.fake = F.FakeGitHub(installation_tokens=self.values, **fake_kw)
        else:
            self.fake = FAKE_FOR[kind](self.values, **fake_kw)
        self.store = Store(tmp_path / f"{kind}.db")
        self.findings = []
        for provider, rule_id, value in made:
            digest = secret_sha256(value)
            finding = Finding(id=finding_id(provider, digest), rule_id=rule_id, provider=provider,
                              secret_sha256=digest, redacted=redact(value, value[:4]), long_lived=True,
                              occurrences=[Occurrence(source="dir", path="app.env", line=1,
                                                      locator={"root": str(tmp_path), "path": "app.env"})])
            self.findings.append(finding)
        self.store.record(self.findings, str(tmp_path), "2025-01-01T00:00:00Z")
        self.by_sha = {secret_sha256(v): v for v in self.values}
        self.servers = F.FakeProviders(p=self.fake)

    def context(self, http) -> Context:
        return for_revocation(Context(http=http, settings=Settings(env=self.fake.env()), store=self.store,
                                      extra={"secret_reader": lambda f: self.by_sha.get(f.secret_sha256)}))

    def requests(self) -> int:
        return self.servers.call(lambda: len(self.fake.requests))


def fast_http() -> HttpClient:
    return HttpClient(policy=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05), default_rate=1000)


KINDS = ["github", "github-installation", "gitlab", "slack", "perplexity", "openrouter", "openai", "anthropic"]
# Perplexity documents no answer for a key already revoked and no check that could confirm one: its
# second call and its confirmation are specified in test_undocumented_answers.py.
CONFIRMABLE = [kind for kind in KINDS if kind != "perplexity"]


@pytest.mark.parametrize("kind", CONFIRMABLE)
def test_plan_is_silent_revoke_is_idempotent_and_confirm_verifies(tmp_path, keys, kind):
    h = Harness(tmp_path, kind, keys)
    revoker = available_revokers()[h.provider]
    finding = h.findings[0]
    assert revoker.supports(finding)

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(finding, ctx)
            assert plan.calls and h.requests() == 0, "plan() sent a request"
            assert await revoker.confirm(finding, ctx) is False  # live before revocation
            first = await revoker.revoke(plan, ctx)
            assert first.ok, first
            assert first.calls, "revoke() must report the calls it made"
            second = await revoker.revoke(plan, ctx)
            assert second.ok, f"a second revoke must be safe: {second}"
            assert await revoker.confirm(finding, ctx) is True

    with h.servers:
        asyncio.run(scenario())
        assert h.fake.effective[h.values[0]] == 1
        assert h.values[1] in h.fake.active, "only the planned key is revoked"


@pytest.mark.parametrize("kind", ["gitlab", "slack", "perplexity", "openai", "anthropic", "github"])
def test_server_errors_are_retried_then_reported(tmp_path, keys, kind):
    recovering = Harness(tmp_path / "a", kind, keys, fail_first=1)
    failing = Harness(tmp_path / "b", kind, keys, fail_first=100)
    revoker = available_revokers()[recovering.provider]

    async def scenario(h, expect_ok):
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            result = await revoker.revoke(plan, ctx)
            assert result.ok is expect_ok, result
            if not expect_ok:
                assert result.retryable, result
                assert all(h.values[0] not in str(part) for part in (result.detail, result.calls))

    with recovering.servers:
        asyncio.run(scenario(recovering, True))
    with failing.servers:
        asyncio.run(scenario(failing, False))


def test_rate_limits_are_respected_with_retry_after(tmp_path, keys):
    h = Harness(tmp_path, "gitlab", keys, n=6, revoke_rate=20, burst=1)
    revoker = available_revokers()["gitlab"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            for finding in h.findings:  # back to back: the server answers 429 + Retry-After, the client waits
                result = await revoker.revoke(await revoker.plan(finding, ctx), ctx)
                assert result.ok, result

    with h.servers:
        asyncio.run(scenario())
        assert not h.fake.active
        assert h.fake.bucket.limited > 0  # the server pushed back and the client waited


def test_slack_preflight_uses_test_mode_without_revoking(tmp_path, keys):
    h = Harness(tmp_path, "slack", keys, n=1)
    revoker = available_revokers()["slack"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            result = await revoker.preflight(plan, ctx)
            assert result.ok and "would" in result.detail

    with h.servers:
        asyncio.run(scenario())
        assert h.values[0] in h.fake.active


def test_admin_revokers_need_their_admin_key(tmp_path, keys):
    for kind, provider in (("openai", "openai"), ("anthropic", "anthropic"), ("openrouter", "openrouter")):
        h = Harness(tmp_path / kind, kind, keys, n=1)
        revoker = available_revokers()[provider]

        async def scenario():
            async with fast_http() as http:
                ctx = for_revocation(Context(http=http, settings=Settings(env={}), store=h.store,
                                             extra={"secret_reader": lambda f: h.by_sha.get(f.secret_sha256)}))
                plan = await revoker.plan(h.findings[0], ctx)
                assert plan.needs, "the plan must say which admin credential is missing"
                result = await revoker.revoke(plan, ctx)
                assert not result.ok and not result.retryable and "ADMIN_KEY" in result.detail

        asyncio.run(scenario())


def test_third_party_revoker_is_discovered_through_entry_points(tmp_path, monkeypatch):
    import sys

    package = tmp_path / "site"
    (package / "acme_revoker").mkdir(parents=True)
    (package / "acme_revoker" / "__init__.py").write_text(
        "class AcmeRevoker:\n"
        "    name = 'acme'\n"
        "    def supports(self, finding): return finding.provider == 'acme'\n"
        "    async def plan(self, finding, ctx): ...\n"
        "    async def revoke(self, plan, ctx): ...\n"
        "    async def confirm(self, finding, ctx): return False\n")
    dist = package / "acme_revoker-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-revoker\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[keysweep.revokers]\nacme = acme_revoker:AcmeRevoker\n"
                                           "github = acme_revoker:AcmeRevoker\n")
    monkeypatch.syspath_prepend(str(package))
    revokers = available_revokers()
    assert revokers["acme"].name == "acme"
    assert type(revokers["github"]).__name__ == "GitHubRevoker", "a plugin may not shadow a built-in"
    assert list(revokers)[-1] == "notify", "notify stays the last resort"
    sys.modules.pop("acme_revoker", None)
