"""Stripe secret and restricted keys (`sk_live_`, `rk_live_`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, pick  # noqa: E402


def _account(body, response):
    if not isinstance(body, dict) or not body.get("id"):
        return None
    identity = pick(body, "id", "email", "country")
    name = (body.get("business_profile") or {}).get("name") if isinstance(body.get("business_profile"), dict) else None
    if name:
        identity["business_name"] = name
    return identity


def _restricted(status, body):
    return "restricted key without account read" if status == 403 and isinstance(body, dict) else None


# GET /v1/account: read-only; a restricted key may get 403, which still proves it authenticated.
VERIFIER = HttpVerifier("stripe", ("stripe",), "/account", live=_account, restricted=_restricted)
