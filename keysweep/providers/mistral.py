"""Mistral API keys (32 characters with Mistral context)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import HttpVerifier, model_list

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# No answer of Mistral's proves a key dead. Its error glossary
# (https://docs.mistral.ai/resources/error-glossary) gives a 401 for a key "missing, invalid, or
# expired" — no Authorization header (a proxy that strips it) among the causes — and documents no
# body. What its gateway sends, {"message": "Unauthorized", "request_id": …}, is the API gateway's
# stock answer (Kong's key-auth), and api.mistral.ai sends it for a live Codestral key too
# (codestral.mistral.ai's keys, which keysweep's mistral.api-key-config rule finds beside
# "codestral": cline/cline#1734). So a 401 is unknown: live or unknown only.
NO_DEAD_ANSWER = ("Mistral documents no body for its 401 (missing, invalid or expired key), and its gateway's "
                  "{\"message\": \"Unauthorized\"} also answers a live Codestral key: a 401 is unknown")

# GET /v1/models: 200 live; never dead.
VERIFIER = HttpVerifier("mistral", ("mistral",), "/models", live=model_list, dead=(), reason=NO_DEAD_ANSWER)


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
