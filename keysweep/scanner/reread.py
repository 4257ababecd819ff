"""Re-read a finding's secret from where it was seen: the store never holds values.

Each occurrence keeps a `locator`; reading it back and re-running the engine gives the matches in
that blob or file, and the one whose SHA-256 is the finding's `secret_sha256` is the value:

- git:  `{"repo": path, "blob": sha}`  → `git cat-file blob sha` in the repository; for a forge
  repository (`repo` names it as the forge does, `url` is its clone URL) in the cached bare clone
  named by `access.cache`, cloned again from `url` (with the token from the variable named by
  `access.token_env`, sent only to the forge's host) when the cache was cleared;
- git-message: `{"repo": path, "object": sha}` (plus `tag` for an annotated tag) → the message of
  that commit or tag object, read from the same repository;
- dir / staged: `{"root": dir, "path": relative}` (root may itself be the scanned file);
- inside an archive, either of those plus `"member": [segments]` (keysweep/scanner/archives.py),
  and `"decoded_from": "strings"` for the printable runs of a binary file (embedded.py): the
  same expansion is run again on the content read back.

Other sources (secret stores, CI variables) register a reader with `register_reader(source, fn)`,
where `fn(locator, settings=None) -> bytes | None` returns the content to re-scan (a reader taking
only the locator works too). A reader that asks an HTTP API is a coroutine function taking
`http=`, the run's HttpClient (keysweep.http: its one retry loop and per-host throttle), so
async callers pass theirs (`Rereader.fetch(finding, ctx.http)`, `fetch_secret(finding, ctx)`); a
synchronous caller (`Rereader.read`, `occurrence_content`) gets the same reader run to completion
with a client of its own. The remote sources' readers (`keysweep.scanner.sources.readers`) are
registered on first need.

The value is handed back to the caller in memory only — for a liveness check, an inventory match or
a revocation — and must never be printed, logged or stored. Matches of a blob are cached per
`Rereader` by SHA-256 only, so many findings in one blob cost one read and one scan.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from keysweep.fingerprint import secret_sha256
from keysweep.models import ACCESS
from keysweep.scanner.archives import part_content
from keysweep.scanner.engine import Engine
from keysweep.scanner.pipeline import embedded_for
from keysweep.scanner.remote import cache_path, clone_or_fetch, default_cache_dir
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources.git import read_message
from keysweep.scanner.sources.github import GitHubSource
from keysweep.scanner.sources.gitlab import GitLabSource

if TYPE_CHECKING:
    from keysweep.http import HttpClient
    from keysweep.models import Finding, Occurrence
    from keysweep.scanner.rules import Rule
    from keysweep.settings import Settings

MAX_REREAD_BYTES = 64 * 1024 * 1024
REFETCH_TIMEOUT = 300.0
Reader = Callable[..., "bytes | None"]
READERS: dict[str, Reader] = {}
# Occurrence sources read from local files and repositories (their locators name a blob or a path).
LOCAL_SOURCES = frozenset({"git", "git-message", "dir", "staged"})


def register_reader(source: str, reader: Reader) -> None:
    """Teach re-reading a new occurrence source (e.g. "aws-secretsmanager")."""
    READERS[source] = reader


@dataclass(frozen=True)
class Reread:
    """A secret read back. `key_id` is the identifier paired with it in the same place (the AWS
    access key id next to a secret key), when the engine found one."""

    secret: str
    key_id: str | None
    occurrence: "Occurrence"

    def __repr__(self) -> str:  # never show the value, even in a debugger or a failed assertion
        return f"Reread(secret=<{len(self.secret)} chars>, key_id={self.key_id!r})"


# How the store writes a byte of a path that is not UTF-8 (scanner/sources.display_path,
# sanitize.stored_text): `\xNN`, NN 80-ff (a byte below 0x80 is always UTF-8, so never escaped).
_STORED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


def path_forms(stored: str) -> list[str]:
    """The places a stored path may name: the text as stored, then, when it holds a `\\xNN`, the
    path with each such byte given back as itself (as `os.fsdecode` reads it: surrogateescape), so
    a repository or file whose name is not UTF-8 can be read again. The stored text comes first: a
    name may really hold the four characters `\\xNN`. Either way only a value whose SHA-256 is the
    finding's is taken, so reading the other place can prove nothing false; nothing is stored."""
    if "\\x" not in stored:
        return [stored]
    real = _STORED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), stored)
    return [stored, real] if real != stored else [stored]


