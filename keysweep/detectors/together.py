"""Together AI API keys (`tgp_v1_`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, model_list  # noqa: E402

# GET /v1/models (a bare JSON list): 200 live, 401 with Together's JSON error dead.
VERIFIER = HttpVerifier("together", ("together",), "/models", live=model_list)
