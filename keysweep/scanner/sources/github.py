"""GitHub: repositories of organizations, users or single repos (listed through the REST API), cloned into
the cache and scanned with the git source; Actions variables (plaintext: scanned) and Actions
secrets (write-only: inventoried by age) at organization, repository and environment level;
Dependabot and Codespaces secrets (write-only too: inventoried by age) at organization and
repository level.

REST endpoints (https://docs.github.com/en/rest/repos/repos, …/actions/variables, …/actions/secrets,
…/deployments/environments), read through the shared HttpClient so they run concurrently under
the per-host throttle:
  GET /orgs/{org}/repos?type=all | /users/{user}/repos?type=owner   [{full_name, clone_url, pushed_at, …}]
  GET /repos/{o}/{r}
  GET /orgs/{org}/actions/variables          {total_count, variables: [{name, value, created_at, updated_at, visibility}]}
  GET /orgs/{org}/actions/secrets            {total_count, secrets: [{name, created_at, updated_at, visibility}]}
  GET /repos/{o}/{r}/actions/variables       (max 30 a page)
  GET /repos/{o}/{r}/actions/secrets
  GET /repos/{o}/{r}/environments            {total_count, environments: [{name, …}]}
  GET /repos/{o}/{r}/environments/{env}/variables | /secrets
  GET /orgs/{org}/dependabot/secrets | /orgs/{org}/codespaces/secrets
                                             {total_count, secrets: [{name, created_at, updated_at, visibility}]}
  GET /repos/{o}/{r}/dependabot/secrets | /repos/{o}/{r}/codespaces/secrets   {total_count, secrets: [{name, …}]}
A 404 from a Dependabot or Codespaces listing means the store is not there (GitHub Enterprise
Server has no Codespaces): nothing to report. A 403 (a token without the store's read permission)
is one error line.
Pages follow the `Link: <…>; rel="next"` header. Every page is asked again with `If-None-Match`:
an unchanged one answers 304, which GitHub does not count against the rate limit.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote, urlsplit

from keysweep.models import ACCESS
from keysweep.providers import provider
from keysweep.scanner.sources.remote import (
    Entry,
    GitTarget,
    InventoryRecord,
    Item,
    Pending,
    RemoteError,
    SourceRun,
    Unit,
    ValueGroup,
    age_days,
    entry_text,
    iso,
    older_than,
)

if TYPE_CHECKING:
    from keysweep.scanner.sources.github_app import GitHubApp

GITHUB = provider("github")
API_VERSION = GITHUB.api_version
# The public API's host (the record's default endpoint), whose web host drops the "api." label.
PUBLIC_API_HOST = urlsplit(GITHUB.base_url or "").hostname
# What a sweep needs of a repository listing's items (the rest is not stored with the listing).
REPO_FIELDS = ("full_name", "clone_url", "archived", "fork", "private", "pushed_at", "default_branch")
LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class SecretStore:
    """One of GitHub's write-only secret stores, inventoried by the age of its secrets."""

    name: str        # as in the REST path: /orgs/{org}/<name>/secrets
    kind: str        # occurrence source
    rule_id: str
    provider: str
    what: str        # in the resource shown: "<place> <what> <NAME>"


ACTIONS_SECRETS = SecretStore("actions", "github-actions-secret", "github.actions-stale-secret", "github-actions",
                              "actions secret")
DEPENDABOT_SECRETS = SecretStore("dependabot", "github-dependabot-secret", "github.dependabot-stale-secret",
                                 "github-dependabot", "dependabot secret")
CODESPACES_SECRETS = SecretStore("codespaces", "github-codespaces-secret", "github.codespaces-stale-secret",
                                 "github-codespaces", "codespaces secret")


def next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        found = LINK_NEXT.search(part)
        if found:
            return found.group(1)
    return None


def web_host(api_url: str) -> str:
    """github.com for the public API, the appliance's host for GitHub Enterprise Server."""
    parts = urlsplit(api_url)
    host = parts.hostname or "github"
    if host == PUBLIC_API_HOST:
        return host.removeprefix("api.")
    return f"{host}:{parts.port}" if parts.port else host


def message_of(body: Any) -> str:
    if isinstance(body, dict) and body.get("message"):
        return " ".join(str(body["message"]).split())[:200]
    return ""


@dataclass
class Listing:
    items: list[dict[str, Any]]
    unchanged: bool = False            # 304: the store already holds what this listing would give
    validators: list[tuple[str, str, str | None]] = field(default_factory=list)


