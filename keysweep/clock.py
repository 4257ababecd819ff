"""keysweep's one spelling of a moment: ISO-8601, UTC, to the second, with a trailing "Z"
("2025-03-01T10:00:00Z"). Stored rows, JSON output and reports all use it, and the stored strings
compare in time order only because every writer spells them the same way."""

from __future__ import annotations

from datetime import datetime, timezone

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def utc_iso(moment: datetime | None = None) -> str:
    """`moment` (now when None) in the one format. An aware moment is converted to UTC first; a naive
    one is taken to be UTC already, as every moment keysweep makes is."""
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(ISO_UTC)


def parse_utc(text: str) -> datetime:
    """An ISO-8601 timestamp ("Z" or a numeric offset) as an aware datetime; a naive one is taken to
    be UTC. Raises ValueError on anything else."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
