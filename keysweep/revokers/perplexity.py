"""Perplexity API keys: `POST /revoke_auth_token` with the key as bearer and `{"auth_token": key}`.

What Perplexity documents (https://docs.perplexity.ai/api-reference/revoke-auth-token-post, read
2026-12-03): the request, and one response, `200` "Successfully revoked authentication token.", with
no body. Nothing else: no error answer of this endpoint, no "already revoked" answer, no free
read-only check of a key (its authenticated calls are billed).

So the only reply believed is that 200 (or 204) with no body (none, `{}` or `null`): the key is
revoked. Any other 2xx (a proxy's sign-in page, truncated JSON, a list, another object) is "not
believed": retried, then a person. A 401 is not taken as "already revoked": Perplexity documents no
401 body for this endpoint, its FAQ gives a 401 for an invalid or deleted key and for an account out
of API credits alike (a key that works again once credits are added), and a proxy's 401 in an
`{"error": {…}}` envelope looks the same: the job is left to a person, who checks the key in the
console. For the same reason nothing confirms a Perplexity key dead: after the documented 200 the
job stays `revoked` (not `confirmed`), and the revocation call is never repeated to find out."""

from __future__ import annotations

from keysweep.providers.perplexity import PROVIDER
from keysweep.revokers._common import NEEDS_A_PERSON
from keysweep.revokers.http_revoker import HttpRevoker, Reply, SelfRevoke, bearer

# Not "gone": see the module's docstring.
UNAUTHORIZED = Reply("refused", f"{NEEDS_A_PERSON}Perplexity answered 401, which it does not document for this call "
                                f"(its FAQ gives a 401 for a deleted key and for an account out of API credits alike, "
                                f"and a proxy can send one): not proof that the key is revoked; check it at "
                                f"{PROVIDER.console_url}", 401)


def _no_body(response) -> bool:
    """Perplexity's 200 carries no body: none, or an empty JSON value (`{}`, `null`), never a page
    nor another object."""
    body = response.body.strip()
    return body in (b"", b"null") or response.json() == {}


class PerplexityRevoker(HttpRevoker):
    name = "perplexity"
    provider = "perplexity"
    calls = (SelfRevoke("POST", "/revoke_auth_token", "revoke the key with itself", "Perplexity revoke_auth_token",
                        (Reply("revoked", "key revoked", (200, 204), check=_no_body), UNAUTHORIZED),
                        auth=bearer, json_body=lambda values: {"auth_token": values[0]}),)
