"""GitLab personal access tokens: `DELETE /api/v4/personal_access_tokens/self` with the token
itself in `PRIVATE-TOKEN` → 204 (the only reply believed). GitLab's documented 401
`{"message": "401 Unauthorized"}` means it no longer accepts the token: already dead; any other
401 (a proxy's) is not GitLab's word."""

from __future__ import annotations

from keysweep.revokers.base import RevokeResult
from keysweep.providers.gitlab import UNAUTHORIZED
from keysweep.errors import SecretUnavailable
from keysweep.revokers._common import BaseRevoker, reread, http_failure, make_plan, outcome, safe_target, transport_failure, \
    unbelieved_success


class GitLabRevoker(BaseRevoker):
    name = "gitlab"

    def supports(self, finding) -> bool:
        rule = finding.rule_id.lower()
        return finding.provider == "gitlab" and ("pat" in rule.split(".")[-1] or "personal" in rule)

    async def plan(self, finding, ctx):
        url = f"{ctx.settings.base_url('gitlab')}/api/v4/personal_access_tokens/self"
        return make_plan(self.name, finding, [("DELETE", url, "revoke the personal access token with itself")])

    async def revoke(self, plan, ctx) -> RevokeResult:
        from keysweep.http import TransportError

        try:
            value = await reread(plan.finding_id, ctx)
        except SecretUnavailable as exc:
            return RevokeResult(False, str(exc))
        url = f"{ctx.settings.base_url('gitlab')}/api/v4/personal_access_tokens/self"
        try:
            response = await ctx.http.request("DELETE", url, headers={"PRIVATE-TOKEN": value})
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, [])
        calls = (("DELETE", safe_target(url), outcome(response)),)
        if response.status == 204:
            return RevokeResult(True, "token revoked", calls=calls)
        if UNAUTHORIZED.matches(response.status, response.json()):
            return RevokeResult(True, "already revoked or expired (GitLab: 401 Unauthorized)", calls=calls)
        if 200 <= response.status < 300:
            return unbelieved_success("GitLab token revocation", response, list(calls))
        return http_failure("DELETE", url, response, "GitLab token revocation", [])
