"""GCP service-account JSON keys.

The finding's secret is the private key, canonicalised as in `private_key.canonical_pem`: its
SHA-256 is the same whether the JSON is pretty-printed or minified, escaped inside another JSON
string, base64-encoded in a Kubernetes Secret or CI variable, or saved as a bare PEM file. The
key's identifier `private_key_id` (40 hex; Google publishes it in the account's public certificate
list) is the finding's `key_id`, and `client_email` / `project_id` go to its metadata: with them a
responder can disable the key (`projects/-/serviceAccounts/EMAIL/keys/KEY_ID:disable`) without
reading the secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from keysweep.clock import parse_utc
from keysweep.errors import TransportError
from keysweep.providers import private_key
from keysweep.providers.base import Endpoint, Provider, Replacement
from keysweep.providers.candidate import Candidate, Enriched
from keysweep.providers.google import google_status_error
from keysweep.verify.http_verifier import DeadAnswer
from keysweep.verify.model import Verification
from keysweep.verify.reach import Reach, access_of, fetch, unseen

if TYPE_CHECKING:
    from keysweep.http import Response

CONTEXT = 3000  # bytes either side of the private key searched for the other fields
_Q = rb'\\{0,3}"'  # a JSON quote, possibly escaped once or twice (JSON inside JSON)


def _field(name: bytes, value: bytes) -> re.Pattern:
    return re.compile(_Q + name + _Q + rb"\s{0,3}:\s{0,3}" + _Q + b"(?P<value>" + value + b")" + _Q)


_TYPE = _field(b"type", b"service_account")
_KEY_ID = _field(b"private_key_id", rb"[0-9a-f]{40}")
_EMAIL = _field(b"client_email", rb"[A-Za-z0-9._%+-]{1,100}@[A-Za-z0-9.-]{1,100}\.gserviceaccount\.com")
_PROJECT = _field(b"project_id", rb"[a-z][a-z0-9.:-]{3,60}")


def _nearest(pattern: re.Pattern, window: bytes, anchor: int) -> str | None:
    best = None
    for found in pattern.finditer(window):
        distance = abs(found.start() - anchor)
        if best is None or distance < best[0]:
            best = (distance, found["value"].decode("ascii"))
    return best[1] if best else None


def service_account(candidate: Candidate) -> Enriched | None:
    """The canonical key plus the account's identifiers; None when the JSON is no service-account
    key (a PEM in some other JSON is left to the private-key rule)."""
    parsed = private_key.parse(candidate.secret)
    if parsed is None:
        return None
    low = max(0, candidate.start - CONTEXT)
    window = candidate.content[low: candidate.end + CONTEXT]
    anchor = candidate.start - low
    email = _nearest(_EMAIL, window, anchor)
    if _TYPE.search(window) is None and email is None:
        return None
    key_id = _nearest(_KEY_ID, window, anchor)
    metadata = {name: value for name, value in (
        ("client_email", email), ("private_key_id", key_id), ("project_id", _nearest(_PROJECT, window, anchor)),
    ) if value}
    label, data = parsed
    return Enriched(secret=private_key.canonical_pem(label, data), key_id=key_id, metadata=metadata)


CHECKS: dict = {}
ENRICHERS = {"gcp_service_account": service_account}

# The IAM REST API, where service-account keys are disabled and deleted (revokers/gcp.py). Set by
# the provider's own base-URL setting (KEYSWEEP_GCP_BASE_URL, or `[providers.gcp] base_url`); its
# default is not the record's `base_url`, which would also give the host a request rate in runs
# that never call it.
IAM = Endpoint("KEYSWEEP_GCP_BASE_URL", "https://iam.googleapis.com")


def iam_url(settings) -> str:
    """The environment, then keysweep.toml, then Google's IAM API."""
    return settings.base_url("gcp") or IAM.default


# The Cloud Resource Manager API, where a project's IAM policy is read (reach). Its own endpoint
# setting, as the API Keys and Secret Manager APIs have theirs.
RESOURCE_MANAGER = Endpoint("KEYSWEEP_GCP_RESOURCEMANAGER_BASE_URL", "https://cloudresourcemanager.googleapis.com")
ADMIN_KEY_ENV = "KEYSWEEP_GCP_ADMIN_KEY"


