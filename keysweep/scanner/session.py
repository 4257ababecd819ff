"""The scan session: what every `keysweep scan …` and `sweep` does around reading a source —
load the rules and the engine, open the store, read what earlier scans already covered, record
the result, choose the findings to report and the exit status.

The store is imported only when one is opened: `keysweep scan staged` (a pre-commit hook) runs
without one and must not pay for sqlite3.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from keysweep.clock import seconds_from_env
from keysweep.errors import RuleError
from keysweep.models import Finding
from keysweep.scanner.pipeline import Since, utc_now
from keysweep.scanner.rules import Rule, load_rules, rules_digest
from keysweep.suppress import visible

if TYPE_CHECKING:
    from keysweep.scanner.engine import Backend, Engine
    from keysweep.store import Store

# Exit statuses of a scan (docs/design.md "Exit statuses").
EXIT_CLEAN, EXIT_FINDINGS, EXIT_PARTIAL = 0, 1, 3
# Occurrence sources a git scan records: files (blobs) and commit or tag messages.
GIT_SOURCES = ("git", "git-message")
# CPU seconds one regex step may take before its rule is stopped for that content, when not the
# engine's own limit (engine.CONFIRM_TIMEOUT, 2 s): a slower machine's margin, or a test's short one.
REGEX_TIME_LIMIT_ENV = "KEYSWEEP_REGEX_TIME_LIMIT"


def regex_time_limit(env: dict[str, str] | None = None) -> dict[str, float]:
    """The engine's `confirm_timeout` from $KEYSWEEP_REGEX_TIME_LIMIT when it is set, else nothing
    (the engine's own default); anything but a positive number of seconds is a one-line error."""
    try:
        value = seconds_from_env(REGEX_TIME_LIMIT_ENV, env, unit="CPU seconds")
    except ValueError as exc:
        raise RuleError(str(exc)) from None
    return {} if value is None else {"confirm_timeout": value}


def load_engine(rule_paths: Iterable[str], engine: str, lazy: bool = False) -> tuple[Engine, list[Rule]]:
    """The shipped rules plus those at `rule_paths`, compiled once for the chosen backend (with
    `lazy`, when the engine is first used: a sweep with nothing new compiles nothing), with the
    regex time limit $KEYSWEEP_REGEX_TIME_LIMIT sets."""
    options = regex_time_limit()
    rules = load_rules([Path(p) for p in rule_paths])
    if lazy:
        return LazyEngine(rules, backend=engine, **options), rules
    from keysweep.scanner.engine import Engine  # noqa: PLC0415

    return Engine(rules, backend=engine, **options), rules


class LazyEngine:
    """An `Engine` compiled on first use, built with the same arguments.

    A sweep with nothing new reads no value and no blob: compiling the rules (importing Hyperscan,
    loading its database, measuring every pattern) would be most of its own work, and importing
    the engine's modules a tenth of it, so both wait for the first value or blob. Every attribute
    is the real engine's, built once under a lock (a sweep matches from several threads). An
    explicit `backend="hyperscan"` without the module fails at once, as `Engine` does."""

    def __init__(self, rules: Iterable[Rule], backend: Backend = "auto", **options) -> None:
        import threading  # noqa: PLC0415  (scan staged imports this module too)

        self._arguments = (list(rules), backend, options)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        if backend == "hyperscan":
            import importlib.util  # noqa: PLC0415

            if importlib.util.find_spec("hyperscan") is None:
                self.engine  # noqa: B018  (raises as Engine does)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from keysweep.scanner.engine import Engine  # noqa: PLC0415  (with the first value or blob)

                    rules, backend, options = self._arguments
                    self._engine = Engine(rules, backend=backend, **options)
        return self._engine

    @property
    def built(self) -> bool:
        return self._engine is not None

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

    def __setattr__(self, name: str, value) -> None:
        # The scan stages reset and adjust the engine's counters (`timed_out`, `suppressed_inline`):
        # they must land on the engine, not on this proxy, or a later read would see a stale copy.
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.engine, name, value)


def open_store(db: str | None, no_store: bool, default_on: bool = True) -> Store | None:
    """The findings store, or None for a one-shot scan (`--no-store`, or a command whose store is
    opt-in, like `scan staged`, given no `--db`)."""
    if no_store or (not default_on and db is None):
        return None
    from keysweep.store import Store  # noqa: PLC0415  (sqlite3 only when a store is opened: scan staged opens none)

    return Store(db)


def persist(store: Store | None, result, rules: Iterable[Rule], started_at: str,
            digest: str | None = None, sweep: str | None = None) -> list[str] | None:
    """Record a scan's findings, the objects it read and the scan itself; the ids of findings the
    store did not hold before (None without a store). `digest`: `rules_digest(rules)`, when the
    caller has it (a sweep records one scan per scope: hashing every rule each time cost seconds).
    `sweep`: the distributed sweep a worker records for; the scan row then keeps those ids."""
    if store is None:
        return None
    finished = utc_now()
    digest = digest or rules_digest(rules)
    with store.transaction():  # one write transaction: recorded whole or not at all
        new_ids = store.record(result.findings, result.scope, finished, ignored=result.ignored)
        if result.scanned_objects:
            store.mark_scanned(result.source, result.scope, result.scanned_objects, digest, finished)
        if getattr(result, "scanned_messages", None):
            store.mark_scanned("git-message", result.scope, result.scanned_messages, digest, finished)
        if result.tips:
            store.replace_scanned("git-tip", result.scope, result.tips, digest, finished)
        if result.refs is not None:
            # Where the next scan walks from: each ref's object, and the blobs left unfinished.
            store.replace_scanned("git-ref", result.scope, [f"{sha} {name}" for name, sha in result.refs.items()],
                                  digest, finished)
            store.replace_scanned("git-pending", result.scope, result.pending, digest, finished)
        store.record_scan(result.source, result.scope, started_at, finished, asdict(result.stats), len(new_ids),
                          sweep=sweep, new_ids=new_ids)
    return new_ids


