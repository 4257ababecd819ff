"""What keysweep knows about one provider, as one record (`Provider`) per module.

A provider module `keysweep/providers/<name>.py` defines `PROVIDER = Provider(...)` and is listed once
in `keysweep/providers/__init__.py`'s `PROVIDERS` table; nothing else in keysweep names a provider.
The rule TOML stays in `rules/`; destructive calls stay in `keysweep/revokers/<name>.py`, which the
record names by "module:attribute" so that revokers are imported only when revocation runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.models import Finding
    from keysweep.providers.candidate import Candidate, Enriched
    from keysweep.verify.model import Credential, Verifier
    from keysweep.verify.reach import Reach

Check = Callable[[str], bool]
Enricher = Callable[["Candidate"], "Enriched | None"]
# A live key's reach: (the credential, the run's context, the identity its verification recorded)
# -> what the key can do (keysweep/verify/reach.py). Read-only, non-billable calls only.
ReachReader = Callable[["Credential", "Context", dict], Awaitable["Reach"]]


@dataclass(frozen=True)
class Replacement:
    """The short-lived credential that should replace a standing key of this provider (data)."""

    kind: str            # e.g. "iam-role", "workload-identity-federation", "github-app"
    summary: str         # one paragraph: what to use instead and how
    docs_url: str        # the vendor's documentation of it

    def as_json(self) -> dict[str, str]:
        """The JSON finding's `replacement` object (docs/output.md)."""
        return {"kind": self.kind, "summary": self.summary, "docs_url": self.docs_url}


@dataclass(frozen=True)
class Endpoint:
    """A provider's second API with its own setting (Google's API Keys API beside Gemini): the
    environment variable that overrides it, else its default. Environment first, as for `base_url`,
    so a test or a proxy can redirect it."""

    env: str
    default: str

    def url(self, env: Mapping[str, str]) -> str:
        return (env.get(self.env) or self.default).rstrip("/")


@dataclass(frozen=True)
class Listing:
    """One paginated listing of a provider's admin API, as data: the path under the provider's base
    URL (`{field}` placeholders filled by the caller), the query of the first page, and how the next
    page is asked for: `cursor` names the parameter that carries the previous page's `last_id`
    (`{"data": [...], "has_more": …, "last_id": …}`), or, with `paging="offset"`, the number of
    entries already read (`{"data": [...]}` until an empty page). Owners and revokers page it through
    providers/admin_api.py's `list_pages`, so the endpoint is written once."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    cursor: str = "after"
    paging: str = "cursor"  # "cursor" or "offset"

    def url(self, base: str, **fields: str) -> str:
        return f"{base}{self.path.format(**fields)}"


@dataclass(frozen=True)
class OwnerFacts:
    """What an inventory entry says about the key's owner, as plain facts (owners/ makes a candidate).

    `evidence` is the sentence stored with the candidate (owners/ appends how sure the match is);
    `confidence` is for an exact, unique match (owners/ lowers it for a hint or an ambiguous one)."""

    name: str | None
    evidence: str
    confidence: float = 0.9
    team: str | None = None
    purpose: str | None = None
    contact: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class InventoryAccess(Protocol):
    """What an inventory reads through (owners/'s OwnerContext is one): the network context, a
    per-run cache (listings and lookups are made once) and a place for one-line warnings."""

    ctx: "Context"
    cache: dict[str, Any]

    def warn(self, message: str) -> None: ...


@dataclass(frozen=True)
class Inventory:
    """An admin API that knows the organisation's keys, so a leaked key can be bound to its entry.

    Either `list_keys` reads every entry (once per run) and `hint` gives the entry's redacted form
    of its key, judged by the one matcher (revokers/binding.py: a key id only from an exact, unique
    fit); or `lookup` maps the full key string to its entry directly (an exact binding by
    construction; None when the provider does not know the key). `owner` turns a matched entry into
    `OwnerFacts`. Failures raise providers/admin_api.py's `AdminApiError` (a one-line warning; the
resolver goes on).

    `source` names the owner candidates it yields (`<provider>-admin`). The inventory runs only for
    the provider's own findings and only when its admin credential (`Provider.admin_key_env`) is set."""

    source: str
    owner: Callable[[dict[str, Any], "Finding", InventoryAccess], Awaitable[OwnerFacts]]
    list_keys: Callable[[InventoryAccess], Awaitable[list[dict[str, Any]]]] | None = None
    hint: Callable[[dict[str, Any]], "str | None"] | None = None
    lookup: Callable[[str, InventoryAccess], Awaitable["dict[str, Any] | None"]] | None = None


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    # Endpoint and admin credential (configuration contract: never renamed). `base_url` is the
    # default endpoint; an environment name of None means keysweep's own
    # KEYSWEEP_<NAME>_BASE_URL / KEYSWEEP_<NAME>_ADMIN_KEY. See settings.py.
    base_url: str | None = None
    base_url_env: str | None = None
    admin_key_env: str | None = None
    # The API version the provider's requests pin (a header value), written once here.
    api_version: str | None = None
    # Further APIs of the provider, by name (e.g. "apikeys"), each with its own setting.
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    # Where a person revokes a key by hand (notifications, the notify revoker).
    console_url: str | None = None
    # Rule ids whose keys belong to a person rather than a workload (OWASP NHI10, "human use of NHI").
    human_rules: frozenset[str] = frozenset()
    checks: Mapping[str, Check] = field(default_factory=dict)
    enrichers: Mapping[str, Enricher] = field(default_factory=dict)
    verifier: "Verifier | None" = None
    inventory: Inventory | None = None
    # Revoker name -> "module:attribute", in order of preference: the first that supports a finding
    # is chosen unless another is asked for by name (revokers/__init__.py).
    revokers: Mapping[str, str] = field(default_factory=dict)
    replacement: Replacement | None = None
    # What a live key can do (keysweep/verify/reach.py): called by the verify runner after a
    # `live` answer; never with a destructive or billable call.
    reach: ReachReader | None = None

    def env_name_for_base_url(self) -> str:
        return self.base_url_env or f"KEYSWEEP_{self.name.upper().replace('-', '_')}_BASE_URL"

    def env_name_for_admin_key(self) -> str:
        return self.admin_key_env or f"KEYSWEEP_{self.name.upper().replace('-', '_')}_ADMIN_KEY"
