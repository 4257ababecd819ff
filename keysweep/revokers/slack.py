"""Slack tokens: `POST auth.revoke` with the token as bearer → `{"ok": true, "revoked": true}`.

`test=1` asks Slack to check without revoking: `keysweep revoke --preflight` uses it (plan() itself
sends nothing). `invalid_auth`, `token_revoked`, `account_inactive` mean the token is already dead.
Incoming-webhook URLs have no revoke API (the notify revoker handles them)."""

from __future__ import annotations

from keysweep.providers.slack import DEAD_ERRORS
from keysweep.revokers.base import RevokeResult
from keysweep.errors import SecretUnavailable
from keysweep.revokers._common import BaseRevoker, reread, http_failure, make_plan, outcome, safe_target, transport_failure, \
    unbelieved_success

# The documented errors that say the token itself is dead (providers/slack.py); not `not_authed`,
# which only says no token arrived (a proxy may have stripped it).
ALREADY_DEAD = set(DEAD_ERRORS)


class SlackRevoker(BaseRevoker):
    name = "slack"

    def supports(self, finding) -> bool:
        return finding.provider == "slack" and "webhook" not in finding.rule_id

    async def plan(self, finding, ctx):
        url = f"{ctx.settings.base_url('slack')}/auth.revoke"
        return make_plan(self.name, finding, [("POST", url, "revoke the token with itself (auth.revoke)")])

    async def preflight(self, plan, ctx) -> RevokeResult:
        return await self._call(plan, ctx, test=True)

    async def revoke(self, plan, ctx) -> RevokeResult:
        return await self._call(plan, ctx, test=False)

    async def _call(self, plan, ctx, test: bool) -> RevokeResult:
        from keysweep.http import TransportError

        try:
            value = await reread(plan.finding_id, ctx)
        except SecretUnavailable as exc:
            return RevokeResult(False, str(exc))
        url = f"{ctx.settings.base_url('slack')}/auth.revoke"
        try:
            response = await ctx.http.request("POST", url, headers={"Authorization": f"Bearer {value}"},
                                              data={"test": "1"} if test else None)
        except TransportError as exc:
            return transport_failure("POST", url, exc, [])
        calls = (("POST", safe_target(url) + (" (test=1)" if test else ""), outcome(response)),)
        body = response.json() if response.status == 200 else None
        if isinstance(body, dict):
            if body.get("ok") is True and body.get("revoked") is (not test):  # {"ok": true, "revoked": true}
                return RevokeResult(True, "would be revoked" if test else "token revoked", calls=calls)
            if body.get("ok") is True:
                return RevokeResult(False, "Slack said ok without the documented revoked flag; not believed",
                                    retryable=True, calls=calls)
            error = str(body.get("error", "unknown_error"))[:60]
            if error in ALREADY_DEAD:
                return RevokeResult(True, f"already dead ({error})", calls=calls)
            if error == "ratelimited":
                from keysweep.http import requested_wait

                return RevokeResult(False, "Slack rate limit", retryable=True, busy=True,
                                    retry_after=requested_wait(response.headers), calls=calls)
            return RevokeResult(False, f"Slack refused: {error}", calls=calls)
        if response.status == 200:
            return unbelieved_success("Slack auth.revoke", response, list(calls))
        return http_failure("POST", url, response, "Slack auth.revoke", [])
