"""Anthropic keys (`sk-ant-api03-`, `sk-ant-admin01-`) end in the constant `AA`."""

from keysweep.fingerprint import clip_hint, redaction_prefix
from keysweep.providers.admin_api import AdminApiError, get_json, paginate
from keysweep.providers.base import Inventory, Listing, OwnerFacts, Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier


def has_suffix(key: str) -> bool:
    return key.endswith("AA") and not key.endswith("AAAA")


CHECKS = {"anthropic_suffix": has_suffix}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

API_VERSION = "2023-06-01"


def api_headers(key: str) -> dict[str, str]:
    """Every request's authentication and pinned API version (user and Admin API keys alike)."""
    return {"x-api-key": key, "anthropic-version": API_VERSION}


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


_MODELS = HttpVerifier("anthropic", ("anthropic",), "/v1/models", live=_models, auth=api_headers, dead=(INVALID_KEY,),
                       restricted=_restricted)
_ADMIN = HttpVerifier("anthropic", ("anthropic",), "/v1/organizations/me", live=_org, auth=api_headers,
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


# -- admin inventory (owners; network, with ANTHROPIC_ADMIN_KEY) ----------------------------------
# `/v1/organizations/api_keys`: an entry shows its key as `partial_key_hint` → key id, `created_by`
# (→ the user's e-mail), workspace, status.
# The listing, written once: owners and the revoker page it (providers/admin_api.py: list_pages).
API_KEYS = Listing("/v1/organizations/api_keys", {"limit": "1000"}, "after_id")


async def _list_keys(access) -> list[dict]:
    return await paginate(access, access.ctx.settings.base_url("anthropic"), API_KEYS, _admin_headers(access),
                          "Anthropic Admin API keys")


def _admin_headers(access) -> dict[str, str]:
    return api_headers(access.ctx.settings.admin_key("anthropic") or "")


async def _record(access, kind: str, ident: str) -> dict:
    """A user or workspace record, cached for the run; {} when it cannot be read."""
    cache = access.cache.setdefault(f"anthropic:{kind}", {})
    if ident not in cache:
        base = access.ctx.settings.base_url("anthropic")
        try:
            cache[ident] = await get_json(access, f"{base}/v1/organizations/{kind}/{ident}", _admin_headers(access),
                                          None, f"Anthropic Admin API {kind}")
        except AdminApiError as exc:
            access.warn(str(exc))
            cache[ident] = {}
    return cache[ident]


def _hint(key: dict) -> str | None:
    return key.get("partial_key_hint")


async def _owner(key: dict, finding, access) -> OwnerFacts:
    creator = key.get("created_by") or {}
    user = await _record(access, "users", creator["id"]) \
        if creator.get("id") and creator.get("type", "user") == "user" else {}
    workspace_id = key.get("workspace_id")
    workspace = await _record(access, "workspaces", workspace_id) if workspace_id else {}
    team = workspace.get("name") or (workspace_id or "Default workspace")
    who = user.get("email") or user.get("name") or f"{creator.get('type') or 'actor'} {creator.get('id')}"
    evidence = (f"Anthropic Admin API: key {key.get('id')} '{key.get('name') or ''}' hint "
                f"{clip_hint(key.get('partial_key_hint'), redaction_prefix(finding.redacted))}, status "
                f"{key.get('status')}, created by {who} in {team}")
    return OwnerFacts(
        name=user.get("name") or user.get("email") or (f"{creator.get('type')} {creator.get('id')}"
                                                       if creator.get("id") else None),
        team=team, purpose=key.get("name") or None, evidence=evidence, contact=user.get("email"),
        confidence=0.9 if user else 0.7,
        details={"api_key_id": key.get("id"), "workspace_id": workspace_id, "status": key.get("status"),
                 "created_by": creator, "created_at": key.get("created_at")})


INVENTORY = Inventory(source="anthropic-admin", list_keys=_list_keys, hint=_hint, owner=_owner)


PROVIDER = Provider(
    "anthropic", "Anthropic",
    base_url="https://api.anthropic.com",
    base_url_env="ANTHROPIC_BASE_URL",
    admin_key_env="ANTHROPIC_ADMIN_KEY",
    api_version=API_VERSION,
    console_url="https://console.anthropic.com/settings/keys",
    checks=CHECKS, verifier=VERIFIER, inventory=INVENTORY,
    revokers={"anthropic": "keysweep.revokers.anthropic:AnthropicRevoker"},
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "workspace-api-key",
        "Give each service its own API key in a workspace created for that service and environment: a key is bound "
        "to the workspace it was created in, reaches only that workspace's resources, and shares its spend and rate "
        "limits. An Admin API key (sk-ant-admin) belongs only in the tool that manages keys, never in an "
        "application.",
        "https://platform.claude.com/docs/en/manage-claude/workspaces"),
)
