"""Local fake providers for tests and the benchmark: aiohttp servers on 127.0.0.1 that implement
each provider's documented verification and revocation endpoints, enforce a server-side rate limit
on revocation (429 + Retry-After, like the real ones), and COUNT calls per key, so a test can prove
nothing was revoked twice and nothing was lost.

    with FakeProviders(github=keys1, openai=keys2, revoke_rate=50) as fakes:
        env = fakes.env()            # OPENAI_BASE_URL=http://127.0.0.1:…/v1, OPENAI_ADMIN_KEY=…, …
        fakes["openai"].effective    # Counter: value -> times it went from active to revoked

The servers run in a background thread with their own event loop, so a test can point an
in-process run or a `keysweep` subprocess at them. Values exist only in this test process.

Each fake answers in its provider's documented shapes (error bodies included), and can be put
behind a hostile intermediary: `fake.intermediary = "generic_401"` (or `html_401`, `generic_403`,
`html_403`, `html_200`, `truncated_200`, `empty_list_200`) makes its read-only checks
(`intermediary_on = "verify"`), its destructive calls (`"revoke"`), its admin listings that bind a
key to its id (`"list"`) or all of them (`"all"`) answer like a proxy or WAF instead;
`fake.intermediary_keys = {value}` limits it to the requests about those keys (FakeOpenAI's delete).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any, Iterable

ADMIN_KEYS = {"openai": "sk-admin-fake-admin-key-for-tests-only", "anthropic": "sk-ant-admin01-fake-admin-for-tests",
              "openrouter": "sk-or-v1-fake-management-key", "gcp": "ya29.fake-oauth-access-token-for-tests"}


class Bucket:
    """Token bucket: `rate` per second, `burst` at once. Thread-confined to the server loop."""

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else (max(1.0, rate) if rate else 0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.limited = 0

    def take(self) -> float:
        """0 when allowed, else seconds until a token is available."""
        if not self.rate:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        self.limited += 1
        return (1 - self.tokens) / self.rate


# What a proxy, WAF or API gateway in front of a provider may answer instead of it: none of these is
# the provider's word, so none may make keysweep call a key dead, live, or revoked.
INTERMEDIARY_REPLIES = {
    "generic_401": (401, "application/json", b'{"detail": "nope"}'),
    "generic_403": (403, "application/json", b'{"message": "Forbidden"}'),
    "html_401": (401, "text/html", b"<!DOCTYPE html><html><head><title>401 Authorization Required</title></head>"
                                   b"<body><center><h1>401 Authorization Required</h1></center><hr>nginx</body></html>"),
    "html_403": (403, "text/html", b"<!DOCTYPE html><html><head><title>Access denied</title></head>"
                                   b"<body>Request blocked by the web application firewall</body></html>"),
    "html_200": (200, "text/html", b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
                                  b"<body><form action=\"/login\">Single sign-on</form></body></html>"),
    "truncated_200": (200, "application/json", b'{"object": "list", "data": [{"id": "gpt-4o", "obj'),
    "empty_list_200": (200, "application/json", b"[]"),
    "empty_object_200": (200, "application/json", b"{}"),
    # An OAuth gateway's token introspection (RFC 7662) for a token it does not know.
    "introspection_200": (200, "application/json", b'{"active": false}'),
    # A key-checking gateway or middleware for a key it does not know (Cohere's check answers the
    # same shape, but documents a 401 "invalid api token" for an invalid key).
    "key_check_200": (200, "application/json", b'{"valid": false}'),
    # An OpenAI-style error envelope from a gateway in front of the provider.
    "error_envelope_401": (401, "application/json", b'{"error": {"message": "Unauthorized", "code": 401}}'),
    # What OpenRouter itself answers when a proxy stripped the Authorization header: no key arrived.
    "no_credentials_401": (401, "application/json", b'{"error": {"message": "No auth credentials found", "code": 401}}'),
    # What Anthropic itself answers when a proxy stripped the x-api-key header: no key arrived.
    "no_api_key_401": (401, "application/json", b'{"type": "error", "error": {"type": "authentication_error", '
                                                b'"message": "x-api-key header is required"}}'),
    # An Anthropic-compatible gateway's own authentication failure: Anthropic's envelope and type, its
    # own message (not Anthropic's "invalid x-api-key"), for a key it never showed Anthropic.
    "anthropic_envelope_401": (401, "application/json", b'{"type": "error", "error": {"type": '
                                                        b'"authentication_error", "message": "Authentication failed"}}'),
}


class FakeProvider:
    name = "fake"

    def __init__(self, keys: Iterable[str] = (), revoke_rate: float | None = None, burst: float | None = None,
                 fail_first: int = 0, fail_status: int = 503) -> None:
        self.active: set[str] = set(keys)
        self.known: set[str] = set(self.active)
        self.revoked: set[str] = set()
        self.revoke_calls: Counter = Counter()   # value -> revoke requests naming it
        self.effective: Counter = Counter()      # value -> active → revoked transitions
        self.requests: list[tuple[str, str]] = []
        self.bucket = Bucket(revoke_rate, burst)
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.revoked_times: list[float] = []
        self.base_url = ""
        # A hostile intermediary answering for the provider: one of INTERMEDIARY_REPLIES, on its
        # "verify" (read-only checks), "revoke" (destructive calls), "list" (admin listings) or "all" endpoints.
        self.intermediary: str | None = None
        self.intermediary_on = "verify"
        # When set, the intermediary answers only requests about these key values (a WAF rule or a
        # gateway route that catches one key's call); requests about other keys reach the provider.
        self.intermediary_keys: set[str] | None = None
        # Seconds a destructive call that did its work waits before answering (FakeOpenAI's delete):
        # a client killed meanwhile never learns the key is gone.
        self.respond_delay = 0.0

    # helpers ----------------------------------------------------------------------------------
    def _log(self, request) -> None:
        self.requests.append((request.method, request.path))

    def _intermediary(self, kind: str, value: str | None = None):
        """The intermediary's reply for an endpoint of this kind ("verify" or "revoke"), if one is set
        (and, with `intermediary_keys`, only for a request about one of those key values)."""
        from aiohttp import web

        if self.intermediary is None or self.intermediary_on not in (kind, "all"):
            return None
        if self.intermediary_keys is not None and value not in self.intermediary_keys:
            return None
        status, content_type, body = INTERMEDIARY_REPLIES[self.intermediary]
        return web.Response(status=status, body=body, content_type=content_type)

    def listing(self, handler):
        """`handler` (an admin listing's route) behind the intermediary, when it is on "list"."""
        async def guarded(request):
            hostile = self._intermediary("list")
            if hostile is not None:
                self._log(request)
                return hostile
            return await handler(request)
        return guarded

    def _gate(self, request, kind: str, value: str | None = None, *, limited: bool = False):
        """What every route does first: log the request, then answer as the intermediary when one is
        set for `kind` (see _intermediary) or, with `limited` (a revocation endpoint), as the rate
        limit or a failing server (see _limited). None: the route answers."""
        self._log(request)
        hostile = self._intermediary(kind, value)
        if hostile is not None:
            return hostile
        return self._limited() if limited else None

    def _limited(self):
        from aiohttp import web

        if self.fail_first > 0:
            self.fail_first -= 1
            return web.json_response({"error": "temporarily unavailable"}, status=self.fail_status)
        wait = self.bucket.take()
        if wait:
            return web.json_response({"error": "rate limited"}, status=429,
                                     headers={"Retry-After": f"{wait:.3f}"})
        return None

    def _revoke(self, value: str) -> bool:
        self.revoke_calls[value] += 1
        if value in self.active:
            self.active.discard(value)
            self.revoked.add(value)
            self.effective[value] += 1
            self.revoked_times.append(time.monotonic())
            return True
        return False

    @staticmethod
    def bearer(request) -> str:
        header = request.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else ""

    @property
    def revoke_requests(self) -> int:
        return sum(1 for method, path in self.requests if self.is_revoke(method, path))

    def is_revoke(self, method: str, path: str) -> bool:
        return False

    def env(self) -> dict[str, str]:
        return {}

    def routes(self, app) -> None:
        raise NotImplementedError


class FakeGitHub(FakeProvider):
    """GitHub's REST API for tokens: `/user` (with `X-OAuth-Scopes` for a classic token, none for a
    fine-grained one), `/user/orgs` (403 without `read:org`/`user`, as GitHub refuses a classic token
    lacking them), `/user/repos` (100 a page, `Link` rel="next" while more remain, each with its
    `permissions`), `/installation/repositories`, revocation."""

    name = "github"

    def __init__(self, keys=(), installation_tokens: Iterable[str] = (), *,
                 scopes: dict[str, str | None] | None = None, orgs: Iterable[str] = (),
                 repos: Iterable[tuple[str, str]] = (), **kw) -> None:
        super().__init__(keys, **kw)
        self.active |= set(installation_tokens)
        self.installation = set(installation_tokens)
        # token -> its X-OAuth-Scopes header value, None for a fine-grained token (no header)
        self.scopes = dict(scopes or {})
        self.orgs = list(orgs)
        # (full name, role): role "admin", "write" or "read", as the token's user holds it
        self.repos = list(repos)

    def _scopes(self, token: str) -> str | None:
        return self.scopes.get(token, "repo")

    def _repos_page(self, page: int, per_page: int) -> tuple[list[dict], dict[str, str]]:
        """One page of `/user/repos`, and its `Link` header while more pages remain."""
        chunk = self.repos[(page - 1) * per_page:page * per_page]
        headers = {}
        if page * per_page < len(self.repos):
            last = -(-len(self.repos) // per_page)
            headers["Link"] = (f'<{self.base_url}/user/repos?per_page={per_page}&page={page + 1}>; rel="next", '
                               f'<{self.base_url}/user/repos?per_page={per_page}&page={last}>; rel="last"')
        flags = {"admin": ("admin", "maintain", "push", "triage", "pull"), "write": ("push", "triage", "pull"),
                 "read": ("pull",)}
        items = [{"id": i, "full_name": name, "private": True,
                  "permissions": {p: p in flags[role] for p in ("admin", "maintain", "push", "triage", "pull")}}
                 for i, (name, role) in enumerate(chunk, (page - 1) * per_page + 1)]
        return items, headers

    def _granted(self, token: str, *names: str) -> bool:
        header = self._scopes(token)
        return header is None or any(name in [s.strip() for s in header.split(",")] for name in names)

    def is_revoke(self, method, path):
        return path in ("/credentials/revoke", "/installation/token") and method in ("POST", "DELETE")

    def env(self):
        return {"GITHUB_API_URL": self.base_url}

    def routes(self, app):
        from aiohttp import web

        async def revoke(request):
            early = self._gate(request, "revoke")
            if early is not None:
                return early
            if "Authorization" in request.headers:
                return web.json_response({"message": "Must not be authenticated"}, status=403)
            limited = self._limited()
            if limited:
                return limited
            body = await request.json()
            creds = body.get("credentials") if isinstance(body, dict) else None
            if not isinstance(creds, list) or not creds or len(creds) > 1000:
                return web.json_response({"message": "Validation Failed"}, status=422)
            for value in creds:
                self._revoke(value)
            return web.json_response({}, status=202)

        async def installation(request):
            early = self._gate(request, "revoke", limited=True)
            if early is not None:
                return early
            token = self.bearer(request)
            if token in self.installation and self._revoke(token):
                return web.Response(status=204)
            return web.json_response({"message": "Bad credentials"}, status=401)

        async def user(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            token = self.bearer(request)
            if token in self.active and token not in self.installation:
                scopes = self._scopes(token)
                return web.json_response({"login": "octocat", "id": 1, "type": "User"},
                                         headers={"X-OAuth-Scopes": scopes} if scopes is not None else {})
            if token in self.active:
                return web.json_response({"message": "Resource not accessible by integration"}, status=403)
            return web.json_response({"message": "Bad credentials"}, status=401)

        def user_token(request):
            token = self.bearer(request)
            if token in self.active and token not in self.installation:
                return token
            return None

        async def user_orgs(request):
            self._log(request)
            token = user_token(request)
            if token is None:
                return web.json_response({"message": "Bad credentials"}, status=401)
            if not self._granted(token, "read:org", "admin:org", "write:org", "user"):
                return web.json_response({"message": "You need at least read:org scope or user scope to list your "
                                                     "organizations.", "documentation_url": "https://docs.github.com/"
                                                     "rest/orgs/orgs#list-organizations-for-the-authenticated-user"},
                                         status=403)
            return web.json_response([{"login": org, "id": i, "url": f"{self.base_url}/orgs/{org}"}
                                      for i, org in enumerate(self.orgs, 1)])

        async def user_repos(request):
            self._log(request)
            if user_token(request) is None:
                return web.json_response({"message": "Bad credentials"}, status=401)
            items, headers = self._repos_page(int(request.query.get("page", "1")),
                                              min(100, int(request.query.get("per_page", "30"))))
            return web.json_response(items, headers=headers)

        async def installation_repos(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            if self.bearer(request) in self.active:
                return web.json_response({"total_count": 0, "repositories": []})
            return web.json_response({"message": "Bad credentials"}, status=401)

        app.router.add_post("/credentials/revoke", revoke)
        app.router.add_delete("/installation/token", installation)
        app.router.add_get("/user", user)
        app.router.add_get("/user/orgs", user_orgs)
        app.router.add_get("/user/repos", user_repos)
        app.router.add_get("/installation/repositories", installation_repos)


class FakeGitLab(FakeProvider):
    """GitLab's token API: `personal_access_tokens/self` (the token's scopes), `/user` (its user;
    `is_admin` only in an administrator's own answer), revocation of the token by itself."""

    name = "gitlab"

    def __init__(self, keys=(), *, scopes: dict[str, list[str]] | None = None, admins: Iterable[str] = (),
                 **kw) -> None:
        super().__init__(keys, **kw)
        self.scopes = dict(scopes or {})   # token -> its scopes (["api"] unless given)
        self.admins = set(admins)          # tokens whose user administers the instance

    def is_revoke(self, method, path):
        return method == "DELETE"

    def env(self):
        return {"GITLAB_URL": self.base_url}

    def routes(self, app):
        from aiohttp import web

        async def delete_self(request):
            early = self._gate(request, "revoke", limited=True)
            if early is not None:
                return early
            token = request.headers.get("PRIVATE-TOKEN", "")
            if self._revoke(token):
                return web.Response(status=204)
            return web.json_response({"message": "401 Unauthorized"}, status=401)

        async def get_self(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            token = request.headers.get("PRIVATE-TOKEN", "")
            if token in self.active:
                return web.json_response({"id": 7, "name": "ci", "revoked": False, "active": True,
                                          "scopes": self.scopes.get(token, ["api"]), "user_id": 3})
            return web.json_response({"message": "401 Unauthorized"}, status=401)

        async def get_user(request):
            self._log(request)
            token = request.headers.get("PRIVATE-TOKEN", "")
            if token not in self.active:
                return web.json_response({"message": "401 Unauthorized"}, status=401)
            user = {"id": 3, "username": "root" if token in self.admins else "jane", "name": "Jane",
                    "state": "active", "email": "jane@acme.io"}
            if token in self.admins:
                user["is_admin"] = True
            return web.json_response(user)

        app.router.add_get("/api/v4/user", get_user)
        app.router.add_delete("/api/v4/personal_access_tokens/self", delete_self)
        app.router.add_get("/api/v4/personal_access_tokens/self", get_self)


class FakeSlack(FakeProvider):
    """Slack's auth.test / auth.revoke: HTTP 200 with `ok`, and the token's scopes in the
    `x-oauth-scopes` header of auth.test's answer."""

    name = "slack"

    def __init__(self, keys=(), *, scopes: dict[str, str] | None = None, **kw) -> None:
        super().__init__(keys, **kw)
        self.scopes = dict(scopes or {})  # token -> its x-oauth-scopes header value (none sent unless given)

    def is_revoke(self, method, path):
        return path == "/api/auth.revoke"

    def env(self):
        return {"KEYSWEEP_SLACK_BASE_URL": self.base_url + "/api"}

    def routes(self, app):
        from aiohttp import web

        async def revoke(request):
            early = self._gate(request, "revoke", limited=True)
            if early is not None:
                return early
            form = await request.post()
            token = self.bearer(request)
            if form.get("test") == "1":
                ok = token in self.active
                return web.json_response({"ok": ok, "revoked": False} if ok else {"ok": False, "error": "invalid_auth"})
            if self._revoke(token):
                return web.json_response({"ok": True, "revoked": True})
            return web.json_response({"ok": False, "error": "invalid_auth"})

        async def auth_test(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            if self.bearer(request) in self.active:
                token = self.bearer(request)
                headers = {"x-oauth-scopes": self.scopes[token]} if token in self.scopes else {}
                return web.json_response({"ok": True, "team": "acme", "user": "bot", "team_id": "T1", "user_id": "U1"},
                                         headers=headers)
            return web.json_response({"ok": False, "error": "invalid_auth"})

        app.router.add_post("/api/auth.revoke", revoke)
        app.router.add_post("/api/auth.test", auth_test)


class FakePerplexity(FakeProvider):
    name = "perplexity"

    def is_revoke(self, method, path):
        return path == "/revoke_auth_token"

    def env(self):
        return {"KEYSWEEP_PERPLEXITY_BASE_URL": self.base_url}

    def routes(self, app):
        from aiohttp import web

        async def revoke(request):
            early = self._gate(request, "revoke", limited=True)
            if early is not None:
                return early
            token = self.bearer(request)
            body = await request.json()
            if token not in self.active or not isinstance(body, dict) or body.get("auth_token") != token:
                return web.json_response({"error": {"message": "Invalid API key"}}, status=401)
            self._revoke(token)
            return web.json_response({})

        app.router.add_post("/revoke_auth_token", revoke)


class FakeCohere(FakeProvider):
    """Cohere's `POST /v1/check-api-key` as its reference and errors pages document it: a key it
    accepts, 200 `{"valid": true, "organization_id": …, "owner_id": …}`; no key, 401 `{"message":
    "no api key supplied"}`; a key it does not accept (unknown or deleted in the dashboard), 401
    `{"message": "invalid api token"}`. Cohere has no revocation API: a test deletes a key by
    taking it out of `active`, as its owner would in the dashboard."""

    name = "cohere"

    def env(self):
        return {"KEYSWEEP_COHERE_BASE_URL": self.base_url}

    def routes(self, app):
        from aiohttp import web

        async def check(request):
            early = self._gate(request, "verify", limited=True)
            if early is not None:
                return early
            token = self.bearer(request)
            if not token:
                return web.json_response({"message": "no api key supplied"}, status=401)
            if token in self.active:
                return web.json_response({"valid": True, "organization_id": "org-fake-1",
                                          "owner_id": "user-fake-1"})
            return web.json_response({"message": "invalid api token"}, status=401)

        app.router.add_post("/v1/check-api-key", check)


def openai_redacted(value: str) -> str:
    return f"{value[:10]}...{value[-4:]}"


class FakeOpenAI(FakeProvider):
    """Admin API: projects → api_keys (paginated), delete by id; `/v1/models` for verification.
    Admin API keys (`sk-admin-…`) among the active keys are no project's: they list the
    organisation's admin keys (`GET /v1/organization/admin_api_keys`, as keysweep's own admin key
    does) and cannot list models (401, as OpenAI answers a key without model access)."""

    name = "openai"

    def __init__(self, keys=(), projects: int = 2, page_size: int = 100, *,
                 owners: dict[str, dict] | None = None, **kw) -> None:
        super().__init__(keys, **kw)
        # value -> the key's `owner` object as the Admin API gives it (a user or a service account,
        # each with its project role); a user, member of the project, unless given
        self.owners = dict(owners or {})
        self.page_size = page_size
        self.projects = [f"proj_{i:03d}" for i in range(projects)]
        self.ids: dict[str, tuple[str, str]] = {}  # key id -> (project, value)
        for index, value in enumerate(sorted(v for v in self.active if not v.startswith("sk-admin-"))):
            self.ids[f"key_{index:05d}"] = (self.projects[index % len(self.projects)], value)
        self.admin_ids = {f"key_admin_{i:03d}": v for i, v in enumerate(sorted(
            v for v in self.active if v.startswith("sk-admin-")))}
        self.admin_key = ADMIN_KEYS["openai"]

    def is_revoke(self, method, path):
        return method == "DELETE"

    def env(self):
        return {"OPENAI_BASE_URL": self.base_url + "/v1", "OPENAI_ADMIN_KEY": self.admin_key}

    def _page(self, request, items: list[dict[str, Any]]):
        from aiohttp import web

        limit = min(int(request.query.get("limit", "20")), self.page_size)
        after = request.query.get("after")
        start = 0
        if after:
            start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), len(items))
        page = items[start:start + limit]
        return web.json_response({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                                  "last_id": page[-1]["id"] if page else None,
                                  "has_more": start + limit < len(items)})

    def routes(self, app):
        from aiohttp import web

        def admin_ok(request) -> bool:
            return self.bearer(request) == self.admin_key

        def invalid_key():  # OpenAI's documented 401 for a key it does not accept
            return web.json_response({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                                "param": None, "code": "invalid_api_key"}}, status=401)

        async def models(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            if self.bearer(request) in self.active and not self.bearer(request).startswith("sk-admin-"):
                return web.json_response({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]})
            return web.json_response({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                                "code": "invalid_api_key"}}, status=401)

        async def admin_api_keys(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            token = self.bearer(request)
            if not (admin_ok(request) or (token in self.active and token.startswith("sk-admin-"))):
                return invalid_key()
            return self._page(request, [
                {"object": "organization.admin_api_key", "id": key_id, "name": f"admin {key_id}",
                 "redacted_value": openai_redacted(value), "created_at": 1700000000, "last_used_at": None,
                 "owner": {"type": "user", "object": "organization.user", "id": "user_0", "name": "Ops",
                           "role": "owner", "created_at": 1700000000}}
                for key_id, value in sorted(self.admin_ids.items()) if value in self.active])

        async def projects(request):
            self._log(request)
            if not admin_ok(request):
                return invalid_key()
            return self._page(request, [{"id": p, "object": "organization.project", "name": p, "status": "active"}
                                        for p in self.projects])

        async def api_keys(request):
            self._log(request)
            if not admin_ok(request):
                return invalid_key()
            project = request.match_info["project"]
            items = [{"object": "organization.project.api_key", "id": key_id, "name": f"key {key_id}",
                      "redacted_value": openai_redacted(value), "created_at": 1700000000,
                      "owner": self.owners.get(value) or {"type": "user", "user": {
                          "object": "organization.project.user", "id": "user_1", "email": "dev@example.com",
                          "role": "member", "added_at": 1700000000}}}
                     for key_id, (p, value) in sorted(self.ids.items()) if p == project and value in self.active]
            return self._page(request, items)

        async def delete_key(request):
            self._log(request)
            key_id = request.match_info["key"]
            entry = self.ids.get(key_id)
            hostile = self._intermediary("revoke", entry[1] if entry else None)
            if hostile is not None:
                return hostile
            if not admin_ok(request):
                return invalid_key()
            limited = self._limited()
            if limited:
                return limited
            if entry is None or entry[0] != request.match_info["project"] or not self._revoke(entry[1]):
                return web.json_response({"error": {"message": "not found"}}, status=404)
            if self.respond_delay:
                await asyncio.sleep(self.respond_delay)
            return web.json_response({"object": "organization.project.api_key.deleted", "id": key_id, "deleted": True})

        app.router.add_get("/v1/models", models)
        app.router.add_get("/v1/organization/projects", self.listing(projects))
        app.router.add_get("/v1/organization/admin_api_keys", admin_api_keys)
        app.router.add_get("/v1/organization/projects/{project}/api_keys", self.listing(api_keys))
        app.router.add_delete("/v1/organization/projects/{project}/api_keys/{key}", delete_key)


def anthropic_hint(value: str) -> str:
    return f"{value[:16]}...{value[-4:]}"


class FakeAnthropic(FakeProvider):
    """Admin API keys list (after_id cursor) and status update; `/v1/models` for verification."""

    name = "anthropic"

    def __init__(self, keys=(), page_size: int = 1000, *, workspaces: dict[str, str] | None = None,
                 users: dict[str, dict] | None = None, **kw) -> None:
        super().__init__(keys, **kw)
        self.page_size = page_size
        self.ids = {f"apikey_{i:05d}": value for i, value in enumerate(sorted(self.active))}
        # value -> workspace id (None: the Default workspace); workspace id -> name; user id -> user
        self.key_workspace = dict(workspaces or {})
        self.workspace_names = {ws: f"ws {ws}" for ws in self.key_workspace.values() if ws}
        self.users = dict(users or {})
        self.status = {key_id: "active" for key_id in self.ids}
        self.admin_key = ADMIN_KEYS["anthropic"]

    def is_revoke(self, method, path):
        return method == "POST" and path.startswith("/v1/organizations/api_keys/")

    def env(self):
        return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_ADMIN_KEY": self.admin_key}

    def _key(self, key_id: str) -> dict[str, Any]:
        return {"type": "api_key", "id": key_id, "name": f"key {key_id}", "status": self.status[key_id],
                "partial_key_hint": anthropic_hint(self.ids[key_id]), "created_at": "2025-01-01T00:00:00Z",
                "created_by": {"id": "user_1", "type": "user"},
                "workspace_id": self.key_workspace.get(self.ids[key_id])}

    @staticmethod
    def _refused(request):
        """Anthropic's 401 for a key it does not accept, or, when no key arrived, its own word for that."""
        from aiohttp import web

        message = "invalid x-api-key" if request.headers.get("x-api-key") else "x-api-key header is required"
        return web.json_response({"type": "error", "error": {"type": "authentication_error", "message": message}},
                                 status=401)

    def routes(self, app):
        from aiohttp import web

        def admin_ok(request) -> bool:
            return request.headers.get("x-api-key") == self.admin_key and "anthropic-version" in request.headers

        def unauthorized():
            return web.json_response({"type": "error", "error": {"type": "authentication_error",
                                                                 "message": "invalid x-api-key"}}, status=401)

        async def models(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            if request.headers.get("x-api-key") in self.active:
                return web.json_response({"data": [{"id": "claude-sonnet-4", "type": "model"}], "has_more": False})
            return self._refused(request)

        async def list_keys(request):
            self._log(request)
            if not admin_ok(request):
                return unauthorized()
            ids = sorted(self.ids)
            after = request.query.get("after_id")
            start = ids.index(after) + 1 if after in self.ids else 0
            limit = min(int(request.query.get("limit", "20")), self.page_size)
            page = [self._key(k) for k in ids[start:start + limit]]
            return web.json_response({"data": page, "has_more": start + limit < len(ids),
                                      "first_id": page[0]["id"] if page else None,
                                      "last_id": page[-1]["id"] if page else None})

        async def get_key(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            if not admin_ok(request):
                return unauthorized()
            key_id = request.match_info["key"]
            if key_id not in self.ids:
                return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
            return web.json_response(self._key(key_id))

        async def update_key(request):
            early = self._gate(request, "revoke")
            if early is not None:
                return early
            if not admin_ok(request):
                return unauthorized()
            limited = self._limited()
            if limited:
                return limited
            key_id = request.match_info["key"]
            if key_id not in self.ids:
                return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
            body = await request.json()
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("active", "inactive", "archived"):
                return web.json_response({"type": "error", "error": {"type": "invalid_request_error"}}, status=400)
            if status != "active":
                self._revoke(self.ids[key_id])
            self.status[key_id] = status
            return web.json_response(self._key(key_id))

        async def workspace(request):
            self._log(request)
            if not admin_ok(request):
                return unauthorized()
            ws = request.match_info["id"]
            if ws not in self.workspace_names:
                return web.json_response({"type": "error", "error": {"type": "not_found_error",
                                                                     "message": "workspace not found"}}, status=404)
            return web.json_response({"id": ws, "type": "workspace", "name": self.workspace_names[ws],
                                      "created_at": "2025-01-01T00:00:00Z", "archived_at": None,
                                      "display_color": "#6C5BB9"})

        async def user(request):
            self._log(request)
            if not admin_ok(request):
                return unauthorized()
            found = self.users.get(request.match_info["id"])
            if found is None:
                return web.json_response({"type": "error", "error": {"type": "not_found_error",
                                                                     "message": "user not found"}}, status=404)
            return web.json_response({"type": "user", "id": request.match_info["id"], **found})

        app.router.add_get("/v1/models", models)
        app.router.add_get("/v1/organizations/workspaces/{id}", workspace)
        app.router.add_get("/v1/organizations/users/{id}", user)
        app.router.add_get("/v1/organizations/api_keys", self.listing(list_keys))
        app.router.add_get("/v1/organizations/api_keys/{key}", get_key)
        app.router.add_post("/v1/organizations/api_keys/{key}", update_key)


class FakeWebhook(FakeProvider):
    """Receives notifications; keeps every JSON body."""

    name = "webhook"

    def __init__(self, **kw) -> None:
        super().__init__((), **kw)
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []

    def routes(self, app):
        from aiohttp import web

        async def hook(request):
            self._log(request)
            raw = await request.read()
            self.raw.append(raw)
            self.bodies.append(json.loads(raw))
            return web.Response(text="ok")

        app.router.add_post("/hook", hook)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"


FAKES = {"github": FakeGitHub, "gitlab": FakeGitLab, "slack": FakeSlack, "perplexity": FakePerplexity,
         "openai": FakeOpenAI, "anthropic": FakeAnthropic, "webhook": FakeWebhook}


class FakeProviders:
    """Run fakes in a background thread: `with FakeProviders(github=FakeGitHub(keys), …) as fakes:`."""

    def __init__(self, **providers: FakeProvider) -> None:
        self.providers = providers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[Any] = []

    def __getitem__(self, name: str) -> FakeProvider:
        return self.providers[name]

    def __enter__(self) -> "FakeProviders":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc_info) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        from aiohttp import web

        for provider in self.providers.values():
            app = web.Application()
            provider.routes(app)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            provider.base_url = f"http://127.0.0.1:{port}"
            self._runners.append(runner)

    async def _stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        # Handlers of connections a killed client left open: cancel them so nothing dangles.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def call(self, function, *args):
        """Run a function on the servers' loop (to read counters consistently)."""
        async def wrapped():
            return function(*args)
        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout=30)

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for provider in self.providers.values():
            env.update(provider.env())
        return env


class FakeOpenRouter(FakeProvider):
    """`GET /api/v1/key` (the key's own info and label), management `GET /api/v1/keys` (offset paging)
    and `DELETE /api/v1/keys/{hash}`."""

    name = "openrouter"

    def __init__(self, keys=(), page_size: int = 100, **kw) -> None:
        super().__init__(keys, **kw)
        self.page_size = page_size
        self.hashes = {f"{i:064x}": value for i, value in enumerate(sorted(self.active), 1)}
        self.admin_key = ADMIN_KEYS["openrouter"]

    def label(self, value: str) -> str:
        return f"{value[:12]}...{value[-3:]}"

    def is_revoke(self, method, path):
        return method == "DELETE"

    def env(self):
        return {"KEYSWEEP_OPENROUTER_BASE_URL": self.base_url + "/api/v1",
                "KEYSWEEP_OPENROUTER_ADMIN_KEY": self.admin_key}

    def routes(self, app):
        from aiohttp import web

        async def key_info(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            token = self.bearer(request)
            if token in self.active:
                return web.json_response({"data": {"label": self.label(token), "limit": None, "usage": 0,
                                                   "is_free_tier": False}})
            if not token:  # OpenRouter's answer when no key arrived
                return web.json_response({"error": {"code": 401, "message": "No auth credentials found"}}, status=401)
            return web.json_response({"error": {"code": 401, "message": "User not found."}}, status=401)

        async def list_keys(request):
            self._log(request)
            if self.bearer(request) != self.admin_key:
                return web.json_response({"error": {"code": 401}}, status=401)
            offset = int(request.query.get("offset", "0"))
            items = [{"hash": h, "label": self.label(v), "name": f"key {h[-4:]}", "disabled": False}
                     for h, v in sorted(self.hashes.items()) if v in self.active]
            return web.json_response({"data": items[offset:offset + self.page_size]})

        async def delete_key(request):
            early = self._gate(request, "revoke")
            if early is not None:
                return early
            if self.bearer(request) != self.admin_key:
                return web.json_response({"error": {"code": 401}}, status=401)
            limited = self._limited()
            if limited:
                return limited
            value = self.hashes.get(request.match_info["hash"])
            if value is None or not self._revoke(value):
                return web.json_response({"error": {"code": 404}}, status=404)
            return web.json_response({"deleted": True})

        app.router.add_get("/api/v1/key", key_info)
        app.router.add_get("/api/v1/keys", self.listing(list_keys))
        app.router.add_delete("/api/v1/keys/{hash}", delete_key)


FAKES["openrouter"] = FakeOpenRouter


class FakeGcpIam(FakeProvider):
    """The IAM REST API's service-account key methods: `POST …/keys/{id}:disable`, `DELETE …/keys/{id}`,
    `GET …/keys/{id}` under `/v1/projects/{project}/serviceAccounts/{email}`. Keys are
    `private_key_id -> (client_email, project_id)`; `-` stands for any project, and, as Google
    documents, a key unknown under `-` is answered 403, under its project 404. A key's
    `validBeforeTime` is 9999-12-31T23:59:59Z (no expiry) unless `expires` names another.

    Also the Cloud Resource Manager (served here too; its own setting
    KEYSWEEP_GCP_RESOURCEMANAGER_BASE_URL points at this server), as Google documents it:
    - `POST /v1/projects/{project}:getIamPolicy`, `POST /v3/folders/{id}:getIamPolicy` and
      `POST /v1/organizations/{id}:getIamPolicy`: the policy of `policies[project]`,
      `policies["folders/{id}"]`, `policies["organizations/{id}"]` (a list of bindings; none is
      an empty policy, `{"etag": …}`), 403 PERMISSION_DENIED for a resource it does not hold
      (Google does not say whether it exists). Asked for a policy version below 3, a policy with
      conditional bindings comes as version 1: each conditional role renamed `…_withcond_<hash>`,
      its condition left out.
    - `POST /v1/projects/{project}:getAncestry`: `{"ancestor": [...]}`, the project itself first,
      then `ancestry[project]` (resource names, nearest first, the organization last); 403
      PERMISSION_DENIED for a project not in `ancestry`."""

    name = "gcp"

    def __init__(self, keys: dict[str, tuple[str, str]] | None = None,
                 private_keys: dict[str, str] | None = None, **kw) -> None:
        keys = dict(keys or {})
        super().__init__(keys, **kw)
        self.accounts = keys
        # The public half IAM holds for each key id, as `keys.get?publicKeyType=TYPE_X509_PEM_FILE`
        # returns it: made from the private key a test names for that id (another key's, to play an
        # edited key file). A key id without one is answered with no `publicKeyData`.
        self.certificates = {key_id: _x509_pem_b64(pem, keys[key_id][0])
                             for key_id, pem in (private_keys or {}).items()}
        self.disabled: set[str] = set()
        self.deleted: set[str] = set()
        self.expires: dict[str, str] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}
        self.ancestry: dict[str, list[str]] = {}
        self.admin_key = ADMIN_KEYS["gcp"]
        # The intermediary answers only this method ("POST": the disable, "DELETE"), when set.
        self.hostile_only: str | None = None
        # keys.get answered `{"disabled": true}` alone (no name, no public half): a gateway's stub.
        self.bare_disabled = False
        # Key ids whose keys.get a gateway answers `{}` (a cached stub), the others reaching IAM.
        self.stubbed: set[str] = set()

    def is_revoke(self, method, path):
        return method == "DELETE" or path.endswith(":disable")

    def env(self):
        return {"KEYSWEEP_GCP_BASE_URL": self.base_url, "KEYSWEEP_GCP_ADMIN_KEY": self.admin_key,
                "KEYSWEEP_GCP_RESOURCEMANAGER_BASE_URL": self.base_url}

    def key_resource(self, key_id: str, public_key_type: str | None = None) -> dict[str, Any]:
        """The ServiceAccountKey resource; its public half only when asked for (only get does)."""
        email, project = self.accounts[key_id]
        resource = {"name": f"projects/{project}/serviceAccounts/{email}/keys/{key_id}",
                    "keyType": "USER_MANAGED", "keyAlgorithm": "KEY_ALG_RSA_2048",
                    "keyOrigin": "GOOGLE_PROVIDED", "validAfterTime": "2025-01-01T00:00:00Z",
                    "validBeforeTime": self.expires.get(key_id, "9999-12-31T23:59:59Z"),
                    "disabled": key_id in self.disabled}
        if public_key_type == "TYPE_X509_PEM_FILE" and key_id in self.certificates:
            resource["publicKeyData"] = self.certificates[key_id]
        return resource

    def routes(self, app):
        from aiohttp import web

        def error(status: int, text: str):
            """google.rpc.Status as Google's REST APIs answer it (the canonical code's name)."""
            code = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                    404: "NOT_FOUND"}.get(status, "UNKNOWN")
            return web.json_response({"error": {"code": status, "message": text, "status": code}}, status=status)

        def lookup(request):
            """(key id, None) for a live key this path names, else (None, error response)."""
            if self.bearer(request) != self.admin_key:
                return None, error(401, "Request had invalid authentication credentials.")
            project, email = request.match_info["project"], request.match_info["email"]
            key_id = request.match_info["key"].split(":", 1)[0]
            account = self.accounts.get(key_id)
            if account is None or key_id in self.deleted or account[0] != email or project not in ("-", account[1]):
                return None, error(403, "permission denied") if project == "-" else error(404, "not found")
            return key_id, None

        async def post_key(request):
            self._log(request)
            hostile = self._intermediary("revoke") if self.hostile_only in (None, "POST") else None
            if hostile is not None:
                return hostile
            if not request.match_info["key"].endswith(":disable"):
                return error(404, "not found")
            key_id, failure = lookup(request)
            if failure is not None:
                return failure
            limited = self._limited()
            if limited:
                return limited
            self.revoke_calls[key_id] += 1
            self.disabled.add(key_id)
            return web.json_response({})

        async def delete_key(request):
            self._log(request)
            hostile = self._intermediary("revoke") if self.hostile_only in (None, "DELETE") else None
            if hostile is not None:
                return hostile
            key_id, failure = lookup(request)
            if failure is not None:
                return failure
            limited = self._limited()
            if limited:
                return limited
            self._revoke(key_id)  # counts the call
            self.deleted.add(key_id)
            return web.json_response({})

        async def get_key(request):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            key_id, failure = lookup(request)
            if failure is not None:
                return failure
            if self.bare_disabled:
                return web.json_response({"disabled": True})
            if key_id in self.stubbed:
                return web.json_response({})
            return web.json_response(self.key_resource(key_id, request.query.get("publicKeyType")))

        async def list_keys(request):
            """keys.list: the account's keys that exist (no public halves: only get returns them)."""
            self._log(request)
            if self.bearer(request) != self.admin_key:
                return error(401, "Request had invalid authentication credentials.")
            project, email = request.match_info["project"], request.match_info["email"]
            held = [key_id for key_id, (owner, home) in self.accounts.items()
                    if owner == email and project in ("-", home) and key_id not in self.deleted]
            # Google's JSON omits an empty repeated field: an account without keys lists as `{}`.
            return web.json_response({"keys": [self.key_resource(key_id) for key_id in held]} if held else {})

        self._resource_manager_routes(app, error)

        base = "/v1/projects/{project}/serviceAccounts/{email}/keys/{key}"
        app.router.add_post(base, post_key)
        app.router.add_delete(base, delete_key)
        app.router.add_get(base, get_key)
        app.router.add_get("/v1/projects/{project}/serviceAccounts/{email}/keys", self.listing(list_keys))

    def _resource_manager_routes(self, app, error) -> None:
        """Cloud Resource Manager: getIamPolicy on projects, folders and organizations, getAncestry."""
        from aiohttp import web

        def policy_of(resource: str, requested: Any):
            """The resource's Policy in the version asked for (v1 hides conditions: `_withcond_`)."""
            import hashlib

            bindings = self.policies[resource]
            conditional = any(b.get("condition") for b in bindings)
            if conditional and requested != 3:
                bindings = [{"role": b["role"] + "_withcond_" + hashlib.sha256(
                                repr(b["condition"]).encode()).hexdigest()[:20], "members": b["members"]}
                            if b.get("condition") else b for b in bindings]
                conditional = False
            policy = {"version": 3 if conditional else 1, "etag": "BwXhJ9z1yAE="}
            if bindings:  # Google's JSON omits an empty repeated field
                policy["bindings"] = bindings
            return web.json_response(policy)

        async def resource_call(request, kind: str):
            early = self._gate(request, "verify")
            if early is not None:
                return early
            name, _, method = request.match_info["call"].partition(":")
            if method not in ("getIamPolicy", "getAncestry") or (kind != "projects" and method != "getIamPolicy"):
                return error(404, "not found")
            if self.bearer(request) != self.admin_key:
                return error(401, "Request had invalid authentication credentials.")
            text = await request.text()
            try:  # an empty body is an empty request message
                body = json.loads(text) if text.strip() else {}
            except ValueError:
                return error(400, "Invalid JSON payload received.")
            if method == "getAncestry":
                if name not in self.ancestry:
                    return error(403, "The caller does not have permission")
                chain = [("project", name)] + [tuple(a.split("/", 1)) for a in self.ancestry[name]]
                return web.json_response({"ancestor": [
                    {"resourceId": {"type": {"folders": "folder", "organizations": "organization"}.get(t, t), "id": i}}
                    for t, i in chain]})
            resource = name if kind == "projects" else f"{kind}/{name}"
            if resource not in self.policies:
                return error(403, "The caller does not have permission")
            options = body.get("options") if isinstance(body, dict) else None
            requested = options.get("requestedPolicyVersion") if isinstance(options, dict) else None
            return policy_of(resource, requested)

        def handler(kind: str):
            async def handle(request):
                return await resource_call(request, kind)
            return handle

        for prefix, kind in (("/v1/projects", "projects"), ("/v3/folders", "folders"),
                             ("/v1/organizations", "organizations")):
            app.router.add_post(prefix + "/{call}", handler(kind))


def _x509_pem_b64(private_pem: str, email: str) -> str:
    """An X.509 certificate of `private_pem`'s public half, PEM, base64-encoded as the IAM API's bytes
    fields are (keygen's keys are shaped, not valid: their public numbers are read without
    validation, and the certificate is signed by a throwaway issuer key)."""
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    public = serialization.load_pem_private_key(private_pem.encode(), None,
                                                unsafe_skip_rsa_key_validation=True).public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, email[:64])])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + datetime.timedelta(days=3650))
                   .sign(rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA256()))
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


FAKES["gcp"] = FakeGcpIam
