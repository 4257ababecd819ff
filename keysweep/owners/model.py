"""The records owner resolution passes around: a candidate owner and what resolvers share in one run.
Here, not in owners/__init__.py, so that every resolver module can import them at its top while the
package imports the resolvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.models import Finding
    from keysweep.owners.ownersfile import OwnerRule
    from keysweep.scanner.reread import Rereader


@dataclass
class Candidate:
    name: str | None
    team: str | None = None
    purpose: str | None = None
    source: str = ""
    confidence: float = 0.0
    evidence: str = ""
    contact: str | None = None
    # An identifier learned on the way (an inventory's key id, AWS access key id): stored on the finding.
    key_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    chosen: bool = False

    def row(self) -> dict[str, Any]:
        details = dict(self.details)
        if self.key_id:
            details.setdefault("key_id", self.key_id)
        return {"name": self.name, "team": self.team, "purpose": self.purpose, "source": self.source,
                "confidence": round(float(self.confidence), 3), "evidence": self.evidence,
                "contact": self.contact, "details": details, "chosen": self.chosen}


@dataclass
class OwnerContext:
    """What resolvers share during one run: the network context, the re-reader (values stay in
    memory), the owners file, per-run caches (admin inventories are listed once) and warnings."""

    ctx: "Context"
    rereader: "Rereader"
    owner_rules: list["OwnerRule"] = field(default_factory=list)
    offline: bool = False
    cache: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def secret(self, finding: "Finding") -> str | None:
        hit = self.rereader.read(finding)
        return hit.secret if hit else None


Resolver = Callable[["Finding", OwnerContext], Awaitable[list[Candidate]]]
