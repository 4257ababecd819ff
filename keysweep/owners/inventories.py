"""Owners from the providers' own key inventories, with the organisation's admin credentials.

- OpenAI Admin API (`OPENAI_ADMIN_KEY`): every project (`/organization/projects`) and its API keys
  (`/organization/projects/{id}/api_keys`), plus the admin keys; the leaked value is matched on each
  key's `redacted_value` → key id, owner (user or service account), project, last use.
- Anthropic Admin API (`ANTHROPIC_ADMIN_KEY`): `/v1/organizations/api_keys`, matched on
  `partial_key_hint` → key id, `created_by` (→ user e-mail), workspace, status.

Inventories are listed once per run. Matching is `revokers/binding.py` (the same matcher the
revokers use before acting by id): a key id is taken only when the re-read value (its SHA-256 the
finding's) fits exactly one key's hint. When the value is gone, only our own redacted form (last
four characters) is compared: owner evidence at lower confidence, never a key id. A hint fitting
several keys names none of them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from keysweep.clock import utc_iso
from keysweep.errors import KeysweepError
from keysweep.fingerprint import clip_hint, redaction_prefix
from keysweep.revokers.binding import Binding, bind, hint_fits, hint_fits_redacted, split_hint

if TYPE_CHECKING:
    from keysweep.owners import Candidate, OwnerContext
    from keysweep.scanner.models import Finding

MAX_PAGES = 200

# The one matcher (also used by the revokers that act on these ids); re-exported for callers here.
__all__ = ["hint_fits", "hint_fits_redacted", "split_hint"]


def _iso(value: Any) -> str | None:
    if isinstance(value, (int, float)) and value > 0:
        return utc_iso(datetime.fromtimestamp(value, timezone.utc))
    return value if isinstance(value, str) else None


class AdminApiError(KeysweepError):
    pass


async def _get_json(octx: "OwnerContext", url: str, headers: dict[str, str], params: dict[str, str] | None,
                    what: str) -> Any:
    from keysweep.http import TransportError

    try:
        response = await octx.ctx.http.request("GET", url, headers=headers, params=params)
    except TransportError as exc:
        raise AdminApiError(f"{what}: no answer ({exc})") from None
    body = response.json()
    if response.status != 200 or not isinstance(body, dict):
        raise AdminApiError(f"{what}: HTTP {response.status}{'' if body is not None else ' (not JSON)'}")
    return body


async def _paginate(octx: "OwnerContext", url: str, headers: dict[str, str], params: dict[str, str],
                    cursor_param: str, what: str) -> list[dict[str, Any]]:
    from keysweep.http import ListingError, list_all

    try:
        return await list_all(octx.ctx.http, url, headers=headers, params=params, cursor_param=cursor_param,
                              max_pages=MAX_PAGES)
    except ListingError as exc:
        if exc.response is None:
            raise AdminApiError(f"{what}: no answer ({exc.error})") from None
        not_json = "" if exc.response.json() is not None else " (not JSON)"
        raise AdminApiError(f"{what}: HTTP {exc.response.status}{not_json}") from None


async def _inventory(octx: "OwnerContext", name: str, loader) -> list[dict[str, Any]] | None:
    """List once per run (concurrent findings share one listing); None when unavailable."""
    lock = octx.cache.setdefault(f"{name}:lock", asyncio.Lock())
    async with lock:
        if f"{name}:keys" not in octx.cache:
            try:
                octx.cache[f"{name}:keys"] = await loader()
            except AdminApiError as exc:
                octx.warn(str(exc))
                octx.cache[f"{name}:keys"] = None
        return octx.cache[f"{name}:keys"]


def _match(keys: list[dict[str, Any]], hint_field: str, finding: "Finding", secret: str | None) -> Binding:
    """Which listed keys show the finding's key (see revokers/binding.py: one matcher for all)."""
    return bind(keys, lambda key: key.get(hint_field), finding, secret)


def _confidence(base: float, binding: Binding) -> float:
    if len(binding.matched) > 1:
        return 0.4
    return base if binding.entry is not None else min(base, 0.5)


def _qualifier(binding: Binding) -> str:
    if binding.entry is not None:
        return ""
    count = len(binding.matched)
    if count > 1:
        return f"; ambiguous: {count} keys fit this hint, so no key id is taken"
    if binding.exact:
        return "; the provider's hint shows only the last characters, so no key id is taken"
    return "; matched on the last 4 characters only (the value could not be re-read), so no key id is taken"


# -- OpenAI -----------------------------------------------------------------------------------
async def _openai_keys(octx: "OwnerContext") -> list[dict[str, Any]]:
    settings = octx.ctx.settings
    base = settings.base_url("openai")
    headers = {"Authorization": f"Bearer {settings.admin_key('openai')}", "Content-Type": "application/json"}
    projects = await _paginate(octx, f"{base}/organization/projects", headers,
                               {"limit": "100", "include_archived": "true"}, "after", "OpenAI Admin API projects")
    keys: list[dict[str, Any]] = []
    for project in projects:
        if not project.get("id"):
            continue
        project_keys = await _paginate(
            octx, f"{base}/organization/projects/{project['id']}/api_keys", headers,
            {"limit": "100", "owner_project_access": "any"}, "after", f"OpenAI Admin API keys of {project['id']}")
        for key in project_keys:
            keys.append({**key, "_project": {"id": project["id"], "name": project.get("name")}})
    try:
        admin_keys = await _paginate(octx, f"{base}/organization/admin_api_keys", headers, {"limit": "100"},
                                     "after", "OpenAI Admin API admin keys")
    except AdminApiError as exc:
        octx.warn(str(exc))
        admin_keys = []
    keys.extend({**key, "_project": None} for key in admin_keys)
    return keys


