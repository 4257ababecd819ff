"""Together AI API keys (`tgp_v1_`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, bare_model_list

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

INVALID_KEY = DeadAnswer(
    401, {"error": {"code": "invalid_api_key"}}, "invalid_api_key",
    example={"error": {"message": "Invalid API key provided. You can find your API key at "
                                  "https://api.together.xyz/settings/api-keys.",
                       "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
    source="https://docs.together.ai/docs/error-codes")

# GET /v1/models (a bare JSON array of models): 200 live, 401 invalid_api_key dead.
VERIFIER = HttpVerifier("together", ("together",), "/models", live=bare_model_list, dead=(INVALID_KEY,))


PROVIDER = Provider(
    "together", "Together AI",
    base_url="https://api.together.xyz/v1",
    console_url="https://api.together.ai/settings/api-keys",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "project-key",
        "Create one API key per workload in a project of its own, with an expiration date: a key reaches only its "
        "project's resources, so a leaked one is contained and stops working on its own.",
        "https://docs.together.ai/docs/api-keys-authentication"),
)
