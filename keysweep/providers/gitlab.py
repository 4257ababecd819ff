"""GitLab routable tokens: `glpat-<payload>.01.<2-char length><7-char CRC32 in base36>`."""

import zlib

from keysweep.providers.base import Provider, Replacement
from keysweep.providers.base62 import BASE36, encode
from keysweep.verify.http_verifier import ANY_TEXT, DeadAnswer, HttpVerifier, NoFreeCheck, base_url, pick
from keysweep.verify.reach import Reach, access_of, unseen

CRC_LEN = 7


def valid_routable_token(token: str) -> bool:
    """CRC32 over everything before the last 7 characters, lowercase base36, 7 wide."""
    if len(token) <= CRC_LEN or not token.isascii():
        return False
    signed, checksum = token[:-CRC_LEN], token[-CRC_LEN:]
    return encode(zlib.crc32(signed.encode("ascii")), BASE36, CRC_LEN) == checksum


CHECKS = {"gitlab_routable_crc32": valid_routable_token}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

_PAT_DOCS = "https://docs.gitlab.com/api/personal_access_tokens/#get-single-personal-access-token"
# GitLab's answer to a token it does not accept, and its own record of a revoked or expired one: the
# token's record (its name and scopes with the flag), not a bare `{"active": false}`, which is also
# what an OAuth gateway's token introspection (RFC 7662) answers for a token it does not know.
_RECORD = {"name": ANY_TEXT, "scopes": [ANY_TEXT]}
UNAUTHORIZED = DeadAnswer(401, {"message": "401 Unauthorized"}, "401 Unauthorized",
                          example={"message": "401 Unauthorized"},
                          source="https://docs.gitlab.com/api/rest/troubleshooting/")
REVOKED = DeadAnswer(200, {**_RECORD, "revoked": True}, "revoked",
                     example={"id": 42, "name": "deploy", "revoked": True, "active": False, "scopes": ["api"],
                              "user_id": 7, "created_at": "2025-01-01T00:00:00.000Z", "expires_at": None},
                     source=_PAT_DOCS)
INACTIVE = DeadAnswer(200, {**_RECORD, "active": False}, "inactive (expired)",
                      example={"id": 42, "name": "deploy", "revoked": False, "active": False, "scopes": ["api"],
                               "user_id": 7, "created_at": "2025-01-01T00:00:00.000Z", "expires_at": "2025-06-01"},
                      source=_PAT_DOCS)


def _token_headers(token: str) -> dict[str, str]:
    return {"PRIVATE-TOKEN": token}


def _self(body, response):
    if not isinstance(body, dict) or body.get("id") is None or "scopes" not in body:
        return None
    identity = pick(body, "name", "scopes", "user_id", "expires_at", "last_used_at", "created_at")
    identity["key_id"] = str(body["id"])
    return identity


async def _user(credential, ctx, identity):
    response = await ctx.http.request("GET", f"{base_url(ctx, credential, ('gitlab',))}/api/v4/user",
                                      headers=_token_headers(credential.secret), retry=False)
    body = response.json()
    if response.status != 200 or not isinstance(body, dict) or not body.get("username"):
        return None
    extra = pick(body, "username", "email")
    extra["owner"] = body["username"]
    if body.get("is_admin") is True:  # present only for an administrator's own token
        extra["is_admin"] = True
    return extra


_PAT = HttpVerifier("gitlab", ("gitlab",), "/api/v4/personal_access_tokens/self", live=_self,
                    dead=(UNAUTHORIZED, REVOKED, INACTIVE), auth=_token_headers, enrich=_user)
_OTHER = NoFreeCheck("gitlab", ("gitlab",),
                     "no read-only check for this GitLab token type (only personal, project and group access tokens)")


class GitLabVerifier:
    """`GET /api/v4/personal_access_tokens/self` (then `/api/v4/user`): personal/project/group tokens."""

    name = "gitlab"
    providers = ("gitlab",)
    checks = (_PAT, _OTHER)

    async def verify(self, credential, ctx):
        verifier = _PAT if credential.secret.startswith("glpat-") else _OTHER
        return await verifier.verify(credential, ctx)


VERIFIER = GitLabVerifier()


# -- reach (what a live token can do; keysweep/verify/reach.py) -----------------------------

# Scopes that act as another user or as an instance administrator.
FLAGGED_SCOPES = frozenset({"sudo", "admin_mode"})
READ_SCOPES = frozenset({"openid", "profile", "email"})


def scope_access(scope: str) -> str:
    """`read_*` scopes (and the OpenID ones) only read; `api`, `write_*` and any other scope count as write."""
    return "read" if scope.startswith("read_") or scope in READ_SCOPES else "write"


def gitlab_reach(identity: dict) -> Reach:
    """Reach of a token from `personal_access_tokens/self` (its scopes) and `/user` (its user and
    whether that user administers the instance: then `api` is instance-wide and flagged)."""
    who = identity.get("username") or (f"user {identity['user_id']}" if identity.get("user_id") else None)
    scopes = identity.get("scopes")
    if not isinstance(scopes, list):
        return unseen("permissions: personal_access_tokens/self named no scopes", who)
    admin = identity.get("is_admin") is True
    flagged = tuple(s for s in scopes if s in FLAGGED_SCOPES or (admin and s == "api"))
    notes = () if "username" in identity else ("role: GET /api/v4/user did not answer",)
    return Reach(identity=who, permissions=tuple(scopes), resources=("instance (administrator)",) if admin else (),
                 flagged=flagged, access=access_of(flagged, [scope_access(s) for s in scopes] or ["read"]),
                 evidence="GET /api/v4/personal_access_tokens/self scopes, GET /api/v4/user",
                 unknown=notes, details={"role": "administrator" if admin else "user"} if not notes else {})


async def read_reach(credential, ctx, identity) -> Reach:
    """No further call: the verification read the token's scopes and its user."""
    return gitlab_reach(identity)


PROVIDER = Provider(
    "gitlab", "GitLab",
    base_url="https://gitlab.com",
    base_url_env="GITLAB_URL",
    admin_key_env="GITLAB_TOKEN",
    console_url="https://gitlab.com/-/user_settings/personal_access_tokens",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"gitlab.pat", "gitlab.pat-routable"}),
    checks=CHECKS, verifier=VERIFIER,
    revokers={"gitlab": "keysweep.revokers.gitlab:GitLabRevoker"},
    # What a live token can do (docs/output.md, `reach`).
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "ci-job-token",
        "In GitLab CI/CD, use the job's CI_JOB_TOKEN, valid only while the job runs and limited by the target "
        "project's allowlist, instead of a personal, project or deploy token; to reach a cloud provider or HashiCorp "
        "Vault, request an OpenID Connect ID token with id_tokens: and exchange it for that service's short-lived "
        "credentials. Outside CI, use a project or group access token with the fewest scopes and an expiry date.",
        "https://docs.gitlab.com/ci/jobs/ci_job_token/"),
)
