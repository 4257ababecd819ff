"""keysweep's one spelling of a moment: ISO-8601, UTC, to the second, with a trailing "Z"
("2025-03-01T10:00:00Z"). Stored rows, JSON output and reports all use it, and the stored strings
compare in time order only because every writer spells them the same way."""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from typing import Mapping

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


def seconds_from_env(name: str, env: Mapping[str, str] | None = None, unit: str = "seconds") -> float | None:
    """$name (from `env`, else the process environment) as a positive, finite number of seconds;
    None when it is unset or empty. Anything else raises ValueError with the one-line message the
    caller's own error carries: `NAME='soon': expected a positive number of seconds`."""
    raw = (os.environ if env is None else env).get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < math.inf:
        raise ValueError(f"{name}={raw!r}: expected a positive number of {unit}")
    return value
