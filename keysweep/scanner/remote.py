"""Run remote sources: list concurrently, read values in memory, clone/fetch repositories into the
cache and scan them with the git source, and record each scope as soon as it is done.

Concurrency: sources produce into one bounded queue; a fixed pool of workers consumes it (API
reads are awaited there, so at most `workers` are in flight besides the listings); git clones,
fetches and scans run in threads, at most `git_workers` at once; each thread matching borrows an
engine of its own from a pool (a Hyperscan scratch space is not shared between threads). The
store is only touched from the event loop thread.

Failure: an exception in one listing, read, clone or scan becomes one error line and the rest of
the sweep goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

from keysweep.cache import cache_dir, ensure_private_dir
from keysweep.fingerprint import finding_id
from keysweep.models import ACCESS, Blob, Finding, Match, Occurrence, ScanStats
from keysweep.sanitize import stored_text, with_strings
from keysweep.scanner.pipeline import ScanResult, aggregate, match_blob, merge_stats, scan_git, utc_now
from keysweep.scanner.session import GitState, git_state
from keysweep.scanner.sources import DEFAULT_MAX_SIZE, utf8
from keysweep.scanner.sources.remote import (
    GitTarget,
    Pending,
    RemoteError,
    RemoteSource,
    Unit,
    describe_exception,
    inventory_sha256,
)
from keysweep.suppress import apply_ignore, load_ignored

GIT_TIMEOUT = 900.0


def default_cache_dir() -> Path:
    return cache_dir() / "repos"


def safe_url(url: str) -> str:
    """A URL fit for an error line: no user info (a token can hide there), no query."""
    parts = urlsplit(url)
    if not parts.scheme or parts.scheme == "file":
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _well_formed(value: Any) -> Any:
    """A locator or metadata (nested) whose strings, read from a store's JSON, hold no lone
    surrogate: SQLite, UTF-8 output and the audit chain refuse one, and a finding must be recorded
    (and its owner hints read) whatever it is named or labelled."""
    return with_strings(value, stored_text)


def cache_path(root: Path, name: str) -> Path:
    """Where a repository's bare clone lives: <root>/<host>/<owner>/<name>.git, with every path
    component reduced to safe characters (a name comes from an API answer)."""
    parts = [re.sub(r"[^A-Za-z0-9._-]", "_", part) for part in name.split("/") if part]
    parts = [part if part not in (".", "..") else "_" for part in parts] or ["_"]
    return root.joinpath(*parts[:-1], parts[-1] + ".git")


# progress(event, **info), from the event loop or a scan's thread: "repo-start" (name), "blobs-total"
# and "blobs" (name, blobs, nbytes: to read, then done), "repo" (name, blobs, nbytes, findings,
# seconds, or unchanged), "unit" (name, source, findings), "error" (message).
ProgressCallback = Callable[..., None]


@dataclass
class SweepOutcome:
    """Everything a sweep found, shaped like a ScanResult for the CLI's emitter."""

    findings: list[Finding]
    stats: ScanStats
    scopes: set[str]
    new_ids: list[str]
    counters: dict[str, int] = field(default_factory=dict)
    scope: str | None = None
    source: str = "sweep"
    scanned_objects: list[str] = field(default_factory=list)
    tips: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return self.stats.errors

    @property
    def nothing_read(self) -> bool:
        """Every source failed: errors, and not one scope (repository, region, variable set) read
        or found unchanged. Such a run has nothing to say about the absence of keys."""
        read = self.counters.get("units", 0) + self.counters.get("repos_unchanged", 0)
        return bool(self.stats.errors) and read == 0


