"""xAI (Grok) API keys (`xai-`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import ANY_TEXT, DeadAnswer, HttpVerifier, Prefix, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

_DEBUGGING = "https://docs.x.ai/docs/key-information/debugging"
_EXAMPLE = {"code": "Client specified an invalid argument",
            "error": "Incorrect API key provided: xa***b14o. You can obtain an API key from https://console.x.ai."}
# xAI documents 400 for "an incorrect API key" (401 when the token is invalid); its body says so.
INCORRECT_KEY = tuple(DeadAnswer(status, {"error": Prefix("Incorrect API key provided")}, "Incorrect API key provided",
                                 example=_EXAMPLE, source=_DEBUGGING) for status in (400, 401))
_API_KEY_DOCS = "https://docs.x.ai/docs/api-reference#get-api-key-info"
# The key's own record says it is disabled or blocked.
FLAGGED = tuple(DeadAnswer(200, {"api_key_id": ANY_TEXT, flag: True}, flag,
                           example={"api_key_id": "ak-2", "team_id": "t-1", "api_key_disabled": flag == "api_key_disabled",
                                    "api_key_blocked": flag == "api_key_blocked", "team_blocked": flag == "team_blocked"},
                           source=_API_KEY_DOCS)
                for flag in ("api_key_disabled", "api_key_blocked", "team_blocked"))


def _api_key(body, response):
    if not isinstance(body, dict) or not body.get("api_key_id"):
        return None
    identity = pick(body, "name", "team_id", "user_id", "redacted_api_key", "acls", "modified_by", "create_time")
    identity["key_id"] = body["api_key_id"]
    return identity


# GET /v1/api-key: the key's own record (id, team, ACLs, disabled/blocked flags).
VERIFIER = HttpVerifier("xai", ("xai",), "/api-key", live=_api_key, dead=(*INCORRECT_KEY, *FLAGGED))


PROVIDER = Provider(
    "xai", "xAI",
    base_url="https://api.x.ai/v1",
    console_url="https://console.x.ai",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "restricted-key",
        "Create one key per service with access control lists limited to the endpoints (api-key:endpoint:chat, "
        "api-key:endpoint:image) and models (api-key:model:<name>) it uses, and with rate limits, through the "
        "console or the Management API.",
        "https://docs.x.ai/developers/management-api-guide"),
)
