"""OpenAI keys carry the fixed marker `T3BlbkFJ` (base64 of "OpenAI") between two random halves."""

from keysweep.fingerprint import clip_hint, redaction_prefix
from keysweep.providers.admin_api import AdminApiError, ReachAccess, inventory_entry, iso, paginate
from keysweep.providers.base import Inventory, Listing, OwnerFacts, Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, base_url, bearer, header, model_list, pick
from keysweep.verify.reach import Reach

MARKER = "T3BlbkFJ"


def has_marker(key: str) -> bool:
    head, sep, tail = key.partition(MARKER)
    return bool(sep) and len(tail) >= 20 and len(head) >= 20


CHECKS = {"openai_marker": has_marker}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

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


# The organisation and project the key belongs to, as OpenAI reports them on every answer.
IDENTITY_HEADERS = (("openai-organization", "org"), ("openai-project", "project"))


def _models(body, response):
    """A model list (`{"object": "list", "data": [...]}`), with the key's organisation and project."""
    identity = model_list(body, response)
    if identity is not None:
        for name, key in IDENTITY_HEADERS:
            if header(response, name):
                identity[key] = header(response, name)
    return identity


_MODELS = HttpVerifier("openai", ("openai",), "/models", live=_models, dead=(INVALID_KEY,), restricted=_restricted,
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


# -- admin inventory (owners; network, with OPENAI_ADMIN_KEY) -------------------------------------
# Every project (`/organization/projects`) and its API keys (`/organization/projects/{id}/api_keys`),
# plus the admin keys; an entry shows its key as `redacted_value` → key id, owner (user or service
# account), project, last use.


# The listings, written once: owners and the revoker page them (providers/admin_api.py: list_pages).
PROJECTS = Listing("/organization/projects", {"limit": "100", "include_archived": "true"}, "after")
PROJECT_KEYS = Listing("/organization/projects/{project}/api_keys", {"limit": "100", "owner_project_access": "any"},
                       "after")
ADMIN_KEYS = Listing("/organization/admin_api_keys", {"limit": "100"}, "after")


async def _list_keys(access) -> list[dict]:
    settings = access.ctx.settings
    base = settings.base_url("openai")
    headers = {"Authorization": f"Bearer {settings.admin_key('openai')}", "Content-Type": "application/json"}
    projects = await paginate(access, base, PROJECTS, headers, "OpenAI Admin API projects")
    keys: list[dict] = []
    for project in projects:
        if not project.get("id"):
            continue
        project_keys = await paginate(access, base, PROJECT_KEYS, headers, f"OpenAI Admin API keys of {project['id']}",
                                      project=project["id"])
        for key in project_keys:
            keys.append({**key, "_project": {"id": project["id"], "name": project.get("name")}})
    try:
        admin_keys = await paginate(access, base, ADMIN_KEYS, headers, "OpenAI Admin API admin keys")
    except AdminApiError as exc:
        access.warn(str(exc))
        admin_keys = []
    keys.extend({**key, "_project": None} for key in admin_keys)
    return keys


def _hint(key: dict) -> str | None:
    return key.get("redacted_value")


async def _owner(key: dict, finding, access) -> OwnerFacts:
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
    last_used = iso(key.get("last_used_at"))
    # stored no longer than our own redacted form
    hint = clip_hint(key.get("redacted_value"), redaction_prefix(finding.redacted))
    evidence = (f"OpenAI Admin API: key {key.get('id')} '{key.get('name') or ''}' in {where}, redacted "
                f"{hint}, owned by {who}, last used {last_used or 'never'}")
    return OwnerFacts(
        name=name, team=project.get("name"), purpose=key.get("name") or None, evidence=evidence, contact=contact,
        confidence=0.9 if person else 0.7,
        details={"project_id": project.get("id"), "api_key_id": key.get("id"), "owner_type": kind,
                 "owner_id": person.get("id") or account.get("id"), "created_at": iso(key.get("created_at")),
                 "last_used_at": last_used, "redacted_value": hint})


INVENTORY = Inventory(source="openai-admin", list_keys=_list_keys, hint=_hint, owner=_owner)


# -- reach (what a live key can do; keysweep/verify/reach.py) -----------------------------------
# The Admin API's key object names the key's project and owner (a user or a service account, with
# the owner's project role) but not the key's own permissions (All, Restricted or Read only).
KEY_PERMISSIONS_UNSEEN = ("permissions: the Admin API's key object does not say whether the key's permissions are "
                          "All, Restricted or Read only")


def openai_reach(identity: dict, entry: dict | None, *, note: str | None = None) -> Reach:
    """Reach of a key from its verification (organisation, project headers; an Admin API key) and its
    admin inventory entry (project, owner, owner's role). An Admin API key administers the
    organisation (projects, members, every key): flagged."""
    org = identity.get("org")
    if identity.get("admin_key") is True:
        return Reach(identity=f"Admin API key of {org or 'the organisation'}", resources=(f"org:{org}",) if org else (),
                     flagged=("admin-api-key",), access="admin", evidence="GET /v1/organization/admin_api_keys",
                     unknown=("permissions: an Admin API key's own scopes are not listed",))
    resources = [f"org:{org}"] if org else []
    if entry is None:
        if identity.get("project"):
            resources.append(f"project:{identity['project']}")
        who = identity.get("user_email") or identity.get("owner")
        return Reach(identity=who, resources=tuple(resources), evidence="GET /v1/models (openai-organization, "
                     "openai-project headers)", unknown=(KEY_PERMISSIONS_UNSEEN, *((note,) if note else ())))
    owner = entry.get("owner") or {}
    kind = owner.get("type") or ("user" if owner.get("user") else "service_account" if owner.get("service_account")
                                 else None)
    person = owner.get("user") or owner.get("service_account") or {}
    role = person.get("role")
    name = person.get("email") or person.get("name") or person.get("id")
    who = f"{'service account' if kind == 'service_account' else 'user'} {name}" if name else kind
    project = entry.get("_project") or {}
    if project.get("id"):
        resources.append(f"project:{project['id']}" + (f" ({project['name']})" if project.get("name")
                                                        and project["name"] != project["id"] else ""))
    details = {k: v for k, v in {"owner_type": kind, "owner_role": role, "project_id": project.get("id"),
                                 "api_key_id": entry.get("id"), "owner_project_access": entry.get("owner_project_access"),
                                 "last_used_at": iso(entry.get("last_used_at"))}.items() if v is not None}
    return Reach(identity=who, resources=tuple(resources), evidence="OpenAI Admin API: project API keys (owner, role)",
                 unknown=(KEY_PERMISSIONS_UNSEEN,), details=details)


async def read_reach(credential, ctx, identity) -> Reach:
    """The key's entry in the admin inventory (with OPENAI_ADMIN_KEY; read once per run), bound by the
    one matcher. The leaked key itself makes no further call."""
    if identity.get("admin_key") is True:
        return openai_reach(identity, None)
    entry, note = await inventory_entry(ReachAccess(ctx), "openai", INVENTORY, credential.secret,
                                        PROVIDER.env_name_for_admin_key())
    return openai_reach(identity, entry, note=note)


PROVIDER = Provider(
    "openai", "OpenAI",
    base_url="https://api.openai.com/v1",
    base_url_env="OPENAI_BASE_URL",
    admin_key_env="OPENAI_ADMIN_KEY",
    console_url="https://platform.openai.com/api-keys",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"openai.legacy-key"}),
    checks=CHECKS, verifier=VERIFIER, inventory=INVENTORY,
    revokers={"openai": "keysweep.revokers.openai:OpenAIRevoker"},
    # What a live key can do (docs/output.md, `reach`).
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "project-service-account-key",
        "Replace a person's key with an API key of a project service account, so the workload has an identity of its "
        "own that outlives any member, one service account per application and environment. Restrict the key's "
        "permissions to the endpoints the service calls (Restricted, or Read Only) and give it an expiry where the "
        "organization's key policy allows.",
        "https://developers.openai.com/api/docs/guides/api-keys"),
)
