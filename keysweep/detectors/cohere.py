"""Cohere API keys (40 characters with Cohere context)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, pick  # noqa: E402


def _check(body, response):
    if not isinstance(body, dict) or not isinstance(body.get("valid"), bool):
        return None
    if not body["valid"]:
        return {"_dead": "valid: false"}
    return pick(body, "organization_id", "owner_id")


# POST /v1/check-api-key: made for this; read-only and names the organisation.
VERIFIER = HttpVerifier("cohere", ("cohere",), "/v1/check-api-key", method="POST", live=_check,
                        dead_statuses=frozenset({401, 498}))
