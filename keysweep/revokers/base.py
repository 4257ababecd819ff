"""The revoker interface: what a revoker is (`Revoker`), what it plans (`Plan`, `PlannedCall`) and
what it reports (`RevokeResult`).

A revoker never acts in `plan()` (the dry run prints plans), and `revoke()` must be idempotent:
"already revoked" or "not found" is success, so a resumed run can repeat a call whose result was
not recorded without harm. Revokers get everything from the context (`ctx.http`, `ctx.settings`,
`ctx.secrets` for the re-read value, `ctx.store`), never by importing the layers above them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.models import Finding


@dataclass(frozen=True)
class PlannedCall:
    """One request a revoker would make, described for people and the audit log (no secrets)."""

    method: str
    target: str
    description: str


@dataclass
class Plan:
    revoker: str
    finding_id: str
    calls: list[PlannedCall]
    needs: list[str] = field(default_factory=list)  # e.g. the admin credential's variable name
    data: dict[str, Any] = field(default_factory=dict)  # identifiers the revoke step needs
    # What a person should know that is no call and no missing input, e.g. that the place the key
    # was found could use a short-lived credential instead of a new standing one.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RevokeResult:
    ok: bool
    detail: str = ""
    retryable: bool = False
    # The provider was rate limiting or failing (429, 5xx, throttling, no answer): worth asking
    # again after a wait, never a reason to give up (the job is never failed_permanent for it).
    busy: bool = False
    # Seconds the provider asked to wait (Retry-After, rate-limit reset), when it said.
    retry_after: float | None = None
    # The requests made, as (method, target without query, outcome) tuples: recorded per job and in
    # the audit log. Never headers or bodies.
    calls: tuple[tuple[str, str, str], ...] = ()


class Revoker(Protocol):
    name: str

    def supports(self, finding: "Finding") -> bool: ...

    async def plan(self, finding: "Finding", ctx: "Context") -> Plan:
        """The exact calls revoke() would make. No side effects."""
        ...

    async def revoke(self, plan: Plan, ctx: "Context") -> RevokeResult:
        """Carry out the plan. Idempotent."""
        ...

    async def confirm(self, finding: "Finding", ctx: "Context") -> bool:
        """True once the provider says the credential no longer works (or is disabled)."""
        ...
