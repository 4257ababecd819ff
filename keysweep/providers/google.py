"""Google API keys (`AIza…`, and the `AQ.…` form), including Gemini keys.

- Liveness: `GET {KEYSWEEP_GOOGLE_BASE_URL}/v1beta/models` with the key in `x-goog-api-key`; dead only
  on 400 INVALID_ARGUMENT with reason API_KEY_INVALID / API_KEY_EXPIRED.
- Owner: the API Keys API (`KEYSWEEP_GCP_APIKEYS_BASE_URL`, its own endpoint) maps the full key
  string to its project and key name (`keys:lookupKey`), with the organisation's OAuth access token
  (`KEYSWEEP_GCP_ADMIN_KEY`); the key's display name is its purpose.
- Revocation: revokers/google.py deletes the key through the same API (a long-running operation).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from keysweep.http import TransportError
from keysweep.providers.admin_api import AdminApiError
from keysweep.providers.base import Endpoint, Inventory, InventoryAccess, OwnerFacts, Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.http import Response
    from keysweep.settings import Settings

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# A key that exists but may not call this API: proven valid, so live (with the reason).
_RESTRICTED = {"SERVICE_DISABLED", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED",
               "API_KEY_IP_ADDRESS_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED",
               "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
_INVALID = {"API_KEY_INVALID", "API_KEY_EXPIRED"}


def _reasons(body) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    return {d.get("reason") for d in error.get("details") or [] if isinstance(d, dict) and d.get("reason")}


def _models(body, response):
    if isinstance(body, dict) and isinstance(body.get("models"), list):
        return {"models": len(body["models"])}
    return None


def _invalid(reason: str) -> DeadAnswer:
    """400 INVALID_ARGUMENT with a google.rpc.ErrorInfo naming the key as invalid or expired."""
    return DeadAnswer(
        400, {"error": {"status": "INVALID_ARGUMENT", "details": [{"reason": reason}]}}, reason,
        example={"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                           "status": "INVALID_ARGUMENT",
                           "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                        "domain": "googleapis.com",
                                        "metadata": {"service": "generativelanguage.googleapis.com"}}]}},
        source="https://ai.google.dev/gemini-api/docs/troubleshooting")


INVALID_KEY = tuple(_invalid(reason) for reason in sorted(_INVALID))


def _restricted(status, body):
    if status != 403:
        return None
    reasons = _reasons(body) & _RESTRICTED
    return f"valid key, Gemini API refused: {sorted(reasons)[0]}" if reasons else None


# GET /v1beta/models with the key in a header (never in the URL): 200 live, 400 API_KEY_INVALID dead.
VERIFIER = HttpVerifier("google", ("google",), "/v1beta/models", live=_models,
                        auth=lambda key: {"x-goog-api-key": key}, dead=INVALID_KEY, restricted=_restricted)


# -- the API Keys API: which project and key a key string is ------------------------------
# Owners (lookup_key + owner_facts) and revokers/google.py (deletion) both bind a leaked key to its
# resource name through `keys:lookupKey`: Google maps the full key string, so the binding is exact
# by construction (the revoker sends the re-read value, whose SHA-256 is the finding's).
APIKEYS = Endpoint("KEYSWEEP_GCP_APIKEYS_BASE_URL", "https://apikeys.googleapis.com")
# An OAuth access token (Bearer) with apikeys.keys.lookup, and apikeys.keys.delete to revoke: the
# same credential GCP service-account keys use (`gcloud auth print-access-token`).
ADMIN_KEY_ENV = "KEYSWEEP_GCP_ADMIN_KEY"
API_KEY_RULES = frozenset({"google.api-key", "google.api-key-aq"})
CONSOLE_URL = "https://console.cloud.google.com/apis/credentials"
# A key's resource name, checked before it goes into a URL: projects/<number>/locations/global/keys/<uid>.
KEY_NAME = re.compile(r"projects/([A-Za-z0-9-]{1,64})/locations/([a-z0-9-]{1,32})/keys/([A-Za-z0-9-]{1,64})")
# What the owner evidence keeps of GET /v2/{name}; never `keyString` (Google returns it only from
# getKeyString, and it is the secret).
KEY_FIELDS = ("uid", "displayName", "createTime", "updateTime", "restrictions", "serviceAccountEmail")


def apikeys_url(settings: "Settings") -> str:
    return APIKEYS.url(settings.env)


def admin_token(settings: "Settings") -> str | None:
    """The OAuth access token for the API Keys API: this record's admin credential (KEYSWEEP_GCP_ADMIN_KEY,
    or the variable `[providers.google] admin_key_env` names)."""
    return settings.admin_key("google")


def google_error(response: "Response") -> dict[str, Any] | None:
    """Google's own error body (google.rpc.Status: `{"error": {"code": 404, "message": …, "status":
    "NOT_FOUND"}}`, its code the HTTP status); None for anything else, such as a proxy's HTML 401."""
    return google_status_error(response.status, response.json())


def google_status_error(status: int, body: Any) -> dict[str, Any] | None:
    """`google_error` of an answer already parsed (a reach reader's `Answer`): its status and JSON body."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code") == status and isinstance(error.get("status"), str):
        return error
    return None


def google_says(response: "Response", status: str) -> bool:
    error = google_error(response)
    return error is not None and error["status"] == status


def looked_up(body: Any) -> tuple[str, str | None] | None:
    """(parent, name) from lookupKey's documented answer `{"parent": "projects/…", "name":
    "projects/…/locations/global/keys/…"}`; name None when Google says the key was purged (it then
    sets no name); None when the body is not that answer."""
    if not isinstance(body, dict) or not isinstance(body.get("parent"), str) \
            or not body["parent"].startswith("projects/"):
        return None
    name = body.get("name") or None
    if name is None:
        return body["parent"], None
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name) or not name.startswith(body["parent"] + "/"):
        return None
    return body["parent"], name


def project_of(name: str) -> str | None:
    match = KEY_NAME.fullmatch(name or "")
    return match.group(1) if match else None


def failure_reason(response: "Response") -> str:
    """`HTTP 403 PERMISSION_DENIED`, or `HTTP 401 (not Google's error body)` for a proxy's answer."""
    error = google_error(response)
    return f"HTTP {response.status} {error['status']}" if error else f"HTTP {response.status} (not Google's error body)"


async def _get(ctx: "Context", url: str, token: str, params: dict[str, str] | None, what: str) -> "Response":
    try:
        return await ctx.http.request("GET", url, headers={"Authorization": f"Bearer {token}"}, params=params)
    except TransportError as exc:
        raise AdminApiError(f"{what}: no answer ({type(exc).__name__})") from None


async def lookup_key(value: str, ctx: "Context") -> dict[str, Any] | None:
    """The API Keys API's record of a key string: `GET /v2/keys:lookupKey?keyString=…` (→ project and
    key name), then `GET /v2/{name}` for its display name, restrictions and creation time. None when
    Google holds no such key (NOT_FOUND, or purged); AdminApiError when it cannot be asked."""
    token = admin_token(ctx.settings)
    if not token:
        raise AdminApiError(f"API Keys lookupKey: no credential ({ADMIN_KEY_ENV})")
    base = apikeys_url(ctx.settings)
    response = await _get(ctx, f"{base}/v2/keys:lookupKey", token, {"keyString": value}, "API Keys lookupKey")
    if google_says(response, "NOT_FOUND"):
        return None
    if response.status != 200:
        raise AdminApiError(f"API Keys lookupKey: {failure_reason(response)}")
    found = looked_up(response.json())
    if found is None:
        raise AdminApiError("API Keys lookupKey: HTTP 200 without the documented answer")
    parent, name = found
    if name is None:
        return None
    entry: dict[str, Any] = {"id": name, "name": name, "parent": parent}
    key = await _get(ctx, f"{base}/v2/{name}", token, None, f"API Keys get {name}")
    body = key.json()
    if key.status == 200 and isinstance(body, dict) and body.get("name") == name:
        entry.update({field_name: body[field_name] for field_name in KEY_FIELDS if field_name in body})
    else:  # the binding stands without the details; say why they are missing
        entry["get_error"] = failure_reason(key) if key.status != 200 else "HTTP 200 without the documented Key"
    return entry


def _api_targets(restrictions: Any) -> list[str]:
    targets = restrictions.get("apiTargets") if isinstance(restrictions, dict) else None
    return sorted({t["service"] for t in targets or [] if isinstance(t, dict) and isinstance(t.get("service"), str)})


def owner_facts(entry: dict[str, Any]) -> dict[str, Any]:
    """Owner facts of a looked-up key: the project (from its name) is the team, its display name the
    purpose. An API key has no creator in the API, so the owner is the project, not a person."""
    name = entry["name"]
    project = project_of(name)
    display = entry.get("displayName") or None
    targets = _api_targets(entry.get("restrictions"))
    reach = f"restricted to {', '.join(targets)}" if targets else "no API restriction"
    details = {"key_name": name, "project": project, "key_uid": entry.get("uid"), "created_at": entry.get("createTime"),
               "api_targets": targets, "service_account": entry.get("serviceAccountEmail")}
    evidence = (f"Google API Keys API: lookupKey maps the key to {name} (project {project})"
                + (f", display name '{display}', created {entry.get('createTime') or 'at an unknown time'}, {reach}"
                   if "get_error" not in entry else f"; its details could not be read ({entry['get_error']})"))
    return {"name": f"Google Cloud project {project}", "team": f"projects/{project}", "purpose": display,
            "contact": entry.get("serviceAccountEmail"), "confidence": 0.7, "details": details, "evidence": evidence}


async def _lookup(value: str, access: InventoryAccess) -> dict[str, Any] | None:
    return await lookup_key(value, access.ctx)


async def _owner(entry: dict[str, Any], finding: Any, access: InventoryAccess) -> OwnerFacts:
    return OwnerFacts(**owner_facts(entry))


# Owners (owners/inventories.py runs it for Google findings when the admin credential is set): the
# entry's `id` is the key's resource name, taken as the finding's key id (an exact binding).
INVENTORY = Inventory(source="google-admin", lookup=_lookup, owner=_owner)


PROVIDER = Provider(
    "google", "Google API keys (Gemini)",
    base_url="https://generativelanguage.googleapis.com",
    admin_key_env=ADMIN_KEY_ENV,
    endpoints={"apikeys": APIKEYS},
    console_url=CONSOLE_URL,
    checks=CHECKS, verifier=VERIFIER, inventory=INVENTORY,
    revokers={"google": "keysweep.revokers.google:GoogleApiKeyRevoker"},
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "restricted-api-key",
        "Restrict the key to the APIs it calls and to the clients allowed to use it (HTTP referrers, IP addresses, "
        "Android or iOS apps). Server-side workloads calling Gemini through Vertex AI authenticate with a service "
        "account's short-lived credentials (attached or federated) instead of an API key.",
        "https://cloud.google.com/api-keys/docs/add-restrictions-api-keys"),
)
