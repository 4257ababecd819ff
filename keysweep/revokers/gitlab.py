"""GitLab personal access tokens: `DELETE /api/v4/personal_access_tokens/self` with the token
itself in `PRIVATE-TOKEN` → 204 (the only reply believed). GitLab's documented 401
`{"message": "401 Unauthorized"}` means it no longer accepts the token: already dead; any other
401 (a proxy's) is not GitLab's word."""

from __future__ import annotations

from keysweep.providers.gitlab import UNAUTHORIZED
from keysweep.revokers.http_revoker import HttpRevoker, Reply, SelfRevoke, private_token


def is_personal_access_token(rule_id: str) -> bool:
    rule = rule_id.lower()
    return "pat" in rule.split(".")[-1] or "personal" in rule


class GitLabRevoker(HttpRevoker):
    name = "gitlab"
    provider = "gitlab"
    calls = (SelfRevoke("DELETE", "/api/v4/personal_access_tokens/self", "revoke the personal access token with itself",
                        "GitLab token revocation",
                        (Reply("revoked", "token revoked", 204),
                         Reply("gone", "already revoked or expired (GitLab: 401 Unauthorized)", answer=UNAUTHORIZED)),
                        rules=is_personal_access_token, auth=private_token),)
