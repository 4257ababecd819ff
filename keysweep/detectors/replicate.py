"""Replicate API tokens (`r8_`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, pick  # noqa: E402


def _account(body, response):
    if not isinstance(body, dict) or not body.get("username"):
        return None
    identity = pick(body, "type", "username", "name", "github_url")
    identity["owner"] = body["username"]
    return identity


# GET /v1/account: the token's user or organisation.
VERIFIER = HttpVerifier("replicate", ("replicate",), "/account", live=_account)
