"""Perplexity API keys: `POST /revoke_auth_token` with the key as bearer and `{"auth_token": key}`
→ 200. The key revokes itself; a 401 means it no longer works (already dead).

Perplexity has no free verification call, so confirm() accepts the provider's own word: a later
revoke call answered 401. No billable request is ever sent. Perplexity documents no success body,
so no 2xx is "not believed": a 200 or 204 is success, any other status an HTTP failure."""

from __future__ import annotations

from keysweep.revokers.http_revoker import HttpRevoker, Reply, SelfRevoke, bearer

# A 401 in Perplexity's error envelope (`{"error": {…}}`), not a proxy's page or a
# bare `{"detail": …}`. Perplexity documents no more than that (UNVERIFIED beyond the envelope).
REJECTED = Reply("gone", "already revoked", 401, {"error": {}})


class PerplexityRevoker(HttpRevoker):
    name = "perplexity"
    provider = "perplexity"
    calls = (SelfRevoke("POST", "/revoke_auth_token", "revoke the key with itself", "Perplexity revoke_auth_token",
                        (Reply("revoked", "key revoked", (200, 204)), REJECTED),
                        auth=bearer, json_body=lambda values: {"auth_token": values[0]}, not_believed=()),)
    confirm_by_repeating = True

