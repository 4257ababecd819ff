"""How long a revocation run may wait for busy providers (`keysweep revoke --max-wait`).

A 429 or 5xx is never a reason to give up on a key: the provider is asked again after the wait it
named (Retry-After, rate-limit reset headers) or a backoff. The waiting is bounded for the whole
run, so a scheduled run ends; what is still refused then stays `failed_retryable` for the next run.

Waits go through the context's sleep and are measured on its clock, so tests do not really wait.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from datetime import datetime
from typing import Any, Awaitable, Callable

from keysweep.context import system_clock

DEFAULT_MAX_WAIT = 15 * 60.0
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", re.IGNORECASE)

# Seconds the current task has itself slept through this budget. A task's own waits follow one
# another, so their sum is a lower bound of the run's elapsed time even when the clock stands still
# (a frozen test clock): a run cannot wait forever whatever the clock says.
_task_waited: contextvars.ContextVar[float] = contextvars.ContextVar("keysweep_task_waited", default=0.0)


def parse_duration(text: str) -> float:
    """Seconds in "90", "90s", "15m", "1.5h". Raises ValueError on anything else."""
    match = _DURATION.fullmatch(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 15m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


class WaitBudget:
    """At most `max_wait` seconds of waiting from the start of a run, by `clock`, slept with `sleep`."""

    def __init__(self, max_wait: float = DEFAULT_MAX_WAIT, clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.max_wait = max(0.0, float(max_wait))
        self.clock = clock or system_clock
        self._sleep = sleep
        self.started = self.clock()

    def elapsed(self) -> float:
        return max((self.clock() - self.started).total_seconds(), _task_waited.get())

    def remaining(self) -> float:
        return max(0.0, self.max_wait - self.elapsed())

    def allows(self, seconds: float) -> bool:
        """May a wait of `seconds` still end within the run's budget?"""
        return max(0.0, seconds) <= self.remaining()

    async def sleep(self, seconds: float) -> None:
        """Sleep through the injected sleep, counting it for this task."""
        seconds = max(0.0, seconds)
        _task_waited.set(_task_waited.get() + seconds)
        await self._sleep(seconds)

    async def wait(self, seconds: float) -> bool:
        """Sleep `seconds` if the budget allows it (True), else return False at once."""
        if not self.allows(seconds):
            return False
        await self.sleep(seconds)
        return True
