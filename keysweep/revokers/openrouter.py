"""OpenRouter API keys, with a management key (`KEYSWEEP_OPENROUTER_ADMIN_KEY`).

The leaked key tells its own label (`GET /key`); the management key lists keys (`GET /keys`,
`offset` paging, each with a `hash` and a `label`) and deletes the one key with that label
(`DELETE /keys/{hash}` → `{"deleted": true}`, the only reply believed). The hash is re-proven that
way before every delete, even when one is stored; two keys sharing the label, or a value that can no
longer be re-read, need a person. A leaked key that `/key` rejects as a key OpenRouter does not know
(its 401 "User not found.", providers/openrouter.py) is dead: success; any other 401 — "No auth
credentials found" when a proxy stripped the header, a gateway's envelope — is not."""

from __future__ import annotations

from keysweep.errors import SecretUnavailable
from keysweep.http import TransportError
from keysweep.providers.openrouter import INVALID_CREDENTIALS, KEYS
from keysweep.revokers._common import (
    BaseRevoker,
    gone_or_needs_person,
    http_failure,
    list_admin_pages,
    make_plan,
    missing_admin,
    needs_person,
    outcome,
    reread,
    safe_target,
    transport_failure,
    unbelieved_success,
)
from keysweep.revokers.base import RevokeResult
from keysweep.settings import admin_key_env


class OpenRouterRevoker(BaseRevoker):
    name = "openrouter"

    def supports(self, finding) -> bool:
        return finding.provider == "openrouter"

    async def plan(self, finding, ctx):
        base = ctx.settings.base_url("openrouter")
        needs = [] if ctx.settings.admin_key("openrouter") else [admin_key_env("openrouter")]
        calls = [("GET", f"{base}/key", "read the leaked key's label"),
                 ("GET", KEYS.url(base), "find the one key with that label (management key)")]
        calls.append(("DELETE", f"{base}/keys/{finding.key_id or '{hash}'}", "delete the key"))
        return make_plan(self.name, finding, calls, needs)

    async def _label(self, plan, ctx, base: str, calls: list) -> str | RevokeResult:
        """The leaked key's label in OpenRouter's own words (`GET /key` with the key itself)."""
        try:
            value = await reread(plan.finding_id, ctx)
        except SecretUnavailable:
            stored = plan.data.get("key_id")
            return needs_person(f"the value can no longer be re-read, so {'key ' + stored if stored else 'the key'} "
                                f"cannot be proven to be this finding's; delete it in the OpenRouter console")
        try:
            response = await ctx.http.request("GET", f"{base}/key", headers={"Authorization": f"Bearer {value}"})
        except TransportError as exc:
            return transport_failure("GET", f"{base}/key", exc, calls)
        calls.append(("GET", safe_target(f"{base}/key"), outcome(response)))
        body = response.json()
        label = (body.get("data") or {}).get("label") if isinstance(body, dict) and isinstance(body.get("data"), dict) \
            else None
        if response.status == 200 and isinstance(label, str) and label:
            return label
        if INVALID_CREDENTIALS.matches(response.status, body):
            return RevokeResult(True, "already revoked (OpenRouter: invalid credentials)", calls=tuple(calls))
        return http_failure("GET", f"{base}/key", response, "OpenRouter key info", calls[:-1])

    async def _hash_for(self, label: str, ctx, base: str, headers, calls: list) -> str | RevokeResult:
        """The one managed key with that label; two keys sharing it name neither. A second full pass
        when none is found: offset paging can skip a key while other jobs delete theirs."""
        found: list[dict] = []
        for _pass in range(2):
            listed = await self._list_keys(ctx, base, headers, calls)
            if isinstance(listed, RevokeResult):
                return listed
            found = [k for k in listed if k.get("label") == label and k.get("hash")]
            if found:
                break
        if len(found) > 1:
            return needs_person(f"{len(found)} keys share this key's label; none can be proven to be it", calls)
        if not found:
            return needs_person("key not among the management key's keys (another account?)", calls)
        return str(found[0]["hash"])

    async def _list_keys(self, ctx, base: str, headers, calls: list) -> list[dict] | RevokeResult:
        return await list_admin_pages(ctx, base, KEYS, headers, calls, "OpenRouter key list")

    async def revoke(self, plan, ctx) -> RevokeResult:
        admin = ctx.settings.admin_key("openrouter")
        if not admin:
            return missing_admin("openrouter")
        base = ctx.settings.base_url("openrouter")
        headers = {"Authorization": f"Bearer {admin}"}
        calls: list[tuple[str, str, str]] = []
        # The hash is re-proven before every delete, even when one is stored: the value's own label,
        # then the one managed key carrying it.
        label = await self._label(plan, ctx, base, calls)
        if isinstance(label, RevokeResult):
            return label
        key_hash = await self._hash_for(label, ctx, base, headers, calls)
        if isinstance(key_hash, RevokeResult):
            return key_hash
        stored = plan.data.get("key_id")
        if stored and stored != key_hash:
            return needs_person(f"the stored key {stored} is not the managed key with this value's label", calls)
        url = f"{base}/keys/{key_hash}"
        try:
            response = await ctx.http.request("DELETE", url, headers=headers)
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, calls)
        calls.append(("DELETE", safe_target(url), outcome(response)))
        body = response.json()
        if response.status == 200 and isinstance(body, dict) and body.get("deleted") is True:
            return RevokeResult(True, "key deleted", calls=tuple(calls))
        if response.status == 404:
            return await gone_or_needs_person(plan, ctx, calls, "DELETE answered 404")
        if 200 <= response.status < 300:
            return unbelieved_success("OpenRouter key deletion", response, calls)
        return http_failure("DELETE", url, response, "OpenRouter key deletion", calls[:-1])
