"""OpenAI project, service-account and admin keys, with an Admin API key (`OPENAI_ADMIN_KEY`).

The leaked key cannot act on itself. With the admin key:
- project / service-account keys: find the key (its id and project from owner resolution when
  known, else `GET /organization/projects` then `GET /organization/projects/{p}/api_keys`, matching
  the leaked value against each key's `redacted_value`), then
  `DELETE /organization/projects/{p}/api_keys/{id}` → `{"deleted": true}`;
- admin keys: `GET /organization/admin_api_keys`, match, `DELETE /organization/admin_api_keys/{id}`.

The inventory is listed once per run and shared by every job. A key the inventory no longer holds,
or a 404 on delete, is already gone: success. Legacy user keys have no API (notify revoker).
"""

from __future__ import annotations

import asyncio
from typing import Any

from keysweep.revokers import RevokeResult
from keysweep.revokers._common import BaseRevoker, http_failure, list_admin_pages, make_plan, missing_admin, outcome, \
    safe_target, transport_failure

PROJECT_RULES = {"openai.project-key", "openai.service-account-key"}
ADMIN_RULE = "openai.admin-key"


def matches_redacted(value: str, redacted: str) -> bool:
    """Does the value fit a provider's redacted form (`sk-proj-abc…wxyz`, `sk-...wxyz`, `sk-****wxyz`)?"""
    if not redacted:
        return False
    for marker in ("...", "…", "*"):
        if marker in redacted:
            head, tail = redacted.split(marker, 1)[0], redacted.rsplit(marker, 1)[-1]
            head = head.rstrip("*.")
            tail = tail.lstrip("*.")
            return bool(tail) and value.startswith(head) and value.endswith(tail) \
                and len(head) + len(tail) < len(value)
    return False


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
        needs = [] if ctx.settings.admin_key("openai") else ["OPENAI_ADMIN_KEY"]
        if finding.rule_id == ADMIN_RULE:
            key = finding.key_id or "{id}"
            calls = [] if finding.key_id else [("GET", f"{base}/organization/admin_api_keys",
                                                "find the admin key by its redacted value")]
            calls.append(("DELETE", f"{base}/organization/admin_api_keys/{key}", "delete the admin key"))
            return make_plan(self.name, finding, calls, needs, kind="admin")
        project = self._project_hint(finding, ctx)
        calls = []
        if not (finding.key_id and project):
            calls = [("GET", f"{base}/organization/projects", "list projects"),
                     ("GET", f"{base}/organization/projects/{{project}}/api_keys",
                      "find the key by its redacted value")]
        calls.append(("DELETE", f"{base}/organization/projects/{project or '{project}'}/api_keys/"
                                f"{finding.key_id or '{id}'}", "delete the project API key"))
        return make_plan(self.name, finding, calls, needs, kind="project", project_id=project)

    # -- inventory ------------------------------------------------------------------------------
    async def _get_pages(self, url: str, headers: dict[str, str], ctx, calls: list) -> list[dict[str, Any]] | RevokeResult:
        return await list_admin_pages(ctx, url, headers, {"limit": "100"}, "after", calls, "OpenAI Admin API listing")

    async def _inventory(self, kind: str, headers, ctx, calls: list) -> list[dict[str, Any]] | RevokeResult:
        """[{id, project_id, redacted_value}] for the organisation, listed once per run."""
        base = ctx.settings.base_url("openai")
        cache = ctx.extra.setdefault("_openai_inventory", {})
        lock = ctx.extra.setdefault("_openai_inventory_lock", asyncio.Lock())
        async with lock:
            if kind in cache:
                return cache[kind]
            inventory: list[dict[str, Any]] = []
            if kind == "admin":
                listed = await self._get_pages(f"{base}/organization/admin_api_keys", headers, ctx, calls)
                if isinstance(listed, RevokeResult):
                    return listed
                inventory = [{"id": k.get("id"), "project_id": None, "redacted_value": k.get("redacted_value", "")}
                             for k in listed]
            else:
                projects = await self._get_pages(f"{base}/organization/projects", headers, ctx, calls)
                if isinstance(projects, RevokeResult):
                    return projects
                for project in projects:
                    keys = await self._get_pages(f"{base}/organization/projects/{project.get('id')}/api_keys",
                                                 headers, ctx, calls)
                    if isinstance(keys, RevokeResult):
                        return keys
                    inventory.extend({"id": k.get("id"), "project_id": project.get("id"),
                                      "redacted_value": k.get("redacted_value", "")} for k in keys)
            cache[kind] = inventory
            return inventory

    async def revoke(self, plan, ctx) -> RevokeResult:
        from keysweep.http import TransportError
        from keysweep.remediation.secrets import SecretUnavailable, secret_for

        admin = ctx.settings.admin_key("openai")
        if not admin:
            return missing_admin("openai")
        headers = {"Authorization": f"Bearer {admin}"}
        base = ctx.settings.base_url("openai")
        kind = plan.data.get("kind", "project")
        key_id, project = plan.data.get("key_id"), plan.data.get("project_id")
        calls: list[tuple[str, str, str]] = []
        if not key_id or (kind == "project" and not project):
            try:
                value = await secret_for(plan.finding_id, ctx)
            except SecretUnavailable as exc:
                return RevokeResult(False, str(exc))
            inventory = await self._inventory(kind, headers, ctx, calls)
            if isinstance(inventory, RevokeResult):
                return inventory
            found = [k for k in inventory if matches_redacted(value, k["redacted_value"])]
            if not found:
                return RevokeResult(True, "not in the organisation's key inventory (already deleted)",
                                    calls=tuple(calls))
            if len(found) > 1:
                return RevokeResult(False, f"{len(found)} keys share this redacted value; set the key id",
                                    calls=tuple(calls))
            key_id, project = found[0]["id"], found[0]["project_id"]
        url = (f"{base}/organization/admin_api_keys/{key_id}" if kind == "admin"
               else f"{base}/organization/projects/{project}/api_keys/{key_id}")
        try:
            response = await ctx.http.request("DELETE", url, headers=headers)
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, calls)
        calls.append(("DELETE", safe_target(url), outcome(response)))
        if response.status in (200, 204) or response.status == 404:
            inventory = ctx.extra.get("_openai_inventory", {}).get(kind)
            if inventory is not None:
                inventory[:] = [k for k in inventory if k["id"] != key_id]
            return RevokeResult(True, "key deleted" if response.status != 404 else "already deleted",
                                calls=tuple(calls))
        return http_failure("DELETE", url, response, "OpenAI key deletion", calls[:-1])
