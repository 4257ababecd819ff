"""Provider code that rule data cannot express.

Each provider module exposes `CHECKS`, a mapping from a checksum name (referenced by a rule's
`checksum` field) to a pure function `check(secret) -> bool` that is True when the value is
structurally genuine. Verification calls (network) join these modules in a later stage.

The registry is explicit so that `keysweep rules check` can reject unknown checksum names.
"""

from __future__ import annotations

from typing import Callable

from keysweep.detectors import anthropic, aws, github, gitlab, openai

Check = Callable[[str], bool]

CHECKS: dict[str, Check] = {}
for _module in (anthropic, aws, github, gitlab, openai):
    for _name, _check in _module.CHECKS.items():
        if _name in CHECKS:
            raise RuntimeError(f"duplicate checksum name {_name!r}")
        CHECKS[_name] = _check


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
