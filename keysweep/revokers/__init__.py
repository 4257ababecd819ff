"""Revoker plugins: one module per provider behind one async interface.

The interface — the `Revoker` protocol, `Plan`, `PlannedCall`, `RevokeResult` — is in
`keysweep/revokers/base.py` (re-exported here). A provider whose key revokes itself with one HTTP
call only declares it: a `SelfRevoke` (method, path, auth, the documented replies) in an
`HttpRevoker` subclass (`keysweep/revokers/http_revoker.py`). Revokers get the value,
notifications and job notes through the context (`ctx.secrets`, `ctx.notify`, `ctx.note_job`),
never by importing the remediation layer above them. docs/revocation.md, "Writing a revoker", has
the details.

This module is only the registry: built-ins are each provider's `revokers` (providers/<name>.py),
gathered in `BUILTIN`; third parties register an object under the entry-point group
`keysweep.revokers` in their own package:

    [project.entry-points."keysweep.revokers"]
    acme = "acme_keysweep:AcmeRevoker"

A revoker never acts in `plan()` (the dry run prints plans), and `revoke()` must be idempotent:
"already revoked" or "not found" is success, so a resumed run can repeat a call whose result was
not recorded without harm.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from keysweep.providers import PROVIDERS

# The interface lives in revokers/base.py; re-exported here for plugins written against it.
from keysweep.revokers.base import Plan, PlannedCall, Revoker, RevokeResult

if TYPE_CHECKING:
    from keysweep.models import Finding

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Plan", "PlannedCall", "RevokeResult", "Revoker", "available_revokers",
           "revoker_for"]

ENTRY_POINT_GROUP = "keysweep.revokers"

# The fallback for providers with no revocation API: tell the owner. Always last.
FALLBACK = ("notify", "keysweep.revokers.notify:NotifyRevoker")


def _builtin() -> dict[str, str]:
    """name -> "module:attribute": each provider's revokers (its record's `revokers`, in its order of
    preference), in registry order, then `notify`. Modules are imported only when a revoker is
    needed. Order matters: the first revoker that supports a finding is chosen (a provider's second
    revoker, such as "aws-rotate", only when asked for by name), and `notify` comes last."""
    builtin: dict[str, str] = {}
    for record in PROVIDERS.values():
        for name, target in record.revokers.items():
            if name in builtin or name == FALLBACK[0]:
                raise RuntimeError(f"revoker name {name!r} declared twice")
            builtin[name] = target
    builtin[FALLBACK[0]] = FALLBACK[1]
    return builtin


BUILTIN: dict[str, str] = _builtin()


def available_revokers() -> dict[str, Revoker]:
    """Built-ins plus entry-point plugins; a plugin may not shadow a built-in name.

    Plugins come before `notify`, so a third-party revoker for a provider with no built-in one
    is preferred to telling the owner."""
    revokers: dict[str, Revoker] = {}
    for name, target in BUILTIN.items():
        if name != FALLBACK[0]:
            revokers[name] = _load(target)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in revokers:
            continue
        loaded = entry.load()
        revokers[entry.name] = loaded() if isinstance(loaded, type) else loaded
    revokers[FALLBACK[0]] = _load(FALLBACK[1])
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
