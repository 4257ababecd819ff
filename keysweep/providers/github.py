"""GitHub token structure: `gh?_` + 30 random characters + CRC32 of them in base62, 6 wide.

https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
"""

import zlib

from keysweep.providers.base import Provider, Replacement
from keysweep.providers.base62 import BASE62, encode
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, NoFreeCheck, base_url, bearer, header, pick
from keysweep.verify.reach import Reach, access_of, fetch, unseen

CHECKSUM_LEN = 6


def token_checksum(body: str) -> str:
    return encode(zlib.crc32(body.encode("ascii")), BASE62, CHECKSUM_LEN)


def valid_token(token: str) -> bool:
    """True when the token's last 6 characters are the checksum of the random part."""
    _, sep, rest = token.partition("_")
    if not sep or len(rest) <= CHECKSUM_LEN or not rest.isascii():
        return False
    body, checksum = rest[:-CHECKSUM_LEN], rest[-CHECKSUM_LEN:]
    return token_checksum(body) == checksum


CHECKS = {"github_crc32": valid_token}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# GitHub's answer to a token it does not accept (REST troubleshooting: 401 "Bad credentials").
BAD_CREDENTIALS = DeadAnswer(
    401, {"message": "Bad credentials"}, "Bad credentials",
    example={"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"},
    source="https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api")

API_VERSION = "2022-11-28"
# What every REST call sends (the verifier, the revoker, the forge sources and readers).
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}


def _user(body, response):
    if not isinstance(body, dict) or not body.get("login"):
        return None
    identity = pick(body, "login", "id", "type", "name", "email")
    identity["owner"] = body["login"]
    scopes = header(response, "X-OAuth-Scopes")
    if scopes is not None:
        identity["scopes"] = [s.strip() for s in scopes.split(",") if s.strip()]
    expires = header(response, "github-authentication-token-expiration")
    if expires:
        identity["expires_at"] = expires
    return identity


def _installation(body, response):
    if not isinstance(body, dict) or "total_count" not in body:
        return None
    repos = [r.get("full_name") for r in body.get("repositories") or [] if isinstance(r, dict)]
    return {"installation_repositories": body["total_count"], **({"sample_repository": repos[0]} if repos else {})}


_USER = HttpVerifier("github", ("github",), "/user", live=_user, dead=(BAD_CREDENTIALS,), headers=HEADERS)
# Installation tokens (ghs_) get 403 on /user; their read-only proof is their repository list.
_INSTALLATION = HttpVerifier("github", ("github",), "/installation/repositories", live=_installation,
                             dead=(BAD_CREDENTIALS,), headers=HEADERS, params={"per_page": "1"})
_REFRESH = NoFreeCheck("github", ("github",),
                       "a refresh token (ghr_) can only be exchanged for new tokens; no read-only check")


class GitHubVerifier:
    name = "github"
    providers = ("github",)
    checks = (_USER, _INSTALLATION, _REFRESH)

    async def verify(self, credential, ctx):
        if credential.secret.startswith("ghr_"):
            return await _REFRESH.verify(credential, ctx)
        if credential.secret.startswith("ghs_"):
            return await _INSTALLATION.verify(credential, ctx)
        return await _USER.verify(credential, ctx)


VERIFIER = GitHubVerifier()



# -- reach (what a live token can do; keysweep/verify/reach.py) -----------------------------

# Classic scopes that administer an organisation or enterprise, delete repositories or rewrite CI
# workflows (a workflow change runs code with the repository's secrets): flagged wherever they appear.
FLAGGED_SCOPES = frozenset({"admin:org", "admin:enterprise", "delete_repo", "workflow", "site_admin"})
REPO_PAGES = 5          # repositories read: at most 5 pages of 100
RESOURCES_SHOWN = 20    # writable repositories named in `resources` (all are counted)


def scope_access(scope: str) -> str:
    """A classic scope's access: "read" for the read-only ones (`read:org`, `read:user`, …), else
    "write" (an unknown scope counts as write, never as read)."""
    return "read" if scope.startswith("read:") or scope in ("user:email",) else "write"


