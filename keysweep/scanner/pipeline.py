"""Source → engine → findings: the scan stage, without storage or output."""

from __future__ import annotations

import bisect
import contextlib
import io
import os
import sys
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NamedTuple

from keysweep.clock import utc_iso
from keysweep.errors import KeysweepError
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Blob, Finding, Match, Occurrence, ScanStats, occurrence_order
from keysweep.sanitize import terminal_safe
from keysweep.scanner.chunked import CHUNK_SIZE, scan_pieces
from keysweep.scanner.sources import DEFAULT_MAX_SIZE, looks_binary
from keysweep.suppress import IGNORE_FILE, IgnoreList, apply_ignore, load_ignored, mark_inline, parse_ignore

if TYPE_CHECKING:
    # Imported where they are used: a staged scan never needs the git source, and a sweep with
    # nothing new reads no blob (no engine, no archive reader).
    from keysweep.scanner.archives import Embedded, Limits
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.sources.git import GitRepo

Progress = Callable[[int, int], None]  # (blobs done, bytes done)


def utc_now() -> str:
    return utc_iso()


@dataclass
class ScanResult:
    findings: list[Finding]
    stats: ScanStats
    scope: str
    source: str
    # Objects read completely whose findings (if any) are recorded: safe to skip next time.
    scanned_objects: list[str] = field(default_factory=list)
    # git: commit tips taken before reading, so the next incremental scan reads only newer history.
    tips: list[str] = field(default_factory=list)
    # The ignore-file entries that apply to this scope: the store applies them to what it already
    # holds of the scope too (an incremental scan does not read old blobs again).
    ignored: IgnoreList = field(default_factory=IgnoreList)
    # git: ref -> object when reading began, and the blobs listed but not finished (too large, a
    # rule timed out, unreadable, no ref reaches their match): the next scan walks from the refs
    # and reads those blobs again. None: the scan cannot be continued that way.
    refs: dict[str, str] | None = None
    pending: list[str] = field(default_factory=list)
    # git: commits and tags whose messages were read and whose findings (if any) are recorded,
    # kept apart from the blobs (source "git-message" in the store).
    scanned_messages: list[str] = field(default_factory=list)
    # git: False for a scan of part of the history (`--range`): it reports what it found there,
    # not what the store holds of the whole repository.
    whole_scope: bool = True


@dataclass(frozen=True)
class Since:
    """Where an earlier complete scan of a repository (with the same rules) stopped: an incremental
    scan reads only blobs that commits made since then hold, plus those it left unfinished."""

    refs: dict[str, str]                             # ref -> object at that scan
    pending: frozenset[str]                          # blobs it listed and did not finish
    scanned_count: int                               # blobs earlier scans read
    already_read: Callable[[list[str]], set[str]]    # those of these blobs an earlier scan read
    # Those of these commits and tags whose messages an earlier scan read.
    messages_read: Callable[[list[str]], set[str]] = lambda shas: set()


def match_blob(engine: Engine, blob: Blob, stats: ScanStats, where: str | None = None,
               limits: Limits | None = None) -> list[Match]:
    """The blob's matches. A rule stopped by the time limit is one error line naming the rule and
    `where` (the blob's path by default): the scan is partial there, and says so.

    With `limits` (git and dir sources), the blob's kind is decided here: an archive or compressed
    file is expanded and its members matched (keysweep/scanner/archives.py), a binary kind keys
    hide in is matched through its printable runs (embedded.py), any other binary is counted and
    skipped. A blob too large to hold (`blob.opener`) is read in pieces and matched in chunks."""
    before = engine.suppressed_inline
    where = where or str(blob.provenance.get("path") or "content")
    content = blob.content
    if blob.opener is None and (limits is None or _plain_text(content)):
        # The ordinary case, as it always was: text held in memory, matched in one call.
        stats.blobs_scanned += 1
        stats.bytes_scanned += len(content)
        matches = engine.scan(content, keep_allowed=True)
    else:
        from keysweep.scanner.archives import Limits  # noqa: PLC0415  (only for a blob that is not plain text)

        found = _match_expanded(engine, blob, stats, where, limits or Limits(max_member=blob.size or len(content)))
        if found is None:
            return []
        matches = found
    stats.suppressed_inline += engine.suppressed_inline - before
    stats.matches += sum(1 for m in matches if not m.allowed_by)
    for rule_id in engine.timed_out:
        stats.errors.append(timeout_message(rule_id, where, engine.confirm_timeout))
    return matches


def _plain_text(content: bytes) -> bool:
    """Neither a container, nor a binary kind read for its strings, nor binary: matched as is."""
    container_kind, embedded_kind = _kind_tests()
    return not looks_binary(content) and container_kind(content) is None and embedded_kind(content) is None


