"""What every network-facing plugin receives: the one HTTP client, the clock, settings and store,
and for revocation the secret re-reader and the remediation services revokers call back into.
No globals, so tests inject fakes and a frozen clock.

Revokers sit below `keysweep.remediation` and never import it: whoever builds a context for
revocation (`keysweep.remediation.services.for_revocation`, called by the orchestrator) fills
`secrets`, `notify` and `note_job`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from keysweep.clock import utc_iso
from keysweep.settings import Settings

if TYPE_CHECKING:
    from keysweep.http import HttpClient
    from keysweep.models import Finding
    from keysweep.store import Store


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class SecretSource(Protocol):
    """The secret re-reader: a finding's value, re-read from where it was seen and checked against
    its SHA-256, held in memory for this run only."""

    async def secret_for(self, finding: "Finding | str") -> str:
        """The value of a finding (or finding id). Raises keysweep.errors.SecretUnavailable."""
        ...

    def scrub(self, text: str | None) -> str | None:
        """`text` without any 8+ character run of any value read in this run."""
        ...


class Notifier(Protocol):
    """Owner notifications, for the revoker of providers with no revocation API."""

    def console(self, provider: str) -> str:
        """Where a person revokes a key of this provider by hand."""
        ...

    def targets(self, finding: "Finding") -> list[Any]:
        """The webhooks that would be told (each with `url`, `host`, `name`)."""
        ...

    async def send(self, kind: str, finding: "Finding", detail: str = "") -> list[dict[str, Any]]:
        """Tell the owner; one record (target, host, status, ok) per webhook."""
        ...


# note_job(finding_id, revoker, *, action="revoke.note", **values): record identifiers in a
# revocation job's plan data (committed at once) and in the audit log under `action`
# (`revoke.<word>`; aws-rotate's say "revoke.rotate"), so a killed run resumes from them.
JobNote = Callable[..., None]


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
    # For revocation (see the module docstring); None where nobody set them up.
    secrets: SecretSource | None = None
    notify: Notifier | None = None
    note_job: JobNote | None = None

    def now(self) -> str:
        return utc_iso(self.clock())
