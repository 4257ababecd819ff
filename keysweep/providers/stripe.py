"""Stripe secret and restricted keys (`sk_live_`, `rk_live_`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, Prefix, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# Stripe's 401 for a key it does not know, and its error code for an expired one.
INVALID_KEY = DeadAnswer(
    401, {"error": {"type": "invalid_request_error", "message": Prefix("Invalid API Key provided")}},
    "Invalid API Key provided",
    example={"error": {"message": "Invalid API Key provided: sk_live_****abcd", "type": "invalid_request_error"}},
    source="https://docs.stripe.com/api/errors")
EXPIRED_KEY = DeadAnswer(
    401, {"error": {"type": "invalid_request_error", "code": "api_key_expired"}}, "api_key_expired",
    example={"error": {"code": "api_key_expired", "doc_url": "https://stripe.com/docs/error-codes/api-key-expired",
                       "message": "Expired API Key provided: sk_live_****abcd", "type": "invalid_request_error"}},
    source="https://docs.stripe.com/error-codes#api-key-expired")


def _account(body, response):
    if not isinstance(body, dict) or not body.get("id"):
        return None
    identity = pick(body, "id", "email", "country")
    name = (body.get("business_profile") or {}).get("name") if isinstance(body.get("business_profile"), dict) else None
    if name:
        identity["business_name"] = name
    return identity


def _restricted(status, body):
    """Stripe's 403 for a restricted key lacking a permission (not any JSON 403: a WAF's is not live)."""
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    if status == 403 and "does not have the required permissions" in message:
        return "restricted key without account read"
    return None


# GET /v1/account: read-only; a restricted key may get 403, which still proves it authenticated.
VERIFIER = HttpVerifier("stripe", ("stripe",), "/account", live=_account, dead=(INVALID_KEY, EXPIRED_KEY),
                        restricted=_restricted)


PROVIDER = Provider(
    "stripe", "Stripe",
    base_url="https://api.stripe.com/v1",
    console_url="https://dashboard.stripe.com/apikeys",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "restricted-key",
        "Replace the secret key with a restricted API key (rk_live_) that grants only the resources, and only the "
        "read or write access, the integration uses, one key per integration: a restricted key that leaks can do "
        "only what it was granted.",
        "https://docs.stripe.com/keys/restricted-api-keys"),
)
