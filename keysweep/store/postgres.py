"""The PostgreSQL dialect of the findings store (`--db postgresql://…`): the seam between the
store's SQL, written once in SQLite's spelling, and a shared PostgreSQL server.

`PgConnection` answers the part of `sqlite3.Connection` the store and the remediation modules use
(`execute`, `executemany`, `commit`, `rollback`, `in_transaction`, a cursor's `lastrowid`), and
rewrites each statement once (cached): `?` placeholders become psycopg's `%s`, `LIKE` becomes
`ILIKE` (SQLite's LIKE ignores ASCII case), a `PRAGMA` does nothing. Anything else that differs is
written per dialect where it is used (`Store._json_text`), never guessed here.

The guarantees the SQLite store gets from `BEGIN IMMEDIATE` hold here too:
- one writer at a time per store: every write transaction takes a transaction-level advisory lock
  keyed by the store's database and schema before its first statement, waited for in the server's
  queue with the same bound and notice as SQLite's write lock (`KEYSWEEP_LOCK_TIMEOUT`); reads
  never wait;
- a write outside an explicit transaction opens one (as Python's sqlite3 does), so no write
  escapes the lock;
- migrations run in one such transaction, so the first process creates the schema and the others
  find it (a new store is created at the current version, `POSTGRES_BASELINE`);
- text columns compare and sort bytewise (`COLLATE "C"`), as SQLite's do;
- the audit log and its checkpoint refuse UPDATE, DELETE and TRUNCATE (triggers);
- a revocation run holds a session advisory lock named by its id while it lives, so a run on
  another machine whose process died is known to be abandoned (SQLite can only check a pid on
  this host).

psycopg is imported only when a PostgreSQL store is opened (ruff TID253).
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
import zlib
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import urlsplit, urlunsplit

from keysweep.errors import StoreError
from keysweep.sanitize import terminal_safe

URL_SCHEMES = ("postgresql://", "postgres://")
# How long a process waits for another one's write transaction (seconds): the store's setting.
LOCK_TIMEOUT_ENV = "KEYSWEEP_LOCK_TIMEOUT"

# The first argument of every advisory lock keysweep takes ("ks" + 1); the second is the store's key.
_LOCK_CLASS = 0x6B730001
# SQLSTATE of a lock wait that reached lock_timeout.
_LOCK_NOT_AVAILABLE = "55P03"
# Tables whose integer `id` the database assigns: an INSERT into one reports it as `lastrowid`.
_IDENTITY_TABLES = frozenset({"scans", "verifications", "owner_candidates", "revocations", "events",
                              "revocation_transitions", "revocation_calls"})
_INSERT_INTO = re.compile(r"\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_PRAGMA = re.compile(r"\s*PRAGMA\b", re.IGNORECASE)
# A statement in pieces: quoted strings and identifiers (kept as they are) and the rest.
_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")
_LIKE = re.compile(r"\bLIKE\b", re.IGNORECASE)


def is_postgres_url(location: Any) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def redact_url(url: str) -> str:
    """The URL as it may be shown: without a password (in the authority or the query)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """A statement in SQLite's spelling as psycopg takes it (`?` -> `%s`, `%` -> `%%`, LIKE -> ILIKE),
    leaving quoted strings and identifiers alone."""
    pieces = _QUOTED.split(sql)
    for index in range(0, len(pieces), 2):  # even pieces are outside quotes
        pieces[index] = _LIKE.sub("ILIKE", pieces[index].replace("%", "%%").replace("?", "%s"))
    for index in range(1, len(pieces), 2):
        pieces[index] = pieces[index].replace("%", "%%")
    return "".join(pieces)


class _Cursor:
    """The results of one statement, as sqlite3's cursor gives them."""

    def __init__(self, cursor, lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._cursor is not None else -1

    @property
    def description(self):
        return [(column.name, None, None, None, None, None, None) for column in self._cursor.description or []] \
            if self._cursor is not None else None

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor is not None and self._cursor.description else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor is not None and self._cursor.description else []

    def __iter__(self):
        return iter(self.fetchall())


def connect(url: str, timeout: float) -> "PgConnection":
    """A connection to the store at `url` (psycopg imported here, on first use)."""
    try:
        import psycopg  # noqa: PLC0415  (only a PostgreSQL store needs it: scan staged and demo never do)
    except ImportError:
        raise StoreError(f"{redact_url(url)}: a PostgreSQL store needs psycopg: "
                         "pip install 'keysweep[postgres]'") from None
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(min(timeout, 30))))
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"{redact_url(url)}: cannot open store: {reason}") from None
    try:
        return PgConnection(raw, redact_url(url), timeout)
    except BaseException:
        raw.close()
        raise


