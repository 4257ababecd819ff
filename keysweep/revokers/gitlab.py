"""GitLab personal access tokens: `DELETE /api/v4/personal_access_tokens/self` with the token
itself in `PRIVATE-TOKEN` → 204. A 401 means GitLab no longer accepts the token: already dead."""

from __future__ import annotations

from keysweep.revokers import RevokeResult
from keysweep.revokers._common import BaseRevoker, http_failure, make_plan, outcome, safe_target, transport_failure


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
        from keysweep.remediation.secrets import SecretUnavailable, secret_for

        try:
            value = await secret_for(plan.finding_id, ctx)
        except SecretUnavailable as exc:
            return RevokeResult(False, str(exc))
        url = f"{ctx.settings.base_url('gitlab')}/api/v4/personal_access_tokens/self"
        try:
            response = await ctx.http.request("DELETE", url, headers={"PRIVATE-TOKEN": value})
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, [])
        calls = (("DELETE", safe_target(url), outcome(response)),)
        if response.status in (200, 204):
            return RevokeResult(True, "token revoked", calls=calls)
        if response.status == 401:
            return RevokeResult(True, "already revoked or expired", calls=calls)
        return http_failure("DELETE", url, response, "GitLab token revocation", [])
