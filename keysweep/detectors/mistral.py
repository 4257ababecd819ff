"""Mistral API keys (32 characters with Mistral context)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, model_list  # noqa: E402

# GET /v1/models: 200 live, 401 with Mistral's JSON error dead.
VERIFIER = HttpVerifier("mistral", ("mistral",), "/models", live=model_list)
