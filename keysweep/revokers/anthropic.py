"""Anthropic API keys, with an Admin API key (`ANTHROPIC_ADMIN_KEY`).

The Admin API cannot delete keys; it sets their status. `GET /v1/organizations/api_keys` (cursor
`after_id`, up to 1000 a page) lists keys with a `partial_key_hint`; the leaked key is matched by
that hint (or known by id from owner resolution), then
`POST /v1/organizations/api_keys/{id}` with `{"status": "inactive"}`.

confirm(): the verifier says dead, or the Admin API reports the key inactive/archived (a
disable-only provider's own word)."""

from __future__ import annotations

import asyncio
from typing import Any

from keysweep.revokers import RevokeResult
from keysweep.revokers._common import BaseRevoker, http_failure, list_admin_pages, make_plan, missing_admin, outcome, \
    safe_target, transport_failure, verify_status
from keysweep.revokers.openai import matches_redacted

VERSION = "2023-06-01"


def _headers(admin: str) -> dict[str, str]:
    return {"x-api-key": admin, "anthropic-version": VERSION}


class AnthropicRevoker(BaseRevoker):
    name = "anthropic"

    def supports(self, finding) -> bool:
        return finding.provider == "anthropic" and finding.rule_id == "anthropic.api-key"

    async def plan(self, finding, ctx):
        base = ctx.settings.base_url("anthropic")
        needs = [] if ctx.settings.admin_key("anthropic") else ["ANTHROPIC_ADMIN_KEY"]
        calls = [] if finding.key_id else [("GET", f"{base}/v1/organizations/api_keys",
                                            "find the key by its partial key hint")]
        calls.append(("POST", f"{base}/v1/organizations/api_keys/{finding.key_id or '{id}'}",
                      'set status "inactive"'))
        return make_plan(self.name, finding, calls, needs)

    async def _inventory(self, ctx, headers, calls) -> list[dict[str, Any]] | RevokeResult:
        cache = ctx.extra.setdefault("_anthropic_inventory", {})
        lock = ctx.extra.setdefault("_anthropic_inventory_lock", asyncio.Lock())
        url = f"{ctx.settings.base_url('anthropic')}/v1/organizations/api_keys"
        async with lock:
            if "keys" in cache:
                return cache["keys"]
            keys = await list_admin_pages(ctx, url, headers, {"limit": "1000"}, "after_id", calls,
                                          "Anthropic Admin API listing")
            if isinstance(keys, RevokeResult):
                return keys
            cache["keys"] = keys
            return keys

    async def _key_id(self, plan, ctx, headers, calls) -> str | RevokeResult | None:
        from keysweep.remediation.secrets import SecretUnavailable, secret_for

        if plan.data.get("key_id"):
            return plan.data["key_id"]
        try:
            value = await secret_for(plan.finding_id, ctx)
        except SecretUnavailable as exc:
            return RevokeResult(False, str(exc))
        keys = await self._inventory(ctx, headers, calls)
        if isinstance(keys, RevokeResult):
            return keys
        found = [k for k in keys if matches_redacted(value, k.get("partial_key_hint") or "")]
        if len(found) > 1:
            return RevokeResult(False, f"{len(found)} keys share this hint; set the key id", calls=tuple(calls))
        if found and found[0].get("status") in ("inactive", "archived"):
            return RevokeResult(True, f"already {found[0]['status']}", calls=tuple(calls))
        return found[0]["id"] if found else None

    async def revoke(self, plan, ctx) -> RevokeResult:
        from keysweep.http import TransportError

        admin = ctx.settings.admin_key("anthropic")
        if not admin:
            return missing_admin("anthropic")
        headers = _headers(admin)
        calls: list[tuple[str, str, str]] = []
        key_id = await self._key_id(plan, ctx, headers, calls)
        if isinstance(key_id, RevokeResult):
            return key_id
        if key_id is None:
            return RevokeResult(False, "key not found in the organisation's inventory (another organisation?)",
                                calls=tuple(calls))
        url = f"{ctx.settings.base_url('anthropic')}/v1/organizations/api_keys/{key_id}"
        try:
            response = await ctx.http.request("POST", url, headers=headers, json_body={"status": "inactive"})
        except TransportError as exc:
            return transport_failure("POST", url, exc, calls)
        calls.append(("POST", safe_target(url), outcome(response)))
        if response.status == 200:
            return RevokeResult(True, "key set inactive", calls=tuple(calls))
        return http_failure("POST", url, response, "Anthropic key update", calls[:-1])

    async def confirm(self, finding, ctx) -> bool:
        if await verify_status(finding, ctx) == "dead":
            return True
        admin = ctx.settings.admin_key("anthropic")
        if not admin or not finding.key_id and not ctx.extra.get("_anthropic_inventory"):
            return False
        from keysweep.http import TransportError
        from keysweep.revokers import Plan

        calls: list = []
        ctx.extra.get("_anthropic_inventory", {}).pop("keys", None)  # re-read: statuses changed
        key_id = await self._key_id(Plan(self.name, finding.id, [], data={"key_id": finding.key_id}), ctx,
                                    _headers(admin), calls)
        if isinstance(key_id, RevokeResult):
            return key_id.ok
        if key_id is None:
            return False
        try:
            response = await ctx.http.request(
                "GET", f"{ctx.settings.base_url('anthropic')}/v1/organizations/api_keys/{key_id}",
                headers=_headers(admin))
        except TransportError:
            return False
        body = response.json()
        return response.status == 200 and isinstance(body, dict) and body.get("status") in ("inactive", "archived")
