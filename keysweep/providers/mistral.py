"""Mistral API keys (32 characters with Mistral context)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import ANY_TEXT, DeadAnswer, HttpVerifier, model_list

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# Mistral's gateway answers a bad key with its own short body, a request id included.
INVALID_KEY = DeadAnswer(
    401, {"message": "Unauthorized", "request_id": ANY_TEXT}, "Unauthorized",
    example={"message": "Unauthorized", "request_id": "5e1b2c3d4f5a6b7c8d9e0f1a2b3c4d5e"},
    source="https://docs.mistral.ai/api/")

# GET /v1/models: 200 live, 401 with Mistral's own body dead.
VERIFIER = HttpVerifier("mistral", ("mistral",), "/models", live=model_list, dead=(INVALID_KEY,))


PROVIDER = Provider(
    "mistral", "Mistral",
    base_url="https://api.mistral.ai/v1",
    console_url="https://console.mistral.ai/api-keys",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "workspace-key",
        "Create the key in a workspace dedicated to the service and environment, with an expiration date: a key is "
        "bound to its workspace and reaches only that workspace's resources; rotate by creating a new key and "
        "deleting the old one.",
        "https://docs.mistral.ai/admin/security-access/api-keys"),
)