class RestClient:
    """GETs with auth, pagination, conditional requests and GitHub's 403 rate-limit answers.

    `auth`, when given, returns the `Authorization` value at the time of each request (a GitHub
    App installation token, refreshed before it expires); `access` is what an occurrence found
    through this client keeps to be re-read later."""

    def __init__(self, run: SourceRun, base_url: str, headers: dict[str, str], label: str,
                 auth: Callable[[], Awaitable[str]] | None = None, access: dict[str, Any] | None = None) -> None:
        self.run = run
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.label = label
        self.netloc = urlsplit(self.base_url).netloc
        self.auth = auth
        self.access = access

    async def get(self, url: str, headers: dict[str, str]):
        if self.auth is not None:
            headers = {**headers, "Authorization": await self.auth()}
        # The one retry loop (keysweep.http) also waits out GitHub's 403 rate-limit answers.
        return await self.run.ctx.http.request("GET", url, headers=headers, retry_rate_limited=True)

    async def listing(self, path: str, key: str | None, *, per_page: int = 100, holds_values: bool = False,
                      params: str = "", fields: tuple[str, ...] | None = None) -> Listing:
        """Every item of a paginated listing. `key` names the array in an object body (GitHub);
        None for a bare array (a repository listing, GitLab). Bodies holding values are never
        stored; `fields`: only these keys of each item are kept (and stored).

        Every page is asked with `If-None-Match` when an earlier sweep recorded it: an unchanged
        page answers 304 (not counted against GitHub's rate limit) and its items and next page
        come from the store. A listing holding values whose pages all answer 304 is `unchanged`
        (its values were matched before); if only some changed, the unchanged pages are read again
        without a condition, since their values were not kept."""
        following: str | None = f"{self.base_url}{path}?per_page={per_page}{params}"
        pages: list[tuple[str, list[dict[str, Any]] | None]] = []  # (url, items; None: unchanged, not kept)
        validators: list[tuple[str, str, str | None]] = []
        seen: set[str] = set()
        while following and following not in seen:
            seen.add(following)
            url, cached = following, self.run.validator(following)
            headers = dict(self.headers)
            if cached:
                headers["If-None-Match"] = cached[0]
            response = await self.get(url, headers)
            if response.status == 304 and cached:
                page = _stored_page(cached[1])
                if page is not None:
                    pages.append((url, None if holds_values else page[0]))
                    following = page[1]
                    continue
                response = await self.get(url, self.headers)  # a validator saved without its page: read it
            items = self._items(path, response, key, fields)
            following = self._next(response)
            pages.append((url, items))
            etag = response.headers.get("ETag")
            if etag:
                validators.append((url, etag, json.dumps({"items": None if holds_values else items, "next": following})))
        if holds_values and all(items is None for _, items in pages):
            return Listing([], unchanged=True)
        collected: list[dict[str, Any]] = []
        for url, items in pages:
            if items is None:
                items = self._items(path, await self.get(url, self.headers), key, fields)
            collected.extend(items)
        return Listing(collected, validators=validators)

    def _next(self, response) -> str | None:
        following = next_link(response.headers.get("Link"))
        if following is None and response.headers.get("X-Next-Page"):
            # GitLab without Link headers (behind some proxies): build the next page from X-Next-Page.
            following = re.sub(r"([?&]page=)\d+", rf"\g<1>{response.headers['X-Next-Page']}", response.url) \
                if "page=" in response.url else f"{response.url}&page={response.headers['X-Next-Page']}"
        if following and urlsplit(following).netloc != self.netloc:
            # Never send the token to another host, whatever a Link header says.
            raise RemoteError(f"{self.label}: pagination link points to another host ({urlsplit(following).netloc})")
        return following

    def _items(self, path: str, response, key: str | None,
               fields: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        body = response.json()
        if response.status != 200:
            detail = message_of(body)
            raise RemoteError(f"GET {path}: HTTP {response.status}{' ' + detail if detail else ''}")
        items = body.get(key) if key and isinstance(body, dict) else body
        if not isinstance(items, list):
            raise RemoteError(f"GET {path}: unexpected answer (no {key or 'list'} in the body)")
        if fields is not None:
            return [{name: item.get(name) for name in fields} for item in items if isinstance(item, dict)]
        return [item for item in items if isinstance(item, dict)]


def _stored_page(body: str | None) -> tuple[list[dict[str, Any]] | None, str | None] | None:
    """(items, next page URL) of a page saved by `RestClient.listing`; None when it cannot say. Rows
    written before every page was conditional hold a single page: its items (a list), or nothing
    for a listing holding values."""
    try:
        saved = json.loads(body) if body else None
    except ValueError:
        return None
    if saved is None:
        return None, None
    if isinstance(saved, list):
        return saved, None
    if isinstance(saved, dict) and (saved.get("items") is None or isinstance(saved["items"], list)) \
            and (saved.get("next") is None or isinstance(saved["next"], str)):
        return saved.get("items"), saved.get("next")
    return None


@dataclass
class RepoInfo:
    full_name: str
    clone_url: str | None
    archived: bool
    fork: bool
    private: bool
    pushed_at: str | None
    default_branch: str | None


class GitHubSource:
    label = "github"

    def __init__(self, *, orgs: tuple[str, ...] = (), users: tuple[str, ...] = (), repos: tuple[str, ...] = (),
                 api_url: str = GITHUB.base_url or "", token: str | None = None, forks: bool = False,
                 archived: bool = True, clone: bool = True, actions: bool = True, rate_limit: float = 10.0,
                 token_env: str = GITHUB.env_name_for_admin_key(), app: "GitHubApp | None" = None,
                 dependabot: bool = True, codespaces: bool = True) -> None:
        self.orgs, self.users, self.repos = tuple(orgs), tuple(users), tuple(repos)
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.token_env = token_env
        # A GitHub App (keysweep/scanner/sources/github_app.py): each organization, user or
        # repository is read with its installation's short-lived token instead of `token`.
        self.app = app
        self.forks, self.archived, self.clone, self.actions = forks, archived, clone, actions
        # The other secret stores (write-only, like Actions secrets): inventoried by age.
        self.stores = tuple(store for store, wanted in ((DEPENDABOT_SECRETS, dependabot),
                                                        (CODESPACES_SECRETS, codespaces)) if wanted)
        self.rate_limit = rate_limit
        self.host = web_host(self.api_url)
        self.skipped = 0

    # -- repositories -----------------------------------------------------------------------------
    @staticmethod
    def _info(repo: dict[str, Any]) -> RepoInfo | None:
        full_name = repo.get("full_name")
        if not isinstance(full_name, str) or not full_name:
            return None
        clone_url = repo.get("clone_url")
        return RepoInfo(full_name=full_name, clone_url=clone_url if isinstance(clone_url, str) else None,
                        archived=bool(repo.get("archived")), fork=bool(repo.get("fork")),
                        private=bool(repo.get("private")), pushed_at=iso(repo.get("pushed_at")),
                        default_branch=repo.get("default_branch"))

    async def _list(self, run: SourceRun, api: RestClient, kind: str, name: str) -> list[RepoInfo]:
        """The repositories of an organization (every type) or a user (owned), from a listing asked
        conditionally page by page (a second sweep's unchanged pages answer 304 and come from the
        store), or the one repository named. Raises RemoteError."""
        if kind == "repo":
            response = await api.get(f"{self.api_url}/repos/{quote(name, safe='/')}", api.headers)
            body = response.json()
            if response.status != 200 or not isinstance(body, dict):
                detail = message_of(body)
                raise RemoteError(f"HTTP {response.status}{' ' + detail if detail else ''}")
            found = [body]
        else:
            owner = quote(name, safe="")
            path, params = ((f"/orgs/{owner}/repos", "&type=all") if kind == "org"
                            else (f"/users/{owner}/repos", "&type=owner"))
            listing = await api.listing(path, None, per_page=100, params=params, fields=REPO_FIELDS)
            run.remember(listing.validators)  # no value in it: kept at once
            found = listing.items
        return [info for info in map(self._info, found) if info is not None]

    # -- the source -----------------------------------------------------------------------------
    def client(self, run: SourceRun) -> RestClient:
        run.ctx.http.rate_limits.setdefault(urlsplit(self.api_url).netloc, self.rate_limit)
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if self.token and self.app is None:
            headers["Authorization"] = f"Bearer {self.token}"
        return RestClient(run, self.api_url, headers, "github", access=self.access)

    def rebuild(self, run: SourceRun, item: Pending) -> Pending:
        """The work a Pending's `spec` names, done again by this source with its token (a distributed
        sweep's worker; a source read as a GitHub App is not distributed)."""
        spec, api = item.spec or {}, self.client(run)
        if spec.get("op") == "org-actions":
            return Pending(item.label, self.org_actions(run, api, spec["org"]), spec)
        if spec.get("op") == "repo-actions":
            return Pending(item.label, self.repo_actions(run, api, spec["full_name"], spec["scope"]), spec)
        raise RemoteError(f"github: unknown unit {spec.get('op')!r}")

    async def items(self, run: SourceRun) -> AsyncIterator[Item]:
        api = self.client(run)
        headers = api.headers
        by_installation: dict[int, RestClient] = {}
        seen: set[str] = set()
        targets = [("org", org) for org in self.orgs] + [("user", user) for user in self.users] + \
                  [("repo", repo) for repo in self.repos]
        for kind, name in targets:
            if self.app is not None:
                try:
                    installation = await self.app.ainstallation(kind, name)
                except RemoteError as exc:
                    run.error(f"github {kind} {name}: {exc}")
                    continue
                if installation not in by_installation:
                    by_installation[installation] = RestClient(
                        run, self.api_url, headers, "github", auth=self._bearer(installation),
                        access=self._access(installation))
                api = by_installation[installation]
            if kind == "org" and (self.actions or self.stores):
                yield Pending(f"github org {name} actions", self.org_actions(run, api, name),
                              {"op": "org-actions", "org": name})
            try:
                repos = await self._list(run, api, kind, name)
            except RemoteError as exc:
                run.error(f"github {kind} {name}: {str(exc).partition(': ')[2] if str(exc).startswith('GET ') else exc}")
                continue
            for repo in repos:
                if repo.full_name in seen:
                    continue
                seen.add(repo.full_name)
                if (repo.fork and not self.forks) or (repo.archived and not self.archived):
                    self.skipped += 1
                    continue
                scope = f"{self.host}/{repo.full_name}"
                if self.clone and repo.clone_url:
                    yield GitTarget(name=scope, url=repo.clone_url, state=repo.pushed_at,
                                    auth_header=self._clone_auth(repo.clone_url, api),
                                    metadata={"archived": repo.archived, "fork": repo.fork, "private": repo.private},
                                    access=api.access)
                if self.actions or self.stores:
                    yield Pending(f"github {repo.full_name} actions", self.repo_actions(run, api, repo.full_name, scope),
                                  {"op": "repo-actions", "full_name": repo.full_name, "scope": scope})

    @property
    def access(self) -> dict[str, Any]:
        """How a later re-read reaches this forge again: its API and the name of the token variable."""
        return {"forge": "github", "api_url": self.api_url, "token_env": self.token_env}

    def _access(self, installation: int) -> dict[str, Any]:
        """`access` of a place read through an app installation: the app id, the key file's path and
        the installation id (identifiers and a path, never the key or a token)."""
        assert self.app is not None
        return {**self.access, **self.app.config.access(), "installation_id": installation}

    def _bearer(self, installation: int) -> Callable[[], Awaitable[str]]:
        app = self.app
        assert app is not None

        async def header() -> str:
            return f"Bearer {await app.atoken(installation)}"
        return header

    def _clone_auth(self, clone_url: str, api: RestClient) -> str | Callable[[], str] | None:
        """The clone's auth header: the token's, or (app) a callable asked when the clone starts, so
        a clone queued behind others gets a token that is still live."""
        installation = (api.access or {}).get("installation_id")
        if self.app is None or installation is None:
            return self._auth_header(clone_url)
        if not self._forge_url(clone_url):  # another host: nothing is sent
            return None
        app = self.app
        return lambda: self._auth_header(clone_url, app.token(int(installation)))

    def _forge_url(self, clone_url: str) -> bool:
        """Whether a clone URL is on the forge's own host (the only one a token is sent to)."""
        parts = urlsplit(clone_url)
        return parts.scheme in ("https", "http") and parts.netloc.rpartition("@")[2] in (
            self.host, urlsplit(self.api_url).netloc)

    def _auth_header(self, clone_url: str, token: str | None = None) -> str | None:
        token = token or self.token
        if not token or not self._forge_url(clone_url):
            return None
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return f"Authorization: Basic {basic}"

    async def org_actions(self, run: SourceRun, api: RestClient, org: str) -> Unit:
        scope = f"{self.host}/{org}"
        unit = Unit(source="github-actions", scope=scope, repo=None)
        where = {"host": self.host, "org": org, "level": "org"}
        if self.actions:
            await self._read(run, unit, api, f"/orgs/{quote(org)}/actions", where, f"{scope} org")
        for store in self.stores:
            await self._stale_secrets(run, unit, api, f"/orgs/{quote(org)}/{store.name}", where, f"{scope} org", store)
        return unit

    async def repo_actions(self, run: SourceRun, api: RestClient, full_name: str, scope: str) -> Unit:
        unit = Unit(source="github-actions", scope=scope, repo=scope)
        base = f"/repos/{quote(full_name, safe='/')}"
        where = {"host": self.host, "repo": full_name, "level": "repo"}
        for store in self.stores:
            await self._stale_secrets(run, unit, api, f"{base}/{store.name}", where, scope, store)
        if not self.actions:
            return unit
        await self._read(run, unit, api, f"{base}/actions", where, scope)
        try:
            environments = await api.listing(f"{base}/environments", "environments", per_page=100)
        except RemoteError as exc:
            if "HTTP 404" not in str(exc):  # no environments feature on this repository
                run.error(f"github {full_name}: {exc}")
            return unit
        unit.validators.extend(environments.validators)
        for environment in environments.items:
            env = str(environment.get("name") or "")
            if not env:
                continue
            env_where = {"host": self.host, "repo": full_name, "environment": env, "level": "environment"}
            await self._read(run, unit, api, f"{base}/environments/{quote(env, safe='')}", env_where,
                             f"{scope} environment {env}")
        return unit

    async def _read(self, run: SourceRun, unit: Unit, api: RestClient, base: str, where: dict[str, Any],
                    label: str) -> None:
        try:
            variables = await api.listing(f"{base}/variables", "variables", per_page=30, holds_values=True)
        except RemoteError as exc:
            run.error(f"github {label}: {exc}")
        else:
            unit.validators.extend(variables.validators)
            entries = []
            for variable in variables.items:
                name, value = variable.get("name"), variable.get("value")
                if not isinstance(name, str) or not isinstance(value, str):
                    continue
                locator = {**where, "variable": name,
                           "resource": f"{_place(where)} actions variable {name}", ACCESS: api.access or self.access}
                metadata = {"created_at": iso(variable.get("created_at")), "updated_at": iso(variable.get("updated_at"))}
                if variable.get("visibility"):
                    metadata["visibility"] = variable["visibility"]
                entries.append(Entry(entry_text(name, value), locator, metadata,
                                     at=iso(variable.get("updated_at") or variable.get("created_at"))))
            if entries:
                unit.groups.append(ValueGroup("github-actions-variable", entries))
        await self._stale_secrets(run, unit, api, base, where, label, ACTIONS_SECRETS)

    async def _stale_secrets(self, run: SourceRun, unit: Unit, api: RestClient, base: str, where: dict[str, Any],
                             label: str, store: SecretStore) -> None:
        """Inventory records for the secrets of `base`/secrets not updated for longer than the age limit."""
        try:
            secrets = await api.listing(f"{base}/secrets", "secrets", per_page=100)
        except RemoteError as exc:
            if store is not ACTIONS_SECRETS and "HTTP 404" in str(exc):
                return  # no such store here (Codespaces on GitHub Enterprise Server, a disabled feature)
            run.error(f"github {label}: {exc}")
            return
        unit.validators.extend(secrets.validators)
        now = run.now()
        for secret in secrets.items:
            name = secret.get("name")
            if not isinstance(name, str):
                continue
            changed = secret.get("updated_at") or secret.get("created_at")
            age = age_days(changed, now)
            if not older_than(changed, now, run.max_age_days):
                continue
            locator = {**where, "secret": name, "resource": f"{_place(where)} {store.what} {name}"}
            metadata = {"created_at": iso(secret.get("created_at")), "updated_at": iso(secret.get("updated_at")),
                        "age_days": age, "max_age_days": run.max_age_days}
            if secret.get("visibility"):
                metadata["visibility"] = secret["visibility"]
            identity = "\0".join([store.kind, where["host"], where.get("org") or where.get("repo", ""),
                                  where.get("environment", ""), name, iso(changed) or ""])
            unit.inventory.append(InventoryRecord(
                kind=store.kind, rule_id=store.rule_id, provider=store.provider,
                identity=identity, redacted="(unreadable)", locator=locator, metadata=metadata))


def _place(where: dict[str, Any]) -> str:
    if where.get("level") == "org":
        return f"{where['host']}/{where['org']} (org)"
    place = f"{where['host']}/{where['repo']}"
    return f"{place} environment {where['environment']}" if where.get("environment") else place
