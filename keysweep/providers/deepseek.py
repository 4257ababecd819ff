"""DeepSeek API keys (`sk-` + 32 hex with DeepSeek context)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, Prefix, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# DeepSeek's 401 "Authentication Fails" (error codes page), in the `{"error": {…}}` envelope, with
# its message for the key it was sent: "Authentication Fails, Your api key: ****abcd is invalid".
# The envelope and type alone are a gateway's too (`{"error": {"message": "API key required", "type":
# "authentication_error"}}` from a compatible proxy that got no key), and DeepSeek's own "Authentication
# Fails (auth header format should be Bearer sk-...)" says no key arrived in its header (a proxy that
# strips it; LnYo-Cly/ai4j#42, linshenkx/prompt-optimizer#170): neither is the key's death.
AUTHENTICATION_FAILS = DeadAnswer(
    401, {"error": {"type": "authentication_error", "message": Prefix("Authentication Fails, Your api key: ")}},
    "authentication_error",
    example={"error": {"message": "Authentication Fails, Your api key: ****abcd is invalid",
                       "type": "authentication_error", "param": None, "code": "invalid_request_error"}},
    source="https://api-docs.deepseek.com/quick_start/error_codes")


def _balance(body, response):
    if not isinstance(body, dict) or not isinstance(body.get("is_available"), bool):
        return None
    return pick(body, "is_available") or {"is_available": body["is_available"]}


# GET /user/balance: read-only, and says whether the account can still spend.
VERIFIER = HttpVerifier("deepseek", ("deepseek",), "/user/balance", live=_balance, dead=(AUTHENTICATION_FAILS,))


PROVIDER = Provider(
    "deepseek", "DeepSeek",
    base_url="https://api.deepseek.com",
    console_url="https://platform.deepseek.com/api_keys",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "per-service-key",
        "DeepSeek API keys carry no scopes or expiry: create one key per service so each can be deleted alone, keep "
        "it server-side in a secrets manager, and keep the prepaid balance to what the service needs.",
        "https://api-docs.deepseek.com/"),
)
