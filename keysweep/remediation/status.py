"""`keysweep status`: where the store stands, in one answer — the report's counts (live, dead,
unknown, unverified, no_value, unowned, open_jobs) in total, per provider and per team, and the ten
credentials to look at first.

The counts are the report's own (`report.collect` and `report.stats`, the same rows and the same
definitions), so `status` and `report --format json` never disagree on one store. Nothing here
prints; the JSON shape is documented in docs/usage.md ("keysweep status") and only ever extended.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from keysweep.clock import utc_iso
from keysweep.remediation.report import TOTAL_LABELS, Row, collect, grouped, stats
from keysweep.verify.reach import severity_rank

# The count keys of `totals`, `by_provider` and `by_team`, in order: the report's names.
COUNT_KEYS = ("count",) + tuple(key for key, _label in TOTAL_LABELS)
URGENT_LIMIT = 10
# Most urgent first: a key known to work, then one whose check was inconclusive, then one never
# checked, then a record with no value to check. A dead key needs nothing more and is not listed.
_STATUS_URGENCY = {"live": 0, "unknown": 1, "unverified": 2, "no_value": 3}


def counts(summary: dict[str, Any]) -> dict[str, int]:
    """The count keys of a report `stats` summary."""
    return {key: summary.get(key, 0) for key in COUNT_KEYS}


def urgency(row: Row) -> tuple:
    """Sort key, most urgent first: the most severe (liveness x reach x exposure, keysweep/verify/reach.py),
    then live before the rest, long-lived before short-lived, the widest spread (most kinds of source,
    then most places) before a narrow one, the oldest before a newer one."""
    return (severity_rank(row.severity), _STATUS_URGENCY[row.status], not row.long_lived, -len(row.sources), -row.occurrences,
            -(row.age_seconds if row.age_seconds is not None else -1), row.id)


def most_urgent(rows: list[Row], limit: int = URGENT_LIMIT) -> list[Row]:
    return sorted((r for r in rows if r.status in _STATUS_URGENCY), key=urgency)[:limit]


def urgent_entry(rank: int, row: Row) -> dict[str, Any]:
    return {"rank": rank, "id": row.id, "status": row.status, "provider": row.provider, "rule_id": row.rule_id,
            "redacted": row.redacted, "long_lived": row.long_lived, "places": row.occurrences,
            "sources": list(row.sources), "leaked_at": row.times.get("leaked"), "age_seconds": row.age_seconds,
            "owner": row.owner, "team": row.team, "unowned": row.unowned, "where": row.where,
            "severity": row.severity,
            "overprivileged": (row.reach or {}).get("overprivileged") if row.reach else None,
            # Its revocation job still open (failed_permanent: it needs a person), else null.
            "job": row.state if row.open_jobs else None}


def build_status(store, now: datetime | None = None, *, threshold: float | None = None,
                 include_suppressed: bool = False) -> dict[str, Any]:
    """The status of `store` at `now`, as the JSON `keysweep status --format json` prints."""
    now = now or datetime.now(timezone.utc)
    rows = collect(store, now, threshold=threshold, include_suppressed=include_suppressed)
    groups = grouped(rows)
    return {
        "generated_at": utc_iso(now),
        "totals": counts(stats(rows)),
        "by_provider": {name: counts(summary) for name, summary in groups["provider"].items()},
        "by_team": {name: counts(summary) for name, summary in groups["team"].items()},
        "urgent": [urgent_entry(rank, row) for rank, row in enumerate(most_urgent(rows), 1)],
    }
