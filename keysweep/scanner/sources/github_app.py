"""GitHub App authentication: keysweep's own access to GitHub, short-lived.

Instead of a personal access token (long-lived, tied to a person), `scan github`, `sweep` and the
re-reads of verify/revoke can authenticate as a GitHub App installation, as GitHub documents in
"Authenticating as a GitHub App installation":

1. a JWT signed RS256 with the app's private key (`iss` the app id, `iat` 60 s in the past,
   `exp` 5 minutes ahead — GitHub refuses more than 10), made by PyGithub's `Auth.AppAuth`;
2. the installation that covers the organization, user or repository to read
   (`GET /orgs/{org}/installation`, `/users/{user}/installation`, `/repos/{o}/{r}/installation`);
3. an installation access token from `POST /app/installations/{id}/access_tokens`, valid one hour
   (`expires_at`), sent as `Authorization: Bearer` to the REST API and as the `x-access-token`
   password to git over HTTPS.

A token is asked again when less than `REFRESH_BEFORE` of its life is left (half its life, for a
token that lives less than twice that), so a sweep longer than an hour never sends an expired one.
The JWT and the app-level calls go through PyGithub (`GithubIntegration` with the API's base URL,
GitHub Enterprise Server included), imported only here, on first use: a token-authenticated scan
never loads it. These few calls (one installation look-up per target, one token per installation
and hour) are the one place keysweep talks HTTP through another stack (PyGithub's requests
session, blocking, run in a thread); everything read with the token goes through keysweep.http.
PyGithub's request log, which would hold the answer carrying the installation token at DEBUG
level, is kept above DEBUG.

Configuration: `--app-id`/`--app-key-file` (env KEYSWEEP_GITHUB_APP_ID, KEYSWEEP_GITHUB_APP_KEY_FILE;
`app_id`, `app_key_file` in `[[sources.github]]`). Only the app id, the key file's *path* and the
installation id are kept with an occurrence (its `access`), so a later re-read authenticates the
same way; the private key, the JWT and installation tokens are held in memory only, never printed,
logged or stored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from keysweep.errors import KeysweepError
from keysweep.safefs import RefusedFile, read_text
from keysweep.scanner.sources.remote import RemoteError

APP_ID_ENV = "KEYSWEEP_GITHUB_APP_ID"
APP_KEY_FILE_ENV = "KEYSWEEP_GITHUB_APP_KEY_FILE"
# GitHub's installation tokens live one hour; a new one is asked when less than this is left.
REFRESH_BEFORE = timedelta(minutes=10)
MAX_KEY_BYTES = 64 * 1024
HTTP_TIMEOUT = 15


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class AppConfig:
    """Which app, and where its private key is (a path: never the key)."""

    app_id: str
    key_file: str

    def access(self) -> dict[str, str]:
        return {"app_id": self.app_id, "app_key_file": self.key_file}


def app_config(app_id: Any, key_file: Any, where: str = "", base: Path | None = None) -> AppConfig | None:
    """An AppConfig from an app id and a key file path (both or neither), or None when neither is
    given. The key file must hold a PEM private key; otherwise a one-line KeysweepError (exit 2)
    that names the file, never its content."""
    app = str(app_id).strip() if app_id not in (None, "") else ""
    path = str(key_file).strip() if key_file not in (None, "") else ""
    prefix = f"{where}: " if where else ""
    if not app and not path:
        return None
    if not app or not path:
        raise KeysweepError(f"{prefix}GitHub App authentication needs both an app id (--app-id, ${APP_ID_ENV}, app_id) "
                            f"and a private key file (--app-key-file, ${APP_KEY_FILE_ENV}, app_key_file)")
    resolved = Path(path).expanduser()
    if base is not None and not resolved.is_absolute():
        resolved = base / resolved
    resolved = resolved.resolve()
    read_key(str(resolved), prefix)  # checked now, so a bad file is exit 2 before any work
    return AppConfig(app, str(resolved))


def read_key(path: str, prefix: str = "") -> str:
    """The PEM private key in `path`, checked to be one (RSA, as GitHub issues). The text stays in
    memory; errors name the file only."""
    try:
        text = read_text(path, MAX_KEY_BYTES, follow_symlinks=True)
    except RefusedFile as exc:
        raise KeysweepError(f"{prefix}GitHub App key file {path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise KeysweepError(f"{prefix}GitHub App key file {path}: {reason}") from None
    try:
        # cryptography (PyGithub's own dependency, through PyJWT) only on the app path.
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
        from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: PLC0415

        key = load_pem_private_key(text.encode("utf-8"), password=None)
    except Exception:  # ValueError, TypeError, UnsupportedAlgorithm: never echo the content
        raise KeysweepError(f"{prefix}GitHub App key file {path}: not a PEM private key "
                            "(download one from the app's settings page)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeysweepError(f"{prefix}GitHub App key file {path}: not an RSA private key (GitHub signs app JWTs with RS256)")
    return text


def _message(exc: BaseException) -> str:
    """One line for a failed app call: HTTP status and GitHub's message, never a header or token."""
    status = getattr(exc, "status", None)
    data = getattr(exc, "data", None)
    if status is not None:
        message = data.get("message") if isinstance(data, dict) else None
        text = " ".join(str(message).split())[:200] if message else ""
        return f"HTTP {status}{' ' + text if text else ''}"
    return type(exc).__name__


