"""Anthropic keys (`sk-ant-api03-`, `sk-ant-admin01-`) end in the constant `AA`."""

from keysweep.providers.base import Provider


def has_suffix(key: str) -> bool:
    return key.endswith("AA") and not key.endswith("AAAA")


CHECKS = {"anthropic_suffix": has_suffix}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier  # noqa: E402

ANTHROPIC_VERSION = "2023-06-01"


def _headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}


# Anthropic's documented error envelope for a bad key (Errors: 401 authentication_error).
INVALID_KEY = DeadAnswer(
    401, {"type": "error", "error": {"type": "authentication_error"}}, "authentication_error",
    example={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
    source="https://docs.anthropic.com/en/api/errors")


def _restricted(status, body):
    error = body.get("error") if isinstance(body, dict) and body.get("type") == "error" else None
    if status == 403 and isinstance(error, dict) and error.get("type") == "permission_error":
        return "authenticated, without permission to list models"
    return None


def _models(body, response):
    """`{"data": [...], "has_more": …, "first_id": …, "last_id": …}` (Models API, paginated)."""
    if isinstance(body, dict) and isinstance(body.get("data"), list) and isinstance(body.get("has_more"), bool):
        return {"models": len(body["data"])}
    return None


def _org(body, response):
    if not isinstance(body, dict) or not body.get("id"):
        return None
    identity = {"org_id": body["id"], "admin_key": True}
    identity.update({"org": body["name"]} if body.get("name") else {})
    return identity


_MODELS = HttpVerifier("anthropic", ("anthropic",), "/v1/models", live=_models, auth=_headers, dead=(INVALID_KEY,),
                       restricted=_restricted)
_ADMIN = HttpVerifier("anthropic", ("anthropic",), "/v1/organizations/me", live=_org, auth=_headers,
                      dead=(INVALID_KEY,))


class AnthropicVerifier:
    """`GET /v1/models` (x-api-key); admin keys: `GET /v1/organizations/me`. Never a billed call."""

    name = "anthropic"
    providers = ("anthropic",)
    checks = (_MODELS, _ADMIN)

    async def verify(self, credential, ctx):
        admin = credential.rule_id == "anthropic.admin-key" or credential.secret.startswith("sk-ant-admin")
        return await (_ADMIN if admin else _MODELS).verify(credential, ctx)


VERIFIER = AnthropicVerifier()


PROVIDER = Provider("anthropic", "Anthropic", checks=CHECKS, verifier=VERIFIER)
