"""OpenAI keys carry the fixed marker `T3BlbkFJ` (base64 of "OpenAI") between two random halves."""

from keysweep.providers.base import Provider

MARKER = "T3BlbkFJ"


def has_marker(key: str) -> bool:
    head, sep, tail = key.partition(MARKER)
    return bool(sep) and len(tail) >= 20 and len(head) >= 20


CHECKS = {"openai_marker": has_marker}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------
from keysweep.verify.http_verifier import (  # noqa: E402
    DeadAnswer,
    HttpVerifier,
    bearer,
    model_list,
    pick,
)

# OpenAI's documented answer to a bad key (Error codes guide: 401 "Incorrect API key provided").
INVALID_KEY = DeadAnswer(
    401, {"error": {"code": "invalid_api_key"}}, "invalid_api_key",
    example={"error": {"message": "Incorrect API key provided: sk-proj-****abcd. You can find your API key at "
                                  "https://platform.openai.com/account/api-keys.",
                       "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
    source="https://platform.openai.com/docs/guides/error-codes")


def _restricted(status, body):
    """A restricted key lacking the models scope still authenticated: live."""
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    if status == 403 and ("insufficient permissions" in message.lower() or "missing scopes" in message.lower()):
        return "restricted key (insufficient permissions for /models)"
    return None


async def _me(credential, ctx, identity):
    """`GET /v1/me`: the user behind the key and their organisations (best effort)."""
    from keysweep.verify.http_verifier import base_url

    response = await ctx.http.request("GET", f"{base_url(ctx, credential, ('openai',))}/me",
                                      headers=bearer(credential.secret), retry=False)
    body = response.json()
    if response.status != 200 or not isinstance(body, dict):
        return None
    extra = {f"user_{k}": v for k, v in pick(body, "id", "email", "name").items()}
    orgs = [pick(org, "id", "title") for org in ((body.get("orgs") or {}).get("data") or []) if isinstance(org, dict)]
    if orgs:
        extra["orgs"] = orgs
    if body.get("email"):
        extra["owner"] = body["email"]
    return extra


def _admin_keys(body, response):
    if isinstance(body, dict) and body.get("object") == "list" and isinstance(body.get("data"), list):
        return {"admin_key": True}
    return None


_MODELS = HttpVerifier("openai", ("openai",), "/models", live=model_list, dead=(INVALID_KEY,), restricted=_restricted,
                       enrich=_me)
# An Admin API key cannot list models; listing admin keys is its read-only proof.
_ADMIN = HttpVerifier("openai", ("openai",), "/organization/admin_api_keys", live=_admin_keys, dead=(INVALID_KEY,),
                      params={"limit": "1"})


class OpenAIVerifier:
    """`GET /v1/models` (then `/v1/me` for the user); admin keys: `GET /v1/organization/admin_api_keys`."""

    name = "openai"
    providers = ("openai",)
    checks = (_MODELS, _ADMIN)

    async def verify(self, credential, ctx):
        admin = credential.rule_id == "openai.admin-key" or credential.secret.startswith("sk-admin-")
        return await (_ADMIN if admin else _MODELS).verify(credential, ctx)


VERIFIER = OpenAIVerifier()


PROVIDER = Provider("openai", "OpenAI", checks=CHECKS, verifier=VERIFIER)
