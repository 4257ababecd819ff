"""Replicate API tokens (`r8_`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# Replicate answers errors as problem details (RFC 7807): title "Unauthenticated", status 401.
# With its detail: Replicate answers the same title and status with "You did not pass an
# authentication token" when no token arrived (a proxy that strips Authorization gets it for a live
# token: replicate/replicate-python#47), which says nothing of the token.
UNAUTHENTICATED = DeadAnswer(
    401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401},
    "Unauthenticated",
    example={"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401},
    source="https://replicate.com/docs/reference/http#authentication")


def _account(body, response):
    if not isinstance(body, dict) or not body.get("username"):
        return None
    identity = pick(body, "type", "username", "name", "github_url")
    identity["owner"] = body["username"]
    return identity


# GET /v1/account: the token's user or organisation.
VERIFIER = HttpVerifier("replicate", ("replicate",), "/account", live=_account, dead=(UNAUTHENTICATED,))


PROVIDER = Provider(
    "replicate", "Replicate",
    base_url="https://api.replicate.com/v1",
    console_url="https://replicate.com/account/api-tokens",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "per-service-token",
        "Create a separate, named API token for each application and environment, so a leaked one is disabled "
        "without affecting the others, and keep it server-side.",
        "https://replicate.com/docs/topics/security/api-tokens"),
)
