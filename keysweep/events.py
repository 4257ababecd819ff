"""The events stream (`keysweep events`): the store's dated facts about findings — detected,
leaked, verified_live / verified_dead / verified_unknown, owner_notified, revoked, confirmed_dead,
… — as JSON objects with stable ids, for a SIEM to ingest (docs/usage.md shows Splunk HEC and
Elastic bulk). Pure functions; the store reads the rows.

An event's `id` (`ev_` + 16 hex) is derived from the store's row and what it says, so reading the
same store twice gives the same ids (a SIEM can drop duplicates by id); `seq` is the row's place
in the store, increasing in the order events were written: `--after-seq` resumes after the last
one ingested, which `--since` (on the event's own time, which may be in the past: a leak is dated
by its commit) cannot do exactly.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

EVENTS_VERSION = 1

# The kinds keysweep writes (docs/store.md `events.kind`); a store may hold others a later version wrote.
EVENT_KINDS = ("detected", "leaked", "verified_live", "verified_dead", "verified_unknown", "owner_notified",
               "revoke_planned", "revoked", "confirmed_dead", "rotated")


def kind_matches(wanted: str, kind: str) -> bool:
    """`--kind`'s rule: the kind itself, or a family (`verified` is every `verified_*`)."""
    return kind == wanted or kind.startswith(wanted + "_")


def event_id(seq: int, finding_id: str, kind: str, at: str) -> str:
    digest = hashlib.sha256(f"{seq}\0{finding_id}\0{kind}\0{at}".encode()).hexdigest()
    return f"ev_{digest[:16]}"


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """One event: the row of the store's events table with its finding's identifiers (never a value)."""
    detail = row.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = {"text": detail}
    return {
        "id": event_id(row["seq"], row["finding_id"], row["kind"], row["at"]),
        "seq": row["seq"],
        "kind": row["kind"],
        "at": row["at"],
        "finding_id": row["finding_id"],
        "provider": row.get("provider"),
        "rule_id": row.get("rule_id"),
        "redacted": row.get("redacted"),
        "key_id": row.get("key_id"),
        "detail": detail or None,
        "source": "keysweep",
        "version": EVENTS_VERSION,
    }
