"""The secret value, for the one call that needs it: re-read from where the scanner saw it.

The store never holds values. A revoker that must send the key (GitHub's revoke list, GitLab's
self-delete, Slack's auth.revoke) or match it against a provider's inventory (its redacted
form of each key) asks here; the value is read from the occurrence's locator, checked against the finding's
SHA-256 and handed back, never written anywhere. Values read during a run are remembered only in
memory, keyed by SHA-256, so that `scrub()` can take every 8+ character run of them out of any text
(an error from a third-party plugin, a provider echoing part of the key) before it is printed or stored.

Revokers get this through the context (`ctx.secrets`, a `ContextSecrets`), never by importing it.

Order of sources: a reader injected through `ctx.extra["secret_reader"]` (tests, embedding
programs), then `keysweep.scanner.reread`, then the built-in reader for git blobs and
files (re-scan the blob, keep the match whose SHA-256 is the finding's).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from keysweep.errors import KeysweepError, SecretUnavailable
from keysweep.fingerprint import redaction_prefix, scrub_secret, secret_sha256
from keysweep.scanner.reread import fetch_secret

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.models import Finding


__all__ = ["ContextSecrets", "SecretUnavailable", "forget", "scrub", "secret_for"]

_INFLIGHT_KEY = "_secret_values"
_PREFIXES_KEY = "_secret_prefixes"  # SHA-256 -> literal prefix the redacted form shows anyway


def _memory(ctx: "Context") -> dict[str, str]:
    return ctx.extra.setdefault(_INFLIGHT_KEY, {})


def _prefixes(ctx: "Context") -> dict[str, str]:
    return ctx.extra.setdefault(_PREFIXES_KEY, {})


def scrub(text: str | None, ctx: "Context | None") -> str | None:
    """`text` without any 8+ character run of any value read in this run."""
    if not text or ctx is None:
        return text
    prefixes = _prefixes(ctx)
    for sha, value in _memory(ctx).items():
        text = scrub_secret(text, value, prefixes.get(sha, ""))
    return text


def forget(ctx: "Context") -> None:
    _memory(ctx).clear()
    _prefixes(ctx).clear()
    rereader = ctx.extra.get("rereader")
    if rereader is not None:  # the values it read stay in memory no longer than the run's own
        rereader.forget()


async def secret_for(finding: "Finding | str", ctx: "Context") -> str:
    """The finding's value (finding or finding id). Raises SecretUnavailable."""
    if isinstance(finding, str) and finding in ctx.extra.get("_findings", {}):
        finding = ctx.extra["_findings"][finding]
    if isinstance(finding, str):
        if ctx.store is None:
            raise SecretUnavailable(f"{finding}: no store to find where the value was seen")
        found = ctx.store.findings(ids=[finding])
        if not found:
            raise SecretUnavailable(f"{finding}: no such finding")
        finding = found[0]
    memory = _memory(ctx)
    if finding.secret_sha256 in memory:
        return memory[finding.secret_sha256]
    value = await _read(finding, ctx)
    if value is None or secret_sha256(value) != finding.secret_sha256:
        raise SecretUnavailable(f"{finding.id} ({finding.redacted}): the value can no longer be re-read from "
                                f"where it was found")
    memory[finding.secret_sha256] = value
    _prefixes(ctx)[finding.secret_sha256] = redaction_prefix(finding.redacted)
    return value


class ContextSecrets:
    """The re-reader bound to one context: what `ctx.secrets` holds for revocation. Values read
    through it share the context's in-memory cache with `secret_for(…, ctx)` and `scrub(…, ctx)`."""

    def __init__(self, ctx: "Context") -> None:
        self._ctx = ctx

    def __repr__(self) -> str:  # never show what it holds
        return "ContextSecrets()"

    async def secret_for(self, finding: "Finding | str") -> str:
        return await secret_for(finding, self._ctx)

    def scrub(self, text: str | None) -> str | None:
        return scrub(text, self._ctx)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _read(finding: "Finding", ctx: "Context") -> str | None:
    reader = ctx.extra.get("secret_reader")
    if reader is not None:
        return await _maybe_await(reader(finding))
    try:
        value = await fetch_secret(finding, ctx)  # a CI variable is read through the context's HTTP client
    except KeysweepError:
        value = None
    # Only through the re-reader: it refuses symlinks and caps sizes, so a file swapped in after the
    # scan cannot make a revoker read (or act on) anything the scan did not see.
    return value or None


