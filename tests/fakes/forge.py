"""Small GitHub and GitLab REST servers on 127.0.0.1 for tests and benchmarks.

They implement only the documented endpoints keysweep reads, with the behaviour that matters:
page/per_page pagination with `Link` headers (and GitLab's X-Next-Page), an `ETag` on every JSON
answer and `If-None-Match` answered as GitHub documents it (304 Not Modified, empty body, the ETag
and rate-limit headers; 304s are not counted against the rate limit), rate-limit headers, an optional
server-side rate limit (429 + Retry-After), and failures injected on purpose (`fail_once`).
Each runs its own event loop in a background thread, so synchronous clients (PyGithub) and
`asyncio.run` in the test's thread can both talk to it.

FakeGitHub can also serve a bare repository over git's "dumb" HTTP protocol (static files after
`git update-server-info`) at `<server>/<owner>/<name>.git`, authenticated as GitHub documents for
git over HTTPS with a token: Basic auth, user `x-access-token`, password the token.

FakeGitHub also plays GitHub Apps (`add_app`), as "Authenticating as a GitHub App" documents: the
app endpoints (`GET /app/installations`, `GET /orgs|users/{name}/installation`, `GET
/repos/{o}/{r}/installation`, `POST /app/installations/{id}/access_tokens`) take only a JWT
(`Authorization: Bearer <jwt>`) signed RS256 with the app's private key, whose signature is checked
against the app's public key, `iss` the app id, `exp` in the future and at most 10 minutes ahead;
anything else answers 401 with GitHub's documented message. An installation access token (`ghs_…`)
is answered with `expires_at` (1 hour by default), is accepted on the REST API and for git over
HTTPS until then, and sees only its installation's account (404 elsewhere); a JWT is refused on
every other endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from urllib.parse import quote, unquote


class ServerThread:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.port = 0
        self._runner = None

    def make_app(self):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerThread":
        from aiohttp import web

        ready = threading.Event()

        async def boot() -> None:
            self._runner = web.AppRunner(self.make_app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        def serve() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(boot())
            # Ready once run_forever runs: a stop() sent while run_until_complete was still finishing
            # would be taken by that run and lost, and the thread would serve on until join() gave up.
            self.loop.call_soon(ready.set)
            self.loop.run_forever()
            self.loop.run_until_complete(self._runner.cleanup())
            self.loop.close()

        self.thread = threading.Thread(target=serve, daemon=True, name=type(self).__name__)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not None:
            self.thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ForgeBehaviour:
    token: str | None = None              # required bearer/private token, if set
    rate_per_second: float | None = None  # server-side limit on counted requests (not 304s)
    fail_once: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    forbidden: set[str] = field(default_factory=set)                # paths answering 403
    requests: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    auth_seen: set[str] = field(default_factory=set)
    # Every API request answered: (path with query, asked conditionally (If-None-Match), status).
    log: list[tuple[str, bool, int]] = field(default_factory=list)
    _window: deque = field(default_factory=deque)
    total: int = 0


class _Forge(ServerThread):
    per_page_default = 30
    per_page_max = 100

    def __init__(self, behaviour: ForgeBehaviour | None = None) -> None:
        super().__init__()
        self.behaviour = behaviour or ForgeBehaviour()

    # -- shared plumbing ----------------------------------------------------------------------
    def make_app(self):
        from aiohttp import web

        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/{tail:.*}", self._route)
        return app

    def _limited(self, web):
        b = self.behaviour
        if b.rate_per_second is None:
            return None
        now = time.monotonic()
        while b._window and now - b._window[0] > 1.0:
            b._window.popleft()
        if len(b._window) >= b.rate_per_second:
            wait = max(0.05, 1.0 - (now - b._window[0]))
            return web.json_response({"message": "API rate limit exceeded"}, status=429, headers={
                "Retry-After": f"{wait:.2f}", **self._rate_headers(0)})
        b._window.append(now)
        return None

    def _rate_headers(self, remaining: int | None = None) -> dict[str, str]:
        limit = int(self.behaviour.rate_per_second or 5000)
        left = remaining if remaining is not None else max(0, limit - len(self.behaviour._window))
        return self.rate_header_names(limit, left, int(time.time()) + 1)

    def rate_header_names(self, limit: int, remaining: int, reset: int) -> dict[str, str]:
        raise NotImplementedError

    async def _middleware_impl(self, request, handler):
        response = await self._answer(request, handler)
        self.behaviour.log.append((request.path_qs, "If-None-Match" in request.headers, response.status))
        return response

    def requires_auth(self) -> bool:
        return bool(self.behaviour.token)

    async def _answer(self, request, handler):
        from aiohttp import web

        b = self.behaviour
        b.total += 1
        path = request.path
        b.requests[path] += 1
        auth = request.headers.get("Authorization") or request.headers.get("PRIVATE-TOKEN")
        if auth:
            b.auth_seen.add(auth)
        if self.requires_auth() and not self.authorized(request):
            return web.json_response({"message": "Bad credentials"}, status=401)
        queued = b.fail_once.get(path)
        if queued:
            status = queued.pop(0)
            b.statuses[status] += 1
            headers = {**self._rate_headers(), **({"Retry-After": "0"} if status == 429 else {})}
            if status == 403:  # GitHub's primary rate limit: 403 with nothing remaining until the reset
                headers.update(self.rate_header_names(int(self.behaviour.rate_per_second or 5000), 0,
                                                      int(time.time())))
            return web.json_response({"message": f"injected {status}"}, status=status, headers=headers)
        if path in b.forbidden:
            return web.json_response({"message": "Resource not accessible by integration"}, status=403)
        response = await handler(request)
        if response.status == 200:
            limited = self._limited(web)
            if limited is not None:
                b.statuses[429] += 1
                return limited
        b.statuses[response.status] += 1
        return response

    def authorized(self, request) -> bool:
        raise NotImplementedError

    def page(self, request, items: list[Any], wrap: str | None, extra: dict[str, Any] | None = None):
        per_page = min(int(request.query.get("per_page", self.per_page_default)), self.per_page_max)
        page = max(1, int(request.query.get("page", 1)))
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        body: Any = {"total_count": len(items), wrap: chunk, **(extra or {})} if wrap else chunk
        headers = dict(self._rate_headers())
        if start + per_page < len(items):
            query = dict(request.query)
            query.update(page=str(page + 1), per_page=str(per_page))
            next_url = f"{self.url}{request.raw_path.split('?')[0]}?" + "&".join(f"{k}={quote(str(v))}" for k, v in query.items())
            headers["Link"] = f'<{next_url}>; rel="next"'
            headers["X-Next-Page"] = str(page + 1)
        return self.json(request, body, headers)

    def _one(self, request, items: list[dict[str, Any]], field_name: str, name: str):
        """A single variable's GET (GitLab: `filter[environment_scope]` picks among same-named ones)."""
        from aiohttp import web

        scope = request.query.get("filter[environment_scope]")
        for item in items:
            if item.get(field_name) == name and (scope is None or str(item.get("environment_scope") or "*") == scope):
                return self.json(request, item)
        return web.json_response({"message": "Not Found"}, status=404)

    def json(self, request, body: Any, headers: dict[str, str] | None = None):
        from aiohttp import web

        text = json.dumps(body, sort_keys=True)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        headers = {**self._rate_headers(), **(headers or {}), "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(text=text, content_type="application/json", headers=headers)


def _middleware_factory(forge: _Forge):
    from aiohttp import web

    @web.middleware
    async def middleware(request, handler):
        return await forge._middleware_impl(request, handler)
    return middleware


# -- GitHub ---------------------------------------------------------------------------------------
@dataclass
class GhRepo:
    owner: str
    name: str
    clone_url: str
    archived: bool = False
    fork: bool = False
    private: bool = True
    pushed_at: str = "2025-01-01T00:00:00Z"
    variables: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    environments: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    # Dependabot and Codespaces secrets: [{name, created_at, updated_at}] (values are write-only).
    dependabot_secrets: list[dict[str, Any]] = field(default_factory=list)
    codespaces_secrets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"



def plant_acme_api(forge: "FakeGitHub", make_repo, tmp_path: Path, keys) -> dict[str, str]:
    """acme/api on `forge`, cloned over git's HTTP protocol: an OpenAI key in its history (committed by
    Bob Builder next to a CODEOWNERS, removed again in a later commit) and an Actions variable holding
    another one. Returns the two values as {"history": …, "variable": …}."""
    planted = {"history": keys.openai_project(), "variable": keys.openai_project()}
    builder = make_repo("src-api")
    builder.commit("add api", {".env": f"OPENAI_API_KEY={planted['history']}\n",
                               ".github/CODEOWNERS": "*.env @acme/platform @alice\n"},
                   author=("Bob Builder", "bob@acme.io"))
    builder.commit("remove the key again", {".env": ""})
    bare = builder.bare_clone(tmp_path / "remote" / "api.git")
    forge.add_org("acme")
    forge.add_repo(GhRepo("acme", "api", forge.serve_git("acme", "api", bare), variables=[
        {"name": "OPENAI_API_KEY", "value": planted["variable"], "created_at": "2025-01-01T00:00:00Z",
         "updated_at": "2025-01-01T00:00:00Z"}]))
    return planted

@dataclass
class GhApp:
    """A GitHub App: its id, the public half of its key, and where it is installed."""

    app_id: str
    public_key: str                                   # PEM
    installations: dict[int, str] = field(default_factory=dict)   # installation id -> account login
    token_lifetime: float = 3600.0                    # seconds an installation token lives (GitHub: 1 hour)


# GitHub's answers to a JWT it refuses (401), as its documentation and its API word them.
JWT_EXPIRED = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
JWT_TOO_LONG = "'Expiration time' claim ('exp') is too far in the future"
JWT_ISSUED_AT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
JWT_UNDECODABLE = "A JSON web token could not be decoded"


class FakeGitHub(_Forge):
    """GitHub REST: orgs, users, repos, Actions variables/secrets, environments, Dependabot and
    Codespaces secrets (`GET /orgs/{org}/{dependabot|codespaces}/secrets`, `GET /repos/{o}/{r}/…/secrets`:
    `{total_count, secrets: [{name, created_at, updated_at}]}`, org-level ones with `visibility` and
    `selected_repositories_url`); GitHub Apps. `codespaces = False` is a GitHub Enterprise Server,
    which has no Codespaces: those paths answer 404."""

    def __init__(self, behaviour: ForgeBehaviour | None = None) -> None:
        super().__init__(behaviour)
        self.orgs: dict[str, dict[str, list]] = {}
        self.repos: dict[str, GhRepo] = {}
        self.git_dirs: dict[str, Path] = {}  # "owner/name.git" -> bare repository served over HTTP
        self.git_requests = 0
        self.apps: dict[str, GhApp] = {}
        # Installation access tokens handed out: token -> (installation id, account, expiry epoch).
        self.issued: dict[str, tuple[int, str, float]] = {}
        # Every JWT-authenticated call: (method, path, app id or None, status).
        self.app_calls: list[tuple[str, str, str | None, int]] = []
        self.codespaces = True

    def make_app(self):
        app = super().make_app()
        app.router.add_post("/{tail:.*}", self._route)
        return app

    def add_app(self, app_id: str | int, public_key: str, installations: dict[int, str] | None = None,
                token_lifetime: float = 3600.0) -> GhApp:
        app = GhApp(str(app_id), public_key, dict(installations or {}), token_lifetime)
        self.apps[app.app_id] = app
        return app

    def requires_auth(self) -> bool:
        return bool(self.behaviour.token or self.apps)

    @staticmethod
    def _app_path(path: str) -> bool:
        """Endpoints that take the app's JWT (and only it)."""
        parts = [p for p in path.strip("/").split("/") if p]
        return (parts[:1] == ["app"] or (len(parts) == 3 and parts[0] in ("orgs", "users") and parts[2] == "installation")
                or (len(parts) == 4 and parts[0] == "repos" and parts[3] == "installation"))

    def _installation_token(self, request) -> tuple[int, str, float] | None:
        """The live installation token a request carries (REST: Bearer/token; git: Basic x-access-token)."""
        header = request.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, value = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            if user != "x-access-token":
                return None
        elif scheme.lower() not in ("bearer", "token"):
            return None
        issued = self.issued.get(value)
        return issued if issued and issued[2] > time.time() else None

    def _jwt_app(self, request) -> tuple[GhApp | None, str | None]:
        """(the app, None) for a valid app JWT, else (None, GitHub's 401 message)."""
        import jwt

        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            return None, JWT_UNDECODABLE
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None, JWT_UNDECODABLE
        app = self.apps.get(str(claims.get("iss")))
        if app is None:
            return None, JWT_UNDECODABLE
        try:  # the signature, against the public key GitHub holds for this app (RS256 only)
            jwt.decode(token, app.public_key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            return None, JWT_UNDECODABLE
        now = time.time()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(iat, int) or iat > now + 60:
            return None, JWT_ISSUED_AT
        if not isinstance(exp, (int, float)) or exp <= now:
            return None, JWT_EXPIRED
        if exp > now + 600:
            return None, JWT_TOO_LONG
        return app, None

    async def _app_route(self, request, parts: list[str]):
        from aiohttp import web

        app, refusal = self._jwt_app(request)
        if app is None:
            self.app_calls.append((request.method, request.path, None, 401))
            return web.json_response({"message": refusal, "documentation_url": "https://docs.github.com/rest"},
                                     status=401)

        def installation(iid: int, account: str) -> dict[str, Any]:
            kind = "Organization" if account in self.orgs else "User"
            return {"id": iid, "app_id": int(app.app_id) if app.app_id.isdigit() else app.app_id,
                    "account": {"login": account, "id": abs(hash(account)) % 10**6, "type": kind},
                    "target_type": kind, "repository_selection": "all",
                    "access_tokens_url": f"{self.url}/app/installations/{iid}/access_tokens",
                    "permissions": {"metadata": "read", "contents": "read", "actions_variables": "read",
                                    "secrets": "read", "environments": "read"}}

        def answer(body: Any, status: int = 200):
            self.app_calls.append((request.method, request.path, app.app_id, status))
            return web.json_response(body, status=status)

        not_found = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        if request.method == "GET" and parts == ["app", "installations"]:
            return answer([installation(i, a) for i, a in sorted(app.installations.items())])
        if request.method == "GET" and len(parts) == 3 and parts[2] == "installation":
            for iid, account in app.installations.items():
                if account == parts[1]:
                    return answer(installation(iid, account))
            return answer(not_found, 404)
        if request.method == "GET" and len(parts) == 4 and parts[0] == "repos":
            for iid, account in app.installations.items():
                if account == parts[1] and f"{parts[1]}/{parts[2]}" in self.repos:
                    return answer(installation(iid, account))
            return answer(not_found, 404)
        if request.method == "POST" and len(parts) == 4 and parts[:2] == ["app", "installations"] \
                and parts[3] == "access_tokens" and parts[2].isdigit() and int(parts[2]) in app.installations:
            iid = int(parts[2])
            token = "ghs_" + token_urlsafe(27).replace("-", "A").replace("_", "B")[:36]
            expires = time.time() + app.token_lifetime
            self.issued[token] = (iid, app.installations[iid], expires)
            return answer({"token": token, "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
                           "permissions": installation(iid, "")["permissions"], "repository_selection": "all"}, 201)
        return answer(not_found, 404)

    def serve_git(self, owner: str, name: str, bare: str | Path) -> str:
        """Serve a bare repository over HTTP (call after start()); returns its clone URL."""
        subprocess.run(["git", "update-server-info"], cwd=bare, check=True, capture_output=True)
        self.git_dirs[f"{owner}/{name}.git"] = Path(bare)
        return f"{self.url}/{owner}/{name}.git"

    def _git_file(self, path: str) -> Path | None:
        """The served file a git request names, or None (not a git path, or outside the repository)."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) < 3 or f"{parts[0]}/{parts[1]}" not in self.git_dirs or ".." in parts:
            return None
        return self.git_dirs[f"{parts[0]}/{parts[1]}"].joinpath(*parts[2:])

    def add_org(self, org: str, variables=(), secrets=(), dependabot_secrets=(), codespaces_secrets=()) -> None:
        self.orgs[org] = {"variables": list(variables), "secrets": list(secrets),
                          "dependabot": list(dependabot_secrets), "codespaces": list(codespaces_secrets)}

    def add_repo(self, repo: GhRepo) -> GhRepo:
        self.repos[repo.full_name] = repo
        return repo

    @property
    def _middleware(self):
        return _middleware_factory(self)

    def rate_header_names(self, limit: int, remaining: int, reset: int) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(reset), "X-RateLimit-Resource": "core"}

    def authorized(self, request) -> bool:
        if self._app_path(request.path):
            return True  # the app endpoints check their JWT themselves
        if self._installation_token(request) is not None:
            return True
        if not self.behaviour.token:
            return False
        if self._git_file(request.path) is not None:
            basic = base64.b64encode(f"x-access-token:{self.behaviour.token}".encode()).decode()
            return request.headers.get("Authorization") == f"Basic {basic}"
        return request.headers.get("Authorization") in (f"Bearer {self.behaviour.token}",
                                                        f"token {self.behaviour.token}")

    def repo_json(self, repo: GhRepo) -> dict[str, Any]:
        return {
            "id": abs(hash(repo.full_name)) % 10**8, "node_id": "R_" + repo.name, "name": repo.name,
            "full_name": repo.full_name, "private": repo.private, "fork": repo.fork, "archived": repo.archived,
            "disabled": False, "owner": {"login": repo.owner, "id": 1, "type": "Organization",
                                         "url": f"{self.url}/users/{repo.owner}"},
            "html_url": f"{self.url}/{repo.full_name}", "url": f"{self.url}/repos/{repo.full_name}",
            "clone_url": repo.clone_url, "default_branch": "main", "pushed_at": repo.pushed_at,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": repo.pushed_at, "size": 1,
        }

    def _org_store(self, request, org: str, store: str):
        """An organization's Dependabot or Codespaces secrets (their visibility, and where the
        selected repositories are listed)."""
        from aiohttp import web

        if org not in self.orgs or (store == "codespaces" and not self.codespaces):
            return web.json_response({"message": "Not Found"}, status=404)
        secrets = [{"visibility": "all", **secret,
                    "selected_repositories_url": f"{self.url}/orgs/{org}/{store}/secrets/{secret['name']}/repositories"}
                   for secret in self.orgs[org].get(store, [])]
        return self.page(request, secrets, "secrets")

    async def _route(self, request):
        from aiohttp import web

        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if self._app_path(request.path):
            return await self._app_route(request, parts)
        if request.method != "GET":
            return web.json_response({"message": "Not Found"}, status=404)
        installed = self._installation_token(request)
        if installed is not None and parts[0] in ("orgs", "users", "repos") and len(parts) > 1 \
                and parts[1] != installed[1]:
            # An installation token sees only its own account's organization and repositories.
            return web.json_response({"message": "Not Found"}, status=404)
        if installed is not None and len(parts) >= 2 and f"{parts[0]}/{parts[1]}.git" in self.git_dirs \
                and parts[0] != installed[1]:
            return web.Response(status=404, text="Not Found")
        git_file = self._git_file(request.path)
        if git_file is not None:
            self.git_requests += 1
            if not git_file.is_file():
                return web.Response(status=404, text="Not Found")
            return web.Response(body=git_file.read_bytes(), content_type="application/octet-stream")
        if len(parts) == 2 and parts[0] in ("orgs", "users"):
            name = parts[1]
            if parts[0] == "orgs" and name not in self.orgs:
                return web.json_response({"message": "Not Found"}, status=404)
            kind = "orgs" if parts[0] == "orgs" else "users"
            return self.json(request, {"login": name, "id": 7, "url": f"{self.url}/{kind}/{name}",
                                       "repos_url": f"{self.url}/{kind}/{name}/repos", "type": "Organization"})
        if len(parts) == 3 and parts[0] in ("orgs", "users") and parts[2] == "repos":
            owned = [self.repo_json(r) for r in self.repos.values() if r.owner == parts[1]]
            if parts[0] == "orgs" and parts[1] not in self.orgs:
                return web.json_response({"message": "Not Found"}, status=404)
            return self.page(request, owned, None)
        if len(parts) == 4 and parts[0] == "orgs" and parts[2] == "actions" and parts[1] in self.orgs:
            if parts[3] in ("variables", "secrets"):
                return self.page(request, self.orgs[parts[1]][parts[3]], parts[3])
        if len(parts) == 4 and parts[0] == "orgs" and parts[2] in ("dependabot", "codespaces") and parts[3] == "secrets":
            return self._org_store(request, parts[1], parts[2])
        if len(parts) == 5 and parts[0] == "orgs" and parts[2:4] == ["actions", "variables"] and parts[1] in self.orgs:
            return self._one(request, self.orgs[parts[1]]["variables"], "name", parts[4])
        if len(parts) >= 3 and parts[0] == "repos":
            repo = self.repos.get(f"{parts[1]}/{parts[2]}")
            if repo is None:
                return web.json_response({"message": "Not Found"}, status=404)
            rest = parts[3:]
            if not rest:
                return self.json(request, self.repo_json(repo))
            if rest == ["actions", "variables"]:
                return self.page(request, repo.variables, "variables")
            if len(rest) == 3 and rest[:2] == ["actions", "variables"]:
                return self._one(request, repo.variables, "name", rest[2])
            if len(rest) == 4 and rest[0] == "environments" and rest[2] == "variables" \
                    and rest[1] in repo.environments:
                return self._one(request, repo.environments[rest[1]].get("variables", []), "name", rest[3])
            if rest == ["actions", "secrets"]:
                return self.page(request, repo.secrets, "secrets")
            if rest in (["dependabot", "secrets"], ["codespaces", "secrets"]) and (rest[0] == "dependabot" or self.codespaces):
                return self.page(request, getattr(repo, f"{rest[0]}_secrets"), "secrets")
            if rest == ["environments"]:
                return self.page(request, [{"id": i, "name": n} for i, n in enumerate(repo.environments)],
                                 "environments")
            if len(rest) == 3 and rest[0] == "environments" and rest[1] in repo.environments \
                    and rest[2] in ("variables", "secrets"):
                return self.page(request, repo.environments[rest[1]].get(rest[2], []), rest[2])
        return web.json_response({"message": "Not Found"}, status=404)


# -- GitLab ---------------------------------------------------------------------------------------
@dataclass
class GlProject:
    id: int
    path_with_namespace: str
    http_url_to_repo: str
    archived: bool = False
    forked: bool = False
    last_activity_at: str = "2025-01-01T00:00:00Z"
    variables: list[dict[str, Any]] = field(default_factory=list)


class FakeGitLab(_Forge):
    """GitLab REST v4: groups (projects, descendant groups, variables), projects (variables),
    instance-level variables; `PUT /projects/:id/variables/:key` (form field `value`, the
    variable picked by `filter[environment_scope]`) updates a project variable and answers it
    (200, the variable object with its new value); 403 for a key in `read_only`.

    A hostile intermediary can stand in front of a project variable's GET ("read") or PUT
    ("write"): `intermediary[kind] = (status, content_type, body)` answers instead (after the
    service, with `forwards = True`), a callable rewrites GitLab's JSON answer."""

    per_page_default = 20

    def __init__(self, behaviour: ForgeBehaviour | None = None) -> None:
        super().__init__(behaviour)
        self.groups: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, GlProject] = {}
        self.instance_variables: list[dict[str, Any]] = []
        self.read_only: set[str] = set()  # project variable keys the token may not update
        self.intermediary: dict[str, Any] = {}
        self.forwards = False
        self.on_put = None  # called (key) as a PUT arrives: someone else's write in that instant
        self.puts: list[str] = []

    def make_app(self):
        from aiohttp import web

        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/{tail:.*}", self._route)
        app.router.add_put("/{tail:.*}", self._route)
        return app

    async def _route(self, request):
        from aiohttp import web

        parts = request.path.strip("/").split("/")
        kind = ("write" if request.method == "PUT" else "read") \
            if len(parts) == 6 and parts[:3] == ["api", "v4", "projects"] and parts[4] == "variables" else None
        reply = self.intermediary.get(kind or "")
        if reply is None:
            return await self._gitlab(request)
        if callable(reply):
            answer = await self._gitlab(request)
            return web.json_response(reply(json.loads(answer.body)), status=answer.status)
        if self.forwards:
            await self._gitlab(request)
        status, content_type, body = reply
        return web.Response(status=status, body=body, content_type=content_type)

    async def _put_variable(self, request, project: GlProject, key: str):
        from aiohttp import web

        self.puts.append(key)
        if key in self.read_only:
            return web.json_response({"message": "403 Forbidden"}, status=403)
        form = await request.post()
        scope = request.query.get("filter[environment_scope]")
        for item in project.variables:
            if item.get("key") == key and (scope is None or str(item.get("environment_scope") or "*") == scope):
                if self.on_put is not None:
                    self.on_put(key)
                item["value"] = str(form["value"])
                return self.json(request, item)
        return web.json_response({"message": "404 Variable Not Found"}, status=404)

    @property
    def _middleware(self):
        return _middleware_factory(self)

    def add_group(self, full_path: str, variables=()) -> None:
        self.groups[full_path] = {"id": 1000 + len(self.groups), "full_path": full_path,
                                  "variables": list(variables)}

    def add_project(self, project: GlProject) -> GlProject:
        self.projects[project.path_with_namespace] = project
        return project

    def rate_header_names(self, limit: int, remaining: int, reset: int) -> dict[str, str]:
        return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(reset)}

    def authorized(self, request) -> bool:
        return request.headers.get("PRIVATE-TOKEN") == self.behaviour.token or \
            request.headers.get("Authorization") == f"Bearer {self.behaviour.token}"

    def project_json(self, p: GlProject) -> dict[str, Any]:
        body = {"id": p.id, "path_with_namespace": p.path_with_namespace, "http_url_to_repo": p.http_url_to_repo,
                "archived": p.archived, "last_activity_at": p.last_activity_at,
                "web_url": f"{self.url}/{p.path_with_namespace}", "visibility": "private"}
        if p.forked:
            body["forked_from_project"] = {"id": 1}
        return body

    def _group(self, ref: str) -> dict[str, Any] | None:
        for group in self.groups.values():
            if ref in (str(group["id"]), group["full_path"]):
                return group
        return None

    def _project(self, ref: str) -> GlProject | None:
        for project in self.projects.values():
            if ref in (str(project.id), project.path_with_namespace):
                return project
        return None

    async def _gitlab(self, request):
        from aiohttp import web

        raw = request.raw_path.split("?")[0]
        if not raw.startswith("/api/v4/"):
            return web.json_response({"message": "404 Not Found"}, status=404)
        parts = [unquote(p) for p in raw[len("/api/v4/"):].split("/")]
        if parts == ["admin", "ci", "variables"]:
            return self.page(request, self.instance_variables, None)
        if len(parts) == 4 and parts[:3] == ["admin", "ci", "variables"]:
            return self._one(request, self.instance_variables, "key", parts[3])
        if parts[0] == "groups" and len(parts) >= 2:
            group = self._group(parts[1])
            if group is None:
                return web.json_response({"message": "404 Group Not Found"}, status=404)
            rest = parts[2:]
            path = group["full_path"]
            if not rest:
                return self.json(request, {"id": group["id"], "full_path": path})
            if rest == ["variables"]:
                return self.page(request, group["variables"], None)
            if len(rest) == 2 and rest[0] == "variables":
                return self._one(request, group["variables"], "key", rest[1])
            if rest == ["descendant_groups"]:
                return self.page(request, [{"id": g["id"], "full_path": g["full_path"]} for g in self.groups.values()
                                           if g["full_path"].startswith(path + "/")], None)
            if rest == ["projects"]:
                subgroups = request.query.get("include_subgroups") == "true"
                projects = [self.project_json(p) for p in self.projects.values()
                            if p.path_with_namespace.rsplit("/", 1)[0] == path
                            or (subgroups and p.path_with_namespace.startswith(path + "/"))]
                return self.page(request, projects, None)
        if parts[0] == "projects" and len(parts) >= 2:
            project = self._project(parts[1])
            if project is None:
                return web.json_response({"message": "404 Project Not Found"}, status=404)
            rest = parts[2:]
            if not rest:
                return self.json(request, self.project_json(project))
            if rest == ["variables"]:
                return self.page(request, project.variables, None)
            if len(rest) == 2 and rest[0] == "variables":
                if request.method == "PUT":
                    return await self._put_variable(request, project, rest[1])
                return self._one(request, project.variables, "key", rest[1])
        return web.json_response({"message": "404 Not Found"}, status=404)