def key_url(base: str, project: str, email: str, key_id: str) -> str:
    """keys.get (and, with `:disable`, keys.disable) of one service-account key."""
    return f"{base}/v1/projects/{quote(project, safe='')}/serviceAccounts/{quote(email, safe='@')}/keys/{key_id}"


def _account(credential, identity: dict[str, Any] | None = None) -> tuple[str | None, str | None]:
    """(client_email, project_id) of a key: what the finding learned from its key file, else its
    verification's identity. The project is the account's own (its email names it)."""
    for facts in (getattr(credential, "facts", None) or {}, identity or {}):
        email = facts.get("client_email") if isinstance(facts, dict) else None
        if isinstance(email, str) and _EMAIL_ONLY.fullmatch(email):
            project = facts.get("project_id")
            if not (isinstance(project, str) and _PROJECT_ONLY.fullmatch(project)):
                project = email.split("@", 1)[1].split(".", 1)[0]
            return email, project
    return None, None


_EMAIL_ONLY = re.compile(r"[A-Za-z0-9._%+-]{1,100}@[A-Za-z0-9.-]{1,100}\.gserviceaccount\.com")
_PROJECT_ONLY = re.compile(r"[a-z][a-z0-9.:-]{3,60}")
_KEYS_GET = "https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts.keys/get"
# keys.get returns the key's public half only when asked (the default, TYPE_NONE, returns none).
WITH_PUBLIC_KEY = "?publicKeyType=TYPE_X509_PEM_FILE"


def holds_public_half(private_pem: str, public_key_data: Any) -> bool:
    """Whether IAM's key (keys.get's `publicKeyData`: a base64-encoded X.509 PEM certificate) is the
    public half of the leaked private key: the proof that the `private_key_id` written next to the
    key is this key's id, not another key's (a key file can be edited). False when unreadable."""
    from cryptography import x509  # noqa: PLC0415  (only GCP checks load it)
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    if not isinstance(public_key_data, str) or not public_key_data:
        return False
    try:
        certificate = x509.load_pem_x509_certificate(base64.b64decode(public_key_data, validate=True))
        # Only the public numbers are read: a key is compared, never used to sign.
        private = serialization.load_pem_private_key(private_pem.encode(), None, unsafe_skip_rsa_key_validation=True)
        return private.public_key().public_numbers() == certificate.public_key().public_numbers()
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        return False


