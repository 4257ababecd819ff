"""xAI (Grok) API keys (`xai-`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, error_code, json_error, pick  # noqa: E402


def _api_key(body, response):
    if not isinstance(body, dict) or not body.get("api_key_id"):
        return None
    identity = pick(body, "name", "team_id", "user_id", "redacted_api_key", "acls", "modified_by", "create_time")
    identity["key_id"] = body["api_key_id"]
    for flag in ("api_key_disabled", "api_key_blocked", "team_blocked"):
        if body.get(flag) is True:
            identity["_dead"] = flag
    return identity


def _dead(status, body):
    if status == 401:
        return json_error(status, body)
    # xAI documents 400 for "an incorrect API key"; only believe it when the error says so.
    text = str(body).lower() if isinstance(body, dict) else ""
    return f"HTTP 400 {error_code(body) or 'incorrect API key'}" if "api key" in text else None


# GET /v1/api-key: the key's own record (id, team, ACLs, disabled/blocked flags).
VERIFIER = HttpVerifier("xai", ("xai",), "/api-key", live=_api_key, dead_statuses=frozenset({400, 401}),
                        dead=_dead)
