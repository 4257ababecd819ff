"""Perplexity API keys: `POST /revoke_auth_token` with the key as bearer and `{"auth_token": key}`
→ 200. The key revokes itself; a 401 means it no longer works (already dead).

Perplexity has no free verification call, so confirm() accepts the provider's own word: a later
revoke call answered 401. No billable request is ever sent. Perplexity documents its success as a
200 with no body: a 200 or 204 that is empty (or `{}`, `null`) is success; any other 2xx (a proxy's
sign-in page, truncated JSON, a list, another object) is "not believed"; any other status an HTTP
failure."""

from __future__ import annotations

from keysweep.revokers.http_revoker import HttpRevoker, Reply, SelfRevoke, bearer

# A 401 in Perplexity's error envelope (`{"error": {…}}`), not a proxy's page or a
# bare `{"detail": …}`. Perplexity documents no more than that (UNVERIFIED beyond the envelope).
REJECTED = Reply("gone", "already revoked", 401, {"error": {}})


def _no_body(response) -> bool:
    """Perplexity's 200 carries no body: none, or an empty JSON value (`{}`, `null`), never a page
    nor another object."""
    body = response.body.strip()
    return body in (b"", b"null") or response.json() == {}


class PerplexityRevoker(HttpRevoker):
    name = "perplexity"
    provider = "perplexity"
    calls = (SelfRevoke("POST", "/revoke_auth_token", "revoke the key with itself", "Perplexity revoke_auth_token",
                        (Reply("revoked", "key revoked", (200, 204), check=_no_body), REJECTED),
                        auth=bearer, json_body=lambda values: {"auth_token": values[0]}),)
    confirm_by_repeating = True

