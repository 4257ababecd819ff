"""Groq API keys (`gsk_`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, model_list  # noqa: E402

# GET /openai/v1/models (OpenAI-compatible): 200 live, 401 with its JSON error dead.
VERIFIER = HttpVerifier("groq", ("groq",), "/models", live=model_list)
