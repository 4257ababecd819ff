"""The provider registry: one explicit table of every provider keysweep knows.

Each module `keysweep/providers/<name>.py` holds everything keysweep knows about one provider as
`PROVIDER` (see providers/base.py): endpoints and environment names, offline checks and enrichers
(referenced by a rule's `checksum`/`enrich` fields), the read-only verifier, the admin inventory,
the console URL and its revokers. A new provider is one rule file, one module listed here, at most
one revoker module, a fake and tests.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Callable

from keysweep.providers.base import Check, Enricher, Provider
from keysweep.verify.http_verifier import NoFreeCheck

# Every provider module, by name (keysweep/providers/<name>.py). The registry below is built from
# this table the first time something asks for it, not when the package is imported: a scan that
# matches nothing (a clean pre-commit run) then loads no provider module, and one that matches
# loads only the modules holding its rules' checks (`check`, `enricher`).
MODULES: tuple[str, ...] = (
    "anthropic", "aws", "azure", "cohere", "deepseek", "gcp", "generic", "github", "gitlab", "google", "groq",
    "huggingface", "langsmith", "mistral", "openai", "openrouter", "perplexity", "pinecone", "private_key",
    "replicate", "slack", "stripe", "together", "wandb", "xai",
)


def _record(module_name: str) -> Provider:
    return importlib.import_module(f"keysweep.providers.{module_name}").PROVIDER


def _module_name(provider_name: str) -> str:
    """Provider `private-key` lives in private_key.py: a record's name is its module's, `-` for `_`."""
    return provider_name.replace("-", "_")


@cache
def _providers() -> dict[str, Provider]:
    records = {record.name: record for record in map(_record, MODULES)}
    for module_name, record in zip(MODULES, records.values()):
        if _module_name(record.name) != module_name:
            raise RuntimeError(f"keysweep/providers/{module_name}.py names its provider {record.name!r}")
    return records


def provider(name: str) -> Provider:
    """The record of `name` (loading its module only); a provider with rules but no module gets an
    empty record."""
    module_name = _module_name(name)
    record = _record(module_name) if module_name in MODULES else None
    return record if record is not None and record.name == name else Provider(name, name)


@cache
def _merged(kind: str) -> dict:
    merged: dict = {}
    for record in _providers().values():
        for name, function in getattr(record, kind).items():
            if name in merged:
                raise RuntimeError(f"duplicate check or enricher name {name!r}")
            merged[name] = function
    return merged


# Checks (a rule's `checksum` field) and enrichers (its `enrich` field): normalise the secret, name
# its key id, attach metadata, or drop the match. See providers/candidate.py.
def check(name: str, owner: str | None = None) -> Check:
    """The check `name`, looked for first in provider `owner`'s module (a rule's own provider), so
    that a match loads that one module; else in the whole registry. KeyError when none has it."""
    return _lookup("checks", name, owner)


def enricher(name: str, owner: str | None = None) -> Enricher:
    """The enricher `name`, found as `check` finds a check."""
    return _lookup("enrichers", name, owner)


def _lookup(kind: str, name: str, owner: str | None) -> Callable:
    module_name = _module_name(owner or "")
    if module_name in MODULES:
        function = getattr(_record(module_name), kind).get(name)
        if function is not None:
            return function
    return _merged(kind)[name]


def __getattr__(name: str):
    """`PROVIDERS` (name -> record), `CHECKS` and `ENRICHERS` (name -> function), built on first use."""
    if name == "PROVIDERS":
        return _providers()
    if name == "CHECKS":
        return _merged("checks")
    if name == "ENRICHERS":
        return _merged("enrichers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def verifier_for(name: str):
    """The provider's read-only verifier (see verify/model.py), or None when it has none."""
    return provider(name).verifier


def never_confirmed(name: str | None) -> bool:
    """True when a revoked key of this provider can never be confirmed dead: its record's verifier is
    a NoFreeCheck (the provider documents no read-only check of a key, and keysweep never repeats a
    revocation call to find out), so `keysweep revoke --resume` leaves such a job `revoked`."""
    return bool(name) and isinstance(provider(str(name)).verifier, NoFreeCheck)
