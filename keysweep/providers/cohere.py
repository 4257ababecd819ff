"""Cohere API keys (40 characters with Cohere context).

What Cohere documents about its check, and what keysweep takes as proof (read 2026-12-03):

- `POST /v1/check-api-key` (https://docs.cohere.com/reference/check-api-key): "Checks that the api
  key in the Authorization header is valid and active". Its 200 answer is `valid` (boolean,
  required), `organization_id` and `owner_id` (both optional); the one example is `valid: true`
  with both ids. The page lists the error statuses 400, 401, 403, 404, 422, 429, 498 (Invalid
  Token), 499, 500, 501, 503, 504, each a `{"message": …}` object.
- Cohere's errors page (https://docs.cohere.com/reference/errors): a key that is missing, invalid or
  expired gets a 401, with the example messages "no api key supplied", "invalid api token" and
  "Your API key has expired…".

So the provider's word for a key it does not accept is the 401 (or the check's 498 Invalid Token)
with its message "invalid api token": that is `dead`. Cohere documents no case in which the check
answers a 200 with `valid: false`, nor what one would mean (an inactive key of a known
organisation? a request it could not read?), and a bare `{"valid": false}` is what any key-checking
gateway or middleware answers for a key it does not know: a 200 `{"valid": false}`, with or without
ids, is `unknown`, never `dead` (a person checks the key in the dashboard). "no api key supplied"
says no key arrived (a proxy may have stripped it): `unknown` too, as is an expired key's message
(kept unknown: Cohere does not say the key can no longer be renewed).
"""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# Cohere's answers for a key it does not accept: the errors page's 401, and the check's own 498
# "Invalid Token" with the same message.
INVALID_TOKEN = tuple(DeadAnswer(status, {"message": "invalid api token"}, "invalid api token",
                                 example={"message": "invalid api token"}, source=source)
                      for status, source in ((401, "https://docs.cohere.com/reference/errors"),
                                             (498, "https://docs.cohere.com/reference/check-api-key")))
# Why a 200 saying `valid: false` is not taken as the key's death (see the module's docstring).
NOT_VALID_IS_NOT_PROOF = ("the check answered valid: false, which Cohere does not document as its answer for an "
                          "invalid key (that is 401 'invalid api token') and which a proxy or gateway can give too: "
                          "not proof that the key is dead; check it in Cohere's dashboard")


def _check(body, response):
    if not isinstance(body, dict):
        return None
    if body.get("valid") is False:
        return {"_unknown": NOT_VALID_IS_NOT_PROOF}
    if body.get("valid") is not True:
        return None
    return pick(body, "organization_id", "owner_id")


# POST /v1/check-api-key: made for this; read-only and names the organisation.
VERIFIER = HttpVerifier("cohere", ("cohere",), "/v1/check-api-key", method="POST", live=_check,
                        dead=INVALID_TOKEN)


PROVIDER = Provider(
    "cohere", "Cohere",
    base_url="https://api.cohere.com",
    console_url="https://dashboard.cohere.com/api-keys",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "per-service-key",
        "Cohere API keys carry no scopes or expiry: give each service its own named production key (trial keys are "
        "not meant for production) so one can be deleted without touching the others, and keep it server-side in a "
        "secrets manager.",
        "https://docs.cohere.com/docs/rate-limits"),
)
