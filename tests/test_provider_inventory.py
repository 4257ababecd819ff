"""The one inventory resolver runs any provider's `Inventory`, including one that looks a key up by
its value (`Inventory.lookup`: an exact binding by construction). A stub provider registered for the
test shows that nothing in owners/ needs to name it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from keysweep.context import Context
from keysweep.fingerprint import secret_sha256
from keysweep.models import Finding
from keysweep.owners import OwnerContext, network_sources, resolve_finding, resolvers
from keysweep.providers import PROVIDERS
from keysweep.providers.admin_api import AdminApiError
from keysweep.providers.base import Inventory, OwnerFacts, Provider
from keysweep.settings import Settings

VALUE = "stub_live_0123456789abcdefghijklmnop"
ADMIN_ENV = "KEYSWEEP_STUBCO_ADMIN_KEY"


class ValueRereader:
    """Re-reads the stub finding's value (None: it is gone)."""

    def __init__(self, value: str | None) -> None:
        self.value = value

    def read(self, finding):
        return SimpleNamespace(secret=self.value) if self.value else None


def stub_provider(directory: dict[str, dict], looked_up: list[str], *, fail: bool = False) -> Provider:
    async def lookup(value: str, access) -> dict | None:
        looked_up.append(value)
        if fail:
            raise AdminApiError("Stub API keys lookup: HTTP 503")
        assert access.ctx.settings.admin_key("stubco") == "admin-token"
        return directory.get(value)

    async def owner(entry: dict, finding, access) -> OwnerFacts:
        return OwnerFacts(name=entry["creator"], team=entry["project"], purpose=entry["display"],
                          evidence=f"Stub API keys: key {entry['id']} in project {entry['project']}",
                          contact=entry["creator"], details={"project": entry["project"]})

    return Provider("stubco", "Stub Co", inventory=Inventory(source="stubco-admin", lookup=lookup, owner=owner))


def finding() -> Finding:
    return Finding(id="f_stub", rule_id="stubco.api-key", provider="stubco", secret_sha256=secret_sha256(VALUE),
                   redacted="stub_live_…mnop", long_lived=True)


def resolve(value: str | None, *, offline: bool = False, admin: bool = True) -> tuple[list, list[str]]:
    env = {ADMIN_ENV: "admin-token"} if admin else {}

    async def main():
        octx = OwnerContext(ctx=Context(http=None, settings=Settings(env=env)), rereader=ValueRereader(value),
                            offline=offline)
        return await resolve_finding(finding(), octx), octx.warnings

    return asyncio.run(main())


DIRECTORY = {VALUE: {"id": "projects/42/keys/k-1", "project": "billing", "creator": "ana@acme.io",
                     "display": "invoice bot"}}


@pytest.fixture
def looked_up(monkeypatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setitem(PROVIDERS, "stubco", stub_provider(DIRECTORY, calls))
    return calls


def test_a_registered_inventory_joins_the_chain_and_counts_as_network(looked_up):
    sources = [source for source, _ in resolvers()]
    assert "stubco-admin" in sources
    assert sources.index("owners-file") < sources.index("stubco-admin") < sources.index("aws-iam")
    assert "stubco-admin" in network_sources()


def test_lookup_binds_the_key_exactly_and_names_its_owner(looked_up):
    candidates, warnings = resolve(VALUE)
    assert looked_up == [VALUE] and warnings == []
    [stub] = [c for c in candidates if c.source == "stubco-admin"]
    assert (stub.name, stub.team, stub.purpose, stub.contact) == ("ana@acme.io", "billing", "invoice bot",
                                                                  "ana@acme.io")
    assert stub.key_id == "projects/42/keys/k-1" and stub.confidence == 0.9 and stub.chosen
    assert stub.evidence.startswith("Stub API keys: key projects/42/keys/k-1 in project billing | ")
    assert "no key id is taken" not in stub.evidence
    assert VALUE not in repr(candidates)


def test_a_key_the_provider_does_not_know_yields_no_candidate(looked_up):
    candidates, _ = resolve("stub_live_" + "z" * 26)
    assert len(looked_up) == 1 and not [c for c in candidates if c.source == "stubco-admin"]


@pytest.mark.parametrize("how", ["value gone", "offline", "no admin credential"])
def test_no_lookup_without_the_value_the_network_or_the_credential(looked_up, how):
    candidates, _ = resolve(None if how == "value gone" else VALUE, offline=how == "offline",
                            admin=how != "no admin credential")
    assert looked_up == [] and not [c for c in candidates if c.source == "stubco-admin"]


def test_a_failing_lookup_is_a_warning_not_a_stop(monkeypatch):
    calls: list[str] = []
    monkeypatch.setitem(PROVIDERS, "stubco", stub_provider(DIRECTORY, calls, fail=True))
    candidates, warnings = resolve(VALUE)
    assert calls == [VALUE] and warnings == ["Stub API keys lookup: HTTP 503"]
    assert not [c for c in candidates if c.source == "stubco-admin"]
