"""Google API keys (`AIza…`), including Gemini keys."""

from __future__ import annotations

from keysweep.providers.base import Provider

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier  # noqa: E402

# A key that exists but may not call this API: proven valid, so live (with the reason).
_RESTRICTED = {"SERVICE_DISABLED", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED",
               "API_KEY_IP_ADDRESS_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED",
               "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
_INVALID = {"API_KEY_INVALID", "API_KEY_EXPIRED"}


def _reasons(body) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    return {d.get("reason") for d in error.get("details") or [] if isinstance(d, dict) and d.get("reason")}


def _models(body, response):
    if isinstance(body, dict) and isinstance(body.get("models"), list):
        return {"models": len(body["models"])}
    return None


def _invalid(reason: str) -> DeadAnswer:
    """400 INVALID_ARGUMENT with a google.rpc.ErrorInfo naming the key as invalid or expired."""
    return DeadAnswer(
        400, {"error": {"status": "INVALID_ARGUMENT", "details": [{"reason": reason}]}}, reason,
        example={"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                           "status": "INVALID_ARGUMENT",
                           "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                        "domain": "googleapis.com",
                                        "metadata": {"service": "generativelanguage.googleapis.com"}}]}},
        source="https://ai.google.dev/gemini-api/docs/troubleshooting")


INVALID_KEY = tuple(_invalid(reason) for reason in sorted(_INVALID))


def _restricted(status, body):
    if status != 403:
        return None
    reasons = _reasons(body) & _RESTRICTED
    return f"valid key, Gemini API refused: {sorted(reasons)[0]}" if reasons else None


# GET /v1beta/models with the key in a header (never in the URL): 200 live, 400 API_KEY_INVALID dead.
VERIFIER = HttpVerifier("google", ("google",), "/v1beta/models", live=_models,
                        auth=lambda key: {"x-goog-api-key": key}, dead=INVALID_KEY, restricted=_restricted)


PROVIDER = Provider(
    "google", "Google API keys (Gemini)",
    base_url="https://generativelanguage.googleapis.com",
    console_url="https://console.cloud.google.com/apis/credentials",
    checks=CHECKS, verifier=VERIFIER,
)
