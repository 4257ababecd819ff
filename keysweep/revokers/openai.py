"""OpenAI project, service-account and admin keys, with an Admin API key (`OPENAI_ADMIN_KEY`).

The leaked key cannot act on itself. With the admin key:
- project / service-account keys: find the key (its id and project from owner resolution when
  known, else `GET /organization/projects` then `GET /organization/projects/{p}/api_keys`, matching
  the leaked value against each key's `redacted_value`), then
  `DELETE /organization/projects/{p}/api_keys/{id}` → `{"object": "organization.project.api_key.deleted",
  "id": …, "deleted": true}` (any other reply is not believed);
- admin keys: `GET /organization/admin_api_keys`, match, `DELETE /organization/admin_api_keys/{id}`.

The inventory is listed once per run and shared by every job. Before each delete the key is
proven to be the finding's (revokers/binding.py): the value re-read and hashed, and exactly one
inventory key whose redacted value fits it; a stored key id is only used when it is that key.
Otherwise nothing is deleted and the job needs a person. A key the inventory no longer holds, or a
404 on delete, is success only when the verifier says the key is dead. Legacy user keys have no
API (notify revoker).
"""

from __future__ import annotations

import asyncio
from typing import Any

from keysweep.http import TransportError
from keysweep.providers.openai import ADMIN_KEYS, PROJECT_KEYS, PROJECTS
from keysweep.revokers._common import (
    BaseRevoker,
    gone_or_needs_person,
    http_failure,
    list_admin_pages,
    make_plan,
    missing_admin,
    outcome,
    proven_inventory_key,
    safe_target,
    transport_failure,
    unbelieved_success,
)
from keysweep.revokers.base import RevokeResult
from keysweep.settings import admin_key_env

PROJECT_RULES = {"openai.project-key", "openai.service-account-key"}
ADMIN_RULE = "openai.admin-key"


# OpenAI's documented answer to a delete (Administration API reference): the only reply believed.
DELETED_OBJECT = {"admin": "organization.admin_api_key.deleted", "project": "organization.project.api_key.deleted"}


def deleted_as_documented(body: object, kind: str, key_id: str) -> bool:
    """`{"object": "organization.project.api_key.deleted", "id": "key_abc", "deleted": true}`."""
    return isinstance(body, dict) and body.get("deleted") is True and body.get("object") == DELETED_OBJECT[kind] \
        and body.get("id") == key_id


