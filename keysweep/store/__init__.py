"""The findings store: one SQLite file (the default), or a schema in a shared PostgreSQL database
(`--db postgresql://…`, keysweep/store/postgres.py), created and evolved by numbered migrations.

No column ever holds a secret value: findings keep its SHA-256 and a redacted form, occurrences
keep where to re-read it. Tables are documented in docs/store.md.

Any number of keysweep processes may write one store at once: every write is a `BEGIN IMMEDIATE`
transaction (one writer at a time, no lock upgrade that could fail half-way), migrations are
checked and applied inside one such transaction, and a process that finds the store locked waits,
says so on stderr after a few seconds, and gives up with a one-line error after a bounded time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from keysweep.clock import parse_utc, seconds_from_env
from keysweep.errors import StoreError
from keysweep.files import make_private_dirs
from keysweep.locations import at_target
from keysweep.models import Finding, Occurrence, occurrence_order, place_of
from keysweep.sanitize import stored_text, terminal_safe
from keysweep.store import postgres
from keysweep.store.migrations import MIGRATIONS, POSTGRES
from keysweep.suppress import INLINE, IgnoreList, is_suppressed

OCCURRENCE_COLUMNS = ("source", "repo", "path", "line", "commit_id", "author_name", "author_email",
                      "committed_at", "locator", "seen_at", "metadata", "suppressed", "suppression")
# A finding is listed unless every place it was seen is suppressed (see keysweep/suppress.py).
VISIBLE = ("(NOT EXISTS (SELECT 1 FROM occurrences o WHERE o.finding_id = f.id) "
           "OR EXISTS (SELECT 1 FROM occurrences o WHERE o.finding_id = f.id AND o.suppressed = 0))")


def default_db_path() -> Path | str:
    """$KEYSWEEP_DB (a path, or a postgresql:// URL kept as it is), else the user data dir's file."""
    if os.environ.get("KEYSWEEP_DB"):
        return store_location(os.environ["KEYSWEEP_DB"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "keysweep" / "keysweep.db"


def store_location(db: str | os.PathLike | None) -> Path | str:
    """What `--db` names: a postgresql:// URL (as given) or a path; None is the default store."""
    if db is None:
        return default_db_path()
    return db if postgres.is_postgres_url(db) else Path(db)


def store_exists(location: Path | str) -> bool:
    """Whether there is a store to read: a file, or a PostgreSQL URL (its server says, on opening)."""
    return postgres.is_postgres_url(location) or Path(location).exists()


def show_location(location: Path | str) -> str:
    """A store's location as it may be printed (a URL without its password)."""
    return postgres.redact_url(location) if postgres.is_postgres_url(location) else str(location)


# How long a process waits for another one's write transaction before it gives up (seconds), and
# after how long it says that it is waiting.
LOCK_TIMEOUT_ENV = postgres.LOCK_TIMEOUT_ENV
DEFAULT_LOCK_TIMEOUT = 120.0
LOCK_NOTICE_AFTER = 3.0
# SQLite's own busy wait per attempt while we poll for the write lock (milliseconds).
_LOCK_POLL_MS = 500


def lock_timeout(env: dict[str, str] | None = None) -> float:
    try:
        value = seconds_from_env(LOCK_TIMEOUT_ENV, env)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    return DEFAULT_LOCK_TIMEOUT if value is None else value


def is_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY"))


def begin_immediate(conn: sqlite3.Connection, path: str | os.PathLike | None = None,
                    timeout: float | None = None) -> None:
    """Start a write transaction, waiting for other writers: a line on stderr once the wait has
    lasted a few seconds, StoreError (a one-line error, exit 2) once it has lasted `timeout`."""
    timeout = lock_timeout() if timeout is None else timeout
    if isinstance(conn, postgres.PgConnection):
        conn.begin_write(timeout, LOCK_NOTICE_AFTER)
        return
    if path is None:
        path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "") or "store"
    started = time.monotonic()
    told = False
    previous_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {min(_LOCK_POLL_MS, max(1, int(timeout * 1000)))}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_locked_error(exc):
                    raise
            waited = time.monotonic() - started
            if waited >= timeout:
                raise StoreError(f"{path}: the store is locked by another process; gave up after {waited:.0f} s "
                                 f"(wait longer with {LOCK_TIMEOUT_ENV}=SECONDS)")
            if not told and waited >= min(LOCK_NOTICE_AFTER, timeout / 2):
                told = True
                sys.stderr.write(f"keysweep: waiting for another process to release the store {terminal_safe(path)} "
                                 f"(up to {timeout:.0f} s)\n")
                sys.stderr.flush()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {previous_ms}")


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    """The one place a store connection is made (tests substitute a read-only one)."""
    return sqlite3.connect(path, timeout=timeout)


def _create_private_file(path: Path) -> None:
    """Create the store file readable and writable by its user only, whatever the umask: it lists
    where every secret is. SQLite gives its -wal and -shm files the same mode. An existing file
    is left as it is."""
    make_private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class Store:
    def __init__(self, path: str | os.PathLike | None = None, *, writable: bool = True) -> None:
        """Open (creating if needed) and migrate the store. With `writable` (every command that
        records anything), a store that cannot be written is refused here, before any work."""
        location = store_location(path)
        self.lock_timeout = lock_timeout()
        self._transaction_depth = 0
        self._db = None
        if postgres.is_postgres_url(location):
            # `path` names the store in messages: the URL without its password.
            self.path = postgres.redact_url(location)
            self.dialect = "postgresql"
            self.conn = postgres.connect(location, self.lock_timeout)
            try:
                self.migrate(writable=writable)
            except BaseException:
                self.conn.close()
                raise
            return
        self.path = location
        self.dialect = "sqlite"
        try:
            if str(self.path) != ":memory:":
                _create_private_file(self.path)
            self.conn = _connect(str(self.path), self.lock_timeout)
            self._retry_locked(lambda: self.conn.execute("PRAGMA journal_mode=WAL"))
            # WAL + NORMAL: still never corrupt, commits don't wait for fsync (a sweep records each
            # repository as it goes: FULL made the commits cost more than the scanning).
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.migrate(writable=writable)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open store: {_store_problem(exc)}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open store: {exc.strerror or exc}") from None

    @property
    def db(self):
        """sqlite_utils over the same connection, for migrations: imported only when a store is
        created or migrated (a scan of an existing store does not pay for it)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    def _insert(self, table: str, row: dict[str, Any], upsert_on: str | None = None) -> None:
        """One row; with `upsert_on` (the primary key) an existing row's other columns are replaced."""
        columns = list(row)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        if upsert_on is not None:
            sql += (f" ON CONFLICT ({upsert_on}) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in columns if c != upsert_on))
        # A dict or list value is stored as JSON text, as sqlite_utils stored it before. A string a
        # provider answered (an owner's email, a check's error) may hold a lone surrogate from JSON's
        # `\\ud800`, which SQLite and PostgreSQL refuse: stored_text puts U+FFFD in its place.
        self.conn.execute(sql, [json.dumps(row[c], default=repr) if isinstance(row[c], (dict, list, tuple))
                                else stored_text(row[c]) if isinstance(row[c], str) else row[c] for c in columns])

    def _retry_locked(self, action: Callable[[], Any]) -> Any:
        """Run a statement that needs the database lock outside a transaction (changing the
        journal mode of a new store), polling like `begin_immediate`."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not is_locked_error(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.05)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT: this process is the only writer until it ends; rolled back on
        any error. Reads inside it see everything committed before it began. A transaction opened
        inside another one joins it: a scan's findings, the objects it read and the scan itself
        are written at once (one lock, one commit) and never half."""
        if self._transaction_depth:
            self._transaction_depth += 1
            try:
                yield
            finally:
                self._transaction_depth -= 1
            return
        if self.conn.in_transaction:
            self.conn.commit()
        begin_immediate(self.conn, self.path, self.lock_timeout)
        self._transaction_depth = 1
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            self._transaction_depth = 0
        self.conn.commit()

    def migrate(self, writable: bool = True) -> None:
        """Apply missing migrations exactly once, even with several processes opening a new store
        at the same time: the applied versions are read again inside the write lock."""
        if not writable and self._applied_versions_or_none() == {v for v, _, _ in MIGRATIONS}:
            return
        if self.dialect == "postgresql":
            postgres.migrate(self.conn, MIGRATIONS, POSTGRES, self.lock_timeout)
            return
        with self.transaction():
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                            "name TEXT, applied_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))")
            # A write probe: a store SQLite can only read fails here, before any work is done.
            self.conn.execute("UPDATE schema_migrations SET version = version WHERE 0")
            applied = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations")}
            newest = max(version for version, _, _ in MIGRATIONS)
            if applied and max(applied) > newest:
                raise StoreError(f"{self.path}: store schema v{max(applied)} is newer than this keysweep (v{newest})")
            for version, name, apply in MIGRATIONS:
                if version not in applied:
                    apply(self.db)
                    self.conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])

    def _applied_versions_or_none(self) -> set[int] | None:
        if self.dialect == "postgresql":
            return postgres.applied_versions(self.conn)
        try:
            return {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations")}
        except sqlite3.OperationalError:
            return None

    def close(self) -> None:
        self.conn.close()

    # -- incremental scanning -----------------------------------------------------------------
    def scanned_objects(self, source: str, scope: str, rules_digest: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT object_id FROM scanned WHERE source = ? AND scope = ? AND rules_digest = ?",
            [source, scope, rules_digest])
        return {row[0] for row in rows}

    def scanned_among(self, source: str, scope: str, rules_digest: str, objects: Iterable[str]) -> set[str]:
        """Those of `objects` already read with these rules (a few candidates, not the whole list)."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(objects))):
            rows = self.conn.execute(
                f"SELECT object_id FROM scanned WHERE source = ? AND scope = ? AND rules_digest = ? "
                f"AND object_id IN ({','.join('?' * len(chunk))})", [source, scope, rules_digest, *chunk])
            found.update(row[0] for row in rows)
        return found

    def count_scanned(self, source: str, scope: str, rules_digest: str) -> int:
        return self.conn.execute("SELECT count(*) FROM scanned WHERE source = ? AND scope = ? AND rules_digest = ?",
                                 [source, scope, rules_digest]).fetchone()[0]

    def mark_scanned(self, source: str, scope: str, objects: Iterable[str], rules_digest: str, at: str) -> None:
        # In key order: each row then lands next to the previous one in the primary-key index
        # instead of on a random page (a whole history's blob ids cost half the CPU this way).
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO scanned (source, scope, object_id, rules_digest, scanned_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (source, scope, object_id) DO UPDATE SET rules_digest = excluded.rules_digest, "
                "scanned_at = excluded.scanned_at",
                ((source, scope, obj, rules_digest, at) for obj in sorted(set(objects))))

    def replace_scanned(self, source: str, scope: str, objects: Iterable[str], rules_digest: str, at: str) -> None:
        """Keep only these objects for (source, scope): e.g. the ref tips of the latest scan."""
        with self.transaction():
            self.conn.execute("DELETE FROM scanned WHERE source = ? AND scope = ?", [source, scope])
            self.conn.executemany(
                "INSERT INTO scanned (source, scope, object_id, rules_digest, scanned_at) VALUES (?, ?, ?, ?, ?)",
                ((source, scope, obj, rules_digest, at) for obj in objects))

    def git_blobs_with_findings(self, scope: str) -> set[str]:
        rows = self.conn.execute(
            f"SELECT DISTINCT {self._json_text('locator', 'blob')} FROM occurrences WHERE scope = ? AND source = 'git'",
            [scope])
        return {row[0] for row in rows if row[0]}

    def _json_text(self, column: str, key: str) -> str:
        """SQL for one text value of a JSON column, in this store's dialect (`key` is a constant)."""
        if self.dialect == "postgresql":
            return f"({column}::jsonb ->> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    # -- findings -----------------------------------------------------------------------------
    def record(self, findings: list[Finding], scope: str, at: str, ignored: IgnoreList | None = None) -> list[str]:
        """Upsert findings and occurrences, and apply the scope's ignore-file entries (`ignored`) to
        what the store already holds of it; return ids of findings that were not listed before
        (absent, or suppressed everywhere) and are now. One write transaction: a concurrent scan
        of the same secrets waits for it, and never meets a half-recorded finding."""
        with self.transaction():
            changes = self._ignore_changes(scope, ignored) if ignored is not None else []
            touched = list(dict.fromkeys([f.id for f in findings] + [change[1] for change in changes]))
            listed_before = self._listed(touched)
            if changes:
                self.conn.executemany("UPDATE occurrences SET suppressed = ?, suppression = ? WHERE id = ?",
                                      ((flag, reason, occurrence_id) for occurrence_id, _, flag, reason in changes))
            for finding in findings:
                inserted = self.conn.execute(
                    "INSERT INTO findings (id, provider, rule_id, secret_sha256, redacted, long_lived, key_id, "
                    "first_seen_at, last_seen_at, status, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    [finding.id, finding.provider, finding.rule_id, finding.secret_sha256, finding.redacted,
                     int(finding.long_lived), finding.key_id, at, at, _metadata_json(finding.metadata)]).rowcount
                if inserted:
                    self._event(finding.id, "detected", at)
                else:
                    self.conn.execute(
                        "UPDATE findings SET last_seen_at = ?, key_id = coalesce(key_id, ?), "
                        "metadata = coalesce(metadata, ?) WHERE id = ?",
                        [at, finding.key_id, _metadata_json(finding.metadata), finding.id])
                for occurrence in finding.occurrences:
                    self._record_occurrence(finding.id, scope, occurrence, at)
                leaked = min((o.committed_at for o in finding.occurrences if o.committed_at), default=None)
                if leaked:
                    self._event_if_earlier(finding.id, "leaked", leaked)
            listed_after = self._listed(touched)
        return [finding_id for finding_id in touched if finding_id in listed_after and finding_id not in listed_before]

    def _listed(self, finding_ids: list[str]) -> set[str]:
        """Those of `finding_ids` the store holds and lists by default (not suppressed everywhere)."""
        listed: set[str] = set()
        for chunk in _chunks(finding_ids):
            rows = self.conn.execute(f"SELECT f.id FROM findings f WHERE f.id IN ({','.join('?' * len(chunk))}) "
                                   f"AND {VISIBLE}", chunk)
            listed.update(row[0] for row in rows)
        return listed

    def _ignore_changes(self, scope: str, ignored: IgnoreList) -> list[tuple[str, str, int, str | None]]:
        """(occurrence id, finding id, suppressed, reason JSON) for each stored place of `scope`
        whose ignore-file suppression the current entries change; inline allows stay."""
        changes = []
        rows = self.conn.execute(
            "SELECT o.id, o.finding_id, f.secret_sha256, o.suppressed, o.suppression FROM occurrences o "
            "JOIN findings f ON f.id = o.finding_id WHERE o.scope = ?", [scope])
        for occurrence_id, finding_id, digest, suppressed, stored in rows:
            current = json.loads(stored) if stored else None
            if suppressed and (current or {}).get("kind") == INLINE:
                continue
            reason = ignored.reason_for(finding_id, digest)
            if bool(suppressed) != (reason is not None) or current != reason:
                changes.append((occurrence_id, finding_id, int(reason is not None),
                                json.dumps(reason, sort_keys=True) if reason else None))
        return changes

    def _record_occurrence(self, finding_id: str, scope: str, o: Occurrence, at: str) -> None:
        if o.source == "git" and o.commit and o.path and self._has_earlier_introduction(finding_id, scope, o):
            return
        locator = json.dumps(o.locator, sort_keys=True)
        # The row's id ignores the access details, so a later scan refreshes them in place.
        place = json.dumps(place_of(o.locator), sort_keys=True)
        key = json.dumps([finding_id, o.source, o.repo, o.path, o.line, o.commit, place])
        row = {
            "id": hashlib.sha256(key.encode()).hexdigest()[:24], "finding_id": finding_id, "scope": scope,
            "source": o.source, "repo": o.repo, "path": o.path, "line": o.line, "commit_id": o.commit,
            "author_name": o.author_name, "author_email": o.author_email, "committed_at": o.committed_at,
            "locator": locator, "seen_at": o.seen_at or at,
            "metadata": json.dumps(o.metadata, sort_keys=True, default=str) if o.metadata else None,
            "suppressed": int(o.suppressed),
            "suppression": json.dumps(o.suppression, sort_keys=True) if o.suppression else None,
        }
        self._insert("occurrences", row, upsert_on="id")

    def _has_earlier_introduction(self, finding_id: str, scope: str, o: Occurrence) -> bool:
        """Git records where a secret entered a path; a later scan that sees a later edit of that
        file keeps the earliest commit. A new earlier one (history from another branch) replaces it.
        A line allowed inline is a place of its own: an allowed early copy never hides a later plain one."""
        rows = self.conn.execute(
            "SELECT id, committed_at, commit_id, suppression FROM occurrences WHERE finding_id = ? AND scope = ? "
            "AND source = 'git' AND path = ? AND commit_id IS NOT NULL", [finding_id, scope, o.path]).fetchall()
        mine = (o.committed_at or "", o.commit or "")
        inline = _is_inline(o.suppression)
        rows = [row for row in rows if _is_inline(json.loads(row[3]) if row[3] else None) == inline]
        if any((when or "", commit) < mine for _, when, commit, _ in rows):
            return True
        stale = [row_id for row_id, when, commit, _ in rows if (when or "", commit) > mine]
        if stale:
            self.conn.execute(f"DELETE FROM occurrences WHERE id IN ({','.join('?' * len(stale))})", stale)
        return False

    def _event(self, finding_id: str, kind: str, at: str, detail: dict | None = None) -> None:
        self._insert("events", {"finding_id": finding_id, "kind": kind, "at": at,
                                  "detail": json.dumps(detail) if detail else None})

    def _event_if_earlier(self, finding_id: str, kind: str, at: str) -> None:
        current = self.conn.execute("SELECT min(at) FROM events WHERE finding_id = ? AND kind = ?",
                                  [finding_id, kind]).fetchone()[0]
        if current is None or at < current:
            self._event(finding_id, kind, at)

    def findings_in_scopes(self, scopes: Iterable[str], ids: Iterable[str] | None = None,
                           include_suppressed: bool = False) -> list[Finding]:
        """Findings seen in any of these scopes (a sweep touches many), optionally only these ids;
        those suppressed everywhere only with `include_suppressed`."""
        wanted = None if ids is None else set(ids)
        merged: dict[str, Finding] = {}
        scope_list = sorted(set(scopes))
        for start in range(0, len(scope_list), 500):
            chunk = scope_list[start:start + 500]
            placeholders = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT DISTINCT finding_id FROM occurrences WHERE scope IN ({placeholders})", chunk)
            merged.update((row[0], None) for row in rows if wanted is None or row[0] in wanted)
        found = list(merged)
        result: list[Finding] = []
        for start in range(0, len(found), 500):
            chunk = found[start:start + 500]
            result.extend(self.findings(ids=chunk) if include_suppressed else
                          [f for f in self.findings(ids=chunk) if not is_suppressed(f)])
        return sorted(result, key=lambda f: (f.provider, f.rule_id, f.id))

    # -- HTTP validators (conditional requests of remote sources) -------------------------------
    def http_validator(self, url: str, rules_digest: str) -> tuple[str, str | None] | None:
        """(etag, stored body or None) of a listing fetched with these rules, or None."""
        row = self.conn.execute("SELECT etag, body FROM http_validators WHERE url = ? AND rules_digest = ?",
                              [url, rules_digest]).fetchone()
        return (row[0], row[1]) if row and row[0] else None

    def save_http_validators(self, rows: Iterable[tuple[str, str, str, str | None]], at: str) -> None:
        """(url, etag, rules_digest, body) of listings whose content has been fully recorded."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO http_validators (url, etag, rules_digest, body, fetched_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, rules_digest = excluded.rules_digest, "
                "body = excluded.body, fetched_at = excluded.fetched_at",
                ((url, etag, digest, body, at) for url, etag, digest, body in rows))

    def record_scan(self, source: str, scope: str, started_at: str, finished_at: str,
                    stats: dict[str, Any], new_findings: int, *, sweep: str | None = None,
                    new_ids: Iterable[str] = ()) -> None:
        """One scan of `scope`. A distributed sweep's unit names its `sweep` and keeps the ids of the
        findings it found new (read back by `sweep_scans`)."""
        row = {"source": source, "scope": scope, "started_at": started_at, "finished_at": finished_at,
               "stats": json.dumps(stats), "new_findings": new_findings}
        if sweep is not None:
            row.update(sweep=sweep, new_ids=json.dumps(sorted(new_ids)))
        with self.transaction():
            self._insert("scans", row)

    def sweep_scans(self, sweep: str) -> list[tuple[str, str, list[str], dict[str, Any]]]:
        """(source, scope, ids of findings new to the store, stats) of each scan recorded for the
        distributed sweep `sweep`, in the order they were recorded."""
        rows = self.conn.execute("SELECT source, scope, new_ids, stats FROM scans WHERE sweep = ? ORDER BY id",
                                 [sweep])
        return [(source, scope, json.loads(new_ids or "[]"), json.loads(stats or "{}"))
                for source, scope, new_ids, stats in rows]

    def findings(self, *, scope: str | None = None, source: str | Sequence[str] | None = None, provider: str | None = None,
                 rule: str | None = None, repo: str | None = None, ids: Iterable[str] | None = None,
                 include_suppressed: bool = False) -> list[Finding]:
        """Findings matching every filter given. A listing leaves out findings suppressed everywhere
        unless `include_suppressed`; findings named by `ids` are always returned (a lookup by id is
        deliberate: a job or a person named it)."""
        clauses, params = [], []
        if ids is None and not include_suppressed:
            clauses.append(VISIBLE)
        if provider:  # provider names are compared without regard to case (`GitHub` = `github`)
            clauses.append("lower(f.provider) = lower(?)")
            params.append(provider)
        if rule:
            clauses.append("f.rule_id = ?")
            params.append(rule)
        if scope and source:
            sources = [source] if isinstance(source, str) else list(source)
            clauses.append("f.id IN (SELECT finding_id FROM occurrences WHERE scope = ? "
                           f"AND source IN ({','.join('?' * len(sources))}))")
            params.extend([scope, *sources])
        elif scope:
            clauses.append("f.id IN (SELECT finding_id FROM occurrences WHERE scope = ?)")
            params.append(scope)
        if repo:
            clauses.append("f.id IN (SELECT finding_id FROM occurrences WHERE repo = ? OR repo LIKE ?)")
            params.extend([repo, f"%{repo}%"])
        if ids is not None:
            id_list = list(ids)
            clauses.append(f"f.id IN ({','.join('?' * len(id_list))})" if id_list else "1 = 0")
            params.extend(id_list)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.conn.execute(
            f"SELECT id, rule_id, provider, secret_sha256, redacted, long_lived, key_id, first_seen_at, "
            f"last_seen_at, status, metadata FROM findings f {where} ORDER BY provider, rule_id, id",
            params).fetchall()
        findings = [Finding(id=r[0], rule_id=r[1], provider=r[2], secret_sha256=r[3], redacted=r[4],
                            long_lived=bool(r[5]), key_id=r[6], first_seen_at=r[7], last_seen_at=r[8],
                            status=r[9], metadata=json.loads(r[10]) if r[10] else None) for r in rows]
        by_id = {f.id: f for f in findings}
        if by_id:
            self._attach_occurrences(by_id)
            self._attach_remediation(by_id)
            self._attach_verification(by_id)
            self._attach_owner(by_id)
            self._attach_managed(by_id)
        return findings

    def selection_values(self) -> dict[str, set[str]]:
        """Every value the store holds for each selection filter (providers, rule ids, chosen
        owners' names and contacts, teams, source kinds, repositories): what a filter can match."""
        def distinct(sql: str) -> set[str]:
            return {row[0] for row in self.conn.execute(sql) if row[0]}

        return {
            "provider": distinct("SELECT DISTINCT provider FROM findings"),
            "rule": distinct("SELECT DISTINCT rule_id FROM findings"),
            "owner": distinct("SELECT DISTINCT name FROM owner_candidates WHERE chosen = 1")
            | distinct("SELECT DISTINCT contact FROM owner_candidates WHERE chosen = 1"),
            "team": distinct("SELECT DISTINCT team FROM owner_candidates WHERE chosen = 1"),
            "source": distinct("SELECT DISTINCT source FROM occurrences"),
            "repo": distinct("SELECT DISTINCT repo FROM occurrences"),
        }

    # -- keys keysweep created (revoke --rotate) ------------------------------------------------
    def record_managed_key(self, key_id: str, provider: str, rotated_from: str, written_to: dict[str, Any],
                           job_id: int | None, at: str) -> None:
        """A key keysweep created and wrote into `written_to` (a locator: service, id, region, resource)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO managed_keys (key_id, provider, rotated_from, written_to, job_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET written_to = excluded.written_to",
                [key_id, provider, rotated_from, json.dumps(written_to, sort_keys=True), job_id, at])

    def managed_keys(self, key_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(key_ids))):
            for key_id, provider, rotated_from, written_to, job_id, created_at in self.conn.execute(
                    f"SELECT key_id, provider, rotated_from, written_to, job_id, created_at FROM managed_keys "
                    f"WHERE key_id IN ({','.join('?' * len(chunk))})", chunk):
                found[key_id] = {"key_id": key_id, "provider": provider, "rotated_from": rotated_from,
                                 "written_to": json.loads(written_to or "{}"), "job_id": job_id,
                                 "created_at": created_at}
        return found

    def _attach_managed(self, by_id: dict[str, Finding]) -> None:
        with_keys = [f for f in by_id.values() if f.key_id]
        if not with_keys:
            return
        managed = self.managed_keys(f.key_id for f in with_keys)
        for finding in with_keys:
            entry = managed.get(finding.key_id)
            if entry is None or entry["provider"] != finding.provider or entry["rotated_from"] == finding.id:
                continue
            finding.managed = dict(entry, only_where_written=bool(finding.occurrences) and all(
                at_target(o, entry["written_to"]) for o in finding.occurrences))
        self._inherit_owners([f for f in with_keys if f.managed and f.owner is None])

    def _inherit_owners(self, findings: list[Finding]) -> None:
        """A key keysweep rotated in belongs to whoever owned the key it replaced: the responder is
        not asked to find an owner for a credential keysweep itself created a minute ago."""
        predecessors = {f.managed["rotated_from"] for f in findings}
        if not predecessors:
            return
        owners: dict[str, dict[str, Any]] = {}
        self._attach_owner_to(owners, predecessors)
        for finding in findings:
            owner = owners.get(finding.managed["rotated_from"])
            if owner is not None:
                finding.owner = dict(owner, source="rotated-from",
                                     evidence=f"keysweep rotated this key in for {finding.managed['rotated_from']}")

    def _attach_occurrences(self, by_id: dict[str, Finding]) -> None:
        placeholders = ",".join("?" * len(by_id))
        for row in self.conn.execute(
                f"SELECT finding_id, {', '.join(OCCURRENCE_COLUMNS)} FROM occurrences "
                f"WHERE finding_id IN ({placeholders})", list(by_id)):
            values = dict(zip(OCCURRENCE_COLUMNS, row[1:]))
            by_id[row[0]].occurrences.append(Occurrence(
                source=values["source"], path=values["path"], line=values["line"], repo=values["repo"],
                commit=values["commit_id"], author_name=values["author_name"],
                author_email=values["author_email"], committed_at=values["committed_at"],
                locator=json.loads(values["locator"] or "{}"), seen_at=values["seen_at"],
                metadata=json.loads(values["metadata"]) if values["metadata"] else None,
                suppressed=bool(values["suppressed"]),
                suppression=json.loads(values["suppression"]) if values["suppression"] else None))
        for finding in by_id.values():
            finding.occurrences.sort(key=occurrence_order)

    def _attach_remediation(self, by_id: dict[str, Finding]) -> None:
        placeholders = ",".join("?" * len(by_id))
        times: dict[str, dict[str, str]] = {}
        for finding_id, kind, at in self.conn.execute(
                f"SELECT finding_id, kind, min(at) FROM events WHERE finding_id IN ({placeholders}) "
                f"GROUP BY finding_id, kind", list(by_id)):
            times.setdefault(finding_id, {})[kind] = at
        for finding_id, finding in by_id.items():
            finding.remediation = remediation_summary(times.get(finding_id, {}))


    def event_kinds(self) -> set[str]:
        """The kinds of event the store holds."""
        return {row[0] for row in self.conn.execute("SELECT DISTINCT kind FROM events")}

    def events(self, *, since: str | None = None, after_seq: int | None = None,
               kinds: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The events table, oldest row first, each with its finding's identifiers: those at or
        after `since` (the event's time), written after row `after_seq`, of `kinds` (a kind, or a
        prefix naming a family: `verified` is every `verified_*`)."""
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("e.at >= ?")
            params.append(since)
        if after_seq is not None:
            where.append("e.id > ?")
            params.append(after_seq)
        if kinds:
            where.append("(" + " OR ".join("e.kind = ? OR e.kind LIKE ? ESCAPE '\\'" for _ in kinds) + ")")
            for kind in kinds:
                params += [kind, kind.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "\\_%"]
        rows = self.conn.execute(
            "SELECT e.id, e.finding_id, e.kind, e.at, e.detail, f.provider, f.rule_id, f.redacted, f.key_id "
            f"FROM events e LEFT JOIN findings f ON f.id = e.finding_id WHERE {' AND '.join(where)} ORDER BY e.id",
            params)
        columns = ("seq", "finding_id", "kind", "at", "detail", "provider", "rule_id", "redacted", "key_id")
        return [dict(zip(columns, row)) for row in rows]

    # -- verification (keysweep verify) -------------------------------------------------------
    def record_verification(self, finding_id: str, status: str, identity: dict[str, Any] | None,
                            error: str | None, at: str, reach: dict[str, Any] | None = None) -> None:
        """One liveness check, dated, with the key's reach when it was read (a live key); a
        determinate answer is also a time-to-remediation event."""
        with self.transaction():
            self._insert("verifications", {
                "finding_id": finding_id, "status": status, "identity": json.dumps(identity or {}, sort_keys=True),
                "error": error, "checked_at": at,
                "reach": json.dumps(reach, sort_keys=True) if reach is not None else None,
            })
            if status in ("live", "dead"):
                self._event(finding_id, f"verified_{status}", at)

    def was_live_with(self, finding_id: str, key_id: str) -> bool:
        """Whether a check of this finding ever answered live with this key id: the provider then
        took the value and that id as one credential (AWS: STS accepted the pair's signature)."""
        rows = self.conn.execute("SELECT identity FROM verifications WHERE finding_id = ? AND status = 'live'",
                                 [finding_id])
        return any(json.loads(identity or "{}").get("key_id") == key_id for (identity,) in rows)

    def latest_verifications(self, finding_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """finding id -> its newest check, as the JSON contract's `verification` object."""
        ids = list(finding_ids)
        latest: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            rows = self.conn.execute(
                f"SELECT finding_id, status, identity, error, checked_at FROM verifications "
                f"WHERE finding_id IN ({','.join('?' * len(chunk))}) ORDER BY checked_at, id", chunk)
            for finding_id, status, identity, error, checked_at in rows:
                latest[finding_id] = {"status": status, "checked_at": checked_at,
                                      "identity": json.loads(identity or "{}"), "error": error}
        return latest

    def checks_without_reach(self, finding_ids: Iterable[str]) -> dict[str, int]:
        """finding id -> the row id of its newest check, for the findings whose newest check is live
        and holds no reach (checked before reach was read, or its reach was never read): `verify`
        reads the reach for such a check it reuses (`attach_reach`)."""
        ids = list(finding_ids)
        newest: dict[str, tuple[int, str, bool]] = {}
        for chunk in _chunks(ids):
            rows = self.conn.execute(
                f"SELECT finding_id, id, status, reach IS NULL FROM verifications "
                f"WHERE finding_id IN ({','.join('?' * len(chunk))}) ORDER BY checked_at, id", chunk)
            for finding_id, row_id, status, no_reach in rows:
                newest[finding_id] = (int(row_id), status, bool(no_reach))
        return {finding_id: row_id for finding_id, (row_id, status, no_reach) in newest.items()
                if status == "live" and no_reach}

    def attach_reach(self, verification_id: int, reach: dict[str, Any]) -> None:
        """The reach of a live key read after its check (that check reused within its TTL): kept
        with that check, which is not repeated (no new check, no new event)."""
        with self.transaction():
            self.conn.execute("UPDATE verifications SET reach = ? WHERE id = ? AND reach IS NULL",
                              [json.dumps(reach, sort_keys=True), verification_id])

    def latest_reach(self, finding_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """finding id -> the newest reach recorded for it (docs/output.md `reach`), also after
        later checks found the key dead: what the key could do while it was exposed."""
        ids = list(finding_ids)
        latest: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            rows = self.conn.execute(
                f"SELECT finding_id, reach FROM verifications WHERE reach IS NOT NULL "
                f"AND finding_id IN ({','.join('?' * len(chunk))}) ORDER BY checked_at, id", chunk)
            for finding_id, reach in rows:
                latest[finding_id] = json.loads(reach)
        return latest

    def unknown_finding_ids(self, ids: Iterable[str]) -> list[str]:
        """The ids among `ids` that name no finding in this store, sorted (for usage errors)."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        known = {row[0] for row in self.conn.execute(
            f"SELECT id FROM findings WHERE id IN ({','.join('?' * len(wanted))})", wanted).fetchall()}
        return [finding_id for finding_id in wanted if finding_id not in known]

    def set_key_id(self, finding_id: str, key_id: str) -> None:
        """An identifier learned from a provider (never a secret): revokers need it."""
        with self.transaction():
            self.conn.execute("UPDATE findings SET key_id = ? WHERE id = ?", [key_id, finding_id])

    def _attach_verification(self, by_id: dict[str, Finding]) -> None:
        for finding_id, verification in self.latest_verifications(by_id).items():
            by_id[finding_id].verification = verification
        for finding_id, reach in self.latest_reach(by_id).items():
            by_id[finding_id].reach = reach

    # -- revocations (keysweep revoke; jobs themselves: keysweep/remediation/jobs.py) ----------
    def revocation_providers(self) -> set[str]:
        """Providers with a revocation job: a run's context paces their hosts too (resumed jobs)."""
        return {row[0] for row in self.conn.execute(
            "SELECT DISTINCT provider FROM revocations WHERE provider IS NOT NULL")}

    def acting_revocation_keys(self) -> list[tuple[str, str, str]]:
        """(provider, key id, finding id) of every key with a job by a revoker that acts (not
        `notify`) and that has not failed for good: the finding that key's other findings follow."""
        return [tuple(row) for row in self.conn.execute(
            "SELECT f.provider, f.key_id, f.id FROM revocations r JOIN findings f ON f.id = r.finding_id "
            "WHERE f.key_id IS NOT NULL AND r.revoker != 'notify' AND r.state != 'failed_permanent'")]

    # -- owners (keysweep owners) -------------------------------------------------------------
    def replace_owner_candidates(self, finding_id: str, candidates: list[dict[str, Any]], at: str) -> None:
        """All candidates of one resolution run; at most one has `chosen` = 1."""
        with self.transaction():
            self.conn.execute("DELETE FROM owner_candidates WHERE finding_id = ?", [finding_id])
            for candidate in candidates:
                row = {key: candidate.get(key) for key in
                       ("name", "team", "purpose", "source", "confidence", "evidence", "contact")}
                row.update(finding_id=finding_id, chosen=int(bool(candidate.get("chosen"))),
                           details=json.dumps(candidate.get("details") or {}, sort_keys=True), resolved_at=at)
                self._insert("owner_candidates", row)

    def owner_candidates(self, finding_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT name, team, purpose, source, confidence, evidence, contact, details, chosen, resolved_at "
            "FROM owner_candidates WHERE finding_id = ? ORDER BY chosen DESC, confidence DESC, id", [finding_id])
        names = ("name", "team", "purpose", "source", "confidence", "evidence", "contact", "details", "chosen",
                 "resolved_at")
        result = []
        for row in rows:
            candidate = dict(zip(names, row))
            candidate["details"] = json.loads(candidate["details"] or "{}")
            candidate["chosen"] = bool(candidate["chosen"])
            result.append(candidate)
        return result

    def _attach_owner(self, by_id: dict[str, Finding]) -> None:
        owners: dict[str, dict[str, Any]] = {}
        self._attach_owner_to(owners, by_id)
        for finding_id, owner in owners.items():
            by_id[finding_id].owner = owner

    def _attach_owner_to(self, owners: dict[str, dict[str, Any]], finding_ids: Iterable[str]) -> None:
        """The chosen owner of each finding id that has one, into `owners`, with the permissions
        its owners-file entry allows (`allowed`: the chosen candidate's, else the best owners-file
        candidate's; None when no entry declares them)."""
        for chunk in _chunks(list(finding_ids)):
            rows = self.conn.execute(
                f"SELECT finding_id, name, team, purpose, source, confidence, evidence, contact FROM owner_candidates "
                f"WHERE chosen = 1 AND finding_id IN ({','.join('?' * len(chunk))})", chunk)
            for finding_id, name, team, purpose, source, confidence, evidence, contact in rows:
                owners[finding_id] = {"name": name, "team": team, "purpose": purpose, "source": source,
                                      "confidence": confidence, "evidence": evidence, "contact": contact,
                                      "allowed": None}
            declared: dict[str, list[str]] = {}
            for finding_id, details in self.conn.execute(
                    f"SELECT finding_id, details FROM owner_candidates WHERE source = 'owners-file' "
                    f"AND finding_id IN ({','.join('?' * len(chunk))}) "
                    f"ORDER BY chosen, confidence, id", chunk):
                allowed = json.loads(details or "{}").get("allowed")
                if isinstance(allowed, list):
                    declared[finding_id] = allowed  # the last row wins: chosen, else most confident
            for finding_id, allowed in declared.items():
                if finding_id in owners:
                    owners[finding_id]["allowed"] = allowed


def _store_problem(exc: sqlite3.DatabaseError) -> str:
    """Why a store cannot be used, in the user's words."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY") or "readonly" in str(exc):
        return "it is read-only (keysweep must write to it: check the file, its directory and the file system)"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in str(exc):
        return "unable to open the database file (check that its directory exists and is writable)"
    return str(exc)


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_inline(suppression: dict | None) -> bool:
    return (suppression or {}).get("kind") == INLINE


def _metadata_json(metadata: dict | None) -> str | None:
    return json.dumps(metadata, sort_keys=True, default=str) if metadata else None


def remediation_summary(times: dict[str, str]) -> dict[str, Any]:
    """Time-to-remediation fields of the JSON contract, from the earliest event of each kind."""
    leaked, dead = times.get("leaked"), times.get("confirmed_dead")
    exposure = None
    # A window is known only for a key seen working (verified live, or revoked by keysweep): a key
    # never seen working may have been dead long before keysweep confirmed it ("exposure unknown").
    if leaked and dead and (times.get("verified_live") or times.get("revoked")):
        exposure = int((parse_utc(dead) - parse_utc(leaked)).total_seconds())
    state = "confirmed" if dead else ("revoked" if "revoked" in times else None)
    return {"state": state, "leaked_at": leaked, "detected_at": times.get("detected"),
            "confirmed_dead_at": dead, "exposure_seconds": exposure}
