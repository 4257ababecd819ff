"""Anthropic keys (`sk-ant-api03-`, `sk-ant-admin01-`) end in the constant `AA`.

What Anthropic documents about a key it does not accept, and what keysweep takes as proof (read
2026-12-03):

- Anthropic's errors page (https://docs.anthropic.com/en/api/errors): every error is a JSON
  `{"type": "error", "error": {"type": …, "message": …}}` (a `request_id` beside it); 401
  `authentication_error` is "There's an issue with your API key". The page gives the type, not the
  message for each case.
- Anthropic's own answer for a key it does not accept (reported for keys that were not valid) is 401
  `authentication_error` with the message "invalid x-api-key" (abi/screenshot-to-code#272,
  continuedev/continue#10385: keys Anthropic did not accept; Anthropic's SDKs raise it as
  AuthenticationError). With no key in the request it answers the same type with "x-api-key header
  is required" (a proxy that strips the header gets it for a live key).

So the proof that a key is dead is Anthropic's message for an invalid key, "invalid x-api-key",
exactly, in that envelope. The envelope and type alone are not: any Anthropic-compatible gateway or
proxy (an LLM gateway, a corporate egress proxy speaking Anthropic's shape) answers its own
authentication failures with `authentication_error` and a message of its own ("Authentication
failed", "Invalid bearer token", a missing header) about a key it never showed Anthropic. Such an
answer, and "x-api-key header is required", are `unknown`: the key may be live (a person checks it
in the console). Was: every 401 `authentication_error` but "x-api-key header is required" was dead.
"""

from keysweep.fingerprint import clip_hint, redaction_prefix
from keysweep.providers.admin_api import AdminApiError, ReachAccess, get_json, inventory_entry, iso, paginate
from keysweep.providers.base import Inventory, Listing, OwnerFacts, Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier
from keysweep.verify.reach import Reach


def has_suffix(key: str) -> bool:
    return key.endswith("AA") and not key.endswith("AAAA")


CHECKS = {"anthropic_suffix": has_suffix}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

API_VERSION = "2023-06-01"


def api_headers(key: str) -> dict[str, str]:
    """Every request's authentication and pinned API version (user and Admin API keys alike)."""
    return {"x-api-key": key, "anthropic-version": API_VERSION}


# Anthropic's documented error envelope for a bad key (Errors: 401 authentication_error, "There's an
# issue with your API key") with Anthropic's own message for a key it does not accept: see the module
# docstring. Any other message under that type (a gateway's, or "x-api-key header is required" when
# no key arrived) is not the key's death.
INVALID_KEY_MESSAGE = "invalid x-api-key"
INVALID_KEY = DeadAnswer(
    401, {"type": "error", "error": {"type": "authentication_error", "message": INVALID_KEY_MESSAGE}},
    "authentication_error",
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
                                          None, f"Anthropic Admin API: {kind[:-1]} {ident}")
        except AdminApiError as exc:
            access.warn(f"{exc} (named by its id only)")  # which one: a 404 is a creator gone from the organisation
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


# -- reach (what a live key can do; keysweep/verify/reach.py) -----------------------------------
# An API key belongs to one workspace and reaches that workspace's resources; the Admin API lists no
# narrower permission of its own. An Admin API key manages the organisation: flagged.
KEY_PERMISSIONS_UNSEEN = "permissions: the Admin API lists no permissions of an API key beyond its workspace"


def anthropic_reach(identity: dict, entry: dict | None, workspace: dict | None = None, creator: dict | None = None,
                    *, note: str | None = None) -> Reach:
    """Reach of a key from its verification and its Admin API entry (workspace, creator, status)."""
    if identity.get("admin_key") is True:
        org = identity.get("org") or identity.get("org_id")
        return Reach(identity=f"Admin API key of {org or 'the organisation'}",
                     resources=(f"org:{identity['org_id']}",) if identity.get("org_id") else (),
                     flagged=("admin-api-key",), access="admin", evidence="GET /v1/organizations/me",
                     unknown=("permissions: an Admin API key's own scopes are not listed",))
    if entry is None:
        return Reach(unknown=(KEY_PERMISSIONS_UNSEEN, *((note,) if note else ())), evidence="GET /v1/models")
    workspace_id = entry.get("workspace_id")
    name = (workspace or {}).get("name")
    resource = f"workspace:{workspace_id}" + (f" ({name})" if name else "") if workspace_id else \
        "workspace:default (the organisation's Default workspace)"
    creator = creator or {}
    made_by = entry.get("created_by") or {}
    who = creator.get("email") or creator.get("name") or (
        f"{made_by.get('type') or 'actor'} {made_by['id']}" if made_by.get("id") else None)
    details = {k: v for k, v in {"api_key_id": entry.get("id"), "status": entry.get("status"),
                                 "workspace_id": workspace_id, "created_at": iso(entry.get("created_at")),
                                 "expires_at": iso(entry.get("expires_at"))}.items() if v is not None}
    notes = [KEY_PERMISSIONS_UNSEEN]
    if workspace_id and workspace is None:
        notes.append("workspace name: GET /v1/organizations/workspaces did not answer")
    return Reach(identity=f"key created by {who}" if who else None, resources=(resource,),
                 evidence="Anthropic Admin API: /v1/organizations/api_keys, workspaces, users", unknown=tuple(notes),
                 details=details)


async def read_reach(credential, ctx, identity) -> Reach:
    """The key's Admin API entry (with ANTHROPIC_ADMIN_KEY; listed once per run), its workspace and
    creator. The leaked key itself makes no further call."""
    if identity.get("admin_key") is True:
        return anthropic_reach(identity, None)
    access = ReachAccess(ctx)
    entry, note = await inventory_entry(access, "anthropic", INVENTORY, credential.secret,
                                        PROVIDER.env_name_for_admin_key())
    if entry is None:
        return anthropic_reach(identity, None, note=note)
    workspace = await _record(access, "workspaces", entry["workspace_id"]) if entry.get("workspace_id") else None
    made_by = entry.get("created_by") or {}
    creator = await _record(access, "users", made_by["id"]) \
        if made_by.get("id") and made_by.get("type", "user") == "user" else None
    return anthropic_reach(identity, entry, workspace or None if entry.get("workspace_id") else None, creator or None)


PROVIDER = Provider(
    "anthropic", "Anthropic",
    base_url="https://api.anthropic.com",
    base_url_env="ANTHROPIC_BASE_URL",
    admin_key_env="ANTHROPIC_ADMIN_KEY",
    api_version=API_VERSION,
    console_url="https://console.anthropic.com/settings/keys",
    checks=CHECKS, verifier=VERIFIER, inventory=INVENTORY,
    revokers={"anthropic": "keysweep.revokers.anthropic:AnthropicRevoker"},
    # What a live key can do (docs/output.md, `reach`).
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "workspace-api-key",
        "Give each service its own API key in a workspace created for that service and environment: a key is bound "
        "to the workspace it was created in, reaches only that workspace's resources, and shares its spend and rate "
        "limits. An Admin API key (sk-ant-admin) belongs only in the tool that manages keys, never in an "
        "application.",
        "https://platform.claude.com/docs/en/manage-claude/workspaces"),
)
