"""OpenRouter API keys (`sk-or-v1-`)."""

from __future__ import annotations

from keysweep.providers.base import Listing, Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# OpenRouter's error envelope carries the status as a number: {"error": {"code": 401, "message": …}}.
INVALID_CREDENTIALS = DeadAnswer(
    401, {"error": {"code": 401}}, "invalid credentials",
    example={"error": {"code": 401, "message": "No auth credentials found"}},
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