def _openai_candidate(key: dict[str, Any], binding: Binding, prefix: str = "") -> "Candidate":
    from keysweep.owners import Candidate

    owner = key.get("owner") or {}
    project = key.get("_project") or {}
    kind = owner.get("type") or ("user" if owner.get("user") else "service_account" if owner.get("service_account") else None)
    person = owner.get("user") or {}
    account = owner.get("service_account") or {}
    if person:
        name, contact, who = person.get("name") or person.get("email"), person.get("email"), \
            f"user {person.get('email') or person.get('name') or person.get('id')}"
    elif account:
        name, contact, who = f"service account {account.get('name') or account.get('id')}", None, \
            f"service account {account.get('name') or account.get('id')}"
    else:
        name, contact, who = None, None, "no owner listed"
    where = f"project '{project.get('name')}' ({project.get('id')})" if project else "the organisation's admin keys"
    last_used = _iso(key.get("last_used_at"))
    hint = clip_hint(key.get("redacted_value"), prefix)  # stored no longer than our own redacted form
    evidence = (f"OpenAI Admin API: key {key.get('id')} '{key.get('name') or ''}' in {where}, redacted "
                f"{hint}, owned by {who}, last used {last_used or 'never'}"
                + _qualifier(binding))
    base_confidence = 0.9 if person else 0.7
    return Candidate(
        name=name, team=project.get("name"), purpose=key.get("name") or None, source="openai-admin",
        confidence=_confidence(base_confidence, binding), evidence=evidence, contact=contact,
        key_id=binding.key_id,  # only an exact, unique match names the key
        details={"project_id": project.get("id"), "api_key_id": key.get("id"), "owner_type": kind,
                 "owner_id": person.get("id") or account.get("id"), "created_at": _iso(key.get("created_at")),
                 "last_used_at": last_used, "redacted_value": hint})


async def resolve_openai(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    if finding.provider != "openai" or not octx.ctx.settings.admin_key("openai"):
        return []
    keys = await _inventory(octx, "openai", lambda: _openai_keys(octx))
    if not keys:
        return []
    binding = _match(keys, "redacted_value", finding, octx.secret(finding))
    prefix = redaction_prefix(finding.redacted)
    return [_openai_candidate(key, binding, prefix) for key in binding.matched]


# -- Anthropic --------------------------------------------------------------------------------
def _anthropic_headers(octx: "OwnerContext") -> dict[str, str]:
    from keysweep.providers.anthropic import ANTHROPIC_VERSION

    return {"x-api-key": octx.ctx.settings.admin_key("anthropic") or "", "anthropic-version": ANTHROPIC_VERSION}


async def _anthropic_keys(octx: "OwnerContext") -> list[dict[str, Any]]:
    base = octx.ctx.settings.base_url("anthropic")
    return await _paginate(octx, f"{base}/v1/organizations/api_keys", _anthropic_headers(octx), {"limit": "1000"},
                           "after_id", "Anthropic Admin API keys")


async def _anthropic_lookup(octx: "OwnerContext", kind: str, ident: str) -> dict[str, Any]:
    """A user or workspace record, cached; {} when it cannot be read."""
    cache = octx.cache.setdefault(f"anthropic:{kind}", {})
    if ident not in cache:
        base = octx.ctx.settings.base_url("anthropic")
        try:
            cache[ident] = await _get_json(octx, f"{base}/v1/organizations/{kind}/{ident}", _anthropic_headers(octx),
                                           None, f"Anthropic Admin API {kind}")
        except AdminApiError as exc:
            octx.warn(str(exc))
            cache[ident] = {}
    return cache[ident]


async def resolve_anthropic(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    from keysweep.owners import Candidate

    if finding.provider != "anthropic" or not octx.ctx.settings.admin_key("anthropic"):
        return []
    keys = await _inventory(octx, "anthropic", lambda: _anthropic_keys(octx))
    if not keys:
        return []
    binding = _match(keys, "partial_key_hint", finding, octx.secret(finding))
    candidates = []
    for key in binding.matched:
        creator = key.get("created_by") or {}
        user = await _anthropic_lookup(octx, "users", creator["id"]) \
            if creator.get("id") and creator.get("type", "user") == "user" else {}
        workspace_id = key.get("workspace_id")
        workspace = await _anthropic_lookup(octx, "workspaces", workspace_id) if workspace_id else {}
        team = workspace.get("name") or (workspace_id or "Default workspace")
        who = user.get("email") or user.get("name") or f"{creator.get('type') or 'actor'} {creator.get('id')}"
        evidence = (f"Anthropic Admin API: key {key.get('id')} '{key.get('name') or ''}' hint "
                    f"{clip_hint(key.get('partial_key_hint'), redaction_prefix(finding.redacted))}, status "
                    f"{key.get('status')}, created by {who} in {team}"
                    + _qualifier(binding))
        candidates.append(Candidate(
            name=user.get("name") or user.get("email") or (f"{creator.get('type')} {creator.get('id')}"
                                                            if creator.get("id") else None),
            team=team, purpose=key.get("name") or None, source="anthropic-admin",
            confidence=_confidence(0.9 if user else 0.7, binding), evidence=evidence,
            contact=user.get("email"), key_id=binding.key_id,
            details={"api_key_id": key.get("id"), "workspace_id": workspace_id, "status": key.get("status"),
                     "created_by": creator, "created_at": key.get("created_at")}))
    return candidates
