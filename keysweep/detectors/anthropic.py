"""Anthropic keys (`sk-ant-api03-`, `sk-ant-admin01-`) end in the constant `AA`."""


def has_suffix(key: str) -> bool:
    return key.endswith("AA") and not key.endswith("AAAA")


CHECKS = {"anthropic_suffix": has_suffix}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier  # noqa: E402

ANTHROPIC_VERSION = "2023-06-01"


def _headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}


def _dead(status, body):
    """Anthropic's own error envelope: {"type": "error", "error": {"type": "authentication_error"}}."""
    if isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict):
        return f"HTTP {status} {body['error'].get('type') or 'error'}"
    return None


def _restricted(status, body):
    if status == 403 and (_dead(status, body) or "").endswith("permission_error"):
        return "authenticated, without permission to list models"
    return None


def _models(body, response):
    return {"models": len(body["data"])} if isinstance(body, dict) and isinstance(body.get("data"), list) else None


def _org(body, response):
    if not isinstance(body, dict) or not body.get("id"):
        return None
    identity = {"org_id": body["id"], "admin_key": True}
    identity.update({"org": body["name"]} if body.get("name") else {})
    return identity


_MODELS = HttpVerifier("anthropic", ("anthropic",), "/v1/models", live=_models, auth=_headers, dead=_dead,
                       restricted=_restricted)
_ADMIN = HttpVerifier("anthropic", ("anthropic",), "/v1/organizations/me", live=_org, auth=_headers, dead=_dead)


class AnthropicVerifier:
    """`GET /v1/models` (x-api-key); admin keys: `GET /v1/organizations/me`. Never a billed call."""

    name = "anthropic"
    providers = ("anthropic",)

    async def verify(self, credential, ctx):
        admin = credential.rule_id == "anthropic.admin-key" or credential.secret.startswith("sk-ant-admin")
        return await (_ADMIN if admin else _MODELS).verify(credential, ctx)


VERIFIER = AnthropicVerifier()
