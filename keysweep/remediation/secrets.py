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
from keysweep.fingerprint import echo_grams, holds_echo, redaction_prefix, scrub_echoes, secret_sha256
from keysweep.scanner.reread import fetch_secret

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.models import Finding


__all__ = ["ContextSecrets", "SecretUnavailable", "forget", "scrub", "secret_for"]

_INFLIGHT_KEY = "_secret_values"
_PREFIXES_KEY = "_secret_prefixes"  # SHA-256 -> literal prefix the redacted form shows anyway
_ECHOES_KEY = "_secret_echoes"  # the runs scrub() looks for, per value and all together


def _memory(ctx: "Context") -> dict[str, str]:
    return ctx.extra.setdefault(_INFLIGHT_KEY, {})


def _prefixes(ctx: "Context") -> dict[str, str]:
    return ctx.extra.setdefault(_PREFIXES_KEY, {})


class _Echoes:
    """The echo runs (fingerprint.echo_grams) of each value read in this run, computed once per
    value instead of once per value per text scrubbed, and all of them together: a text holding
    none of those (almost every one) is returned at once, where testing it against each value in
    turn made a run of N keys cost N x N (1,000 keys: 2,000 texts x 1,000 values). Held with the
    values and forgotten with them."""

    __slots__ = ("per_value", "every", "seen")

    def __init__(self) -> None:
        self.per_value: dict[str, tuple[str, frozenset[str]]] = {}  # SHA-256 -> (prefix, runs)
        self.every: set[str] = set()  # every value's runs (a superset once a prefix was added)
        self.seen = (0, 0)  # how many values and prefixes `every` was brought up to date with

    def __repr__(self) -> str:  # never show what it holds
        return "_Echoes()"

    def of(self, sha: str, value: str, prefix: str) -> frozenset[str]:
        known = self.per_value.get(sha)
        if known is None or known[0] != prefix:
            known = (prefix, echo_grams(value, prefix))
            self.per_value[sha] = known
            self.every |= known[1]
        return known[1]


def scrub(text: str | None, ctx: "Context | None") -> str | None:
    """`text` without any 8+ character run of any value read in this run."""
    if not text or ctx is None:
        return text
    memory, prefixes = _memory(ctx), _prefixes(ctx)
    echoes = ctx.extra.setdefault(_ECHOES_KEY, _Echoes())
    if echoes.seen != (len(memory), len(prefixes)):
        for sha, value in memory.items():
            if value:
                echoes.of(sha, value, prefixes.get(sha, ""))
        echoes.seen = (len(memory), len(prefixes))
    if not holds_echo(text, echoes.every):
        return text  # no value's run in it: each value in turn would leave it as it is
    for sha, value in memory.items():
        if value:
            text = scrub_echoes(text, echoes.of(sha, value, prefixes.get(sha, "")))
    return text


def forget(ctx: "Context") -> None:
    _memory(ctx).clear()
    _prefixes(ctx).clear()
    ctx.extra.pop(_ECHOES_KEY, None)
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


