"""Pinecone API keys (`pcsk_`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, fits

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

UNAUTHENTICATED = DeadAnswer(
    401, {"error": {"code": "UNAUTHENTICATED"}}, "UNAUTHENTICATED",
    example={"error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"}, "status": 401},
    source="https://docs.pinecone.io/reference/api/errors")


def _indexes(body, response):
    if isinstance(body, dict) and isinstance(body.get("indexes"), list):
        return {"indexes": len(body["indexes"])}
    return None


def _restricted(status, body):
    """Pinecone's own FORBIDDEN envelope (not any JSON 403: a WAF's is not live)."""
    if status == 403 and fits(body, {"error": {"code": "FORBIDDEN"}, "status": 403}):
        return "authenticated, without control-plane access"
    return None


# GET /indexes with Api-Key: 200 live, 403 live without control-plane access, 401 dead.
VERIFIER = HttpVerifier("pinecone", ("pinecone",), "/indexes", live=_indexes, dead=(UNAUTHENTICATED,),
                        auth=lambda key: {"Api-Key": key}, headers={"X-Pinecone-Api-Version": "2025-04"},
                        restricted=_restricted)


PROVIDER = Provider(
    "pinecone", "Pinecone",
    base_url="https://api.pinecone.io",
    console_url="https://app.pinecone.io",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "restricted-key",
        "Create a key per service in the project it needs, with the narrowest role (ProjectViewer for read-only use, "
        "or data-plane access roles) instead of All, and target indexes by host when using custom permissions.",
        "https://docs.pinecone.io/guides/projects/manage-api-keys"),
)