# -- liveness: the key as IAM holds it, read with keysweep's own token ------------------------
class ServiceAccountKeyVerifier:
    """`GET {iam}/v1/projects/{project}/serviceAccounts/{email}/keys/{private_key_id}` with keysweep's
    own OAuth access token (KEYSWEEP_GCP_ADMIN_KEY): never the leaked key. Live: IAM holds the key,
    enabled and not past its `validBeforeTime`. Dead only on Google's word: NOT_FOUND under the
    account's own project (deleted, or its account deleted), `"disabled": true`, or an expiry
    passed. Anything else (no token, 401/403, a proxy's page) is unknown."""

    name = "gcp"
    providers = ("gcp",)
    method, path = "GET", "/v1/projects/{project}/serviceAccounts/{email}/keys/{private_key_id}"
    dead = (
        DeadAnswer(404, {"error": {"status": "NOT_FOUND"}}, "key deleted",
                   example={"error": {"code": 404, "message": "Service account key 0123abcd… does not exist.",
                                      "status": "NOT_FOUND"}}, source=_KEYS_GET),
        DeadAnswer(200, {"disabled": True}, "disabled",
                   example={"name": "projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com/keys/0123abcd",
                            "keyType": "USER_MANAGED", "disabled": True}, source=_KEYS_GET),
    )

    async def verify(self, credential, ctx) -> Verification:
        key_id = credential.key_id
        email, project = _account(credential)
        if not key_id or not re.fullmatch(r"[0-9a-f]{40}", key_id):
            return Verification("unknown", {}, "no private_key_id next to the key: IAM cannot be asked about it")
        if not email:
            return Verification("unknown", {"key_id": key_id}, "the service account (client_email) is not known")
        identity = {"key_id": key_id, "client_email": email, "project_id": project}
        token = ctx.settings.admin_key("gcp")
        if not token:
            return Verification("unknown", identity, f"the key is checked in IAM with keysweep's own token: "
                                                     f"{ADMIN_KEY_ENV} is not set")
        url = key_url(iam_url(ctx.settings), project, email, key_id)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await ctx.http.request("GET", url + WITH_PUBLIC_KEY, headers=headers)
        except TransportError as exc:
            return Verification("unknown", identity, f"no answer from IAM ({type(exc).__name__})")
        body = response.json()
        # IAM's own key resource: named for this key id (a bare `{"disabled": true}` is nobody's word).
        own = isinstance(body, dict) and str(body.get("name") or "").endswith(key_id)
        if response.status == 200 and own and not holds_public_half(credential.secret, body.get("publicKeyData")):
            # Disabled or not, IAM's key under this id is another key (or its public half was not
            # given): nothing it says is about the leaked key.
            return Verification("unknown", identity, "IAM's key under this private_key_id is not the leaked "
                                                     "key's public half: the id next to it is not proven to be its own")
        for answer in self.dead:
            if answer.matches(response.status, body) and (own if response.status == 200
                                                          else google_status_error(response.status, body)):
                elsewhere = _held_elsewhere(await find_public_half(credential.secret, url.rsplit("/", 1)[0], headers,
                                                                   ctx)) if response.status == 404 else None
                if elsewhere:
                    return Verification("unknown", identity, elsewhere)
                return Verification("dead", {**identity, "dead_reason": answer.reason if response.status == 200
                                             else f"HTTP {response.status} {answer.reason}"}, None)
        if response.status != 200 or not own:
            error = google_status_error(response.status, body)
            return Verification("unknown", identity, f"IAM answered HTTP {response.status}"
                                + (f" {error['status']}" if error else " (not Google's error body)"))
        expires = body.get("validBeforeTime")
        facts = {"key_type": body.get("keyType"), "valid_after": body.get("validAfterTime"), "valid_before": expires}
        identity.update({k: v for k, v in facts.items() if v})
        try:
            expired = bool(expires) and parse_utc(str(expires)) <= datetime.now(timezone.utc)
        except ValueError:
            expired = False
        if expired:  # Google refuses a key past its validBeforeTime (an org's key expiry policy)
            return Verification("dead", {**identity, "dead_reason": "expired (validBeforeTime passed)"}, None)
        return Verification("live", identity, None)


@dataclass(frozen=True)
class PublicHalfSearch:
    """Where among the account's keys IAM holds the leaked key's public half (keys.list, then each
    key's keys.get), since the id written next to a key can be another's. `key_id`: the id it is
    held under; None when no key of the account holds it (none when the account itself is gone).
    `calls`: each GET in order, with IAM's answer or the transport error. `stopped`: the last call's
    answer was not IAM's documented one, so nothing is proven (and `key_id` is None)."""

    key_id: str | None
    calls: tuple[tuple[str, "Response | TransportError"], ...]
    stopped: bool = False


