"""The detector plugin interface: offline checks and the liveness check of one provider's keys.

A detector module `keysweep/providers/<provider>.py` may define, besides `CHECKS`:

    VERIFIER = SomeVerifier()    # an object satisfying `Verifier`

`verify()` uses only read-only, non-billable calls. It answers `dead` only on the provider's clear
word (e.g. 401 with its error body); 429, 5xx, timeouts, HTML from a proxy and unexpected bodies
are `unknown` with the reason in `error`. A provider with no free check answers `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from keysweep.fingerprint import scrub_secret

if TYPE_CHECKING:
    from keysweep.context import Context

Status = Literal["live", "dead", "unknown"]


@dataclass(frozen=True)
class Verification:
    status: Status
    identity: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Credential:
    """What a verifier needs: the secret (in memory only) and what the finding knows about it."""

    provider: str
    rule_id: str
    secret: str = field(repr=False)  # never in a repr, a log line or a failed assertion
    key_id: str | None = None
    # Non-secret identifiers the finding learned offline (its match metadata: a GCP key's
    # client_email and project_id), for checks made about the key rather than with it.
    facts: dict[str, Any] = field(default_factory=dict, compare=False)


class Verifier(Protocol):
    name: str
    providers: tuple[str, ...]

    async def verify(self, credential: Credential, ctx: "Context") -> Verification:
        """Liveness of the credential; never raises for network trouble (that is `unknown`)."""
        ...


def clean_identity(value: Any, secret: str) -> Any:
    """Identity as recorded: no string keeps a run of 8 or more characters of the secret."""
    if isinstance(value, str):
        return scrub_secret(value, secret)
    if isinstance(value, dict):
        return {str(k): clean_identity(v, secret) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [clean_identity(v, secret) for v in value]
    return value
