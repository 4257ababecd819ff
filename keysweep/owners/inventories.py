"""Owners from the providers' own key inventories, with the organisation's admin credentials.

One resolver runs every provider's `Inventory` (providers/base.py; each provider module says how
its admin API lists keys, which field shows a key, and what an entry says about its owner), for
that provider's findings only and only when its admin credential is set.

A listing inventory is read once per run. Matching is `revokers/binding.py` (the same matcher the
revokers use before acting by id): a key id is taken only when the re-read value (its SHA-256 the
finding's) fits exactly one key's hint. When the value is gone, only our own redacted form (last
four characters) is compared: owner evidence at lower confidence, never a key id. A hint fitting
several keys names none of them. A lookup inventory maps the re-read value to its entry directly:
an exact binding by construction, and nothing without the value.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

from keysweep.owners.model import Candidate
from keysweep.providers import PROVIDERS
from keysweep.providers.admin_api import AdminApiError
from keysweep.providers.base import Inventory, OwnerFacts, Provider
from keysweep.revokers.binding import Binding, bind, hint_fits, hint_fits_redacted, split_hint

if TYPE_CHECKING:
    from keysweep.models import Finding
    from keysweep.owners.model import OwnerContext, Resolver

# The one matcher (also used by the revokers that act on these ids); re-exported for callers here.
__all__ = ["hint_fits", "hint_fits_redacted", "split_hint"]


def inventory_providers() -> list[Provider]:
    """Providers with an admin inventory, in registry order."""
    return [record for record in PROVIDERS.values() if record.inventory is not None]


async def _listing(octx: "OwnerContext", name: str, inventory: Inventory) -> list[dict[str, Any]] | None:
    """List once per run (concurrent findings share one listing); None when unavailable."""
    lock = octx.cache.setdefault(f"{name}:lock", asyncio.Lock())
    async with lock:
        if f"{name}:keys" not in octx.cache:
            try:
                octx.cache[f"{name}:keys"] = await inventory.list_keys(octx)
            except AdminApiError as exc:
                octx.warn(str(exc))
                octx.cache[f"{name}:keys"] = None
        return octx.cache[f"{name}:keys"]


async def _looked_up(octx: "OwnerContext", inventory: Inventory, finding: "Finding") -> Binding:
    """The entry the provider names for the re-read value (cached per value for the run)."""
    value = octx.secret(finding)
    if not value:
        return Binding(None, [], False, "the value can no longer be re-read, so it cannot be looked up")
    cache = octx.cache.setdefault(f"{inventory.source}:lookups", {})
    if finding.secret_sha256 not in cache:
        try:
            cache[finding.secret_sha256] = await inventory.lookup(value, octx)
        except AdminApiError as exc:
            octx.warn(str(exc))
            cache[finding.secret_sha256] = None
    entry = cache[finding.secret_sha256]
    if entry is None:
        return Binding(None, [], True, "the provider does not know this key")
    return Binding(entry, [entry], True, "the provider looked the key up by its value")


async def _binding(octx: "OwnerContext", record: Provider, finding: "Finding") -> Binding | None:
    inventory = record.inventory
    if inventory.lookup is not None:
        return await _looked_up(octx, inventory, finding)
    keys = await _listing(octx, record.name, inventory)
    if not keys:
        return None
    return bind(keys, inventory.hint, finding, octx.secret(finding))


def _confidence(base: float, binding: Binding) -> float:
    if len(binding.matched) > 1:
        return 0.4
    return base if binding.entry is not None else min(base, 0.5)


def _qualifier(binding: Binding) -> str:
    if binding.entry is not None:
        return ""
    count = len(binding.matched)
    if count > 1:
        return f"; ambiguous: {count} keys fit this hint, so no key id is taken"
    if binding.exact:
        return "; the provider's hint shows only the last characters, so no key id is taken"
    return "; matched on the last 4 characters only (the value could not be re-read), so no key id is taken"


def candidate(facts: OwnerFacts, source: str, binding: Binding) -> Candidate:
    """An inventory entry's owner facts as a candidate, as sure as the binding allows."""
    return Candidate(
        name=facts.name, team=facts.team, purpose=facts.purpose, source=source,
        confidence=_confidence(facts.confidence, binding), evidence=facts.evidence + _qualifier(binding),
        contact=facts.contact, key_id=binding.key_id,  # only an exact, unique match names the key
        details=dict(facts.details))


async def resolve(record: Provider, finding: "Finding", octx: "OwnerContext") -> list[Candidate]:
    """Candidates from `record`'s admin inventory for one of its findings, when its admin credential is set."""
    if finding.provider != record.name or record.inventory is None or not octx.ctx.settings.admin_key(record.name):
        return []
    binding = await _binding(octx, record, finding)
    if binding is None:
        return []
    return [candidate(await record.inventory.owner(entry, finding, octx), record.inventory.source, binding)
            for entry in binding.matched]


def resolvers() -> list[tuple[str, "Resolver"]]:
    """One resolver per provider inventory, named by its source, in registry order."""
    return [(record.inventory.source, functools.partial(resolve, record)) for record in inventory_providers()]
