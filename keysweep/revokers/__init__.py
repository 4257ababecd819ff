"""Revoker plugins: one module per provider behind one async interface.

Built-ins are listed in `BUILTIN` (module path per name); third parties register an object under the
entry-point group `keysweep.revokers` in their own package:

    [project.entry-points."keysweep.revokers"]
    acme = "acme_keysweep:AcmeRevoker"

A revoker never acts in `plan()` (the dry run prints plans), and `revoke()` must be idempotent:
"already revoked" or "not found" is success, so a resumed run can repeat a call whose result was
not recorded without harm.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.scanner.models import Finding

ENTRY_POINT_GROUP = "keysweep.revokers"

# name -> "module:attribute"; modules are imported only when a revoker is needed. Order matters:
# the first revoker that supports a finding is chosen, and `notify` (the fallback for providers
# with no revocation API) comes last.
BUILTIN: dict[str, str] = {
    "github": "keysweep.revokers.github:GitHubRevoker",
    "gitlab": "keysweep.revokers.gitlab:GitLabRevoker",
    "slack": "keysweep.revokers.slack:SlackRevoker",
    "openai": "keysweep.revokers.openai:OpenAIRevoker",
    "anthropic": "keysweep.revokers.anthropic:AnthropicRevoker",
    "aws": "keysweep.revokers.aws:AwsAccessKeyRevoker",
    "aws-rotate": "keysweep.revokers.aws_rotate:AwsRotateRevoker",  # chosen by --rotate or a policy rule
    "perplexity": "keysweep.revokers.perplexity:PerplexityRevoker",
    "openrouter": "keysweep.revokers.openrouter:OpenRouterRevoker",
    "gcp": "keysweep.revokers.gcp:GcpServiceAccountKeyRevoker",
    "notify": "keysweep.revokers.notify:NotifyRevoker",
}


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
    needs: list[str] = field(default_factory=list)  # e.g. ["OPENAI_ADMIN_KEY"]
    data: dict[str, Any] = field(default_factory=dict)  # identifiers the revoke step needs


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


def available_revokers() -> dict[str, Revoker]:
    """Built-ins plus entry-point plugins; a plugin may not shadow a built-in name.

    Plugins come before `notify`, so a third-party revoker for a provider with no built-in one
    is preferred to telling the owner."""
    revokers: dict[str, Revoker] = {}
    for name, target in BUILTIN.items():
        if name != "notify":
            revokers[name] = _load(target)
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in revokers:
            continue
        loaded = entry.load()
        revokers[entry.name] = loaded() if isinstance(loaded, type) else loaded
    revokers["notify"] = _load(BUILTIN["notify"])
    return revokers


def revoker_for(finding: "Finding", revokers: dict[str, Revoker], prefer: str | None = None) -> Revoker | None:
    """The revoker for a finding: `prefer` when it supports it, else the first that does."""
    if prefer and prefer in revokers and revokers[prefer].supports(finding):
        return revokers[prefer]
    for revoker in revokers.values():
        if revoker.supports(finding):
            return revoker
    return None


def _load(target: str) -> Revoker:
    module_name, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(module_name), attribute)
    return obj() if isinstance(obj, type) else obj