class Runner:
    def __init__(self, engine, *, ctx, store=None, rules_digest: str = "",
                 persist: Callable[[ScanResult], list[str] | None] | None = None,
                 cache_dir: Path | None = None, max_size: int = DEFAULT_MAX_SIZE, max_age_days: int = 90,
                 workers: int = 8, git_workers: int = 2, full: bool = False,
                 progress: ProgressCallback | None = None, git_timeout: float = GIT_TIMEOUT,
                 ignore_roots: Iterable[Path] = ()) -> None:
        self.engine = engine
        self.ctx = ctx
        self.store = store
        self.rules_digest = rules_digest
        self.persist = persist
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.max_size = max_size
        self.max_age_days = max_age_days
        self.workers = max(1, workers)
        self.git_workers = max(1, git_workers)
        self.full = full
        self.progress = progress or (lambda *args, **kwargs: None)
        self.git_timeout = git_timeout
        # Ignore files that apply to every scope (the current directory's); a repository adds its own.
        self.ignore_roots = [Path(root) for root in ignore_roots]
        self.ignored = load_ignored(self.ignore_roots)
        self._engines: queue.SimpleQueue = queue.SimpleQueue()
        self._engines.put(engine)
        self.stats = ScanStats()
        self.findings: dict[str, Finding] = {}
        self.scopes: set[str] = set()
        self.new_ids: list[str] = []
        self.counters: dict[str, int] = {"repos_scanned": 0, "repos_unchanged": 0, "units": 0, "values": 0,
                                         "inventory": 0}
        self._already: dict[tuple[str, str], set[str]] = {}

    # -- what sources see ---------------------------------------------------------------------
    def error(self, message: str) -> None:
        line = " ".join(message.split())
        self.stats.errors.append(line)
        self.progress("error", message=line)

    def already(self, source: str, scope: str) -> set[str]:
        """Objects of (source, scope) the store has read with these rules (empty with --full)."""
        if self.store is None or self.full:
            return set()
        key = (source, scope)
        if key not in self._already:
            self._already[key] = self.store.scanned_objects(source, scope, self.rules_digest)
        return self._already[key]

    def validator(self, url: str) -> tuple[str, str | None] | None:
        if self.store is None or self.full:
            return None
        return self.store.http_validator(url, self.rules_digest)

    def remember(self, validators: list[tuple[str, str, str | None]]) -> None:
        """Save the (url, etag, body) of listings that hold no value (a repository listing) at once:
        what they list is decided again from the body on a 304."""
        if validators and self.store is not None and not self.full:
            self.store.save_http_validators([(url, etag, self.rules_digest, body) for url, etag, body in validators],
                                            utc_now())

    def now(self) -> datetime:
        return self.ctx.clock()

    # -- the loop -----------------------------------------------------------------------------
    async def run(self, sources: Iterable[RemoteSource]) -> SweepOutcome:
        self.git_slots = asyncio.Semaphore(self.git_workers)
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.workers * 4)

        async def produce(source: RemoteSource) -> None:
            try:
                async for item in source.items(self):
                    await queue.put(item)
            except Exception as exc:  # one broken source never stops the others
                self.error(f"{source.label}: {describe_exception(exc)}")

        async def consume() -> None:
            while True:
                item = await queue.get()
                try:
                    if item is None:
                        return
                    await self.handle(item)
                finally:
                    queue.task_done()

        consumers = [asyncio.create_task(consume()) for _ in range(self.workers)]
        try:
            await asyncio.gather(*(produce(source) for source in sources))
            for _ in consumers:
                await queue.put(None)
            await asyncio.gather(*consumers)
        finally:
            for task in consumers:
                task.cancel()
            while not queue.empty():  # after an interruption: never leave a coroutine un-awaited
                leftover = queue.get_nowait()
                if isinstance(leftover, Pending) and hasattr(leftover.work, "close"):
                    leftover.work.close()
        findings = sorted(self.findings.values(), key=lambda f: (f.provider, f.rule_id, f.id))
        return SweepOutcome(findings, self.stats, self.scopes, self.new_ids, dict(self.counters))

    async def handle(self, item: Any) -> None:
        try:
            if isinstance(item, Pending):
                try:
                    produced = await item.work
                except Exception as exc:
                    self.error(f"{item.label}: {describe_exception(exc)}")
                    return
                for each in produced if isinstance(produced, list) else [produced]:
                    if each is not None:
                        await self.handle(each)
            elif isinstance(item, Unit):
                result = await asyncio.to_thread(self.match_unit, item)
                self.record(result, item)
            elif isinstance(item, GitTarget):
                await self.scan_target(item)
        except Exception as exc:
            message = describe_exception(exc)
            if isinstance(item, GitTarget):
                name = f"git {item.name}"
                message = message.replace(f"{item.path}: ", "") if item.path else message
            else:
                name = getattr(item, "label", None) or getattr(item, "scope", None)
            self.error(f"{name}: {message}")

    # -- engines ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def borrowed_engine(self):
        """An engine no other thread is using: the shared one if free, else a copy of it (same
        rules and backend; the compiled Hyperscan database comes from the on-disk cache)."""
        try:
            engine = self._engines.get_nowait()
        except queue.Empty:
            kwargs = {"backend": self.engine.backend}
            if hasattr(self.engine, "decode_base64"):
                kwargs["decode_base64"] = self.engine.decode_base64
            engine = type(self.engine)([compiled.rule for compiled in self.engine.rules], **kwargs)
        try:
            yield engine
        finally:
            self._engines.put(engine)

    # -- values -------------------------------------------------------------------------------
    def match_unit(self, unit: Unit) -> ScanResult:
        """Match every value group of a unit (worker thread). Values stay in memory."""
        stats = ScanStats()
        hits: list[tuple[Match, Occurrence]] = []
        seen_at = utc_now()
        done = list(unit.scanned_objects)
        for group in unit.groups:
            spans = []
            texts = []
            line = 1
            for entry in group.entries:
                lines = entry.text.count("\n") + 1
                spans.append((line, line + lines - 1, entry))
                texts.append(entry.text)
                line += lines
            content = utf8("\n".join(texts))
            del texts
            if len(content) > self.max_size:
                stats.blobs_skipped_size += 1
                continue
            with self.borrowed_engine() as engine:
                matches = match_blob(engine, Blob(content, group.kind, {}), stats,
                                     where=f"{group.kind} {group.object_id or unit.repo or ''}".strip())
                partly = bool(engine.timed_out)
            del content
            for match in matches:
                first, _, entry = next((span for span in spans if span[0] <= match.line <= span[1]), spans[-1])
                hits.append((match, Occurrence(
                    source=group.kind, path=None, line=match.line - first + 1, repo=unit.repo,
                    committed_at=entry.at, locator=_well_formed(entry.locator), seen_at=seen_at,
                    metadata=_well_formed(entry.metadata) if entry.metadata else None)))
            if group.object_id and not partly:  # a rule timed out: read it again next time
                done.append(group.object_id)
            self.counters["values"] += len(group.entries)
        unit.groups = []  # drop the values as soon as they are matched
        findings = aggregate(hits, self.engine)
        for record in unit.inventory:
            digest = inventory_sha256(record.identity)
            findings.append(Finding(
                id=finding_id(record.provider, digest), rule_id=record.rule_id, provider=record.provider,
                secret_sha256=digest, redacted=record.redacted, long_lived=record.long_lived,
                key_id=record.key_id, first_seen_at=seen_at, last_seen_at=seen_at,
                occurrences=[Occurrence(source=record.kind, path=None, line=None, repo=unit.repo,
                                        locator=_well_formed(record.locator), seen_at=seen_at,
                                        metadata=_well_formed(record.metadata) if record.metadata else None)]))
            self.counters["inventory"] += 1
        apply_ignore(findings, self.ignored)
        return ScanResult(findings, stats, scope=unit.scope, source=unit.source, scanned_objects=done,
                          ignored=self.ignored)

    def record(self, result: ScanResult, unit: Unit | None = None) -> None:
        """Persist one scope's result (event loop thread) and fold it into the sweep's totals."""
        new_ids = self.persist(result) if self.persist else None
        if new_ids:
            self.new_ids.extend(new_ids)
        if unit is not None and unit.validators and self.store is not None:
            self.store.save_http_validators(
                [(url, etag, self.rules_digest, body) for url, etag, body in unit.validators], utc_now())
        self.scopes.add(result.scope)
        merge_stats(self.stats, result.stats)
        for finding in result.findings:
            kept = self.findings.get(finding.id)
            if kept is None:
                self.findings[finding.id] = finding
            else:
                known = {o.identity() for o in kept.occurrences}
                kept.occurrences.extend(o for o in finding.occurrences if o.identity() not in known)
        self.counters["units"] += 1
        self.progress("unit", name=result.scope, source=result.source, findings=len(result.findings))

    # -- git ----------------------------------------------------------------------------------
    async def scan_target(self, target: GitTarget) -> None:
        started = time.monotonic()
        if target.url is None:
            from keysweep.scanner.sources.git import GitRepo  # noqa: PLC0415  (see scan_repo)

            repo_path = Path(target.path or ".")
            scope = await asyncio.to_thread(lambda: GitRepo(repo_path).identity)
        else:
            scope = target.name
            # Reported even if this run cannot read it: its known findings stay in the report.
            self.scopes.add(scope)
            if target.state and target.state in self.already("git-state", scope):
                self.scopes.add(scope)
                self.counters["repos_unchanged"] += 1
                self.progress("repo", name=scope, unchanged=True)
                return
            self.progress("repo-start", name=scope)
        # As `keysweep scan git` does: after a scan that recorded its refs, walk only the commits
        # made since (refs unchanged: nothing is read); before one, list the blobs and skip those
        # read. Read here: the store belongs to this thread; the scan, in another, asks it here.
        state = self.git_state(scope)
        async with self.git_slots:
            if target.url is not None:
                repo_path = await asyncio.to_thread(self.clone_or_fetch, target)
            result = await asyncio.to_thread(self.scan_repo, repo_path, target, scope, state)
        self.record(result)
        if target.state and self.store is not None and not result.stats.errors:
            self.store.mark_scanned("git-state", scope, [target.state], self.rules_digest, utc_now())
        self.counters["repos_scanned"] += 1
        self.progress("repo", name=scope, blobs=result.stats.blobs_scanned, nbytes=result.stats.bytes_scanned,
                      findings=len(result.findings), seconds=time.monotonic() - started)

    def git_state(self, scope: str) -> GitState:
        """What earlier scans of `scope` covered (event loop thread); the scan's own look-ups
        come back to this thread (`_ask_here`)."""
        if self.store is None:
            return GitState()
        return git_state(self.store, scope, (), self.full, digest=self.rules_digest, ask=self._ask_here())

    def _ask_here(self) -> Callable[..., Any]:
        loop = asyncio.get_running_loop()

        async def call(function, *args):
            return function(*args)

        return lambda function, *args: asyncio.run_coroutine_threadsafe(call(function, *args), loop).result()

    def scan_repo(self, path: Path, target: GitTarget, scope: str, state: GitState) -> ScanResult:
        # The git reader is imported by the first scan: a sweep whose repositories did not move opens none.
        from keysweep.scanner.sources.git import GitRepo  # noqa: PLC0415

        repo = GitRepo(path)
        with self.borrowed_engine() as engine:
            # The same suppression step as `keysweep scan git`: inline allows, the repository's own
            # ignore file (at HEAD for a clone), and the ignore files of `ignore_roots`.
            # A large repository is watched as it is read (from this scan's thread): blobs done / total.
            result = scan_git(repo, engine, already_scanned=state.already_scanned, max_size=self.max_size,
                              previous_tips=state.previous_tips, known_match_blobs=state.known_match_blobs,
                              messages_scanned=state.messages_scanned, since=state.since,
                              ignore_roots=self.ignore_roots,
                              progress_total=lambda blobs, nbytes: self.progress("blobs-total", name=scope,
                                                                                 blobs=blobs, nbytes=nbytes),
                              progress=lambda blobs, nbytes: self.progress("blobs", name=scope, blobs=blobs,
                                                                           nbytes=nbytes))
        if target.url is not None:
            # Findings name the repository as the forge does, not the cache directory.
            result.scope = scope
            for finding in result.findings:
                for occurrence in finding.occurrences:
                    occurrence.repo = scope
                    occurrence.locator = {**occurrence.locator, "repo": scope, "url": safe_url(target.url),
                                          ACCESS: {**(target.access or {}), "cache": str(Path(path).resolve())}}
                    if target.metadata:
                        occurrence.metadata = dict(target.metadata)
        return result

    def clone_or_fetch(self, target: GitTarget) -> Path:
        """A bare clone of every branch and tag in the cache, fetched again if it is there (thread)."""
        assert target.url is not None
        auth = target.auth_header() if callable(target.auth_header) else target.auth_header
        return clone_or_fetch(cache_path(self.cache_dir, target.name), target.url, auth, self.git_timeout)


