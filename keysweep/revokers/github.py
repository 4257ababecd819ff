"""GitHub tokens.

- Classic and fine-grained PATs, OAuth (`gho_`), user-to-server (`ghu_`) and refresh (`ghr_`)
  tokens: `POST /credentials/revoke` with `{"credentials": [...]}`, up to 1000 per request,
  **unauthenticated** (an authenticated request gets 403), 202 Accepted (the only reply believed).
  The endpoint has its own small rate limit (60 requests an hour), so the orchestrator hands this revoker whole batches; a
  422 ("validation failed, or the endpoint has been spammed") is tried again later.
- Installation tokens (`ghs_`): `DELETE /installation/token` authenticated with the token itself, 204.

A token GitHub answers with its documented 401 `Bad credentials` is already dead: success.
Confirmation is GitHub's verifier (`GET /user` → 401).
"""

from __future__ import annotations

from keysweep.providers.github import BAD_CREDENTIALS, HEADERS
from keysweep.revokers.http_revoker import HttpRevoker, Reply, SelfRevoke, bearer, unauthenticated

LIST_REVOCABLE = {"github.classic-pat", "github.fine-grained-pat", "github.oauth-token",
                  "github.user-to-server-token", "github.refresh-token"}
INSTALLATION = "github.installation-token"
BATCH_LIMIT = 1000


def accepted_as_documented(response) -> bool:
    """`202 Accepted` with an empty or JSON-object body (GitHub's answer), not a proxy's page."""
    return not response.body.strip() or isinstance(response.json(), dict)


class GitHubRevoker(HttpRevoker):
    name = "github"
    provider = "github"
    batch_size = BATCH_LIMIT
    calls = (
        SelfRevoke("DELETE", "/installation/token", "revoke the installation token with itself",
                   "installation token revocation",
                   (Reply("revoked", "installation token revoked", 204),
                    Reply("gone", "already revoked or expired (GitHub: Bad credentials)", answer=BAD_CREDENTIALS)),
                   rules=lambda rule_id: rule_id == INSTALLATION, auth=bearer, headers=HEADERS, mode="installation"),
        # Declared last: a plan whose mode is not "installation" takes this call.
        SelfRevoke("POST", "/credentials/revoke", "add to GitHub's unauthenticated revoke list (batched, ≤1000)",
                   "GitHub credential revocation",
                   (Reply("revoked", "accepted in a batch of {count}", 202, check=accepted_as_documented),
                    Reply("retry", "GitHub refused the batch (422: invalid or rate limited)", 422)),
                   rules=lambda rule_id: rule_id in LIST_REVOCABLE, auth=unauthenticated, headers=HEADERS,
                   json_body=lambda values: {"credentials": list(values)}, mode="list", batch=BATCH_LIMIT),
    )