class OpenAIRevoker(BaseRevoker):
    name = "openai"

    def supports(self, finding) -> bool:
        return finding.provider == "openai" and (finding.rule_id in PROJECT_RULES or finding.rule_id == ADMIN_RULE)

    def _project_hint(self, finding, ctx) -> str | None:
        getter = getattr(ctx.store, "owner_candidates", None) if ctx.store is not None else None
        if getter is None:
            return None
        try:
            for candidate in getter(finding.id):
                details = candidate.get("details") or {}
                if details.get("project_id"):
                    return details["project_id"]
        except Exception:  # an older store without details: look the key up instead
            return None
        return None

    async def plan(self, finding, ctx):
        base = ctx.settings.base_url("openai")
        needs = [] if ctx.settings.admin_key("openai") else [admin_key_env("openai")]
        if finding.rule_id == ADMIN_RULE:
            key = finding.key_id or "{id}"
            calls = [] if finding.key_id else [("GET", ADMIN_KEYS.url(base), "find the admin key by its redacted value")]
            calls.append(("DELETE", f"{base}/organization/admin_api_keys/{key}", "delete the admin key"))
            return make_plan(self.name, finding, calls, needs, kind="admin")
        project = self._project_hint(finding, ctx)
        calls = []
        if not (finding.key_id and project):
            calls = [("GET", PROJECTS.url(base), "list projects"),
                     ("GET", PROJECT_KEYS.url(base, project="{project}"), "find the key by its redacted value")]
        calls.append(("DELETE", f"{base}/organization/projects/{project or '{project}'}/api_keys/"
                                f"{finding.key_id or '{id}'}", "delete the project API key"))
        return make_plan(self.name, finding, calls, needs, kind="project", project_id=project)

    # -- inventory ------------------------------------------------------------------------------
    async def _get_pages(self, listing, headers: dict[str, str], ctx, calls: list,
                         **fields: str) -> list[dict[str, Any]] | RevokeResult:
        return await list_admin_pages(ctx, ctx.settings.base_url("openai"), listing, headers, calls,
                                      "OpenAI Admin API listing", **fields)

    async def _inventory(self, kind: str, headers, ctx, calls: list) -> list[dict[str, Any]] | RevokeResult:
        """[{id, project_id, redacted_value}] for the organisation, listed once per run."""
        cache = ctx.extra.setdefault("_openai_inventory", {})
        lock = ctx.extra.setdefault("_openai_inventory_lock", asyncio.Lock())
        async with lock:
            if kind in cache:
                return cache[kind]
            inventory: list[dict[str, Any]] = []
            if kind == "admin":
                listed = await self._get_pages(ADMIN_KEYS, headers, ctx, calls)
                if isinstance(listed, RevokeResult):
                    return listed
                inventory = [{"id": k.get("id"), "project_id": None, "redacted_value": k.get("redacted_value", "")}
                             for k in listed]
            else:
                projects = await self._get_pages(PROJECTS, headers, ctx, calls)
                if isinstance(projects, RevokeResult):
                    return projects
                for project in projects:
                    keys = await self._get_pages(PROJECT_KEYS, headers, ctx, calls, project=str(project.get("id")))
                    if isinstance(keys, RevokeResult):
                        return keys
                    inventory.extend({"id": k.get("id"), "project_id": project.get("id"),
                                      "redacted_value": k.get("redacted_value", "")} for k in keys)
            cache[kind] = inventory
            return inventory

    async def _proven_key(self, plan, kind: str, headers, ctx, calls: list) -> dict[str, Any] | RevokeResult | None:
        return await proven_inventory_key(plan, ctx, calls, lambda: self._inventory(kind, headers, ctx, calls),
                                          "redacted_value", "redacted value", "delete it in the OpenAI console")

    async def revoke(self, plan, ctx) -> RevokeResult:
        admin = ctx.settings.admin_key("openai")
        if not admin:
            return missing_admin("openai")
        headers = {"Authorization": f"Bearer {admin}"}
        base = ctx.settings.base_url("openai")
        kind = plan.data.get("kind", "project")
        calls: list[tuple[str, str, str]] = []
        entry = await self._proven_key(plan, kind, headers, ctx, calls)
        if isinstance(entry, RevokeResult):
            return entry
        if entry is None:
            return await gone_or_needs_person(plan, ctx, calls, "not in the organisation's key inventory")
        key_id, project = entry["id"], entry["project_id"]
        url = (f"{base}/organization/admin_api_keys/{key_id}" if kind == "admin"
               else f"{base}/organization/projects/{project}/api_keys/{key_id}")
        try:
            response = await ctx.http.request("DELETE", url, headers=headers)
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, calls)
        calls.append(("DELETE", safe_target(url), outcome(response)))
        if response.status == 200 and deleted_as_documented(response.json(), kind, key_id):
            inventory = ctx.extra.get("_openai_inventory", {}).get(kind)
            if inventory is not None:
                inventory[:] = [k for k in inventory if k["id"] != key_id]
            return RevokeResult(True, "key deleted", calls=tuple(calls))
        if response.status == 404:
            return await gone_or_needs_person(plan, ctx, calls, f"DELETE answered 404 for {key_id}")
        if 200 <= response.status < 300:
            return unbelieved_success("OpenAI key deletion", response, calls)
        return http_failure("DELETE", url, response, "OpenAI key deletion", calls[:-1])