def clone_or_fetch(dest: Path, url: str, auth_header: str | None, timeout: float = GIT_TIMEOUT) -> Path:
    """A bare clone of every branch and tag of `url` at `dest`, fetched again if it is there.

    Shared by sweeps and by re-reads of a value whose cached clone was cleared. The auth header
    goes through the environment, scoped to the clone host: never on a command line, never in a
    config file."""
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", SSH_ASKPASS="true", GCM_INTERACTIVE="never")
    parts = urlsplit(url)
    if auth_header and parts.scheme in ("http", "https") and parts.hostname:
        origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/"
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"http.{origin}.extraHeader", GIT_CONFIG_VALUE_0=auth_header)
    refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
    if (dest / "HEAD").exists():
        _git(["fetch", "--quiet", "--prune", "--no-tags", url, *refspecs], dest, env, url, timeout)
        return dest
    root = cache_dir()
    if root in dest.parents:
        # Clones hold every secret of private repositories: the user cache root is 0700.
        ensure_private_dir(root)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _git(["clone", "--bare", "--quiet", "--no-hardlinks", url, str(partial)], dest.parent, env, url, timeout)
        os.replace(partial, dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dest


def _git(args: list[str], cwd: Path, env: dict[str, str], url: str, timeout: float) -> None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"git {args[0]} {safe_url(url)}: timed out after {timeout:.0f}s") from None
    except FileNotFoundError:
        raise RemoteError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise RemoteError(f"git {args[0]} {safe_url(url)}: {reason.replace(url, safe_url(url))}")