def _existing_dir(stored: str) -> str | None:
    return next((form for form in path_forms(stored) if Path(form).is_dir()), None)


def read_git_blob(repo: str, blob: str) -> bytes | None:
    if not repo or not blob or not Path(repo).is_dir():
        return None
    try:
        result = subprocess.run(["git", "cat-file", "blob", blob], cwd=repo, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def read_git_message(repo: str, sha: str) -> bytes | None:
    """The message of a commit or annotated tag (what a `git-message` occurrence was scanned from)."""
    if not repo or not sha or not Path(repo).is_dir():
        return None

    try:
        return read_message(repo, sha)
    except Exception:  # git missing, or the object gone: the value cannot be re-read
        return None


def _is_git_dir(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "HEAD").exists()


def _forge_auth(locator: dict[str, Any], url: str, settings: "Settings | None") -> str | None:
    """The clone's auth header, built the way the scan built it (same forge rules: the token
    only goes to the forge's own host)."""
    access = locator.get(ACCESS) if isinstance(locator.get(ACCESS), dict) else {}
    forge = access.get("forge")
    if forge not in ("github", "gitlab"):
        return None
    # The remote readers register themselves into READERS (an import cycle), and a local scan never loads them.
    from keysweep.scanner.sources.readers import _settings, forge_access  # noqa: PLC0415

    api, token = forge_access(locator, forge, _settings(settings))
    if not api or not token:
        return None
    if forge == "github":
        return GitHubSource(api_url=api, token=token)._auth_header(url)
    return GitLabSource(url=api, token=token)._auth_header(url)


def local_git_dir(occurrence: "Occurrence", settings: "Settings | None" = None, *, fetch: bool = True,
                  attempted: set[str] | None = None) -> str | None:
    """A local git directory holding the occurrence's commits and blobs, or None.

    A local scan's repository is its own path. A forge repository's history is in the sweep's
    cached bare clone; when the cache was cleared (and `fetch`), it is cloned again into the same
    place. `attempted` remembers clone attempts, so a run tries each repository once."""
    locator = occurrence.locator or {}
    repo = str(locator.get("repo") or occurrence.repo or "")
    local = _existing_dir(repo) if repo else None
    if local is not None:
        return local
    access = locator.get(ACCESS) if isinstance(locator.get(ACCESS), dict) else {}
    url = locator.get("url")
    if access.get("cache"):
        cache = Path(str(access["cache"]))
    elif url and repo:
        # Stored before the cache was recorded: the configured sweep cache, else the default one.
        configured = settings.section("sources").get("cache_dir") if settings is not None else None
        root = Path(str(configured)).expanduser() if isinstance(configured, str) and configured else default_cache_dir()
        cache = cache_path(root, repo)
    else:
        return None
    if _is_git_dir(cache):
        return str(cache)
    if not fetch or not url or (attempted is not None and str(cache) in attempted):
        return None
    if attempted is not None:
        attempted.add(str(cache))
    try:
        clone_or_fetch(cache, str(url), _forge_auth(locator, str(url), settings), REFETCH_TIMEOUT)
    except Exception:  # an unreachable forge: the value cannot be re-read, and the caller says so
        return None
    return str(cache) if _is_git_dir(cache) else None


def read_file(root: str | None, path: str | None) -> bytes | None:
    """The file a `dir`/`staged` locator names (`root` may itself be the scanned file); a root or
    path stored with a `\\xNN` is tried with that byte back too (`path_forms`)."""
    if not path and not root:
        return None
    for root_form in path_forms(root or ""):
        for path_form in path_forms(path or ""):
            content = _read_one_file(root_form, path_form)
            if content is not None:
                return content
    return None


def _read_one_file(root: str, path: str) -> bytes | None:
    target = Path(root) if root and Path(root).is_file() else (Path(root) / path)
    try:
        if not target.is_file() or target.is_symlink() or target.stat().st_size > MAX_REREAD_BYTES:
            return None
        return target.read_bytes()
    except OSError:
        return None


_remote_registered = False


def _remote_reader(source: str) -> Reader | None:
    """The reader of a remote source (secret stores, CI variables), registered on first need so
    local scans never import them."""
    global _remote_registered
    if not _remote_registered:
        _remote_registered = True
        from keysweep.scanner.sources.readers import register_readers  # noqa: PLC0415  (see _forge_auth)

        register_readers()
    return READERS.get(source)


def _call_reader(reader: Reader, locator: dict[str, Any], settings: "Settings | None",
                 http: "HttpClient | None" = None) -> "bytes | None | Awaitable[bytes | None]":
    """A reader's answer; a reader over HTTP (one taking `http`) answers with an awaitable."""
    try:
        parameters = inspect.signature(reader).parameters
    except (TypeError, ValueError):
        return reader(locator)
    if "http" in parameters:
        return reader(locator, settings, http=http)
    return reader(locator, settings) if len(parameters) > 1 else reader(locator)


def run_sync(awaitable: Awaitable[Any]) -> Any:
    """Wait for `awaitable` from synchronous code: in this thread when no event loop runs in it,
    else on a loop in a thread of its own (the caller blocks meanwhile, as a synchronous read
    always has)."""
    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def occurrence_content(occurrence: "Occurrence", settings: "Settings | None" = None,
                       attempted: set[str] | None = None) -> bytes | None:
    """The content the occurrence's place holds now (synchronous: a reader over HTTP uses a client
    of its own; async callers use `fetch_occurrence_content` with theirs)."""
    content = _content(occurrence, settings, attempted, None)
    return run_sync(content) if inspect.isawaitable(content) else content


async def fetch_occurrence_content(occurrence: "Occurrence", settings: "Settings | None" = None,
                                   attempted: set[str] | None = None,
                                   http: "HttpClient | None" = None) -> bytes | None:
    """`occurrence_content` for async callers: a reader over HTTP sends through `http`."""
    content = _content(occurrence, settings, attempted, http)
    return await content if inspect.isawaitable(content) else content


def _content(occurrence: "Occurrence", settings: "Settings | None", attempted: set[str] | None,
             http: "HttpClient | None") -> "bytes | None | Awaitable[bytes | None]":
    locator = occurrence.locator or {}
    if occurrence.source == "git-message":
        return _from_repos(occurrence, settings, attempted,
                           lambda repo: read_git_message(repo, str(locator.get("object") or "")))
    reader = READERS.get(occurrence.source)
    if reader is None and (occurrence.source not in LOCAL_SOURCES
                           or not (locator.get("blob") or locator.get("path") or locator.get("root"))):
        # A remote place (a Vault locator has a `path` too: the secret's, not a file's).
        reader = _remote_reader(occurrence.source)
    if reader is not None:
        return _call_reader(reader, locator, settings, http)
    if locator.get("blob"):
        return _from_repos(occurrence, settings, attempted, lambda repo: read_git_blob(repo, locator["blob"]))
    if locator.get("path") or locator.get("root"):
        return read_file(locator.get("root"), locator.get("path"))
    return None


def _from_repos(occurrence: "Occurrence", settings: "Settings | None", attempted: set[str] | None,
                read: Callable[[str], "bytes | None"]) -> bytes | None:
    """`read(repository)` in the first local repository that answers: each existing directory the
    stored path may name (`path_forms`), else the forge repository's cached clone."""
    locator = occurrence.locator or {}
    stored = str(locator.get("repo") or occurrence.repo or "")
    local = [form for form in path_forms(stored) if Path(form).is_dir()] if stored else []
    if not local:
        cached = local_git_dir(occurrence, settings, attempted=attempted)
        local = [cached] if cached else []
    for repo in local:
        content = read(repo)
        if content is not None:
            return content
    return None


class Rereader:
    """Reads values back for many findings, scanning each blob or file at most once."""

    def __init__(self, rules: "Iterable[Rule] | None" = None, engine: "Engine | None" = None,
                 settings: "Settings | None" = None) -> None:
        self._rules = list(rules) if rules is not None else None
        self._engine = engine
        self.settings = settings  # the command's (`--config`): forge API URLs and token variables
        self._clone_attempts: set[str] = set()
        # (kind, place) -> {sha256: (secret, key_id)}; values stay in this process only.
        self._matches: dict[tuple[str, ...], dict[str, tuple[str, str | None]]] = {}

    @property
    def engine(self) -> "Engine":
        if self._engine is None:
            # A few blobs or files: the keyword prefilter starts at once, and finds the same matches.
            self._engine = Engine(self._rules if self._rules is not None else load_rules(), backend="regex")
        return self._engine

    def _place(self, occurrence: "Occurrence") -> tuple[str, ...]:
        locator = occurrence.locator or {}
        if locator.get("blob"):
            # One blob can be several places: the members of an archive, its printable runs.
            return ("git", str(locator.get("repo") or occurrence.repo), str(locator["blob"]),
                    repr(locator.get("member")), str(locator.get("decoded_from") == "strings"))
        return (occurrence.source, repr(sorted((k, str(v)) for k, v in locator.items())))

    def _inner(self, content: bytes | None, locator: dict[str, Any]) -> bytes | None:
        """The part of `content` a match was found in: an archive member (`member`) or the
        printable runs of a binary file (`decoded_from: strings`); `content` itself otherwise."""
        strings = locator.get("decoded_from") == "strings"
        member = locator.get("member")
        if content is None or not (member or strings):
            return content

        return part_content(content, tuple(member or ()), "strings" if strings else None,
                            embedded_for(self.engine), MAX_REREAD_BYTES)

    def _remember(self, place: tuple[str, ...], content: bytes | None) -> dict[str, tuple[str, str | None]]:
        found: dict[str, tuple[str, str | None]] = {}
        if content:
            # An allowed line still holds the value (a suppressed place of a listed finding).
            for match in self.engine.scan(content, keep_allowed=True):
                digest = secret_sha256(match.secret)
                if digest not in found or (found[digest][1] is None and match.key_id):
                    found[digest] = (match.secret, match.key_id)
        self._matches[place] = found
        return found

    def _scan(self, occurrence: "Occurrence") -> dict[str, tuple[str, str | None]]:
        place = self._place(occurrence)
        if place not in self._matches:
            content = occurrence_content(occurrence, self.settings, self._clone_attempts)
            self._remember(place, self._inner(content, occurrence.locator or {}))
        return self._matches[place]

    async def _fetch_scan(self, occurrence: "Occurrence", http: "HttpClient | None") -> dict[str, tuple[str, str | None]]:
        place = self._place(occurrence)
        if place not in self._matches:
            self._remember(place, await fetch_occurrence_content(occurrence, self.settings, self._clone_attempts,
                                                                 http))
        return self._matches[place]

    @staticmethod
    def _hit(finding: "Finding", occurrence: "Occurrence", matches: dict[str, tuple[str, str | None]]) -> Reread | None:
        hit = matches.get(finding.secret_sha256)
        if hit is None:
            return None
        secret, key_id = hit
        return Reread(secret, key_id or finding.key_id, occurrence)

    def read(self, finding: "Finding") -> Reread | None:
        """The finding's value from the first occurrence that still holds it, or None."""
        for occurrence in finding.occurrences:
            hit = self._hit(finding, occurrence, self._scan(occurrence))
            if hit is not None:
                return hit
        return None

    async def fetch(self, finding: "Finding", http: "HttpClient | None" = None) -> Reread | None:
        """`read` for async callers: a place read over HTTP is asked through `http`, the run's
        client (its retry loop and per-host throttle); None gives the reader a client of its own."""
        for occurrence in finding.occurrences:
            hit = self._hit(finding, occurrence, await self._fetch_scan(occurrence, http))
            if hit is not None:
                return hit
        return None

    def forget(self) -> None:
        self._matches.clear()


def _rereader_of(ctx: Any) -> Rereader:
    """With a Context, the Rereader (and its compiled engine) is kept in `ctx.extra` for the run."""
    if ctx is not None and hasattr(ctx, "extra"):
        rereader = ctx.extra.get("rereader")
        if rereader is None:
            rereader = ctx.extra["rereader"] = Rereader(settings=getattr(ctx, "settings", None))
        return rereader
    return Rereader(settings=getattr(ctx, "settings", None))


def reread_secret(finding: "Finding", ctx: Any = None) -> str | None:
    """The value of one finding, or None when no occurrence still holds it."""
    hit = _rereader_of(ctx).read(finding)
    return hit.secret if hit else None


async def fetch_secret(finding: "Finding", ctx: Any = None) -> str | None:
    """`reread_secret` for async callers (revokers, through `keysweep.remediation.secrets`): a value
    read over HTTP goes through the context's client."""
    hit = await _rereader_of(ctx).fetch(finding, getattr(ctx, "http", None))
    return hit.secret if hit else None
