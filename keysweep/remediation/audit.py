"""The append-only audit log: one row per action, each chained to the previous by a hash.

    hash = sha256(prev_hash + canonical JSON of {seq, at, actor, action, target, result})

Canonical JSON: sorted keys, no whitespace, UTF-8. The first row's prev_hash is 64 zeros. The
database refuses UPDATE and DELETE on the table (triggers); `verify_chain` detects a row inserted,
removed or altered behind the triggers' back (e.g. by recreating the table).

Rows name findings by id and redacted form, never by value.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def default_actor() -> str:
    """Who is running this: `KEYSWEEP_ACTOR`, else the OS user (user@host)."""
    if os.environ.get("KEYSWEEP_ACTOR"):
        return os.environ["KEYSWEEP_ACTOR"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{os.uname().nodename}" if hasattr(os, "uname") else user


def canonical(row: dict[str, Any]) -> str:
    return json.dumps({k: row[k] for k in ("seq", "at", "actor", "action", "target", "result")},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def append(conn, at: str, actor: str, action: str, target: Any, result: Any) -> int:
    """Append one row inside the caller's transaction (or its own); returns its seq.

    `target` and `result` may be strings or JSON-able values (stored as canonical JSON).
    """
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    row = {"seq": seq, "at": at, "actor": actor, "action": action, "target": _text(target),
           "result": _text(result)}
    conn.execute("INSERT INTO audit_log (seq, at, actor, action, target, result, prev_hash, hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 [seq, at, actor, action, row["target"], row["result"], prev, row_hash(prev, row)])
    return seq


@dataclass
class ChainReport:
    rows: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(conn) -> ChainReport:
    """Recompute every hash in seq order; the first row that does not follow is reported."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for seq, at, actor, action, target, result, prev_hash, digest in conn.execute(
            "SELECT seq, at, actor, action, target, result, prev_hash, hash FROM audit_log ORDER BY seq"):
        count += 1
        if seq != expected_seq:
            return ChainReport(count, False, seq, f"row {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return ChainReport(count, False, seq, f"row {seq}: prev_hash does not match row {seq - 1}")
        row = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target, "result": result}
        if row_hash(prev, row) != digest:
            return ChainReport(count, False, seq, f"row {seq}: content does not match its hash")
        prev = digest
        expected_seq += 1
    return ChainReport(count, True)


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


def head(conn) -> dict[str, Any]:
    """The newest row's {seq, hash} ({0, 64 zeros} for an empty log): what `keysweep audit head`
    prints and `audit verify --expect` checks."""
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return {"seq": last[0], "hash": last[1]} if last else {"seq": 0, "hash": GENESIS}