async def find_public_half(private_pem: str, keys_url: str, headers: dict[str, str], ctx) -> PublicHalfSearch:
    """Search the account's keys (`keys_url`: `…/serviceAccounts/{email}/keys`) for the public half of
    `private_pem`. Google's own NOT_FOUND for the listing is the account deleted, and every key with
    it; for one key, that key deleted since it was listed (it holds nothing). An account without
    keys lists as `{}` (Google's JSON omits an empty repeated field)."""
    calls: list[tuple[str, Response | TransportError]] = []

    async def read(url: str) -> dict[str, Any] | None | bool:
        """IAM's JSON object at `url`; None for Google's own 404; False when the search must stop."""
        try:
            response = await ctx.http.request("GET", url, headers=headers)
        except TransportError as exc:
            calls.append((url, exc))
            return False
        calls.append((url, response))
        body = response.json()
        if response.status == 404 and google_status_error(404, body):
            return None
        return body if response.status == 200 and isinstance(body, dict) else False

    def ended(key_id: str | None = None, stopped: bool = False) -> PublicHalfSearch:
        return PublicHalfSearch(key_id, tuple(calls), stopped)

    listing = await read(keys_url)
    # keys.list answers ListServiceAccountKeysResponse, whose one field is `keys`: anything else in a
    # 200 (a gateway's `{"active": false}`) is not Google's listing, and proves no key gone.
    if listing is False or (listing is not None and set(listing) - {"keys"}):
        return ended(stopped=True)
    keys = (listing or {}).get("keys") or []
    if not isinstance(keys, list):
        return ended(stopped=True)
    base = iam_url(ctx.settings)
    for key in keys:
        name = str(key.get("name") or "") if isinstance(key, dict) else ""
        if not name.startswith("projects/"):
            continue
        held = await read(f"{base}/v1/{name}{WITH_PUBLIC_KEY}")
        if held is False or (held is not None and held.get("name") != name):
            return ended(stopped=True)  # not that key's resource (a gateway's stub): its half is unread
        if held is not None and holds_public_half(private_pem, held.get("publicKeyData")):
            return ended(name.rsplit("/", 1)[-1])
    return ended()


def _held_elsewhere(search: PublicHalfSearch) -> str | None:
    """Why a NOT_FOUND for the file's key id does not prove the leaked key dead, or None when it does."""
    if search.key_id:
        return f"the leaked key is held under another id ({search.key_id}) than the one next to it in the key file"
    if not search.stopped:
        return None
    url, answer = search.calls[-1]
    if isinstance(answer, TransportError):
        return f"IAM has no key under this id; the account's keys could not be read ({type(answer).__name__})"
    if len(search.calls) == 1:
        return f"IAM has no key under this id, but the account's keys could not be listed (HTTP {answer.status})"
    return f"IAM has no key under this id, and key {url.split('?', 1)[0].rsplit('/', 1)[-1]} could not be read"


VERIFIER = ServiceAccountKeyVerifier()


# -- reach: the roles bound to the account on its project and above it -----------------------
# Roles that give control over the project or its identities: admin-equivalent. Owner and Editor,
# every *Admin role, and the roles that let a principal act as, or mint tokens for, any service
# account (and so take its roles).
BASIC_ADMIN = ("roles/owner", "roles/editor")
IMPERSONATION = ("roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountUser",
                 "roles/iam.workloadIdentityUser", "roles/iam.serviceAccountKeyAdmin")
READ_WORDS = ("viewer", "reader", "browser", "accessor", "lister", "getter")


def role_flagged(role: str) -> bool:
    name = role.rsplit("/", 1)[-1]
    return role in BASIC_ADMIN or role in IMPERSONATION or (role.startswith("roles/") and name.lower().endswith("admin"))


def role_level(role: str) -> str | None:
    """read / write for a predefined role by its name; None for a custom role (its permissions unread)."""
    if not role.startswith("roles/"):
        return None
    name = role.rsplit("/", 1)[-1].lower()
    if role == "roles/viewer" or any(name.endswith(word) for word in READ_WORDS):
        return "read"
    return "write"


# Where the policy of each kind of ancestor is read: folders in Cloud Resource Manager v3, the
# organization in v1 (both `POST {base}/{version}/{name}:getIamPolicy`).
ANCESTOR_POLICY = {"folder": ("v3", "folders"), "organization": ("v1", "organizations")}
_VERSION_OF = {plural: version for version, plural in ANCESTOR_POLICY.values()}
POLICY_VERSION_3 = {"options": {"requestedPolicyVersion": 3}}  # else conditional bindings are hidden
# Ancestors: the folders and organization above a project, nearest first, each with its IAM policy or
# why it could not be read (`roles granted on … not read: …`).
Above = list[tuple[str, "dict[str, Any] | str"]]


