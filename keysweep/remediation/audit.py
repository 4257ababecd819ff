"""The append-only audit log: one row per action, each chained to the previous by a hash.

    hash = sha256(prev_hash + canonical JSON of {seq, at, actor, action, target, result[, digest]})

Canonical JSON: sorted keys, no whitespace, UTF-8. The first row's prev_hash is 64 zeros. The
database refuses UPDATE and DELETE on the table (triggers); `verify_chain` detects a row inserted,
removed or altered behind the triggers' back (e.g. by recreating the table).

A chain alone cannot show that its last rows (or all of them) were removed, so its head is kept
outside the table it protects:
- `audit_checkpoint` (migration 8), one row updated in the same transaction as each append; it only
  moves forward (a trigger refuses going back or deleting it). A log shorter than its checkpoint,
  or one that does not end on the checkpoint's hash, was cut.
- the operator's copy: `keysweep audit head` prints `SEQ:HASH` (every report prints it too), and
  `keysweep audit verify --expect SEQ:HASH` later checks that row is still there, unchanged.

The jobs tables (revocations, revocation_transitions, revocation_calls) are anchored in the chain:
a row naming a job (`target.job`) carries `digest`, the SHA-256 of that job's rows as they are once
the action is written, so every change of a job goes with an audit row. `verify_chain` recomputes
each job's digest and compares it with the last one the chain recorded.

Rows name findings by id and redacted form, never by value.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from keysweep.sanitize import stored_text, with_strings

GENESIS = "0" * 64


def default_actor() -> str:
    """Who is running this: `KEYSWEEP_ACTOR`, else the OS user (user@host)."""
    if os.environ.get("KEYSWEEP_ACTOR"):
        return stored_text(os.environ["KEYSWEEP_ACTOR"])
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return stored_text(f"{user}@{os.uname().nodename}" if hasattr(os, "uname") else user)


def canonical(row: dict[str, Any]) -> str:
    fields = {k: row[k] for k in ("seq", "at", "actor", "action", "target", "result")}
    if row.get("digest") is not None:  # rows written before migration 8 have none: their hash is unchanged
        fields["digest"] = row["digest"]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return stored_text(value)
    # Every string made storable (a provider's answer quoted here may hold a lone surrogate, which
    # SQLite refuses) before it becomes JSON: the `\xNN` of a smuggled byte made after would be an
    # escape JSON does not have, and the row would no longer parse.
    return json.dumps(with_strings(value, stored_text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def append(conn, at: str, actor: str, action: str, target: Any, result: Any) -> int:
    """Append one row inside the caller's transaction (or its own); returns its seq.

    `target` and `result` may be strings or JSON-able values (stored as canonical JSON). A target
    naming a job (`{"job": id, …}`) anchors that job's rows: append after writing them.
    """
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    job = target.get("job") if isinstance(target, dict) else None
    row = {"seq": seq, "at": at, "actor": stored_text(actor), "action": action, "target": _text(target),
           "result": _text(result), "digest": job_digest(conn, job) if isinstance(job, int) else None}
    digest = row_hash(prev, row)
    conn.execute("INSERT INTO audit_log (seq, at, actor, action, target, result, prev_hash, hash, digest) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [seq, at, actor, action, row["target"], row["result"], prev, digest, row["digest"]])
    conn.execute("INSERT INTO audit_checkpoint (id, seq, hash, at) VALUES (1, ?, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at",
                 [seq, digest, at])
    return seq


# What a job is made of; every column (a NULL one left out, so a column added later by a migration
# does not change the digest of the rows written before it).
JOB_TABLES = (("revocations", "id"), ("revocation_transitions", "revocation_id"), ("revocation_calls", "revocation_id"))


def _rows_json(cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [{k: v for k, v in zip(names, values) if v is not None} for values in cursor.fetchall()]


def job_digest(conn, job_id: int) -> str:
    """SHA-256 of one job's rows in the jobs tables, in id order."""
    return _digest([_rows_json(conn.execute(f"SELECT * FROM {table} WHERE {column} = ? ORDER BY id", [job_id]))
                    for table, column in JOB_TABLES])


def _digest(parts: list[list[dict[str, Any]]]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
                          .encode("utf-8")).hexdigest()


# The digest of a job with no rows at all (named by an audit row, never created).
NO_JOB = _digest([[], [], []])


def all_job_digests(conn) -> dict[int, str]:
    """job_digest of every job in the tables, computed in one pass over each table."""
    grouped: dict[int, list[list[dict[str, Any]]]] = {}
    for index, (table, column) in enumerate(JOB_TABLES):
        for row in _rows_json(conn.execute(f"SELECT * FROM {table} ORDER BY id")):
            job = row.get(column)
            if isinstance(job, int):
                grouped.setdefault(job, [[], [], []])[index].append(row)
    return {job: _digest(parts) for job, parts in grouped.items()}


def head(conn) -> dict[str, Any]:
    """The newest row's {seq, hash} ({0, 64 zeros} for an empty log): what `keysweep audit head`
    prints and `audit verify --expect` checks."""
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return {"seq": last[0], "hash": last[1]} if last else {"seq": 0, "hash": GENESIS}


