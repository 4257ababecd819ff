"""LangSmith personal access tokens (`lsv2_pt_`) and service keys (`lsv2_sk_`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, pick  # noqa: E402


def _org(body, response):
    if not isinstance(body, dict) or not body.get("id"):
        return None
    identity = {"org_id": body["id"]}
    identity.update(pick(body, "display_name", "is_personal"))
    return identity


def _restricted(status, body):
    return "authenticated, but may not read the organisation" if status == 403 and isinstance(body, dict) else None


# GET /api/v1/orgs/current with X-API-Key: read-only for both key kinds.
VERIFIER = HttpVerifier("langsmith", ("langsmith", "langchain"), "/api/v1/orgs/current", live=_org,
                        auth=lambda key: {"X-API-Key": key}, restricted=_restricted)
