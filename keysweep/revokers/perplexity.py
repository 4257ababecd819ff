"""Perplexity API keys: `POST /revoke_auth_token` with the key as bearer and `{"auth_token": key}`
→ 200. The key revokes itself; a 401 means it no longer works (already dead).

Perplexity has no free verification call, so confirm() accepts the provider's own word: a later
revoke call answered 401. No billable request is ever sent."""

from __future__ import annotations

from keysweep.revokers.base import RevokeResult
from keysweep.errors import SecretUnavailable
from keysweep.revokers._common import BaseRevoker, reread, http_failure, make_plan, outcome, safe_target, transport_failure, \
    verify_status


class PerplexityRevoker(BaseRevoker):
    name = "perplexity"

    def supports(self, finding) -> bool:
        return finding.provider == "perplexity"

    async def plan(self, finding, ctx):
        url = f"{ctx.settings.base_url('perplexity')}/revoke_auth_token"
        return make_plan(self.name, finding, [("POST", url, "revoke the key with itself")])

    async def revoke(self, plan, ctx) -> RevokeResult:
        from keysweep.http import TransportError

        try:
            value = await reread(plan.finding_id, ctx)
        except SecretUnavailable as exc:
            return RevokeResult(False, str(exc))
        url = f"{ctx.settings.base_url('perplexity')}/revoke_auth_token"
        try:
            response = await ctx.http.request("POST", url, headers={"Authorization": f"Bearer {value}"},
                                              json_body={"auth_token": value})
        except TransportError as exc:
            return transport_failure("POST", url, exc, [])
        calls = (("POST", safe_target(url), outcome(response)),)
        if response.status in (200, 204):
            return RevokeResult(True, "key revoked", calls=calls)
        if rejected_by_perplexity(response):
            return RevokeResult(True, "already revoked", calls=calls)
        return http_failure("POST", url, response, "Perplexity revoke_auth_token", [])

    async def confirm(self, finding, ctx) -> bool:
        status = await verify_status(finding, ctx)
        if status != "unknown":
            return status == "dead"
        # No free verification: the revoke endpoint answering 401 to the key is Perplexity's word.
        from keysweep.http import TransportError

        try:
            value = await reread(finding, ctx)
            response = await ctx.http.request("POST", f"{ctx.settings.base_url('perplexity')}/revoke_auth_token",
                                              headers={"Authorization": f"Bearer {value}"},
                                              json_body={"auth_token": value})
        except (SecretUnavailable, TransportError):
            return False
        return rejected_by_perplexity(response)


def rejected_by_perplexity(response) -> bool:
    """A 401 in Perplexity's OpenAI-style error envelope (`{"error": {…}}`), not a proxy's page or a
    bare `{"detail": …}`. Perplexity documents no more than that (UNVERIFIED beyond the envelope)."""
    body = response.json()
    return response.status == 401 and isinstance(body, dict) and isinstance(body.get("error"), dict)
