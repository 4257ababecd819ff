"""OpenRouter API keys (`sk-or-v1-`)."""

from __future__ import annotations

from keysweep.providers.base import Listing, Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# OpenRouter documents its errors as {"error": {"code": <the HTTP status>, "message": …, "metadata"?}}
# and a 401 as "Invalid credentials (OAuth session expired, disabled/invalid API key)"
# (https://openrouter.ai/docs/api-reference/errors). That envelope alone is anyone's: a gateway's
# {"error": {"code": 401, "message": "Unauthorized"}} has it too. And OpenRouter's own 401 "No auth
# credentials found" (or "No cookie auth credentials found", "Missing Authentication header", its
# SDK's example) says no key arrived at all — a proxy that strips Authorization gets it for a live
# key. The key's own death is the message OpenRouter gives a key it does not know, "User not found."
# (as it sends it; the docs give no message list): only that is dead, anything else unknown.
INVALID_CREDENTIALS = DeadAnswer(
    401, {"error": {"code": 401, "message": "User not found."}}, "invalid credentials (User not found.)",
    example={"error": {"message": "User not found.", "code": 401}},
    source="https://openrouter.ai/docs/api-reference/errors")


def _key(body, response):
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    return pick(data, "label", "limit", "usage", "limit_remaining", "is_free_tier", "is_provisioning_key")


# GET /api/v1/key: the key's label, limit and usage; free.
VERIFIER = HttpVerifier("openrouter", ("openrouter",), "/key", live=_key, dead=(INVALID_CREDENTIALS,))


# The management key's listing of every key (`hash`, `label`), paged by offset; the revoker pages
# it through providers/admin_api.py's list_pages.
KEYS = Listing("/keys", {}, "offset", paging="offset")


PROVIDER = Provider(
    "openrouter", "OpenRouter",
    base_url="https://openrouter.ai/api/v1",
    console_url="https://openrouter.ai/settings/keys",
    checks=CHECKS, verifier=VERIFIER,
    revokers={"openrouter": "keysweep.revokers.openrouter:OpenRouterRevoker"},
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "limited-key",
        "Issue one key per workload with a credit limit (optionally reset daily, weekly or monthly) through a "
        "management key kept outside the application, and rotate keys through the same API: a leaked key can spend "
        "at most its limit.",
        "https://openrouter.ai/docs/features/provisioning-api-keys"),
)
