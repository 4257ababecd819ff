"""Groq API keys (`gsk_`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, model_list

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

INVALID_KEY = DeadAnswer(
    401, {"error": {"code": "invalid_api_key"}}, "invalid_api_key",
    example={"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}},
    source="https://console.groq.com/docs/errors")

# GET {base}/models: 200 live, 401 invalid_api_key dead.
VERIFIER = HttpVerifier("groq", ("groq",), "/models", live=model_list, dead=(INVALID_KEY,))


PROVIDER = Provider(
    "groq", "Groq",
    base_url="https://api.groq.com/openai/v1",
    console_url="https://console.groq.com/keys",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "project-key",
        "Create a project per application and environment and use that project's API key: keys, rate limits and "
        "usage are the project's own, so a leaked key is deleted without disturbing other workloads.",
        "https://console.groq.com/docs/projects"),
)