def github_reach(login: str | None, scopes: list[str] | None, orgs: list[str] | None,
                 repos: list[dict] | None, *, more_repos: bool = False, unknown: tuple[str, ...] = ()) -> Reach:
    """Reach of a user token from what GitHub showed: its classic scopes (`X-OAuth-Scopes`; None
    for a fine-grained token, which has no such header), its organisations and the repositories
    it lists with their `permissions`."""
    notes = list(unknown)
    if scopes is None:
        notes.append("permissions: no X-OAuth-Scopes header (a fine-grained token's permissions are not listed)")
    writable = [r.get("full_name") for r in repos or [] if isinstance(r.get("permissions"), dict)
                and (r["permissions"].get("push") or r["permissions"].get("admin")) and r.get("full_name")]
    administered = [r.get("full_name") for r in repos or [] if isinstance(r.get("permissions"), dict)
                    and r["permissions"].get("admin") and r.get("full_name")]
    flagged = tuple(s for s in scopes or () if s in FLAGGED_SCOPES)
    if scopes is not None:
        access = access_of(flagged, [scope_access(s) for s in scopes] or ["read"])
    else:
        access = "write" if writable else None
    resources = [f"org:{org}" for org in orgs or []] + [f"repo:{name}" for name in writable[:RESOURCES_SHOWN]]
    details: dict = {}
    if repos is not None:
        key = "writable_repositories_at_least" if more_repos else "writable_repositories"
        details = {key: len(writable), "admin_repositories": len(administered), "repositories_listed": len(repos)}
    evidence = ", ".join(part for part in (
        "GET /user X-OAuth-Scopes" if scopes is not None else "GET /user (no scopes header)",
        "GET /user/orgs" if orgs is not None else "",
        "GET /user/repos permissions" if repos is not None else "") if part)
    return Reach(identity=login, permissions=tuple(scopes) if scopes is not None else None,
                 resources=tuple(resources) if orgs is not None or repos is not None else None,
                 flagged=flagged, access=access, evidence=evidence, unknown=tuple(notes), details=details)


async def read_reach(credential, ctx, identity) -> Reach:
    """Read-only: the scopes the verification saw, then `GET /user/orgs` and `GET /user/repos`
    (pages of 100, at most REPO_PAGES) with the token itself."""
    if "installation_repositories" in identity:
        return unseen("permissions: an installation token's permissions are its app's; not listed",
                      "GitHub App installation", repositories=identity["installation_repositories"])
    base = base_url(ctx, credential, ("github",))
    headers = {**bearer(credential.secret), **HEADERS}
    notes: list[str] = []
    orgs_answer = await fetch(ctx, f"{base}/user/orgs", headers, {"per_page": "100"})
    orgs = None
    if orgs_answer.ok and isinstance(orgs_answer.body, list):
        orgs = [o["login"] for o in orgs_answer.body if isinstance(o, dict) and isinstance(o.get("login"), str)]
    else:
        notes.append(orgs_answer.why("organisations (GET /user/orgs)"))
    repos: list[dict] | None = []
    more = False  # GitHub has more repositories than were read
    for page in range(1, REPO_PAGES + 1):
        answer = await fetch(ctx, f"{base}/user/repos", headers, {"per_page": "100", "page": str(page)})
        if not answer.ok or not isinstance(answer.body, list):
            notes.append(answer.why("repositories (GET /user/repos)"))
            repos, more = (None, False) if page == 1 else (repos, True)
            break
        repos.extend(r for r in answer.body if isinstance(r, dict))
        if 'rel="next"' not in (answer.header("Link") or ""):
            break
        more = page == REPO_PAGES
    if more and repos is not None:
        notes.append(f"repositories: only the first {len(repos)} read")
    scopes = identity.get("scopes")
    return github_reach(identity.get("login"), list(scopes) if isinstance(scopes, list) else None, orgs, repos,
                        more_repos=more, unknown=tuple(notes))


PROVIDER = Provider(
    "github", "GitHub",
    base_url="https://api.github.com",
    base_url_env="GITHUB_API_URL",
    admin_key_env="GITHUB_TOKEN",
    api_version=API_VERSION,
    console_url="https://github.com/settings/tokens",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"github.classic-pat", "github.fine-grained-pat"}),
    checks=CHECKS, verifier=VERIFIER,
    revokers={"github": "keysweep.revokers.github:GitHubRevoker"},
    # What a live token can do (docs/output.md, `reach`).
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "github-app",
        "Replace the personal access token with a GitHub App installed only on the repositories it needs, with only "
        "the permissions it uses: the workload mints an installation access token when it runs, and that token "
        "expires after one hour. Inside GitHub Actions, use the workflow's GITHUB_TOKEN, narrowed with a "
        "permissions: block, instead of any stored token.",
        "https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app"),
)