@lru_cache(maxsize=1)
def _kind_tests() -> tuple[Callable[[bytes], str | None], Callable[[bytes], str | None]]:
    """(container_kind, embedded_kind), imported by the first blob read (a sweep with nothing new
    reads none) and then kept: an import statement per blob cost ~3 µs, 0.25 s over sqlalchemy."""
    from keysweep.scanner.archives import container_kind  # noqa: PLC0415
    from keysweep.scanner.embedded import embedded_kind  # noqa: PLC0415

    return container_kind, embedded_kind


@lru_cache(maxsize=8)
def embedded_for(engine: Engine) -> Embedded:
    from keysweep.scanner.embedded import embedded_kind, printable_runs, rule_prefixes  # noqa: PLC0415

    prefixes = rule_prefixes(engine)
    return embedded_kind, lambda pieces: printable_runs(pieces, prefixes)


def _match_expanded(engine: Engine, blob: Blob, stats: ScanStats, where: str, limits: Limits) -> list[Match] | None:
    """Matches of a blob that is streamed, an archive or a binary kind (see `match_blob`); None
    when it is binary and skipped."""
    from keysweep.scanner.archives import Expansion, read_head  # noqa: PLC0415

    with contextlib.ExitStack() as stack:
        if blob.opener is None:
            head, stream, seekable, size = blob.content, None, io.BytesIO(blob.content), len(blob.content)
        else:
            stream = stack.enter_context(blob.opener())
            head, seekable, size = read_head(stream), None, blob.size or 0
        expansion = Expansion(limits, size, embedded_for(engine))
        kind, parts = expansion.classify(head, stream, seekable)
        if kind == "binary":
            stats.blobs_skipped_binary += 1
            engine.timed_out = []
            return None
        stats.blobs_scanned += 1
        matches: list[Match] = []
        timed_out: list[str] = []
        for part in parts:
            counted = _Counted(part.pieces)
            found, part_timed_out = scan_pieces(engine, counted)
            stats.bytes_scanned += counted.count
            timed_out.extend(rule for rule in part_timed_out if rule not in timed_out)
            if part.member or part.decoded_from:
                found = [replace(m, member=part.member or None, decoded_from=part.decoded_from or m.decoded_from)
                         for m in found]
            matches.extend(found)
    stats.archive_members += expansion.members if kind == "archive" else 0
    stats.warnings.extend(f"{where}{note}" for note in expansion.notes)
    engine.timed_out = timed_out
    return matches


class _Counted:
    """Pieces passed through, their bytes counted."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces, self.count = iter(pieces), 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.count += len(piece)
            yield piece


def timeout_message(rule_id: str, where: str, limit: float | None) -> str:
    return (f"{where}: rule {rule_id} exceeded the {limit:g} s regex time limit and was skipped there "
            f"(its pattern backtracks; 'keysweep rules check' tells)")


def place_locator(base: dict, match: Match) -> dict:
    """Where to re-read the value; says when it sits encoded there (base64 in a Kubernetes Secret),
    so a person looking at the file knows to decode it."""
    locator = dict(base)
    if match.member:
        locator["member"] = list(match.member)  # the path inside the archive, to read it back
    if match.decoded_from:
        locator["decoded_from"] = match.decoded_from
    return locator


def match_line(match: Match) -> int | None:
    """The match's line in its file; none for a printable run of a binary file."""
    return None if match.decoded_from == "strings" else match.line


def scan_local(source, engine: Engine, ignore_roots: Iterable[Path] = (), progress: Progress | None = None,
               ) -> ScanResult:
    """Directory and staged sources: every blob knows its own path. The ignore file is read from
    the scanned root (a file's folder) and `ignore_roots`. `progress(files, bytes)` is told after
    each file how many (and how many bytes) are done."""
    from keysweep.scanner.archives import member_path  # noqa: PLC0415

    stats = ScanStats()
    hits: list[tuple[Match, Occurrence]] = []
    seen_at = utc_now()
    limits = getattr(source, "archive_limits", None)
    done_bytes = 0
    for count, blob in enumerate(source.blobs(stats), 1):
        for match in match_blob(engine, blob, stats, limits=limits):
            line = blob.line_map[match.line - 1] if blob.line_map else match_line(match)
            locator = place_locator(blob.provenance, match)
            hits.append((match, Occurrence(
                source=source.kind, path=member_path(blob.provenance["path"], match.member), line=line,
                repo=str(source.identity) if source.kind == "staged" else None,
                locator=locator, seen_at=seen_at,
            )))
        if progress is not None:
            done_bytes += blob.size if blob.size is not None else len(blob.content)
            progress(count, done_bytes)
    root = source.root if source.root.is_dir() else source.root.parent
    ignored = load_ignored([root, *ignore_roots])
    findings = aggregate(hits, engine)
    apply_ignore(findings, ignored)
    return ScanResult(findings, stats, scope=source.identity, source=source.kind, ignored=ignored)


