"""What every network-facing plugin receives: the one HTTP client, the clock, settings and store.
No globals, so tests inject fakes and a frozen clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from keysweep.settings import Settings

if TYPE_CHECKING:
    from keysweep.http import HttpClient
    from keysweep.store import Store


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Context:
    http: "HttpClient"
    settings: Settings = field(default_factory=Settings)
    store: "Store | None" = None
    clock: Callable[[], datetime] = system_clock
    actor: str = "keysweep"
    extra: dict[str, Any] = field(default_factory=dict)
    # Every deliberate wait (retry backoff, a provider's Retry-After) goes through this, so tests
    # inject one that advances their clock instead of sleeping.
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep

    def now(self) -> str:
        return iso(self.clock())
