"""Anthropic API keys, with an Admin API key (`ANTHROPIC_ADMIN_KEY`).

The Admin API cannot delete keys; it sets their status. `GET /v1/organizations/api_keys` (cursor
`after_id`, up to 1000 a page) lists keys with a `partial_key_hint`; the leaked key is matched by
that hint through revokers/binding.py (the re-read value fits exactly one key's hint; a stored
key id is used only when it is that key, else nothing is changed and a person must look), then
`POST /v1/organizations/api_keys/{id}` with `{"status": "inactive"}`, believed only when the answer
is the key object in status `inactive`.

confirm(): the verifier says dead, or the Admin API reports the key inactive/archived (a
disable-only provider's own word)."""

from __future__ import annotations

import asyncio
from typing import Any

from keysweep.http import TransportError
from keysweep.providers.anthropic import API_KEYS, api_headers
from keysweep.revokers._common import (
    BaseRevoker,
    finding_data,
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
    verify_status,
)
from keysweep.revokers.base import Plan, RevokeResult
from keysweep.settings import admin_key_env


class AnthropicRevoker(BaseRevoker):
    name = "anthropic"

    def supports(self, finding) -> bool:
        return finding.provider == "anthropic" and finding.rule_id == "anthropic.api-key"

    async def plan(self, finding, ctx):
        base = ctx.settings.base_url("anthropic")
        needs = [] if ctx.settings.admin_key("anthropic") else [admin_key_env("anthropic")]
        calls = [] if finding.key_id else [("GET", API_KEYS.url(base), "find the key by its partial key hint")]
        calls.append(("POST", f"{base}/v1/organizations/api_keys/{finding.key_id or '{id}'}",
                      'set status "inactive"'))
        return make_plan(self.name, finding, calls, needs)

    async def _inventory(self, ctx, headers, calls) -> list[dict[str, Any]] | RevokeResult:
        cache = ctx.extra.setdefault("_anthropic_inventory", {})
        lock = ctx.extra.setdefault("_anthropic_inventory_lock", asyncio.Lock())
        async with lock:
            if "keys" in cache:
                return cache["keys"]
            keys = await list_admin_pages(ctx, ctx.settings.base_url("anthropic"), API_KEYS, headers, calls,
                                          "Anthropic Admin API listing")
            if isinstance(keys, RevokeResult):
                return keys
            cache["keys"] = keys
            return keys

    async def _proven_key(self, plan, ctx, headers, calls) -> dict[str, Any] | RevokeResult | None:
        return await proven_inventory_key(plan, ctx, calls, lambda: self._inventory(ctx, headers, calls),
                                          "partial_key_hint", "hint", "disable it in the Anthropic console")

    async def revoke(self, plan, ctx) -> RevokeResult:
        admin = ctx.settings.admin_key("anthropic")
        if not admin:
            return missing_admin("anthropic")
        headers = api_headers(admin)
        calls: list[tuple[str, str, str]] = []
        entry = await self._proven_key(plan, ctx, headers, calls)
        if isinstance(entry, RevokeResult):
            return entry
        if entry is None:
            return await gone_or_needs_person(plan, ctx, calls, "not in the organisation's key inventory")
        key_id = entry["id"]
        if entry.get("status") in ("inactive", "archived"):
            return RevokeResult(True, f"already {entry['status']}", calls=tuple(calls))
        url = f"{ctx.settings.base_url('anthropic')}/v1/organizations/api_keys/{key_id}"
        try:
            response = await ctx.http.request("POST", url, headers=headers, json_body={"status": "inactive"})
        except TransportError as exc:
            return transport_failure("POST", url, exc, calls)
        calls.append(("POST", safe_target(url), outcome(response)))
        if response.status == 200 and updated_as_documented(response.json(), key_id):
            return RevokeResult(True, "key set inactive", calls=tuple(calls))
        if response.status == 404:
            return await gone_or_needs_person(plan, ctx, calls, f"update answered 404 for {key_id}")
        if 200 <= response.status < 300:
            return unbelieved_success("Anthropic key update", response, calls)
        return http_failure("POST", url, response, "Anthropic key update", calls[:-1])

    async def confirm(self, finding, ctx) -> bool:
        if await verify_status(finding, ctx) == "dead":
            return True
        admin = ctx.settings.admin_key("anthropic")
        if not admin:
            return False

        # The binding is proven on the run's listing (ids do not change); the status is read fresh.
        plan = Plan(self.name, finding.id, [], data=finding_data(finding))
        entry = await self._proven_key(plan, ctx, api_headers(admin), [])
        if not isinstance(entry, dict):
            return False
        try:
            response = await ctx.http.request(
                "GET", f"{ctx.settings.base_url('anthropic')}/v1/organizations/api_keys/{entry['id']}",
                headers=api_headers(admin))
        except TransportError:
            return False
        body = response.json()
        return response.status == 200 and isinstance(body, dict) and body.get("id") == entry["id"] \
            and body.get("status") in ("inactive", "archived")


def updated_as_documented(body: object, key_id: str) -> bool:
    """The Admin API answers an update with the key object (`"type": "api_key"`) in its new status."""
    return isinstance(body, dict) and body.get("type") == "api_key" and body.get("id") == key_id \
        and body.get("status") == "inactive"