# A reviewed list of ids: anything larger is not an ignore file.
MAX_IGNORE_BYTES = 1024 * 1024


def ignored_in_repo(repo: GitRepo) -> IgnoreList:
    """The repository's own ignore file: in the working tree, as a person edits it; in a bare
    clone (a swept forge repository), as committed at HEAD."""
    if repo.root != repo.git_dir:
        return load_ignored([repo.path])
    try:
        content = repo.committed_file(IGNORE_FILE, MAX_IGNORE_BYTES)
        if content is None:
            return IgnoreList()
        return parse_ignore(content.decode("utf-8"), f"HEAD:{IGNORE_FILE}")
    except (KeysweepError, UnicodeDecodeError) as exc:
        # Not read: what it would have hidden is reported, and the person is told why.
        reason = str(exc) if isinstance(exc, KeysweepError) else "not UTF-8 text, not read"
        sys.stderr.write(f"keysweep: warning: {terminal_safe(repo.identity)}: HEAD:{IGNORE_FILE}: "
                         f"{terminal_safe(reason)}\n")
        return IgnoreList()


# Below this much content a worker pool costs more than it saves.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
SHARDS_PER_WORKER = 1


def _read_and_match(repo: GitRepo, shas: list[str], engine: Engine, progress: Progress | None = None,
                    max_size: int = DEFAULT_MAX_SIZE) -> tuple[dict[str, list[Match]], list[str], set[str], ScanStats]:
    """(matches by blob, blobs without matches, blobs a rule timed out on, stats)."""
    from keysweep.scanner.archives import Limits  # noqa: PLC0415

    stats = ScanStats()
    matched: dict[str, list[Match]] = {}
    clean: list[str] = []
    partial: set[str] = set()
    done_bytes = 0
    limits = Limits(max_member=max_size)
    for count, (sha, content) in enumerate(repo.read_blobs(shas, stats.errors), 1):
        done_bytes += len(content)
        _sort_blob(sha, match_blob(engine, Blob(content, "git", {"blob": sha}), stats, blob_where(sha), limits),
                   engine, matched, clean, partial)
        if progress and count % 256 == 0:
            progress(count, done_bytes)
    return matched, clean, partial, stats


def blob_where(sha: str) -> str:
    return f"blob {sha} (git log --all --find-object={sha} names its paths)"


def _sort_blob(sha: str, matches: list[Match], engine: Engine, matched: dict[str, list[Match]], clean: list[str],
               partial: set[str]) -> None:
    if engine.timed_out:
        partial.add(sha)  # not recorded as scanned: read again next time
    if matches:
        matched[sha] = matches
    elif not engine.timed_out:
        clean.append(sha)


def _match_streamed_blobs(repo: GitRepo, blobs: list[tuple[str, int]], engine: Engine,
                          max_size: int = DEFAULT_MAX_SIZE, progress: Progress | None = None,
                          ) -> tuple[dict[str, list[Match]], list[str], set[str], ScanStats]:
    """`_read_and_match` for blobs too large to hold: each streamed from its own `git cat-file`."""
    from keysweep.scanner.archives import Limits  # noqa: PLC0415

    stats = ScanStats()
    matched: dict[str, list[Match]] = {}
    clean: list[str] = []
    partial: set[str] = set()
    done_bytes = 0
    for count, (sha, size) in enumerate(blobs, 1):
        if progress:  # each is large: told as it starts, then once more as the last ends
            progress(count - 1, done_bytes)
        done_bytes += size
        errors_before = len(stats.errors)
        blob = Blob(b"", "git", {"blob": sha},
                    opener=lambda sha=sha, size=size: repo.blob_stream(sha, size, stats.errors), size=size)
        matches = match_blob(engine, blob, stats, blob_where(sha), Limits(max_member=max_size))
        if len(stats.errors) > errors_before and not engine.timed_out:
            partial.add(sha)  # damaged: not recorded as scanned
            if matches:
                matched[sha] = matches
            continue
        _sort_blob(sha, matches, engine, matched, clean, partial)
    if progress and blobs:
        progress(len(blobs), done_bytes)
    return matched, clean, partial, stats


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: `taskset`, a container's cpuset), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _told_nothing(_blobs: int, _nbytes: int) -> None:
    """A progress callback for no one."""


def _after(progress: Progress | None, blobs: int, nbytes: int) -> Progress | None:
    """`progress` for a part of the scan that starts when `blobs` (`nbytes`) are already done."""
    if progress is None:
        return None
    return lambda done, done_bytes: progress(blobs + done, nbytes + done_bytes)


# Per-shard (blobs, bytes) done, shared with forked workers by inheritance for progress display.
_SHARD_PROGRESS = None


