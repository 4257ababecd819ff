"""Provider code that rule data cannot express.

Each provider module exposes `CHECKS`, a mapping from a checksum name (referenced by a rule's
`checksum` field) to a pure function `check(secret) -> bool` that is True when the value is
structurally genuine. Verification calls (network) join these modules in a later stage.

The registry is explicit so that `keysweep rules check` can reject unknown checksum names.
"""

from __future__ import annotations

from typing import Callable

from keysweep.detectors import anthropic, aws, gcp, generic, github, gitlab, openai, private_key
from keysweep.detectors.candidate import Candidate, Enriched

Check = Callable[[str], bool]
Enricher = Callable[[Candidate], "Enriched | None"]

CHECKS: dict[str, Check] = {}
# Enrichers (a rule's `enrich` field): normalise the secret, name its key id, attach metadata, or
# drop the match. See detectors/candidate.py.
ENRICHERS: dict[str, Enricher] = {}
for _module in (anthropic, aws, gcp, generic, github, gitlab, openai, private_key):
    for _registry, _entries in ((CHECKS, _module.CHECKS), (ENRICHERS, getattr(_module, "ENRICHERS", {}))):
        for _name, _function in _entries.items():
            if _name in _registry:
                raise RuntimeError(f"duplicate check or enricher name {_name!r}")
            _registry[_name] = _function


def run_check(name: str, secret: str) -> bool:
    return CHECKS[name](secret)


def verifier_for(provider: str):
    """The provider module's `VERIFIER` (see detectors/base.py), or None when it has none."""
    import importlib

    try:
        module = importlib.import_module(f"keysweep.detectors.{provider.replace('-', '_')}")
    except ModuleNotFoundError:
        return None
    return getattr(module, "VERIFIER", None)
