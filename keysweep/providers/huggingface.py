"""Hugging Face user (`hf_`) and org (`api_org_`) tokens."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick
from keysweep.verify.reach import Reach, access_of, unseen

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# The Hub's answer to a token it does not know (what huggingface_hub reports for a bad token).
INVALID_TOKEN = DeadAnswer(
    401, {"error": "Invalid credentials in Authorization header"}, "Invalid credentials",
    example={"error": "Invalid credentials in Authorization header"},
    source="https://huggingface.co/docs/hub/security-tokens")


def _entity(entity) -> str:
    """A fine-grained permission's resource as `type:name` (`org:acme`, `model:acme/bert`)."""
    entity = entity if isinstance(entity, dict) else {}
    return f"{entity.get('type') or '?'}:{entity.get('name') or '?'}"


def _whoami(body, response):
    if not isinstance(body, dict) or not (body.get("name") or body.get("type")):
        return None
    identity = pick(body, "type", "name", "fullname", "email")
    orgs = [org.get("name") for org in body.get("orgs") or [] if isinstance(org, dict) and org.get("name")]
    if orgs:
        identity["orgs"] = orgs
    token = ((body.get("auth") or {}).get("accessToken") or {})
    roles = {org["name"]: org["roleInOrg"] for org in body.get("orgs") or []
             if isinstance(org, dict) and isinstance(org.get("name"), str) and isinstance(org.get("roleInOrg"), str)}
    if roles:
        identity["org_roles"] = roles
    identity.update({f"token_{k}": v for k, v in pick(token, "displayName", "role").items()})
    fine = token.get("fineGrained")
    if isinstance(fine, dict):
        identity["token_fine_grained"] = {
            "global": [p for p in fine.get("global") or [] if isinstance(p, str)],
            "scoped": [{"entity": _entity(e.get("entity")),
                        "permissions": [p for p in e.get("permissions") or [] if isinstance(p, str)]}
                       for e in fine.get("scoped") or [] if isinstance(e, dict)]}
    identity["owner"] = body.get("email") or body.get("name")
    return identity


# GET /api/whoami-v2: who the token is, read-only.
VERIFIER = HttpVerifier("huggingface", ("huggingface",), "/api/whoami-v2", live=_whoami, dead=(INVALID_TOKEN,))


# -- reach (what a live token can do; keysweep/verify/reach.py) -----------------------------

def hf_reach(identity: dict) -> Reach:
    """Reach of a token from its whoami-v2 answer: its role (`read`, `write`, or `fineGrained` with
    its global and per-resource permissions) and the organisations of its user with their roles.
    A write token of an organisation's admin can administer that organisation: flagged."""
    who = identity.get("name")
    orgs = list(identity.get("orgs") or [])
    roles = identity.get("org_roles") or {}
    role = identity.get("token_role")
    resources = [f"org:{org}" for org in orgs]
    if role in ("read", "write"):
        flagged = tuple(f"org-admin:{org}" for org in orgs if role == "write" and roles.get(org) == "admin")
        return Reach(identity=who, permissions=(role,), resources=tuple(resources), flagged=flagged,
                     access=access_of(flagged, [role]), evidence="GET /api/whoami-v2 auth.accessToken.role",
                     details={"org_roles": roles} if roles else {})
    fine = identity.get("token_fine_grained")
    if role == "fineGrained" and isinstance(fine, dict):
        permissions = list(fine.get("global") or [])
        for scoped in fine.get("scoped") or []:
            permissions.extend(scoped.get("permissions") or [])
            resources.append(scoped.get("entity"))
        levels = ["write" if ("write" in p or "manage" in p) else "read" for p in permissions] or ["read"]
        return Reach(identity=who, permissions=tuple(["fineGrained", *permissions]), resources=tuple(resources),
                     access=access_of((), levels), evidence="GET /api/whoami-v2 auth.accessToken.fineGrained",
                     details={"org_roles": roles} if roles else {})
    return Reach(identity=who, resources=tuple(resources), evidence="GET /api/whoami-v2",
                 unknown=(f"permissions: token role {str(role)[:20]!r} is not one whoami-v2 documents"
                          if role else "permissions: whoami-v2 named no token role",))


async def read_reach(credential, ctx, identity) -> Reach:
    """No further call: whoami-v2's answer already named the token's role and organisations."""
    if not identity.get("name"):
        return unseen("identity: the verification recorded no account")
    return hf_reach(identity)


PROVIDER = Provider(
    "huggingface", "Hugging Face",
    base_url="https://huggingface.co",
    base_url_env="HF_ENDPOINT",
    console_url="https://huggingface.co/settings/tokens",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"huggingface.user-token"}),
    checks=CHECKS, verifier=VERIFIER,
    # What a live token can do (docs/output.md, `reach`).
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "fine-grained-token",
        "Replace a read, write or organization token with a fine-grained user access token limited to the "
        "repositories and organizations the workload touches and to the permissions it uses, one token per "
        "application, so a leak exposes only those resources.",
        "https://huggingface.co/docs/hub/security-tokens"),
)
