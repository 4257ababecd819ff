"""Pinecone API keys (`pcsk_`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier  # noqa: E402


def _indexes(body, response):
    if isinstance(body, dict) and isinstance(body.get("indexes"), list):
        return {"indexes": len(body["indexes"])}
    return None


def _restricted(status, body):
    return "authenticated, without control-plane access" if status == 403 and isinstance(body, dict) else None


# GET /indexes with Api-Key: 200 live, 403 live without control-plane access, 401 dead.
VERIFIER = HttpVerifier("pinecone", ("pinecone",), "/indexes", live=_indexes,
                        auth=lambda key: {"Api-Key": key}, headers={"X-Pinecone-Api-Version": "2025-04"},
                        restricted=_restricted)
