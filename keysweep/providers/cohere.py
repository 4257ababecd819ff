"""Cohere API keys (40 characters with Cohere context)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

_ERRORS = "https://docs.cohere.com/reference/errors"
# Cohere's answers for a key it does not accept (401, and 498 "invalid token"), and its own check.
INVALID_TOKEN = tuple(DeadAnswer(status, {"message": "invalid api token"}, "invalid api token",
                                 example={"message": "invalid api token"}, source=_ERRORS) for status in (401, 498))
NOT_VALID = DeadAnswer(200, {"valid": False}, "valid: false", example={"valid": False, "organization_id": None,
                                                                       "owner_id": None},
                       source="https://docs.cohere.com/reference/checkapikey")


def _check(body, response):
    if not isinstance(body, dict) or body.get("valid") is not True:
        return None
    return pick(body, "organization_id", "owner_id")


# POST /v1/check-api-key: made for this; read-only and names the organisation.
VERIFIER = HttpVerifier("cohere", ("cohere",), "/v1/check-api-key", method="POST", live=_check,
                        dead=(*INVALID_TOKEN, NOT_VALID))


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