def _shard_worker(index: int, repo_path: str, shas: list[str], rules: list, backend: str,
                  confirm_timeout: float | None, max_size: int = DEFAULT_MAX_SIZE):
    def report(blobs: int, nbytes: int) -> None:
        if _SHARD_PROGRESS is not None:
            _SHARD_PROGRESS[2 * index], _SHARD_PROGRESS[2 * index + 1] = blobs, nbytes

    from keysweep.scanner.engine import Engine  # noqa: PLC0415
    from keysweep.scanner.sources.git import GitRepo  # noqa: PLC0415  (a worker process of scan git only)

    return _read_and_match(GitRepo(repo_path), shas, Engine(rules, backend=backend, confirm_timeout=confirm_timeout),
                           report, max_size)


def _shards(wanted: list[tuple[str, int]], count: int) -> list[list[str]]:
    """Contiguous runs of pack order (keeps delta bases together) with about equal bytes each."""
    total = sum(size for _, size in wanted) or 1
    shards: list[list[str]] = [[]]
    filled = 0
    for sha, size in wanted:
        if filled >= total * len(shards) / count and len(shards) < count:
            shards.append([])
        shards[-1].append(sha)
        filled += size
    return [shard for shard in shards if shard]


def merge_stats(into: ScanStats, part: ScanStats) -> None:
    for name in ("blobs_scanned", "bytes_scanned", "blobs_skipped_binary", "blobs_skipped_size",
                 "bytes_skipped_size", "archive_members", "blobs_already_scanned", "blobs_unreachable",
                 "messages_scanned", "matches", "suppressed_inline"):
        setattr(into, name, getattr(into, name) + getattr(part, name))
    into.errors.extend(part.errors)
    into.warnings.extend(part.warnings)


def _match_in_workers(repo: GitRepo, engine: Engine, wanted: list[tuple[str, int]], workers: int, stats: ScanStats,
                      matched: dict[str, list[Match]], clean: list[str], partial: set[str],
                      progress: Progress | None, max_size: int = DEFAULT_MAX_SIZE) -> None:
    """Match `wanted` in worker processes, shard by shard, merging each shard's results as it ends."""
    # Worker processes only for a large git history: `scan staged` starts without multiprocessing.
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # noqa: PLC0415

    global _SHARD_PROGRESS
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    mp = multiprocessing.get_context(method)
    rules = [compiled.rule for compiled in engine.rules]
    shards = _shards(wanted, workers * SHARDS_PER_WORKER)
    _SHARD_PROGRESS = mp.RawArray("q", 2 * len(shards)) if method == "fork" else None
    try:
        with ProcessPoolExecutor(workers, mp_context=mp) as pool:
            pending = {pool.submit(_shard_worker, i, os.fspath(repo.path), shard, rules, engine.backend,
                                   engine.confirm_timeout, max_size)
                       for i, shard in enumerate(shards)}
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    part_matched, part_clean, part_partial, part_stats = future.result()
                    matched.update(part_matched)
                    clean.extend(part_clean)
                    partial |= part_partial
                    merge_stats(stats, part_stats)
                if progress and _SHARD_PROGRESS is not None:
                    progress(sum(_SHARD_PROGRESS[0::2]), sum(_SHARD_PROGRESS[1::2]))
    finally:
        _SHARD_PROGRESS = None