def parse_head(text: str) -> tuple[int, str]:
    """`SEQ:HASH` (as `keysweep audit head` prints it) -> (seq, hash); ValueError when malformed."""
    seq, sep, digest = str(text).strip().partition(":")
    digest = digest.lower()
    if not sep or not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{text!r}: expected SEQ:HASH as printed by `keysweep audit head` "
                         "(a row number, a colon, 64 hex digits)")
    return int(seq), digest


@dataclass
class ChainReport:
    rows: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(conn, expect: tuple[int, str] | None = None) -> ChainReport:
    """Recompute every hash in seq order; the first row that does not follow is reported. Then the
    end of the log against its checkpoint (and `expect`, a head the operator kept), then every
    job's rows against the digest the chain last recorded for it."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    hashes: dict[int, str] = {}
    recorded: dict[int, tuple[int, str]] = {}  # job -> (seq of its last anchoring row, digest)
    for seq, at, actor, action, target, result, prev_hash, digest, anchor in conn.execute(
            "SELECT seq, at, actor, action, target, result, prev_hash, hash, digest FROM audit_log ORDER BY seq"):
        count += 1
        if seq != expected_seq:
            return ChainReport(count, False, seq, f"row {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return ChainReport(count, False, seq, f"row {seq}: prev_hash does not match row {seq - 1}")
        row = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target, "result": result,
               "digest": anchor}
        if row_hash(prev, row) != digest:
            return ChainReport(count, False, seq, f"row {seq}: content does not match its hash")
        if anchor is not None:
            job = _target_job(target)
            if job is not None:
                recorded[job] = (seq, anchor)
        hashes[seq] = digest
        prev = digest
        expected_seq += 1
    last = expected_seq - 1
    problem = _check_end(conn, last, prev) or (_check_expected(hashes, last, expect) if expect else None) \
        or _check_jobs(conn, recorded)
    if problem:
        return ChainReport(count, False, problem[0], problem[1])
    return ChainReport(count, True)


def _target_job(target: str | None) -> int | None:
    try:
        value = json.loads(target) if target else None
    except ValueError:
        return None
    job = value.get("job") if isinstance(value, dict) else None
    return job if isinstance(job, int) else None


def _check_end(conn, last: int, last_hash: str) -> tuple[int, str] | None:
    """The log must end where its checkpoint says it does."""
    row = conn.execute("SELECT seq, hash FROM audit_checkpoint WHERE id = 1").fetchone()
    if row is None:
        if last:
            return last, "the checkpoint of the log's head is missing (its table was emptied or dropped)"
        return None
    seq, digest = row
    if last < seq:
        if last == 0:
            return seq, f"all rows were removed: the checkpoint says the log reached row {seq}"
        return last + 1, f"rows {last + 1}..{seq} were removed: the log ends at row {last}, its checkpoint at row {seq}"
    if last > seq:
        return seq + 1, f"rows {seq + 1}..{last} were not written by keysweep: its checkpoint is at row {seq}"
    if digest != last_hash:
        return seq, f"row {seq} does not match the checkpoint's hash"
    return None


def _check_expected(hashes: dict[int, str], last: int, expect: tuple[int, str]) -> tuple[int, str] | None:
    seq, digest = expect
    if seq == 0:
        return None if digest == GENESIS else (0, "the expected head 0 must have the genesis hash (64 zeros)")
    if seq not in hashes:
        return seq, f"the expected head, row {seq}, is missing: the log ends at row {last}"
    if hashes[seq] != digest:
        return seq, f"row {seq} is not the expected head (its hash is {hashes[seq][:12]}…, expected {digest[:12]}…)"
    return None


def _check_jobs(conn, recorded: dict[int, tuple[int, str]]) -> tuple[int, str] | None:
    """Every job's rows as the chain last recorded them; a job the chain never anchored must be
    older than the anchoring (migration 8 notes where it began)."""
    row = conn.execute("SELECT jobs_from FROM audit_checkpoint WHERE id = 1").fetchone()
    jobs_from = row[0] if row and row[0] is not None else None
    current = all_job_digests(conn)
    for job in sorted(set(current) | set(recorded)):
        if job in recorded:
            seq, digest = recorded[job]
            if current.get(job, NO_JOB) != digest:
                what = "were removed" if job not in current else "changed"
                return seq, (f"revocation job {job}: its rows (revocations, revocation_transitions, "
                             f"revocation_calls) {what} after audit row {seq}")
        elif jobs_from is None or job >= jobs_from:
            return 0, f"revocation job {job} has no audit record: its rows were not written by keysweep"
    return None


def actions(conn) -> list[str]:
    """The kinds of action the log holds, sorted."""
    return sorted(row[0] for row in conn.execute("SELECT DISTINCT action FROM audit_log"))


def rows(conn, limit: int | None = None, action: str | None = None) -> list[dict[str, Any]]:
    query = "SELECT seq, at, actor, action, target, result, prev_hash, hash FROM audit_log"
    params: list[Any] = []
    if action:
        query += " WHERE action LIKE ?"
        params.append(action.replace("*", "%"))
    query += " ORDER BY seq"
    found = [dict(zip(("seq", "at", "actor", "action", "target", "result", "prev_hash", "hash"), r))
             for r in conn.execute(query, params)]
    return found[-limit:] if limit else found

