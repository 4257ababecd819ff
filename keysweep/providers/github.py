"""GitHub token structure: `gh?_` + 30 random characters + CRC32 of them in base62, 6 wide.

https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
"""

import zlib

from keysweep.providers.base import Provider, Replacement
from keysweep.providers.base62 import BASE62, encode
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, NoFreeCheck, header, pick

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
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "github-app",
        "Replace the personal access token with a GitHub App installed only on the repositories it needs, with only "
        "the permissions it uses: the workload mints an installation access token when it runs, and that token "
        "expires after one hour. Inside GitHub Actions, use the workflow's GITHUB_TOKEN, narrowed with a "
        "permissions: block, instead of any stored token.",
        "https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app"),
)