def scan_git(
    repo: GitRepo,
    engine: Engine,
    *,
    already_scanned: set[str] = frozenset(),
    max_size: int = DEFAULT_MAX_SIZE,
    include_unreachable: bool = False,
    progress: Progress | None = None,
    progress_total: Progress | None = None,
    workers: int | None = None,
    previous_tips: Iterable[str] = (),
    known_match_blobs: Iterable[str] = (),
    ignore_roots: Iterable[Path] = (),
    since: Since | None = None,
    messages_scanned: set[str] = frozenset(),
) -> ScanResult:
    """Read every blob not already scanned, match it, and resolve where matching blobs entered
    history. With `previous_tips`, provenance is read from newer commits only; blobs matched by
    earlier scans (`known_match_blobs`) that newer commits put at new paths gain occurrences.
    With `since`, blobs are not listed from the object database but walked from the commits
    made since that scan (with refs unchanged, nothing is read). Suppressed matches are kept and
    marked: inline allows, and the ignore files of the repository and of `ignore_roots`.
    `progress_total(blobs, bytes)` is told once, before any is read, how many blobs (and bytes) this
    scan will read; `progress(blobs, bytes)` then how many are done, ending at that total."""
    stats = ScanStats()
    # Tips first: a commit made while we read must count as new next time, not as seen.
    refs = repo.ref_tips()
    tips = repo.commit_tips()
    stats.warnings.extend(repo.coverage_warnings())
    unchanged = since is not None and refs == since.refs and not since.pending
    # Commits and tags whose messages to read: None for every one a ref reaches.
    new_messages: list[tuple[str, str]] | None = None
    if since is None:
        listed = repo.blob_inventory(stats.errors)
    else:
        stats.blobs_already_scanned = since.scanned_count
        listed, new_messages = ([], []) if unchanged else _unread_since(repo, since, refs)
    wanted: list[tuple[str, int]] = []
    # Blobs too large to hold are streamed, one at a time, by this process (never by a worker).
    streamed: list[tuple[str, int]] = []
    sizes: dict[str, int] = {}
    for sha, size in listed:
        sizes[sha] = size
        if sha in already_scanned:
            stats.blobs_already_scanned += 1
        elif size > max_size:
            stats.blobs_skipped_size += 1
            stats.bytes_skipped_size += size
        elif size > CHUNK_SIZE:
            streamed.append((sha, size))
        else:
            wanted.append((sha, size))
    total_bytes = sum(size for _, size in wanted)
    streamed_bytes = sum(size for _, size in streamed)
    (progress_total or _told_nothing)(len(wanted) + len(streamed), total_bytes + streamed_bytes)
    workers = workers or usable_cpus()
    matched: dict[str, list[Match]] = {}
    clean: list[str] = []
    partial: set[str] = set()
    if workers > 1 and total_bytes >= PARALLEL_MIN_BYTES:
        _match_in_workers(repo, engine, wanted, workers, stats, matched, clean, partial, progress, max_size)
        if progress:
            progress(len(wanted), total_bytes)
    else:
        part_matched, clean, partial, part_stats = _read_and_match(repo, [sha for sha, _ in wanted], engine,
                                                                   progress, max_size)
        matched.update(part_matched)
        merge_stats(stats, part_stats)
        if progress:
            progress(len(wanted), total_bytes)
    if streamed:
        part_matched, part_clean, part_partial, part_stats = _match_streamed_blobs(
            repo, streamed, engine, max_size,
            progress=_after(progress, len(wanted), total_bytes))
        matched.update(part_matched)
        clean.extend(part_clean)
        partial |= part_partial
        merge_stats(stats, part_stats)

    previous_tips = list(previous_tips)
    # With refs unchanged no commit is new: a blob matched before is at no new path.
    known = set() if unchanged else set(known_match_blobs) - set(matched)
    introductions = repo.introductions(set(matched) | known, exclude_tips=previous_tips)
    unresolved = {sha for sha in matched if sha not in introductions}
    if unresolved and previous_tips:
        # Never let the shortcut hide a blob: look through all history before calling it unreachable.
        introductions.update(repo.introductions(unresolved))
    revisit = [sha for sha in known if sha in introductions]
    if revisit and since is not None:
        # Walked, not listed: the sizes of blobs read by earlier scans are asked for here.
        sizes.update((sha, size) for sha, (_, size) in repo.object_sizes(revisit).items())
    if revisit:
        for sha, matches in _rematch(repo, revisit, sizes, engine, stats.errors, max_size):
            for rule_id in engine.timed_out:
                stats.errors.append(timeout_message(rule_id, f"blob {sha}", engine.confirm_timeout))
            if matches:
                matched[sha] = matches
    seen_at = utc_now()
    hits, resolved = _blob_hits(repo, matched, introductions, stats, include_unreachable, seen_at)
    message_hits, messages_done = scan_messages(repo, engine, stats, already_scanned=messages_scanned,
                                                include_unreachable=include_unreachable, seen_at=seen_at,
                                                only=new_messages)
    hits.extend(message_hits)
    ignored = ignored_in_repo(repo).merged(load_ignored(ignore_roots))
    findings = aggregate(hits, engine)
    apply_ignore(findings, ignored)
    done = clean + [sha for sha in resolved if sha not in known and sha not in partial]
    finished = set(done)
    return ScanResult(findings, stats, scope=repo.identity, source="git", scanned_objects=done, tips=tips,
                      ignored=ignored, refs=refs,
                      pending=[sha for sha, size in listed if sha not in finished and sha not in already_scanned],
                      scanned_messages=messages_done)