class PgConnection:
    """A psycopg connection (autocommit; transactions begun explicitly) behind sqlite3's interface."""

    dialect = "postgresql"

    def __init__(self, raw, display: str, timeout: float) -> None:
        self.raw = raw
        self.display = display
        self.timeout = timeout
        database, schema = raw.execute("SELECT current_database(), current_schema()").fetchone()
        if schema is None:
            raise StoreError(f"{display}: cannot open store: no schema to create it in (check search_path)")
        self.schema = schema
        # The store's lock: its database and schema, so stores in other schemas never wait for it.
        self.lock_key = zlib.crc32(f"{database}/{schema}".encode()) - 2**31

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != 0  # psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Iterable[Any] = ()) -> _Cursor:
        if _PRAGMA.match(sql):
            return _Cursor(None)
        if not self.in_transaction and _WRITES.match(sql):
            # A write outside a transaction opens one, as sqlite3 does; it is rolled back if the
            # write fails (a refused statement does not leave the connection unusable).
            self.begin_write()
            try:
                return self._execute(sql, params)
            except BaseException:
                self.rollback()
                raise
        return self._execute(sql, params)

    def _execute(self, sql: str, params: Iterable[Any]) -> _Cursor:
        statement = translate(sql)
        table = _INSERT_INTO.match(sql)
        returning = table is not None and table.group(1).lower() in _IDENTITY_TABLES and "RETURNING" not in sql.upper()
        if returning:
            statement += " RETURNING id"
        cursor = self.raw.execute(statement, list(params))
        if returning:
            row = cursor.fetchone()
            return _Cursor(cursor, row[0] if row else None)
        return _Cursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> _Cursor:
        if not self.in_transaction and _WRITES.match(sql):
            self.begin_write()
        with self.raw.cursor() as cursor:
            cursor.executemany(translate(sql), [list(row) for row in rows])
            return _Cursor(None)

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "PgConnection":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()

    def begin_write(self, timeout: float | None = None, notice_after: float = 3.0) -> None:
        """BEGIN and take the store's write lock: one writer at a time, as SQLite's BEGIN IMMEDIATE.
        Waits in the server's lock queue (first come, first served; a line on stderr after a few
        seconds), then gives up with StoreError after `timeout`. Uncontended, one round trip."""
        timeout = self.timeout if timeout is None else timeout
        started = time.monotonic()
        told = False
        while True:
            waited = time.monotonic() - started
            until = timeout if told else min(notice_after, timeout / 2)
            milliseconds = max(1, int((until - waited) * 1000))
            try:
                # Constants only (no parameters): one simple-protocol round trip for the four statements.
                self.raw.execute(f"BEGIN; SET LOCAL lock_timeout = {milliseconds}; "
                                 f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, {self.lock_key}); "
                                 "SET LOCAL lock_timeout = DEFAULT")
                return
            except BaseException as exc:
                if self.in_transaction:
                    self.raw.execute("ROLLBACK")
                if getattr(exc, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
            waited = time.monotonic() - started
            if waited >= timeout:
                raise StoreError(f"{self.display}: the store is locked by another process; gave up after "
                                 f"{waited:.0f} s (wait longer with {LOCK_TIMEOUT_ENV}=SECONDS)")
            if not told:
                told = True
                sys.stderr.write(f"keysweep: waiting for another process to release the store "
                                 f"{terminal_safe(self.display)} (up to {timeout:.0f} s)\n")
                sys.stderr.flush()


    # -- runs that outlive their machine's check -------------------------------------------------
    def hold_run_lock(self, run_id: str) -> None:
        """Held by this session until it ends: the server releases it when the process dies, on
        whatever machine it ran, so other runs can tell a live run from an abandoned one."""
        self.raw.execute("SELECT pg_advisory_lock(%s)", [_run_key(run_id)])

    def run_is_alive(self, run_id: str) -> bool:
        """Whether the session that started `run_id` still holds its lock (never waits)."""
        return not self.raw.execute("SELECT CASE WHEN pg_try_advisory_lock(%s) THEN pg_advisory_unlock(%s) "
                                    "ELSE false END", [_run_key(run_id)] * 2).fetchone()[0]


def _run_key(run_id: str) -> int:
    """A run's lock: 64 bits of its id's SHA-256, in the one-key space (apart from the store locks)."""
    return int.from_bytes(hashlib.sha256(f"keysweep-run:{run_id}".encode()).digest()[:8], "big", signed=True)


# -- schema ---------------------------------------------------------------------------------------
# The schema version a new PostgreSQL store is created at: SQLite's migrations 1..8 as one script.
# A migration after it is written once for both dialects (keysweep/store/migrations.py, POSTGRES).
POSTGRES_BASELINE = 8
_T = 'TEXT COLLATE "C"'
_ID = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"


def _baseline_schema() -> list[str]:
    t, ident = _T, _ID
    return [
        f"CREATE TABLE findings (id {t} PRIMARY KEY, provider {t} NOT NULL, rule_id {t} NOT NULL, "
        f"secret_sha256 {t} NOT NULL, redacted {t} NOT NULL, long_lived BIGINT, key_id {t}, first_seen_at {t}, "
        f"last_seen_at {t}, status {t}, metadata {t})",
        "CREATE INDEX idx_findings_provider ON findings (provider)",
        "CREATE INDEX idx_findings_rule_id ON findings (rule_id)",
        "CREATE INDEX idx_findings_key_id ON findings (provider, key_id)",
        f"CREATE TABLE occurrences (id {t} PRIMARY KEY, finding_id {t} REFERENCES findings (id), scope {t}, "
        f"source {t}, repo {t}, path {t}, line BIGINT, commit_id {t}, author_name {t}, author_email {t}, "
        f"committed_at {t}, locator {t}, seen_at {t}, metadata {t}, suppressed BIGINT NOT NULL DEFAULT 0, "
        f"suppression {t})",
        "CREATE INDEX idx_occurrences_finding_id ON occurrences (finding_id)",
        "CREATE INDEX idx_occurrences_scope ON occurrences (scope)",
        f"CREATE TABLE scanned (source {t}, scope {t}, object_id {t}, rules_digest {t}, scanned_at {t}, "
        "PRIMARY KEY (source, scope, object_id))",
        f"CREATE TABLE scans (id {ident}, source {t}, scope {t}, started_at {t}, finished_at {t}, stats {t}, "
        "new_findings BIGINT)",
        f"CREATE TABLE verifications (id {ident}, finding_id {t} REFERENCES findings (id), status {t}, "
        f"identity {t}, error {t}, checked_at {t})",
        "CREATE INDEX idx_verifications_finding_id_checked_at ON verifications (finding_id, checked_at)",
        f"CREATE TABLE owner_candidates (id {ident}, finding_id {t} REFERENCES findings (id), name {t}, team {t}, "
        f"purpose {t}, source {t}, confidence DOUBLE PRECISION, evidence {t}, chosen BIGINT, contact {t}, "
        f"details {t}, resolved_at {t})",
        "CREATE INDEX idx_owner_candidates_finding_id ON owner_candidates (finding_id)",
        f"CREATE TABLE revocations (id {ident}, finding_id {t} REFERENCES findings (id), revoker {t}, plan {t}, "
        f"state {t}, attempts BIGINT, last_error {t}, updated_at {t}, created_at {t}, next_attempt_at {t}, "
        f"run_id {t}, approved_by {t}, policy_rule {t}, provider {t})",
        "CREATE UNIQUE INDEX revocations_job_key ON revocations (finding_id, revoker)",
        "CREATE INDEX revocations_state ON revocations (state)",
        f"CREATE TABLE revocation_transitions (id {ident}, revocation_id BIGINT REFERENCES revocations (id), "
        f"finding_id {t}, state {t}, at {t}, actor {t}, run_id {t}, detail {t})",
        "CREATE INDEX idx_revocation_transitions_revocation_id ON revocation_transitions (revocation_id)",
        f"CREATE TABLE revocation_calls (id {ident}, revocation_id BIGINT REFERENCES revocations (id), "
        f"finding_id {t}, run_id {t}, method {t}, target {t}, outcome {t}, detail {t}, at {t})",
        "CREATE INDEX idx_revocation_calls_revocation_id ON revocation_calls (revocation_id)",
        f"CREATE TABLE remediation_runs (id {t} PRIMARY KEY, actor {t}, pid BIGINT, host {t}, command {t}, "
        f"started_at {t}, finished_at {t}, summary {t})",
        f"CREATE TABLE events (id {ident}, finding_id {t} REFERENCES findings (id), kind {t}, at {t}, detail {t})",
        "CREATE INDEX idx_events_finding_id_kind ON events (finding_id, kind)",
        f"CREATE TABLE http_validators (url {t} PRIMARY KEY, etag {t}, rules_digest {t}, body {t}, fetched_at {t})",
        f"CREATE TABLE managed_keys (key_id {t} PRIMARY KEY, provider {t}, rotated_from {t}, written_to {t}, "
        f"job_id BIGINT, created_at {t})",
        f"CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, at {t}, actor {t}, action {t}, target {t}, result {t}, "
        f"prev_hash {t}, hash {t}, digest {t})",
        f"CREATE TABLE audit_checkpoint (id BIGINT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, "
        f"hash {t} NOT NULL, at {t}, jobs_from BIGINT)",
        # Append-only, as in SQLite: the database itself refuses to rewrite history.
        "CREATE FUNCTION keysweep_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'audit_log is append-only'; END$$",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION keysweep_audit_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION keysweep_audit_append_only()",
        "CREATE FUNCTION keysweep_audit_checkpoint_forward() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN IF TG_OP <> 'UPDATE' THEN RAISE EXCEPTION 'audit_checkpoint cannot be deleted'; END IF; "
        "IF NEW.seq < OLD.seq OR NEW.jobs_from IS DISTINCT FROM OLD.jobs_from OR NEW.id <> OLD.id THEN "
        "RAISE EXCEPTION 'audit_checkpoint only moves forward'; END IF; RETURN NEW; END$$",
        "CREATE TRIGGER audit_checkpoint_forward BEFORE UPDATE OR DELETE ON audit_checkpoint "
        "FOR EACH ROW EXECUTE FUNCTION keysweep_audit_checkpoint_forward()",
        "CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint "
        "FOR EACH STATEMENT EXECUTE FUNCTION keysweep_audit_checkpoint_forward()",
        # A new store has no jobs: every job is anchored in the chain from the first one.
        "INSERT INTO audit_checkpoint (id, seq, hash, at, jobs_from) "
        "VALUES (1, 0, repeat('0', 64), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 1)",
    ]


def applied_versions(conn: PgConnection) -> set[int] | None:
    """The schema versions the store records, or None when it has no schema yet."""
    exists = conn.raw.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if exists is None:
        return None
    return {row[0] for row in conn.raw.execute("SELECT version FROM schema_migrations")}


def migrate(conn: PgConnection, migrations: list[tuple[int, str, Any]], later: dict[int, Any],
            timeout: float) -> None:
    """Create the store at the current version, or apply the migrations it lacks: once, inside the
    store's write lock (whoever comes first does it; the others find it done)."""
    newest = max(version for version, _, _ in migrations)
    conn.begin_write(timeout)
    try:
        conn.raw.execute(f"CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name {_T}, "
                         f"applied_at {_T} DEFAULT to_char(now() AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))")
        applied = {row[0] for row in conn.raw.execute("SELECT version FROM schema_migrations")}
        if applied and max(applied) > newest:
            raise StoreError(f"{conn.display}: store schema v{max(applied)} is newer than this keysweep (v{newest})")
        if not applied:
            for statement in _baseline_schema():
                conn.raw.execute(statement)
            for version, name, _ in migrations:
                if version <= POSTGRES_BASELINE:
                    conn.raw.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", [version, name])
                    applied.add(version)
        for version, name, _ in migrations:
            if version not in applied:
                later[version](conn)
                conn.raw.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", [version, name])
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
