"""OpenAI keys carry the fixed marker `T3BlbkFJ` (base64 of "OpenAI") between two random halves."""

MARKER = "T3BlbkFJ"


def has_marker(key: str) -> bool:
    head, sep, tail = key.partition(MARKER)
    return bool(sep) and len(tail) >= 20 and len(head) >= 20


CHECKS = {"openai_marker": has_marker}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, bearer, model_list, pick  # noqa: E402


def _restricted(status, body):
    """A restricted key lacking the models scope still authenticated: live."""
    message = str(((body or {}).get("error") or {}).get("message", "")) if isinstance(body, dict) else ""
    if status == 403 and ("insufficient permissions" in message.lower() or "missing scopes" in message.lower()):
        return "restricted key (insufficient permissions for /models)"
    return None


async def _me(credential, ctx, identity):
    """`GET /v1/me`: the user behind the key and their organisations (best effort)."""
    from keysweep.detectors.verification import base_url

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
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return {"admin_key": True}
    return None


_MODELS = HttpVerifier("openai", ("openai",), "/models", live=model_list, restricted=_restricted, enrich=_me)
# An Admin API key cannot list models; listing admin keys is its read-only proof.
_ADMIN = HttpVerifier("openai", ("openai",), "/organization/admin_api_keys", live=_admin_keys,
                      params={"limit": "1"})


class OpenAIVerifier:
    """`GET /v1/models` (then `/v1/me` for the user); admin keys: `GET /v1/organization/admin_api_keys`."""

    name = "openai"
    providers = ("openai",)

    async def verify(self, credential, ctx):
        admin = credential.rule_id == "openai.admin-key" or credential.secret.startswith("sk-admin-")
        return await (_ADMIN if admin else _MODELS).verify(credential, ctx)


VERIFIER = OpenAIVerifier()