def _bound(member: str, where: str, policy: dict[str, Any], *, here: bool) -> tuple[list[str], list[str], list[str]]:
    """(roles, conditional bindings, custom roles) bound to `member` in one policy; the last two
    name where the role was granted unless it is the project itself (`here`)."""
    roles: list[str] = []
    conditional: list[str] = []
    custom: list[str] = []
    suffix = "" if here else f" on {where}"
    for binding in policy.get("bindings") or []:
        if not isinstance(binding, dict) or not isinstance(binding.get("role"), str):
            continue
        if member not in [str(m).lower() for m in binding.get("members") or []]:
            continue
        role = binding["role"]
        roles.append(role)
        if binding.get("condition"):
            title = (binding["condition"] or {}).get("title") if isinstance(binding["condition"], dict) else None
            conditional.append(f"{role}{suffix} ({title})" if title else f"{role}{suffix}")
        if role_level(role) is None:
            custom.append(f"{role}{suffix}")
    return roles, conditional, custom


def gcp_reach(email: str, project: str, policy: dict[str, Any], above: Above | str | None = None) -> Reach:
    """What the account can do, from its project's IAM policy and the policies above it (pure).

    `above`: the project's folders and organization, nearest first, each `(name, its policy or why
    it was not read)`; a string when the ancestry itself could not be read (why); None when it was
    not asked. A role granted on an ancestor holds on the project too: it is part of the reach, its
    ancestor is among `resources`, and `details.granted_on` says where each role was granted."""
    member = f"serviceAccount:{email}".lower()
    here = f"projects/{project}"
    granted_on: dict[str, list[str]] = {}
    conditional: list[str] = []
    custom: list[str] = []
    unread: list[str] = []
    calls = [f"v1 {here}:getIamPolicy"]
    read = [(here, policy)]
    if isinstance(above, list):
        calls.append(f"v1 {here}:getAncestry")
        for name, answer in above:
            if isinstance(answer, dict):
                read.append((name, answer))
                calls.append(f"{_VERSION_OF[name.split('/', 1)[0]]} {name}:getIamPolicy")
            else:
                unread.append(f"roles granted on {name} not read: {answer}")
    for name, document in read:
        roles, conditions, customs = _bound(member, name, document, here=name == here)
        granted_on[name] = roles
        conditional += conditions
        custom += customs
    roles = [role for held in granted_on.values() for role in held]
    flagged = tuple(role for role in roles if role_flagged(role))
    if isinstance(above, list):
        unknown = ["roles granted on other projects or single resources, and through groups, are not read", *unread]
    else:
        unknown = ["roles granted on folders, the organization, other projects or single resources, and through "
                   "groups, are not read (only this project's policy)"]
        if isinstance(above, str):
            unknown.append(f"the project's folders and organization not read: {above}")
    if conditional:
        unknown.append(f"conditional bindings (apply only when their condition holds): {', '.join(conditional)}")
    if custom:
        unknown.append(f"custom roles (their permissions not read): {', '.join(custom)}")
    resources = (here, *(name for name, held in granted_on.items() if held and name != here))
    details: dict[str, Any] = {"project": project, "roles": len(roles),
                               "policy_bindings": len(policy.get("bindings") or [])}
    if isinstance(above, list):
        details["granted_on"] = granted_on
    return Reach(identity=email, permissions=tuple(roles), resources=resources, flagged=flagged,
                 access=access_of(flagged, (role_level(r) for r in roles)),
                 evidence=f"cloudresourcemanager {', '.join(calls)} (keysweep's own token)",
                 unknown=tuple(unknown), details=details)


def ancestors_of(body: Any, project: str) -> list[tuple[str, str]] | None:
    """The (kind, id) of each folder and the organization above `project`, nearest first, from
    getAncestry's documented answer (`{"ancestor": [{"resourceId": {"type", "id"}}, …]}`: the
    project itself first, then its parent, …, the organization last); None for any other body."""
    ancestors = body.get("ancestor") if isinstance(body, dict) else None
    if not isinstance(ancestors, list) or not ancestors:
        return None
    ids = [a.get("resourceId") if isinstance(a, dict) else None for a in ancestors]
    if not all(isinstance(i, dict) for i in ids) or (ids[0].get("type"), ids[0].get("id")) != ("project", project):
        return None
    above = [(i.get("type"), i.get("id")) for i in ids[1:]]
    for position, (kind, number) in enumerate(above):
        last = position == len(above) - 1
        if kind not in ANCESTOR_POLICY or not (isinstance(number, str) and re.fullmatch(r"[0-9]{1,32}", number)) \
                or (kind == "organization" and not last):
            return None
    return above


