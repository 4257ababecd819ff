"""LangSmith personal access tokens (`lsv2_pt_`) and service keys (`lsv2_sk_`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# LangSmith's own words for a key it does not know (a bare `{"detail": …}` from anything else is not).
INVALID_TOKEN = DeadAnswer(401, {"detail": "Invalid token"}, "Invalid token", example={"detail": "Invalid token"},
                           source="https://docs.smith.langchain.com/reference/authentication")


def _org(body, response):
    if not isinstance(body, dict) or not body.get("id"):
        return None
    identity = {"org_id": body["id"]}
    identity.update(pick(body, "display_name", "is_personal"))
    return identity


# GET /api/v1/orgs/current with X-API-Key: read-only for both key kinds.
VERIFIER = HttpVerifier("langsmith", ("langsmith", "langchain"), "/api/v1/orgs/current", live=_org,
                        dead=(INVALID_TOKEN,), auth=lambda key: {"X-API-Key": key})


PROVIDER = Provider(
    "langsmith", "LangSmith",
    base_url="https://api.smith.langchain.com",
    console_url="https://smith.langchain.com/settings",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "service-key",
        "Replace a personal access token with a service key scoped to the workspaces the service writes to (on "
        "Enterprise, with a role) and an expiration: a service key is not tied to a person.",
        "https://docs.langchain.com/langsmith/create-account-api-key"),
)
