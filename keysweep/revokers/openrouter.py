"""OpenRouter API keys, with a management key (`KEYSWEEP_OPENROUTER_ADMIN_KEY`).

The leaked key tells its own label (`GET /key`); the management key lists keys (`GET /keys`,
`offset` paging, each with a `hash` and a `label`) and deletes the one with that label
(`DELETE /keys/{hash}`). The key's hash, when owner resolution stored it as key_id, is used
directly. A leaked key that `/key` already rejects (401) is dead: success."""

from __future__ import annotations

from keysweep.revokers import RevokeResult
from keysweep.revokers._common import BaseRevoker, http_failure, make_plan, missing_admin, outcome, safe_target, \
    transport_failure


class OpenRouterRevoker(BaseRevoker):
    name = "openrouter"

    def supports(self, finding) -> bool:
        return finding.provider == "openrouter"

    async def plan(self, finding, ctx):
        base = ctx.settings.base_url("openrouter")
        needs = [] if ctx.settings.admin_key("openrouter") else ["KEYSWEEP_OPENROUTER_ADMIN_KEY"]
        calls = [] if finding.key_id else [("GET", f"{base}/key", "read the leaked key's label"),
                                           ("GET", f"{base}/keys", "find its hash with the management key")]
        calls.append(("DELETE", f"{base}/keys/{finding.key_id or '{hash}'}", "delete the key"))
        return make_plan(self.name, finding, calls, needs)

    async def revoke(self, plan, ctx) -> RevokeResult:
        from keysweep.http import TransportError
        from keysweep.remediation.secrets import SecretUnavailable, secret_for

        admin = ctx.settings.admin_key("openrouter")
        if not admin:
            return missing_admin("openrouter")
        base = ctx.settings.base_url("openrouter")
        headers = {"Authorization": f"Bearer {admin}"}
        calls: list[tuple[str, str, str]] = []
        key_hash = plan.data.get("key_id")
        if not key_hash:
            try:
                value = await secret_for(plan.finding_id, ctx)
                response = await ctx.http.request("GET", f"{base}/key", headers={"Authorization": f"Bearer {value}"})
            except SecretUnavailable as exc:
                return RevokeResult(False, str(exc))
            except TransportError as exc:
                return transport_failure("GET", f"{base}/key", exc, calls)
            calls.append(("GET", safe_target(f"{base}/key"), outcome(response)))
            if response.status == 401:
                return RevokeResult(True, "already revoked", calls=tuple(calls))
            body = response.json()
            label = (body.get("data") or {}).get("label") if isinstance(body, dict) else None
            if response.status != 200 or not label:
                return http_failure("GET", f"{base}/key", response, "OpenRouter key info", calls[:-1])
            offset, passes = 0, 0
            while key_hash is None:
                try:
                    response = await ctx.http.request("GET", f"{base}/keys", headers=headers,
                                                      params={"offset": str(offset)})
                except TransportError as exc:
                    return transport_failure("GET", f"{base}/keys", exc, calls)
                calls.append(("GET", safe_target(f"{base}/keys"), outcome(response)))
                body = response.json()
                if response.status != 200 or not isinstance(body, dict):
                    return http_failure("GET", f"{base}/keys", response, "OpenRouter key list", calls[:-1])
                page = [k for k in body.get("data", []) if isinstance(k, dict)]
                found = [k for k in page if k.get("label") == label]
                if found:
                    key_hash = found[0].get("hash")
                elif not page:
                    passes += 1
                    if passes == 2:  # a second full pass: offset paging can skip keys deleted meanwhile
                        return RevokeResult(False, "key not among the management key's keys (another account?)",
                                            calls=tuple(calls))
                    offset = 0
                    continue
                offset += len(page)
        url = f"{base}/keys/{key_hash}"
        try:
            response = await ctx.http.request("DELETE", url, headers=headers)
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, calls)
        calls.append(("DELETE", safe_target(url), outcome(response)))
        if response.status in (200, 204, 404):
            return RevokeResult(True, "key deleted" if response.status != 404 else "already deleted",
                                calls=tuple(calls))
        return http_failure("DELETE", url, response, "OpenRouter key deletion", calls[:-1])