def _is_policy(body: Any) -> bool:
    """A Policy as getIamPolicy answers it (an empty policy omits `bindings`)."""
    return isinstance(body, dict) and isinstance(body.get("bindings", []), list)


def _unread(answer) -> str:
    """Why an answer is not what was asked for: Google's own error by its status, or what else came."""
    if answer.status == 0:
        return "no answer"
    if answer.status == 200:
        return "HTTP 200 with a body that is not the documented shape"
    error = google_status_error(answer.status, answer.body)
    return f"HTTP {answer.status} " + (error["status"] if error else "(not Google's error body)")


async def _read_above(ctx, base: str, headers: dict[str, str], project: str) -> Above | str:
    """The project's ancestors and each one's policy (`gcp_reach`'s `above`), or why the ancestry
    could not be read."""
    answer = await fetch(ctx, f"{base}/v1/projects/{quote(project, safe='')}:getAncestry", headers,
                         method="POST", json_body={})
    ancestry = ancestors_of(answer.body, project) if answer.status == 200 else None
    if ancestry is None:
        return f"getAncestry {_unread(answer)}"
    above: Above = []
    for kind, number in ancestry:
        version, plural = ANCESTOR_POLICY[kind]
        name = f"{plural}/{number}"
        policy = await fetch(ctx, f"{base}/{version}/{name}:getIamPolicy", headers, method="POST",
                             json_body=POLICY_VERSION_3)
        above.append((name, policy.body if policy.status == 200 and _is_policy(policy.body) else _unread(policy)))
    return above


async def read_reach(credential, ctx, identity) -> Reach:
    """The roles bound to the key's service account on its project and on the folders and
    organization above it, read with keysweep's own token, never the key: `POST {resourcemanager}/
    v1/projects/{project}:getIamPolicy`, then `v1/projects/{project}:getAncestry` and each
    ancestor's getIamPolicy (folders v3, the organization v1), all at requestedPolicyVersion 3."""
    email, project = _account(credential, identity)
    if not email:
        return unseen("roles: the service account (client_email) is not known")
    token = ctx.settings.admin_key("gcp")
    if not token:
        return unseen(f"roles: read with keysweep's own token, and {ADMIN_KEY_ENV} is not set", email)
    base = RESOURCE_MANAGER.url(ctx.settings.env)
    headers = {"Authorization": f"Bearer {token}"}
    answer = await fetch(ctx, f"{base}/v1/projects/{quote(project, safe='')}:getIamPolicy", headers, method="POST",
                         json_body=POLICY_VERSION_3)
    if answer.status != 200 or not _is_policy(answer.body):
        return unseen(f"roles: getIamPolicy on projects/{project}: {_unread(answer)}", email)
    return gcp_reach(email, project, answer.body, await _read_above(ctx, base, headers, project))


PROVIDER = Provider(
    "gcp", "Google Cloud (service accounts)",
    endpoints={"iam": IAM, "resourcemanager": RESOURCE_MANAGER},
    checks=CHECKS, enrichers=ENRICHERS, verifier=VERIFIER,
    revokers={"gcp": "keysweep.revokers.gcp:GcpServiceAccountKeyRevoker"},
    # What a live key can do (docs/output.md, `reach`): the roles bound to its account on its project
    # and on the folders and organization above it.
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "workload-identity-federation",
        "Stop using service-account key files. Workloads outside Google Cloud (GitHub Actions, GitLab CI, AWS, "
        "Azure, Kubernetes) use Workload Identity Federation: they exchange their own identity token for a "
        "short-lived access token that impersonates the service account. Workloads on Google Cloud use the service "
        "account attached to them. Then delete the key and enforce the iam.disableServiceAccountKeyCreation "
        "organization policy.",
        "https://cloud.google.com/iam/docs/workload-identity-federation"),
)
