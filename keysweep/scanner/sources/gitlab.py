"""GitLab: CI/CD variables of groups (and their descendants) and projects, and project repositories
through the git source. REST v4 (https://docs.gitlab.com/api/project_level_variables/,
…/group_level_variables/, …/groups/, …/projects/):

  GET /groups/:id                                   {id, full_path}
  GET /groups/:id/descendant_groups                 [{id, full_path}]
  GET /groups/:id/projects?include_subgroups=true   [{id, path_with_namespace, http_url_to_repo, archived,
                                                      last_activity_at, forked_from_project?}]
  GET /groups/:id/variables, /projects/:id/variables
      [{key, value, variable_type, protected, masked, hidden, raw, environment_scope, description}]
  GET /projects/:id                                 (one project by id or URL-encoded path)
  GET /admin/ci/variables                           (instance level; administrators only)

Values are readable by Maintainers, except masked-and-hidden variables (value null): those are
reported as inventory. Pages follow `Link` (or `X-Next-Page`); `PRIVATE-TOKEN` authenticates.
"""

from __future__ import annotations

import base64
from typing import Any, AsyncIterator
from urllib.parse import quote, urlsplit

from keysweep.models import ACCESS
from keysweep.providers import provider
from keysweep.scanner.sources.github import RestClient
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
    entry_text,
    iso,
)

GITLAB = provider("gitlab")


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "gitlab"
    return f"{host}:{parts.port}" if parts.port else host


# What a sweep needs of a project listing's items (the rest is not stored with the listing).
PROJECT_FIELDS = ("id", "path_with_namespace", "http_url_to_repo", "archived", "forked_from_project",
                  "last_activity_at")