class GitHubApp:
    """One app against one API: its installations and their tokens, refreshed before they expire.

    Thread-safe: git clones ask for a token from worker threads while the event loop lists."""

    def __init__(self, config: AppConfig, api_url: str, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.api_url = api_url.rstrip("/")
        self.clock = clock
        self._lock = threading.Lock()
        self._integration: Any = None
        self._tokens: dict[int, tuple[str, datetime, timedelta]] = {}  # id -> (token, expires_at, margin)
        self._installations: dict[tuple[str, str], int] = {}
        self.minted = 0  # installation tokens asked for (a count, for tests and the run's summary)

    def __repr__(self) -> str:  # never the key or a token
        return f"GitHubApp(app_id={self.config.app_id!r}, api_url={self.api_url!r})"

    @property
    def app_id(self) -> str:
        return self.config.app_id

    def _gh(self):
        """PyGithub's GithubIntegration for this app and API (built once, under the lock)."""
        if self._integration is None:
            # PyGithub is heavy: loaded on the first app call only.
            from github import Auth, GithubIntegration  # noqa: PLC0415

            # PyGithub logs every answer (the access token's included) at DEBUG: never that low.
            logging.getLogger("github").setLevel(max(logging.getLogger("github").level, logging.INFO))
            # retry=3: PyGithub's session tries a refused or dropped connection again; an HTTP error
            # answer is not retried (a 5xx is one error line for that target).
            self._integration = GithubIntegration(
                auth=Auth.AppAuth(self.config.app_id, read_key(self.config.key_file)), base_url=self.api_url,
                timeout=HTTP_TIMEOUT, retry=3, seconds_between_requests=None, seconds_between_writes=None)
        return self._integration

    def installation(self, kind: str, name: str) -> int:
        """The id of the installation covering an organization (`org`), a user (`user`) or a
        repository (`repo`, OWNER/NAME). Blocking; raises RemoteError."""
        key = (kind, name)
        with self._lock:
            if key in self._installations:
                return self._installations[key]
            gh = self._gh()
            try:
                if kind == "org":
                    found = gh.get_org_installation(name)
                elif kind == "user":
                    found = gh.get_user_installation(name)
                else:
                    owner, _, repo = name.partition("/")
                    found = gh.get_repo_installation(owner, repo)
                installation_id = int(found.id)
            except Exception as exc:
                # The caller's error line names the organization, user or repository.
                if getattr(exc, "status", None) == 404:
                    raise RemoteError(f"GitHub App {self.app_id} is not installed there (its installation: HTTP 404)") from None
                raise RemoteError(f"GitHub App {self.app_id}: {_message(exc)}") from None
            self._installations[key] = installation_id
            return installation_id

    def _fresh(self, installation_id: int) -> str | None:
        held = self._tokens.get(installation_id)
        if held is not None and held[1] - held[2] > self.clock():
            return held[0]
        return None

    def token(self, installation_id: int) -> str:
        """A live installation token: the one held, or a new one when it is near its end.
        Blocking; raises RemoteError."""
        with self._lock:
            held = self._fresh(installation_id)
            if held is not None:
                return held
            try:
                answer = self._gh().get_access_token(int(installation_id))
                token, expires_at = answer.token, answer.expires_at
            except Exception as exc:
                raise RemoteError(f"GitHub App {self.app_id}: installation token for installation {installation_id}: "
                                  f"{_message(exc)}") from None
            if not isinstance(token, str) or not token:
                raise RemoteError(f"GitHub App {self.app_id}: installation {installation_id} answered no token")
            now = self.clock()
            if not isinstance(expires_at, datetime):
                expires_at = now + timedelta(hours=1)
            elif expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=timezone.utc)
            # Asked again REFRESH_BEFORE its end, or half-way through a shorter life (an appliance
            # configured otherwise), so a short-lived token is not asked for at every request.
            margin = min(REFRESH_BEFORE, max(expires_at - now, timedelta(0)) / 2)
            self._tokens[installation_id] = (token, expires_at, margin)
            self.minted += 1
            return token

    async def atoken(self, installation_id: int) -> str:
        """`token` for the event loop: a held token at once, a new one asked from a thread."""
        with self._lock:
            held = self._fresh(installation_id)
        return held if held is not None else await asyncio.to_thread(self.token, installation_id)

    async def ainstallation(self, kind: str, name: str) -> int:
        return await asyncio.to_thread(self.installation, kind, name)


_shared: dict[tuple[str, str, str], GitHubApp] = {}
_shared_lock = threading.Lock()


def shared_app(config: AppConfig, api_url: str) -> GitHubApp:
    """One GitHubApp per (API, app, key file) in this process, so re-reads share its tokens."""
    key = (api_url.rstrip("/"), config.app_id, config.key_file)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = GitHubApp(config, api_url)
        return _shared[key]
