"""Every verifier against a local server speaking the provider's documented answers.

For each provider: live, dead (the provider's own error body), 429 with Retry-After, 500, a
timeout, an HTML page from a proxy, and a broken JSON body. Only the provider's clear word makes a
key dead; everything else is unknown with the reason set — and never with the secret in it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from keysweep.context import Context
from keysweep.http import HttpClient, RetryPolicy
from keysweep.providers import provider as provider_record
from keysweep.providers import verifier_for
from keysweep.settings import Settings, base_url_env
from keysweep.verify.model import Credential

HTML_PAGE = "<!DOCTYPE html><html><head><title>Access denied</title></head><body>Cloudflare</body></html>"
OPENAI_401 = {"error": {"message": "Incorrect API key provided: sk-proj-****abcd.", "type": "invalid_request_error",
                        "param": None, "code": "invalid_api_key"}}


@dataclass
class Spec:
    provider: str
    rule_id: str
    secret: Callable[[Any], str]
    method: str
    path: str  # below the provider's base URL
    live: Any
    dead: tuple[int, Any]
    expect: dict[str, Any] = field(default_factory=dict)  # identity entries a live answer must give
    # False: `dead` is what the provider sends for a bad key, but documents nowhere (and sends a live
    # key too): unknown, never dead.
    dead_proves: bool = True


SPECS = [
    Spec("openai", "openai.project-key", lambda k: k.openai_project(), "GET", "/models",
         {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}, (401, OPENAI_401), {"models": 1}),
    Spec("anthropic", "anthropic.api-key", lambda k: k.anthropic(), "GET", "/v1/models",
         {"data": [{"id": "claude-sonnet-4", "type": "model"}], "has_more": False, "first_id": "a", "last_id": "a"},
         (401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
         {"models": 1}),
    Spec("huggingface", "huggingface.user-token", lambda k: k.huggingface(), "GET", "/api/whoami-v2",
         {"type": "user", "name": "jdoe", "fullname": "Jane Doe", "email": "jane@example.com",
          "orgs": [{"name": "acme"}], "auth": {"type": "access_token",
                                               "accessToken": {"displayName": "ci", "role": "write"}}},
         (401, {"error": "Invalid credentials in Authorization header"}),
         {"name": "jdoe", "owner": "jane@example.com", "orgs": ["acme"], "token_role": "write"}),
    Spec("google", "google.api-key", lambda k: k.google_api_key(), "GET", "/v1beta/models",
         {"models": [{"name": "models/gemini-2.0-flash"}]},
         (400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                          "status": "INVALID_ARGUMENT",
                          "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                       "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}),
         {"models": 1}),
    Spec("github", "github.classic-pat", lambda k: k.github("ghp_"), "GET", "/user",
         {"login": "octocat", "id": 1, "type": "User", "name": "The Octocat"},
         (401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
         {"login": "octocat", "owner": "octocat"}),
    Spec("gitlab", "gitlab.pat", lambda k: k.gitlab_routable(), "GET", "/api/v4/personal_access_tokens/self",
         {"id": 42, "name": "deploy", "revoked": False, "created_at": "2025-01-01T00:00:00.000Z",
          "scopes": ["api"], "user_id": 7, "last_used_at": None, "active": True, "expires_at": "2026-01-01"},
         (401, {"message": "401 Unauthorized"}), {"key_id": "42", "user_id": 7}),
    Spec("slack", "slack.bot-token", lambda k: "xoxb-" + k.chars(12, "0123456789") + "-" + k.chars(24), "POST",
         "/auth.test",
         {"ok": True, "url": "https://acme.slack.com/", "team": "Acme", "user": "deploybot", "team_id": "T1",
          "user_id": "U1", "bot_id": "B1"},
         (200, {"ok": False, "error": "invalid_auth"}), {"team": "Acme", "user": "deploybot"}),
    Spec("groq", "groq.api-key", lambda k: "gsk_" + k.chars(52), "GET", "/models",
         {"object": "list", "data": [{"id": "llama-3.3-70b-versatile"}]},
         (401, {"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}}),
         {"models": 1}),
    Spec("xai", "xai.api-key", lambda k: "xai-" + k.chars(80), "GET", "/api-key",
         {"redacted_api_key": "xai-...b14o", "user_id": "u-1", "name": "prod", "create_time": "2024-01-01T00:00:00Z",
          "modify_time": "2024-01-02T00:00:00Z", "modified_by": "u-2", "team_id": "t-1",
          "acls": ["api-key:model:*"], "api_key_id": "ak-1", "team_blocked": False, "api_key_blocked": False,
          "api_key_disabled": False},
         (401, {"code": "Client specified an invalid argument", "error": "Incorrect API key provided"}),
         {"key_id": "ak-1", "team_id": "t-1"}),
    Spec("openrouter", "openrouter.api-key", lambda k: "sk-or-v1-" + k.chars(64, "0123456789abcdef"), "GET", "/key",
         {"data": {"label": "sk-or-v1-abc...xyz", "usage": 1.5, "limit": None, "is_free_tier": False}},
         (401, {"error": {"message": "User not found.", "code": 401}}), {"usage": 1.5}),
    Spec("replicate", "replicate.api-token", lambda k: "r8_" + k.chars(37), "GET", "/account",
         {"type": "organization", "username": "acme", "name": "Acme", "github_url": None},
         (401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}),
         {"username": "acme", "owner": "acme"}),
    Spec("langsmith", "langsmith.service-key",
         lambda k: f"lsv2_sk_{k.chars(32, '0123456789abcdef')}_{k.chars(10, '0123456789abcdef')}", "GET",
         "/api/v1/orgs/current", {"id": "org-1", "display_name": "Acme", "is_personal": False},
         (401, {"detail": "Invalid token"}), {"org_id": "org-1"}),
    Spec("mistral", "mistral.api-key", lambda k: k.chars(32), "GET", "/models",
         {"object": "list", "data": [{"id": "mistral-small-latest"}]},
         (401, {"message": "Unauthorized", "request_id": "r1"}), {"models": 1}, dead_proves=False),
    Spec("deepseek", "deepseek.api-key", lambda k: "sk-" + k.chars(32, "0123456789abcdef"), "GET", "/user/balance",
         {"is_available": True, "balance_infos": [{"currency": "USD", "total_balance": "10.00"}]},
         (401, {"error": {"message": "Authentication Fails, Your api key: ****abcd is invalid",
                          "type": "authentication_error", "param": None, "code": "invalid_request_error"}}),
         {"is_available": True}),
    Spec("together", "together.api-key", lambda k: "tgp_v1_" + k.chars(43), "GET", "/models",
         [{"id": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "object": "model"}],
         (401, {"error": {"message": "Invalid API key provided.", "type": "invalid_request_error",
                          "code": "invalid_api_key"}}), {"models": 1}),
    Spec("pinecone", "pinecone.api-key", lambda k: f"pcsk_{k.chars(6)}_{k.chars(63)}", "GET", "/indexes",
         {"indexes": [{"name": "docs", "dimension": 1536}]},
         (401, {"error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"}, "status": 401}),
         {"indexes": 1}),
    Spec("cohere", "cohere.api-key", lambda k: k.chars(40), "POST", "/v1/check-api-key",
         {"valid": True, "organization_id": "org-1", "owner_id": "user-1"},
         (401, {"message": "invalid api token"}), {"organization_id": "org-1", "owner_id": "user-1"}),
    Spec("wandb", "wandb.api-key", lambda k: k.chars(40, "0123456789abcdef"), "POST", "/graphql",
         {"data": {"viewer": {"username": "jdoe", "email": "jane@example.com", "entity": "acme"}}},
         (401, {"errors": [{"message": "user is not logged in"}]}), {"username": "jdoe", "owner": "jane@example.com"},
         dead_proves=False),
    Spec("stripe", "stripe.secret-key", lambda k: "sk_live_" + k.chars(99), "GET", "/account",
         {"id": "acct_1", "object": "account", "email": "billing@acme.io", "business_profile": {"name": "Acme"}},
         (401, {"error": {"message": "Invalid API Key provided: sk_live_****abcd", "type": "invalid_request_error"}}),
         {"id": "acct_1", "business_name": "Acme"}),
]
# A hostile intermediary (proxy, WAF, gateway) answers in place of the provider: never `dead`, never `live`.
HOSTILE = {"generic_401": (401, {"detail": "nope"}), "generic_error_401": (401, {"error": {"message": "Unauthorized"}}),
           "generic_403": (403, {"message": "Forbidden"}), "empty_list_200": (200, []), "empty_object_200": (200, {})}
SCENARIOS = ["live", "dead", "rate_limited", "server_error", "timeout", "html", "html_200", "bad_json", *HOSTILE]


def base_path(provider: str) -> str:
    default = provider_record(provider).base_url or "https://api.wandb.ai"
    return f"/{provider}{urlsplit(default).path}".rstrip("/")


def settings_for(api, *providers: str, **extra: str) -> Settings:
    env = {base_url_env(p): api.url + base_path(p) for p in providers or [s.provider for s in SPECS] + ["aws"]}
    env.update(extra)
    return Settings(env=env)


def run_verify(api, provider: str, rule_id: str, secret: str, *, timeout: float = 2.0, attempts: int = 2,
               key_id: str | None = None, settings: Settings | None = None):
    sleeps: list[float] = []

    async def no_sleep(delay: float) -> None:
        sleeps.append(delay)

    async def main():
        client = HttpClient(timeout=timeout, policy=RetryPolicy(attempts=attempts, base_delay=0.0), sleep=no_sleep)
        async with client as http:
            ctx = Context(http=http, settings=settings or settings_for(api, provider))
            return await verifier_for(provider).verify(Credential(provider, rule_id, secret, key_id), ctx)

    return asyncio.run(main()), sleeps


def assert_clean(verdict, secret: str) -> None:
    assert secret not in (verdict.error or "")
    assert secret not in repr(verdict.identity)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("spec", SPECS, ids=[s.provider for s in SPECS])
def test_verifier(spec: Spec, scenario: str, fake_api, keys):
    secret = spec.secret(keys)
    route = base_path(spec.provider) + spec.path
    timeout, attempts = 2.0, 2
    if scenario == "live":
        fake_api.add(spec.method, route, json=spec.live)
        fake_api.add("GET", base_path(spec.provider) + "/me", status=404, json={"error": {"message": "nope"}})
        fake_api.add("GET", base_path(spec.provider) + "/api/v4/user", json={"username": "jdoe", "id": 7})
    elif scenario == "dead":
        fake_api.add(spec.method, route, status=spec.dead[0], json=spec.dead[1])
    elif scenario == "rate_limited":
        fake_api.add(spec.method, route, status=429, json={"error": {"message": "slow down"}},
                     headers={"Retry-After": "7"})
    elif scenario == "server_error":
        fake_api.add(spec.method, route, status=500, json={"error": {"message": "internal"}})
    elif scenario == "timeout":
        fake_api.add(spec.method, route, json=spec.live, delay=1.0)
        timeout, attempts = 0.15, 1
    elif scenario == "html":
        # A WAF answering with the provider's "bad key" status but its own page is not the provider's word.
        fake_api.add(spec.method, route, status=spec.dead[0] if spec.dead[0] != 200 else 403, body=HTML_PAGE)
    elif scenario == "html_200":  # a sign-in page served with 200 by a proxy in front of the provider
        fake_api.add(spec.method, route, status=200, body=HTML_PAGE)
    elif scenario == "bad_json":
        fake_api.add(spec.method, route, body='{"data": [', content_type="application/json")
    elif scenario in HOSTILE:
        status, body = HOSTILE[scenario]
        fake_api.add(spec.method, route, status=status, body=__import__("json").dumps(body),
                     content_type="application/json")

    verdict, sleeps = run_verify(fake_api, spec.provider, spec.rule_id, secret, timeout=timeout, attempts=attempts)

    expected = {"live": "live", "dead": "dead" if spec.dead_proves else "unknown"}.get(scenario, "unknown")
    assert verdict.status == expected, (verdict, scenario)
    assert (verdict.error is not None) == (expected == "unknown"), verdict
    assert_clean(verdict, secret)
    assert fake_api.seen(route), "the verifier never called the documented endpoint"
    if scenario == "live":
        for key, value in spec.expect.items():
            assert verdict.identity.get(key) == value, (key, verdict.identity)
    if scenario == "rate_limited":
        assert "429" in verdict.error
        assert sleeps == [7.0], "Retry-After was not honoured"
        assert len(fake_api.seen(route)) == 2
    if scenario == "server_error":
        assert "500" in verdict.error and len(fake_api.seen(route)) == 2
    if scenario == "timeout":
        assert "no answer" in verdict.error
    if scenario in ("html", "html_200", "bad_json"):
        assert "body" in verdict.error
    if scenario.startswith("generic"):
        assert "not the provider's documented answer" in verdict.error


def test_perplexity_has_no_free_check_and_calls_nothing(fake_api, keys):
    verdict, _ = run_verify(fake_api, "perplexity", "perplexity.api-key", "pplx-" + keys.chars(48))
    assert verdict.status == "unknown" and "no free" in verdict.error
    assert fake_api.requests == []


def test_requests_carry_each_providers_documented_auth(fake_api, keys):
    secret = keys.anthropic()
    fake_api.add("GET", "/anthropic/v1/models", json={"data": []})
    run_verify(fake_api, "anthropic", "anthropic.api-key", secret)
    seen = fake_api.seen("/anthropic/v1/models")[0]
    assert seen.header("x-api-key") == secret and seen.header("anthropic-version") == "2023-06-01"
    assert seen.header("Authorization") is None

    google = keys.google_api_key()
    fake_api.add("GET", "/google/v1beta/models", json={"models": []})
    run_verify(fake_api, "google", "google.api-key", google)
    seen = fake_api.seen("/google/v1beta/models")[0]
    assert seen.header("x-goog-api-key") == google and google not in repr(seen.query)

    gitlab = keys.gitlab_routable()
    fake_api.add("GET", "/gitlab/api/v4/personal_access_tokens/self", status=401, json={"message": "401 Unauthorized"})
    run_verify(fake_api, "gitlab", "gitlab.pat", gitlab)
    assert fake_api.seen("/gitlab/api/v4/personal_access_tokens/self")[0].header("PRIVATE-TOKEN") == gitlab


def test_openai_live_key_gains_its_user_from_me_and_org_header(fake_api, keys):
    fake_api.add("GET", "/openai/v1/models", json={"object": "list", "data": []},
                 headers={"openai-organization": "org-acme"})
    fake_api.add("GET", "/openai/v1/me", json={"object": "user", "id": "user-1", "email": "jane@acme.io",
                                               "name": "Jane", "orgs": {"data": [{"id": "org-acme", "title": "Acme"}]}})
    verdict, _ = run_verify(fake_api, "openai", "openai.project-key", keys.openai_project())
    assert verdict.status == "live"
    assert verdict.identity["org"] == "org-acme" and verdict.identity["owner"] == "jane@acme.io"
    assert verdict.identity["orgs"] == [{"id": "org-acme", "title": "Acme"}]


def test_openai_restricted_key_is_live_and_admin_key_uses_admin_listing(fake_api, keys):
    fake_api.add("GET", "/openai/v1/models", status=403, json={"error": {
        "message": "You have insufficient permissions for this operation. Missing scopes: api.model.read.",
        "type": "invalid_request_error", "code": None}})
    verdict, _ = run_verify(fake_api, "openai", "openai.project-key", keys.openai_project())
    assert verdict.status == "live" and "restricted" in verdict.identity

    fake_api.add("GET", "/openai/v1/organization/admin_api_keys", json={"object": "list", "data": [], "has_more": False})
    verdict, _ = run_verify(fake_api, "openai", "openai.admin-key", keys.openai_admin())
    assert verdict.status == "live" and verdict.identity == {"admin_key": True}
    assert fake_api.seen("/openai/v1/organization/admin_api_keys")[0].query == {"limit": "1"}


def test_a_401_without_the_providers_own_error_envelope_is_not_dead(fake_api, keys):
    fake_api.add("GET", "/anthropic/v1/models", status=401, json={"detail": "proxy says no"})
    verdict, _ = run_verify(fake_api, "anthropic", "anthropic.api-key", keys.anthropic())
    assert verdict.status == "unknown" and "401" in verdict.error


def test_google_restricted_key_is_live_and_plain_400_is_unknown(fake_api, keys):
    fake_api.add("GET", "/google/v1beta/models", status=403, json={"error": {
        "code": 403, "status": "PERMISSION_DENIED", "message": "Generative Language API has not been used",
        "details": [{"reason": "SERVICE_DISABLED", "metadata": {"consumer": "projects/123"}}]}})
    verdict, _ = run_verify(fake_api, "google", "google.api-key", keys.google_api_key())
    assert verdict.status == "live" and "SERVICE_DISABLED" in verdict.identity["restricted"]
    fake_api.add("GET", "/google/v1beta/models", status=400, json={"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                                             "message": "bad request"}})
    verdict, _ = run_verify(fake_api, "google", "google.api-key", keys.google_api_key())
    assert verdict.status == "unknown"


def test_flags_in_a_success_body_can_say_dead(fake_api, keys):
    fake_api.add("GET", "/xai/v1/api-key", json={"api_key_id": "ak-2", "team_id": "t", "api_key_disabled": True,
                                                 "api_key_blocked": False, "team_blocked": False})
    verdict, _ = run_verify(fake_api, "xai", "xai.api-key", "xai-" + keys.chars(80))
    assert verdict.status == "dead" and verdict.identity["dead_reason"] == "api_key_disabled"
    assert verdict.identity["key_id"] == "ak-2" and verdict.error is None

    fake_api.add("GET", "/gitlab/api/v4/personal_access_tokens/self",
                 json={"id": 9, "name": "old", "revoked": True, "active": False, "scopes": ["api"], "user_id": 1})
    verdict, _ = run_verify(fake_api, "gitlab", "gitlab.pat", keys.gitlab_routable())
    assert verdict.status == "dead" and verdict.identity["dead_reason"] == "revoked"

    # Cohere's check documents `valid` but no case answering false; its word for an invalid key is
    # 401 "invalid api token" (providers/cohere.py). A gateway answers {"valid": false} too: unknown.
    fake_api.add("POST", "/cohere/v1/check-api-key", json={"valid": False})
    verdict, _ = run_verify(fake_api, "cohere", "cohere.api-key", keys.chars(40))
    assert verdict.status == "unknown" and "valid: false" in verdict.error


def test_slack_errors_other_than_bad_auth_are_unknown(fake_api, keys):
    fake_api.add("POST", "/slack/api/auth.test", json={"ok": False, "error": "ratelimited"})
    verdict, _ = run_verify(fake_api, "slack", "slack.bot-token", "xoxb-1-" + keys.chars(30))
    assert verdict.status == "unknown" and "ratelimited" in verdict.error


def test_github_token_kinds_use_their_own_checks(fake_api, keys):
    fake_api.add("GET", "/github/installation/repositories",
                 json={"total_count": 3, "repositories": [{"full_name": "acme/api"}]})
    verdict, _ = run_verify(fake_api, "github", "github.installation-token", keys.github("ghs_"))
    assert verdict.status == "live" and verdict.identity["installation_repositories"] == 3
    assert not fake_api.seen("/github/user")

    fake_api.add("GET", "/github/user", json={"login": "octocat", "id": 1},
                 headers={"X-OAuth-Scopes": "repo, read:org", "github-authentication-token-expiration": "2026-01-01"})
    verdict, _ = run_verify(fake_api, "github", "github.classic-pat", keys.github("ghp_"))
    assert verdict.identity["scopes"] == ["repo", "read:org"] and verdict.identity["expires_at"] == "2026-01-01"

    fake_api.reset()
    verdict, _ = run_verify(fake_api, "github", "github.refresh-token", keys.github("ghr_", body_len=70))
    assert verdict.status == "unknown" and fake_api.requests == []


def test_gitlab_tokens_other_than_access_tokens_are_not_judged_by_the_pat_endpoint(fake_api, keys):
    verdict, _ = run_verify(fake_api, "gitlab", "gitlab.deploy-token", "gldt-" + keys.chars(20))
    assert verdict.status == "unknown" and fake_api.requests == []


def test_refused_connection_is_unknown(keys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(env={"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    secret = keys.openai_project()
    verdict, _ = run_verify(None, "openai", "openai.project-key", secret, settings=settings)
    assert verdict.status == "unknown" and "no answer" in verdict.error
    assert_clean(verdict, secret)


def test_a_body_over_the_size_cap_is_not_read_whole_nor_believed(fake_api, keys):
    from keysweep.http import MAX_BODY

    models = [{"id": f"model-{i:07d}", "object": "model"} for i in range(MAX_BODY // 30)]
    fake_api.add("GET", "/openai/v1/models", json={"object": "list", "data": models})
    verdict, _ = run_verify(fake_api, "openai", "openai.project-key", keys.openai_project())
    assert verdict.status == "unknown" and "size cap" in verdict.error

    fake_api.add("GET", "/openai/v1/models", json={"object": "list", "data": models[:1000]})
    verdict, _ = run_verify(fake_api, "openai", "openai.project-key", keys.openai_project())
    assert verdict.status == "live" and verdict.identity["models"] == 1000