@dataclass(frozen=True)
class GitState:
    """What earlier scans of one repository (with the same rules) already covered: the blobs they
    read (listed, when the next scan lists the object database), or where the last one stopped
    (`since`: the next scan walks the new commits)."""

    already_scanned: set[str] = field(default_factory=set)
    previous_tips: set[str] = field(default_factory=set)
    known_match_blobs: set[str] = field(default_factory=set)
    since: Since | None = None
    # Commits and tags whose messages earlier scans read (when listing; walking asks `since`).
    messages_scanned: set[str] = field(default_factory=set)


def git_state(store: Store | None, identity: str, rules: Iterable[Rule], full: bool, walk: bool = True,
              *, digest: str | None = None, ask: Callable[..., Any] | None = None) -> GitState:
    """The incremental state of repository `identity`; empty without a store or with `full`.
    With `walk` (not for `--unreachable`, which must list blobs no ref reaches) and a previous
    scan that recorded its refs, the next scan walks from them instead of listing every blob.
    `digest`: `rules_digest(rules)` if the caller has it. `ask(function, *args)`: how the scan's
    look-ups reach the store when the scan runs in another thread than the store's (a sweep)."""
    if store is None or full:
        return GitState()
    digest = digest or rules_digest(rules)
    ask = ask or (lambda function, *args: function(*args))
    refs = _stored_refs(store.scanned_objects("git-ref", identity, digest)) if walk else {}
    if refs:
        since = Since(refs=refs, pending=frozenset(store.scanned_objects("git-pending", identity, digest)),
                      scanned_count=store.count_scanned("git", identity, digest),
                      already_read=lambda shas: ask(store.scanned_among, "git", identity, digest, shas),
                      messages_read=lambda shas: ask(store.scanned_among, "git-message", identity, digest, shas))
        return GitState(previous_tips=store.scanned_objects("git-tip", identity, digest),
                        known_match_blobs=store.git_blobs_with_findings(identity), since=since)
    already = store.scanned_objects("git", identity, digest)
    if not already:
        return GitState()
    return GitState(already, store.scanned_objects("git-tip", identity, digest),
                    store.git_blobs_with_findings(identity),
                    messages_scanned=store.scanned_objects("git-message", identity, digest))


def _stored_refs(rows: Iterable[str]) -> dict[str, str]:
    """`git-ref` rows ("<object id> <ref name>") as ref -> object."""
    return {name: sha for sha, _, name in (row.partition(" ") for row in rows) if name}


def findings_to_report(result, store: Store | None, new_only: bool, new_ids: list[str] | None,
                       include_suppressed: bool = False) -> list[Finding]:
    """The findings a scan reports: those of the places it read (with the store, what earlier scans
    found there too), only the new ones with `new_only`, and not those suppressed everywhere unless
    `include_suppressed`."""
    if store is not None and getattr(result, "scopes", None) is not None:
        # A sweep touches many scopes (repositories, CI settings, regions): report all they hold.
        findings = store.findings_in_scopes(result.scopes, ids=new_ids if new_only else None,
                                            include_suppressed=True)
    elif store is not None and result.source == "git" and getattr(result, "whole_scope", True):
        # Incremental: blobs read by earlier scans of this repository hold findings too.
        findings = store.findings(scope=result.scope, source=GIT_SOURCES, ids=new_ids if new_only else None,
                                  include_suppressed=True)
    else:
        # A directory or the index is reported as it is now, whatever the store remembers.
        findings = result.findings
        if new_only and new_ids is not None:
            findings = [f for f in findings if f.id in set(new_ids)]
    return visible(findings, include_suppressed)


def exit_status(findings: Sequence[Finding], errors: Sequence[str], *, nothing_read: bool = False,
                fail_on_error: bool = False, new_ids: list[str] | None = None, exit_on_new: bool = False) -> int:
    """3 when every source failed, or on errors with `fail_on_error`; else 1 when there are findings
    (or, with `exit_on_new`, when the store gained findings: a sweep alerts on change), else 0."""
    if nothing_read or (fail_on_error and errors):
        return EXIT_PARTIAL
    # A key keysweep created (`revoke --rotate`) and finds only where it wrote it is its own, not a leak.
    own = {f.id for f in findings if (getattr(f, "managed", None) or {}).get("only_where_written")}
    # A secret the baseline lists is known: listed, marked, and it does not fail the run.
    own |= {f.id for f in findings if getattr(f, "baselined", None)}
    if exit_on_new:
        return EXIT_FINDINGS if any(i not in own for i in new_ids or []) else EXIT_CLEAN
    return EXIT_FINDINGS if any(f.id not in own for f in findings) else EXIT_CLEAN