def scan_git_range(repo: GitRepo, engine: Engine, base: str | None, head: str, *, max_size: int = DEFAULT_MAX_SIZE,
                   progress: Progress | None = None, progress_total: Progress | None = None,
                   ignore_roots: Iterable[Path] = (), exclude_refs: bool = False) -> ScanResult:
    """`scan git --range BASE..HEAD`: the blobs the commits reachable from `head` and not from
    `base` add or change (each read once), and those commits' messages; each occurrence names the
    earliest of those commits that put the secret at its path. `base` None: all of `head`'s
    history. Nothing is recorded as scanned for incremental scans (the range is not the whole
    repository), and nothing earlier scans found elsewhere is reported. `exclude_refs`: the commits
    any ref of the repository reaches are left out too (in a pre-receive hook, before the refs move:
    what the push adds to the repository)."""
    stats = ScanStats()
    exclude = repo.commit_tips() if exclude_refs else []
    commits = repo.range_commits(base, head, exclude)
    introductions = repo.range_blobs(base, head, exclude)
    kinds = repo.object_sizes(introductions)
    wanted: list[tuple[str, int]] = []
    streamed: list[tuple[str, int]] = []
    for sha, (kind, size) in kinds.items():
        if kind != "blob":
            continue  # a submodule's commit
        if size > max_size:
            stats.blobs_skipped_size += 1
            stats.bytes_skipped_size += size
        else:
            (streamed if size > CHUNK_SIZE else wanted).append((sha, size))
    total_bytes = sum(size for _, size in wanted)
    (progress_total or _told_nothing)(len(wanted) + len(streamed), total_bytes + sum(size for _, size in streamed))
    matched, _clean, _partial, part_stats = _read_and_match(repo, [sha for sha, _ in wanted], engine, progress, max_size)
    merge_stats(stats, part_stats)
    if progress:
        progress(len(wanted), total_bytes)
    if streamed:
        part_matched, _, _, part_stats = _match_streamed_blobs(repo, streamed, engine, max_size,
                                                               progress=_after(progress, len(wanted), total_bytes))
        matched.update(part_matched)
        merge_stats(stats, part_stats)
    seen_at = utc_now()
    hits, _resolved = _blob_hits(repo, matched, introductions, stats, False, seen_at)
    message_hits, _ = scan_messages(repo, engine, stats, seen_at=seen_at, only=[(sha, "commit") for sha in commits])
    hits.extend(message_hits)
    ignored = ignored_in_repo(repo).merged(load_ignored(ignore_roots))
    findings = aggregate(hits, engine)
    apply_ignore(findings, ignored)
    return ScanResult(findings, stats, scope=repo.identity, source="git", ignored=ignored, whole_scope=False)


def _blob_hits(repo: GitRepo, matched: dict[str, list[Match]], introductions: dict, stats: ScanStats,
               include_unreachable: bool, seen_at: str) -> tuple[list[tuple[Match, Occurrence]], list[str]]:
    """Each match of each matched blob at the places commits put it (the earliest commit per path
    and secret), and the blobs whose places were found. A blob no commit introduced is counted
    unreachable, and reported (without a path) only with `include_unreachable`."""
    from keysweep.scanner.archives import member_path  # noqa: PLC0415

    hits: list[tuple[Match, Occurrence]] = []
    resolved: list[str] = []
    first_at_path: dict[tuple[str, str, str], tuple[tuple, list[tuple[Match, Occurrence]]]] = {}
    for sha, matches in matched.items():
        intros = introductions.get(sha)
        if not intros:
            stats.blobs_unreachable += 1
            if not include_unreachable:
                # Not recorded as scanned: a later commit may make this blob reachable.
                continue
            for match in matches:
                hits.append((match, Occurrence(
                    source="git", path=None, line=match_line(match), repo=repo.identity,
                    locator=place_locator({"repo": repo.identity, "blob": sha, "unreachable": True}, match),
                    seen_at=seen_at)))
            continue
        resolved.append(sha)
        for intro in intros:
            for match in matches:
                # Each later edit of the file makes a new blob that still holds the key; only the
                # earliest commit that put the secret at this path introduced it. An allowed line
                # is a place of its own: allowing it in one commit never hides a later plain copy.
                path = member_path(intro.path, match.member)
                place = (match.provider, match.secret, path, match.allowed_by is not None)
                when = (intro.timestamp, intro.commit or "", sha)
                earlier = first_at_path.get(place)
                if earlier is not None and earlier[0] < when:
                    continue
                occurrence = Occurrence(
                    source="git", path=path, line=match_line(match), repo=repo.identity,
                    commit=intro.commit, author_name=intro.author_name or None,
                    author_email=intro.author_email or None, committed_at=intro.committed_at or None,
                    locator=place_locator({"repo": repo.identity, "blob": sha} if intro.commit
                                          else {"repo": repo.identity, "blob": sha, "ref": intro.path}, match),
                    seen_at=seen_at,
                )
                if earlier is not None and earlier[0] == when:
                    earlier[1].append((match, occurrence))  # the same key twice in that blob
                else:
                    first_at_path[place] = (when, [(match, occurrence)])
    for _, pairs in first_at_path.values():
        hits.extend(pairs)
    return hits, resolved


