"""GitHub tokens.

- Classic and fine-grained PATs, OAuth (`gho_`), user-to-server (`ghu_`) and refresh (`ghr_`)
  tokens: `POST /credentials/revoke` with `{"credentials": [...]}`, up to 1000 per request,
  **unauthenticated** (an authenticated request gets 403), 202 Accepted (the only reply believed). The endpoint has its own
  small rate limit (60 requests an hour), so the orchestrator hands this revoker whole batches.
- Installation tokens (`ghs_`): `DELETE /installation/token` authenticated with the token itself, 204.

A token GitHub answers with its documented 401 `Bad credentials` is already dead: success. Confirmation is GitHub's verifier
(`GET /user` → 401).
"""

from __future__ import annotations

from keysweep.errors import SecretUnavailable
from keysweep.providers.github import BAD_CREDENTIALS, HEADERS
from keysweep.revokers.base import RevokeResult
from keysweep.revokers._common import BaseRevoker, reread, http_failure, make_plan, outcome, safe_target, transport_failure, \
    unbelieved_success

LIST_REVOCABLE = {"github.classic-pat", "github.fine-grained-pat", "github.oauth-token",
                  "github.user-to-server-token", "github.refresh-token"}
INSTALLATION = "github.installation-token"
BATCH_LIMIT = 1000


def accepted_as_documented(response) -> bool:
    """`202 Accepted` with an empty or JSON-object body (GitHub's answer), not a proxy's page."""
    return not response.body.strip() or isinstance(response.json(), dict)


class GitHubRevoker(BaseRevoker):
    name = "github"
    batch_size = BATCH_LIMIT

    def supports(self, finding) -> bool:
        return finding.provider == "github" and (finding.rule_id in LIST_REVOCABLE or finding.rule_id == INSTALLATION)

    async def plan(self, finding, ctx):
        base = ctx.settings.base_url("github")
        if finding.rule_id == INSTALLATION:
            return make_plan(self.name, finding, [("DELETE", f"{base}/installation/token",
                                                   "revoke the installation token with itself")],
                             mode="installation")
        return make_plan(self.name, finding, [("POST", f"{base}/credentials/revoke",
                                               "add to GitHub's unauthenticated revoke list (batched, ≤1000)")],
                         mode="list")

    async def revoke(self, plan, ctx) -> RevokeResult:
        return (await self.revoke_batch([plan], ctx))[0]

    async def revoke_batch(self, plans, ctx) -> list[RevokeResult]:

        results: dict[int, RevokeResult] = {}
        listed: list[tuple[int, str]] = []
        for index, plan in enumerate(plans):
            try:
                value = await reread(plan.finding_id, ctx)
            except SecretUnavailable as exc:
                results[index] = RevokeResult(False, str(exc), retryable=False)
                continue
            if plan.data.get("mode") == "installation":
                results[index] = await self._installation(value, ctx)
            else:
                listed.append((index, value))
        base = ctx.settings.base_url("github")
        url = f"{base}/credentials/revoke"
        for start in range(0, len(listed), BATCH_LIMIT):
            chunk = listed[start:start + BATCH_LIMIT]
            result = await self._post_list([value for _, value in chunk], url, ctx)
            for index, _ in chunk:
                results[index] = result
        return [results[i] for i in range(len(plans))]

    async def _post_list(self, values: list[str], url: str, ctx) -> RevokeResult:
        from keysweep.http import TransportError

        try:
            response = await ctx.http.request("POST", url, headers=HEADERS, json_body={"credentials": values})
        except TransportError as exc:
            return transport_failure("POST", url, exc, [])
        if response.status == 202 and accepted_as_documented(response):
            return RevokeResult(True, f"accepted in a batch of {len(values)}",
                                calls=(("POST", safe_target(url), outcome(response)),))
        if 200 <= response.status < 300:
            return unbelieved_success("GitHub credential revocation", response,
                                      [("POST", safe_target(url), outcome(response))])
        if response.status == 422:
            # "Validation failed, or the endpoint has been spammed": try again later.
            return RevokeResult(False, "GitHub refused the batch (422: invalid or rate limited)", retryable=True,
                                calls=(("POST", safe_target(url), outcome(response)),))
        return http_failure("POST", url, response, "GitHub credential revocation", [])

    async def _installation(self, value: str, ctx) -> RevokeResult:
        from keysweep.http import TransportError

        url = f"{ctx.settings.base_url('github')}/installation/token"
        headers = {**HEADERS, "Authorization": f"Bearer {value}"}
        try:
            response = await ctx.http.request("DELETE", url, headers=headers)
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, [])
        calls = (("DELETE", safe_target(url), outcome(response)),)
        if response.status == 204:
            return RevokeResult(True, "installation token revoked", calls=calls)
        if BAD_CREDENTIALS.matches(response.status, response.json()):
            return RevokeResult(True, "already revoked or expired (GitHub: Bad credentials)", calls=calls)
        if 200 <= response.status < 300:
            return unbelieved_success("installation token revocation", response, list(calls))
        return http_failure("DELETE", url, response, "installation token revocation", [])
