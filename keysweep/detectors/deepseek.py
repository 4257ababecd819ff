"""DeepSeek API keys (`sk-` + 32 hex with DeepSeek context)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, pick  # noqa: E402


def _balance(body, response):
    if not isinstance(body, dict) or "is_available" not in body:
        return None
    return pick(body, "is_available") or {"is_available": body["is_available"]}


# GET /user/balance: read-only, and says whether the account can still spend.
VERIFIER = HttpVerifier("deepseek", ("deepseek",), "/user/balance", live=_balance)
