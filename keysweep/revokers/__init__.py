"""Revoker plugins: one module per provider behind one async interface.

The interface — the `Revoker` protocol, `Plan`, `PlannedCall`, `RevokeResult` — is in
`keysweep/revokers/base.py` (re-exported here). A provider whose key revokes itself with one HTTP
call (Slack, GitHub, GitLab, Perplexity) only declares it: a `SelfRevoke` (method, path, auth, the
documented replies) in an `HttpRevoker` subclass (`keysweep/revokers/http_revoker.py`). Revokers
get the value, notifications and job notes through the context (`ctx.secrets`, `ctx.notify`,
`ctx.note_job`), never by importing the remediation layer above them. docs/revocation.md, "Writing
a revoker", has the details.

This module is only the registry: built-ins are
listed in `BUILTIN` (module path per name); third parties register an object under the entry-point
group `keysweep.revokers` in their own package:

    [project.entry-points."keysweep.revokers"]
    acme = "acme_keysweep:AcmeRevoker"

A revoker never acts in `plan()` (the dry run prints plans), and `revoke()` must be idempotent:
"already revoked" or "not found" is success, so a resumed run can repeat a call whose result was
not recorded without harm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# The interface lives in revokers/base.py; re-exported here for plugins written against it.
from keysweep.revokers.base import Plan, PlannedCall, RevokeResult, Revoker

if TYPE_CHECKING:
    from keysweep.scanner.models import Finding

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Plan", "PlannedCall", "RevokeResult", "Revoker", "available_revokers",
           "revoker_for"]

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