class GitLabSource:
    label = "gitlab"

    def __init__(self, *, groups: tuple[str, ...] = (), projects: tuple[str, ...] = (),
                 url: str = GITLAB.base_url or "", token: str | None = None, forks: bool = False,
                 archived: bool = True, clone: bool = True, variables: bool = True, instance: bool = False,
                 rate_limit: float = 10.0, token_env: str = GITLAB.env_name_for_admin_key()) -> None:
        self.groups, self.projects = tuple(groups), tuple(projects)
        self.instance = instance
        self.url = url.rstrip("/")
        self.api_url = self.url if self.url.endswith("/api/v4") else f"{self.url}/api/v4"
        self.token = token
        self.token_env = token_env
        self.forks, self.archived, self.clone, self.variables = forks, archived, clone, variables
        self.rate_limit = rate_limit
        self.host = host_of(self.url)

    def client(self, run: SourceRun) -> RestClient:
        run.ctx.http.rate_limits.setdefault(urlsplit(self.api_url).netloc, self.rate_limit)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["PRIVATE-TOKEN"] = self.token
        return RestClient(run, self.api_url, headers, "gitlab")

    def rebuild(self, run: SourceRun, item: Pending) -> Pending:
        """The work a Pending's `spec` names, done again by this source (a distributed sweep's worker)."""
        spec, api = item.spec or {}, self.client(run)
        op = spec.get("op")
        if op == "instance-variables":
            return Pending(item.label, self.instance_variables(run, api), spec)
        if op == "group-variables":
            return Pending(item.label, self.group_variables(run, api, spec["group"]), spec)
        if op == "project-variables":
            return Pending(item.label, self.project_variables(run, api, spec["project_id"], spec["path"],
                                                              spec["scope"]), spec)
        raise RemoteError(f"gitlab: unknown unit {op!r}")

    async def items(self, run: SourceRun) -> AsyncIterator[Item]:
        api = self.client(run)
        seen: set[int] = set()
        if self.instance:
            yield Pending("gitlab instance variables", self.instance_variables(run, api), {"op": "instance-variables"})
        for group in self.groups:
            ref = quote(group.strip("/"), safe="")
            try:
                descendants = await api.listing(f"/groups/{ref}/descendant_groups", None, per_page=100,
                                                fields=("full_path",))
                projects = await api.listing(f"/groups/{ref}/projects", None, per_page=100,
                                             params="&include_subgroups=true&with_shared=false", fields=PROJECT_FIELDS)
            except RemoteError as exc:
                run.error(f"gitlab group {group}: {exc}")
                continue
            run.remember(descendants.validators + projects.validators)  # no value in them: kept at once
            if self.variables:
                yield Pending(f"gitlab group {group} variables", self.group_variables(run, api, group.strip("/")),
                              {"op": "group-variables", "group": group.strip("/")})
                for sub in descendants.items:
                    if sub.get("full_path"):
                        yield Pending(f"gitlab group {sub['full_path']} variables",
                                      self.group_variables(run, api, str(sub["full_path"])),
                                      {"op": "group-variables", "group": str(sub["full_path"])})
            for project in projects.items:
                async for item in self._project_items(run, api, project, seen):
                    yield item
        for path in self.projects:
            try:
                project = await self._one_project(api, path)
            except RemoteError as exc:
                run.error(f"gitlab project {path}: {exc}")
                continue
            async for item in self._project_items(run, api, project, seen):
                yield item

    async def _one_project(self, api: RestClient, path: str) -> dict[str, Any]:
        ref = quote(path.strip("/"), safe="")
        response = await api.get(f"{self.api_url}/projects/{ref}", api.headers)
        body = response.json()
        if response.status != 200 or not isinstance(body, dict):
            detail = body.get("message") if isinstance(body, dict) else ""
            raise RemoteError(f"GET /projects/{ref}: HTTP {response.status}{' ' + str(detail) if detail else ''}")
        return body

    async def _project_items(self, run: SourceRun, api: RestClient, project: dict[str, Any],
                             seen: set[int]) -> AsyncIterator[Item]:
        project_id, path = project.get("id"), project.get("path_with_namespace")
        if not isinstance(project_id, int) or not path or project_id in seen:
            return
        seen.add(project_id)
        forked = bool(project.get("forked_from_project"))
        if (forked and not self.forks) or (project.get("archived") and not self.archived):
            return
        scope = f"{self.host}/{path}"
        clone_url = project.get("http_url_to_repo")
        if self.clone and clone_url:
            yield GitTarget(name=scope, url=clone_url, state=iso(project.get("last_activity_at")),
                            auth_header=self._auth_header(clone_url),
                            metadata={"archived": bool(project.get("archived")), "fork": forked},
                            access=self.access)
        if self.variables:
            yield Pending(f"gitlab {path} variables", self.project_variables(run, api, project_id, path, scope),
                          {"op": "project-variables", "project_id": project_id, "path": path, "scope": scope})

    @property
    def access(self) -> dict[str, str]:
        """How a later re-read reaches this forge again: its URL and the name of the token variable."""
        return {"forge": "gitlab", "api_url": self.url, "token_env": self.token_env}

    def _auth_header(self, clone_url: str) -> str | None:
        parts = urlsplit(clone_url)
        if not self.token or parts.scheme not in ("http", "https") or \
                parts.netloc.rpartition("@")[2] != urlsplit(self.url).netloc:
            return None
        return "Authorization: Basic " + base64.b64encode(f"oauth2:{self.token}".encode()).decode()

    async def group_variables(self, run: SourceRun, api: RestClient, full_path: str) -> Unit:
        scope = f"{self.host}/{full_path}"
        unit = Unit(source="gitlab-ci", scope=scope, repo=None)
        listing = await api.listing(f"/groups/{quote(full_path, safe='')}/variables", None, per_page=100,
                                    holds_values=True)
        self._variables(unit, listing.items, {"host": self.host, "group": full_path, "level": "group"})
        unit.validators.extend(listing.validators)
        return unit

    async def instance_variables(self, run: SourceRun, api: RestClient) -> Unit:
        unit = Unit(source="gitlab-ci", scope=f"{self.host} (instance)", repo=None)
        listing = await api.listing("/admin/ci/variables", None, per_page=100, holds_values=True)
        self._variables(unit, listing.items, {"host": self.host, "instance": True, "level": "instance"})
        unit.validators.extend(listing.validators)
        return unit

    async def project_variables(self, run: SourceRun, api: RestClient, project_id: int, path: str, scope: str) -> Unit:
        unit = Unit(source="gitlab-ci", scope=scope, repo=scope)
        listing = await api.listing(f"/projects/{project_id}/variables", None, per_page=100, holds_values=True)
        self._variables(unit, listing.items, {"host": self.host, "project": path, "project_id": project_id,
                                              "level": "project"})
        unit.validators.extend(listing.validators)
        return unit

    def _variables(self, unit: Unit, variables: list[dict[str, Any]], where: dict[str, Any]) -> None:
        place = f"{where['host']}/{where.get('project') or where.get('group')}" if not where.get("instance") \
            else f"{where['host']} (instance)"
        entries = []
        for variable in variables:
            key = variable.get("key")
            if not isinstance(key, str):
                continue
            environment = str(variable.get("environment_scope") or "*")
            locator = {**where, "variable": key, "environment_scope": environment,
                       "resource": f"{place} CI variable {key} (environment {environment})"}
            metadata = {k: variable.get(k) for k in ("variable_type", "protected", "masked", "hidden", "raw",
                                                      "description") if variable.get(k) is not None}
            value = variable.get("value")
            if value is None and (variable.get("hidden") or variable.get("masked")):
                unit.inventory.append(InventoryRecord(
                    kind="gitlab-ci-variable", rule_id="gitlab.ci-hidden-variable", provider="gitlab-ci",
                    identity="\0".join(["gitlab-ci-variable", where["host"], str(where.get("project") or ""),
                                        str(where.get("group") or ("(instance)" if where.get("instance") else "")),
                                        key, environment]),
                    redacted="(hidden)", locator=locator, metadata=metadata))
                continue
            if isinstance(value, str):
                entries.append(Entry(entry_text(key, value), {**locator, ACCESS: self.access}, metadata))
        if entries:
            unit.groups.append(ValueGroup("gitlab-ci-variable", entries))
