"""Moving a whole store into a new PostgreSQL one (`keysweep store migrate --from … --to …`).

Every row of every table is copied as it is — ids, times, the audit log and its checkpoint — so the
moved store is the same store: its hash chain and job digests verify, its head is the source's, and
a scan that follows reads only what the source had not read. The destination must hold no keysweep
data yet (two audit logs cannot be merged). The copy is one write transaction on the destination,
made while the source's write lock is held (nobody writes to it meanwhile): all of it or nothing.
`keysweep store migrate` then checks the moved audit chain and its head against the source's.
"""

from __future__ import annotations

from typing import Callable, Iterator

from keysweep.errors import StoreError

# In the order rows can be inserted (a row's foreign keys name rows copied before it).
TABLES = ("findings", "occurrences", "scanned", "scans", "verifications", "owner_candidates", "revocations",
          "revocation_transitions", "revocation_calls", "remediation_runs", "events", "audit_log",
          "http_validators", "managed_keys")
# Tables whose `id` the database assigns: the destination's counter continues after the copied ids.
IDENTITY_TABLES = ("scans", "verifications", "owner_candidates", "revocations", "events",
                   "revocation_transitions", "revocation_calls")
_BATCH = 5000


def columns(store, table: str) -> list[str]:
    cursor = store.conn.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cursor.description]


def _rows(store, table: str, names: list[str]) -> Iterator[tuple]:
    cursor = store.conn.execute(f"SELECT {', '.join(names)} FROM {table}")
    yield from cursor


def counts(store) -> dict[str, int]:
    return {table: store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}


# How often (in rows) a move tells its progress.
PROGRESS_EVERY = 1000


def move(source, destination, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Copy every row of `source` (a Store of either dialect) into `destination` (a new PostgreSQL
    Store); returns {table: rows}. `progress(rows)` is told the rows copied so far, every
    PROGRESS_EVERY rows and at the end of each table. StoreError when the destination already holds data, or holds
    other counts than the source after the copy (the command then checks the audit chain:
    keysweep/commands/store.py)."""
    if destination.dialect != "postgresql":
        raise StoreError(f"{destination.path}: the destination of a move must be a postgresql:// store")
    if str(source.path) == str(destination.path):
        raise StoreError(f"{destination.path}: the source and the destination are the same store")
    with source.transaction(), destination.transaction():
        held = {table: n for table, n in counts(destination).items() if n}
        if held:
            listed = ", ".join(f"{table} ({n})" for table, n in held.items())
            raise StoreError(f"{destination.path}: the destination already holds keysweep data ({listed}); "
                             "a store can only be moved into an empty one")
        raw = destination.conn.raw
        done = 0
        for table in TABLES:
            names = columns(source, table)
            missing = sorted(set(names) - set(columns(destination, table)))
            if missing:
                raise StoreError(f"{destination.path}: table {table} has no column {', '.join(missing)}")
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in _rows(source, table, names):
                    copy.write_row(row)
                    done += 1
                    if progress is not None and done % PROGRESS_EVERY == 0:
                        progress(done)
            if progress is not None:
                progress(done)
        for table in IDENTITY_TABLES:
            raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) "
                        f"FROM {table}")
        checkpoint = source.conn.execute("SELECT seq, hash, at, jobs_from FROM audit_checkpoint WHERE id = 1").fetchone()
        if checkpoint is not None:
            # The checkpoint only moves forward, and `jobs_from` never changes: set once, here, to the
            # source's, with its trigger off for this one statement of this transaction.
            raw.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER audit_checkpoint_forward")
            raw.execute("UPDATE audit_checkpoint SET seq = %s, hash = %s, at = %s, jobs_from = %s WHERE id = 1",
                        list(checkpoint))
            raw.execute("ALTER TABLE audit_checkpoint ENABLE TRIGGER audit_checkpoint_forward")
        expected = counts(source)
    moved = counts(destination)
    if moved != expected:
        raise StoreError(f"{destination.path}: the copy holds {moved}, the source {expected}")
    return moved