def _unread_since(repo: GitRepo, since: Since, refs: dict[str, str],
                  ) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(sha, size) of the blobs commits made since `since` hold, and of the blobs it left
    unfinished, that no earlier scan read; and (sha, "commit" | "tag") of the commits and
    annotated tags made since, whose messages no earlier scan read."""
    found = repo.objects_since(refs.values(), since.refs.values(), since.pending)
    blobs = [(sha, size) for sha, (kind, size) in found.items() if kind == "blob"]
    read = since.already_read([sha for sha, _ in blobs])
    messages = [(sha, kind) for sha, (kind, _) in found.items() if kind in ("commit", "tag")]
    messages_read = since.messages_read([sha for sha, _ in messages])
    return ([(sha, size) for sha, size in blobs if sha not in read],
            [(sha, kind) for sha, kind in messages if sha not in messages_read])


def _rematch(repo: GitRepo, shas: list[str], sizes: dict[str, int], engine: Engine, errors: list[str],
             max_size: int) -> Iterator[tuple[str, list[Match]]]:
    """(sha, matches) of blobs matched by an earlier scan, read again (the large ones streamed)."""
    from keysweep.scanner.archives import Limits  # noqa: PLC0415

    limits = Limits(max_member=max_size)
    counted_before = ScanStats()  # these blobs were counted by the scan that first read them
    for sha, content in repo.read_blobs([sha for sha in shas if sizes.get(sha, 0) <= CHUNK_SIZE], errors):
        yield sha, match_blob(engine, Blob(content, "git", {"blob": sha}), counted_before, limits=limits)
    for sha in [sha for sha in shas if sizes.get(sha, 0) > CHUNK_SIZE]:
        blob = Blob(b"", "git", {"blob": sha}, size=sizes[sha],
                    opener=lambda sha=sha: repo.blob_stream(sha, sizes[sha], errors))
        yield sha, match_blob(engine, blob, counted_before, limits=limits)


# Messages are short and many: they are scanned in batches, each apart from the next by more
# blank lines than any shipped rule's gap (400 bytes at most) or key-id pairing window (800) reaches,
# so no match joins two messages; a match running into a gap is dropped.
MESSAGE_GAP = b"\n" * 1024
MESSAGE_BATCH_BYTES = 4 * 1024 * 1024


def _match_messages(engine: Engine, messages: list, stats: ScanStats) -> list[tuple[object, list[Match], bool]]:
    """(message, its matches with lines counted within it, whether a rule timed out) for each."""
    if not messages:
        return []
    starts, offset, lines_before, line_count = [], 0, [], 0
    for message in messages:
        starts.append(offset)
        lines_before.append(line_count)
        offset += len(message.text) + len(MESSAGE_GAP)
        line_count += message.text.count(b"\n") + len(MESSAGE_GAP)
    before = engine.suppressed_inline
    found = engine.scan(MESSAGE_GAP.join(message.text for message in messages), keep_allowed=True)
    stats.suppressed_inline += engine.suppressed_inline - before
    timed_out = bool(engine.timed_out)
    for rule_id in engine.timed_out:
        what = "the message of 1 commit or tag" if len(messages) == 1 else f"the messages of {len(messages)} commits or tags"
        stats.errors.append(timeout_message(rule_id, what,
                                            engine.confirm_timeout))
    per_message: list[list[Match]] = [[] for _ in messages]
    for match in found:
        index = bisect.bisect_right(starts, match.start) - 1
        if match.end > starts[index] + len(messages[index].text):
            continue  # runs into the gap: not a match within one message
        per_message[index].append(Match(**{**{name: getattr(match, name) for name in Match.__slots__},
                                           "start": match.start - starts[index], "end": match.end - starts[index],
                                           "line": match.line - lines_before[index]}))
    return [(message, per_message[i], timed_out) for i, message in enumerate(messages)]


class _MessageText(NamedTuple):
    sha: str
    kind: str            # "commit" or "tag"
    text: bytes
    reachable: bool


def _messages_to_scan(repo: GitRepo, already_scanned: set[str], include_unreachable: bool,
                      tags: dict[str, str], errors: list[str],
                      only: list[tuple[str, str]] | None = None) -> Iterator[_MessageText]:
    """The messages not read by an earlier scan: every commit a ref reaches (one `git log` stream),
    every annotated tag a ref names, and with `include_unreachable` the other commit and tag
    objects (their messages are reported only then, so only then read). With `only`, just those
    objects (an incremental scan's new commits and tags, all walked from a ref)."""
    # The git source is scan git's: scan staged and scan dir start without it.
    from keysweep.scanner.sources.git import commit_messages, message_inventory, read_messages  # noqa: PLC0415

    if only is not None:
        commits = [sha for sha, kind in only if kind == "commit" and sha not in already_scanned]
        for sha, text in commit_messages(repo, commits, errors) if commits else ():
            yield _MessageText(sha, "commit", text, True)
        for message in read_messages(repo, [(sha, kind) for sha, kind in only
                                            if kind == "tag" and sha not in already_scanned], errors):
            yield _MessageText(message.sha, "tag", message.text, True)
        return
    seen: set[str] = set()
    for sha, text in commit_messages(repo, errors=errors):
        seen.add(sha)
        if sha not in already_scanned:
            yield _MessageText(sha, "commit", text, True)
    named = [(sha, "tag") for sha in tags if sha not in already_scanned]
    for message in read_messages(repo, named, errors):
        yield _MessageText(message.sha, "tag", message.text, True)
    if not include_unreachable:
        return
    dangling = [(sha, kind) for sha, kind in message_inventory(repo)
                if sha not in seen and sha not in tags and sha not in already_scanned]
    for message in read_messages(repo, dangling, errors):
        yield _MessageText(message.sha, message.kind, message.text, False)


def scan_messages(repo: GitRepo, engine: Engine, stats: ScanStats, *, already_scanned: set[str] = frozenset(),
                  include_unreachable: bool = False, seen_at: str | None = None,
                  only: list[tuple[str, str]] | None = None,
                  ) -> tuple[list[tuple[Match, Occurrence]], list[str]]:
    """Matches in the messages of commits and annotated tags not read by an earlier scan, and the
    objects safe to skip next time. A message is its own place (`source = "git-message"`): the
    commit (or the commit a tag names) and its author are read, from the object, only for a message
    that matched. A message no ref reaches is read only with `include_unreachable`; with `only`,
    just those commits and tags are read (see `_messages_to_scan`)."""
    from keysweep.scanner.sources.git import read_messages, tag_refs  # noqa: PLC0415  (scan git's only)

    tags = tag_refs(repo)
    matched: list[tuple[_MessageText, list[Match], bool]] = []
    done: list[str] = []
    batch: list[_MessageText] = []
    filled = 0

    def scan_batch() -> None:
        # Most messages hold nothing a rule looks for: one Hyperscan pass tells them, and only
        # the others are matched (joined by MESSAGE_GAP, which costs more than the messages).
        maybe = engine.may_match([message.text for message in batch])
        done.extend(message.sha for message, may in zip(batch, maybe) if not may)
        for message, matches, timed_out in _match_messages(engine, [m for m, may in zip(batch, maybe) if may], stats):
            if matches:
                matched.append((message, matches, timed_out))
            elif not timed_out:
                done.append(message.sha)
        batch.clear()

    for message in _messages_to_scan(repo, already_scanned, include_unreachable, tags, stats.errors, only):
        stats.messages_scanned += 1
        batch.append(message)
        filled += len(message.text) + len(MESSAGE_GAP)
        if filled >= MESSAGE_BATCH_BYTES:
            scan_batch()
            filled = 0
    scan_batch()
    if not matched:
        return [], done
    details = {message.sha: message for message in read_messages(
        repo, [(message.sha, message.kind) for message, _, _ in matched], stats.errors)}
    hits: list[tuple[Match, Occurrence]] = []
    for message, matches, timed_out in matched:
        detail = details.get(message.sha)
        if detail is None:
            continue  # gone since it was read: named in the errors
        if message.reachable and not timed_out:
            done.append(message.sha)
        elif not message.reachable:
            stats.blobs_unreachable += 1
        locator = {"repo": repo.identity, "object": message.sha}
        if message.kind == "tag":
            locator["tag"] = tags.get(message.sha) or detail.tag or ""
        if not message.reachable:
            locator["unreachable"] = True
        commit = detail.target if message.kind == "tag" else message.sha
        for match in matches:
            stats.matches += 0 if match.allowed_by else 1
            hits.append((match, Occurrence(
                source="git-message", path=None, line=match.line, repo=repo.identity, commit=commit,
                author_name=detail.author_name or None, author_email=detail.author_email or None,
                committed_at=detail.committed_at or None, locator=place_locator(locator, match),
                seen_at=seen_at)))
    return hits, done


def aggregate(hits: Iterable[tuple[Match, Occurrence]], engine: Engine) -> list[Finding]:
    """One finding per (provider, secret); occurrences de-duplicated, in stable order."""
    findings: dict[str, Finding] = {}
    seen: set[tuple] = set()
    now = utc_now()
    for match, occurrence in hits:
        digest = secret_sha256(match.secret)
        fid = finding_id(match.provider, digest)
        finding = findings.get(fid)
        if finding is None:
            rule = engine.by_id[match.rule_id].rule
            finding = findings[fid] = Finding(
                id=fid, rule_id=match.rule_id, provider=match.provider, secret_sha256=digest,
                redacted=redact(match.secret, rule.display_prefix), long_lived=rule.long_lived,
                key_id=match.key_id, first_seen_at=now, last_seen_at=now,
                metadata=dict(match.metadata) if match.metadata else None,
            )
        else:
            if finding.key_id is None and match.key_id:
                finding.key_id = match.key_id
            if match.metadata:
                finding.metadata = {**match.metadata, **(finding.metadata or {})}
        key = (fid, *occurrence.identity())
        if key not in seen:
            seen.add(key)
            mark_inline(occurrence, match.allowed_by)
            finding.occurrences.append(occurrence)
    for finding in findings.values():
        finding.occurrences.sort(key=occurrence_order)
    return sorted(findings.values(), key=lambda f: (f.provider, f.rule_id, f.id))


