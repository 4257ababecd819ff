"""What keysweep knows about one provider, as one record (`Provider`) per module.

A provider module `keysweep/providers/<name>.py` defines `PROVIDER = Provider(...)` and is listed once
in `keysweep/providers/__init__.py`'s `PROVIDERS` table; nothing else in keysweep names a provider.
The rule TOML stays in `rules/`; destructive calls stay in `keysweep/revokers/<name>.py`, which the
record names by "module:attribute" so that revokers are imported only when revocation runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal, Mapping

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.providers.candidate import Candidate, Enriched
    from keysweep.scanner.models import Finding
    from keysweep.verify.model import Verifier

Check = Callable[[str], bool]
Enricher = Callable[["Candidate"], "Enriched | None"]
# How an admin-inventory entry relates to a leaked key: it names exactly this key, its hint fits (it
# could be this key or another), or it is not this key.
Shows = Literal["exact", "hint", "no"]


@dataclass(frozen=True)
class Replacement:
    """The short-lived credential that should replace a standing key of this provider (data)."""

    kind: str            # e.g. "oidc-role", "workload-identity", "github-app"
    summary: str
    docs_url: str


@dataclass(frozen=True)
class Inventory:
    """An admin API that lists the organisation's keys, so a leaked key can be bound to its entry.

    `source` names the owner candidates it yields (e.g. "openai-admin"); `list_keys` reads every
    entry with the admin credential; `shows` is the one matcher that decides whether an entry is
    the leaked key; `owner` turns a matched entry into owner facts (name, team, purpose, contact,
    key_id, details, evidence)."""

    source: str
    list_keys: Callable[["Context"], Awaitable[list[dict[str, Any]]]]
    shows: Callable[[dict[str, Any], "Finding", "str | None"], Shows]
    owner: Callable[..., Any] | None = None
    confidence: float = 0.9


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    # Endpoint and admin credential. An environment name of None means keysweep's own
    # KEYSWEEP_<NAME>_BASE_URL / KEYSWEEP_<NAME>_ADMIN_KEY.
    base_url: str | None = None
    base_url_env: str | None = None
    admin_key_env: str | None = None
    api_version: str | None = None
    # Where a person revokes a key by hand.
    console_url: str | None = None
    # Rule ids whose keys belong to a person rather than a workload (OWASP NHI10, "human use of NHI").
    human_rules: frozenset[str] = frozenset()
    checks: Mapping[str, Check] = field(default_factory=dict)
    enrichers: Mapping[str, Enricher] = field(default_factory=dict)
    verifier: "Verifier | None" = None
    inventory: Inventory | None = None
    # Revoker name -> "module:attribute", in order of preference.
    revokers: Mapping[str, str] = field(default_factory=dict)
    replacement: Replacement | None = None

    def env_name_for_base_url(self) -> str:
        return self.base_url_env or f"KEYSWEEP_{self.name.upper().replace('-', '_')}_BASE_URL"

    def env_name_for_admin_key(self) -> str:
        return self.admin_key_env or f"KEYSWEEP_{self.name.upper().replace('-', '_')}_ADMIN_KEY"
