"""Verification runs: is each finding's key still live? (`keysweep verify`, `scan … --verify`)

For every finding: a recent determinate answer in the store (within the TTL) is reused; otherwise
the value is re-read from its locator (`scanner/reread.py`), handed to the provider's verifier
(`providers/<provider>.py: VERIFIER`), and the answer is recorded with its timestamp — a
`verifications` row, plus a `verified_live` / `verified_dead` event for time to remediation.
Checks run concurrently, bounded by a semaphore, with the HTTP client's per-host throttle set from
each provider's `rate_limit`. `unknown` answers are recorded but never served from the cache.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import urlsplit

from keysweep.clock import parse_utc
from keysweep.context import Context
from keysweep.http import HttpClient, RetryPolicy
from keysweep.providers import provider as provider_record
from keysweep.providers import verifier_for
from keysweep.scanner.reread import Rereader
from keysweep.scanner.sources.remote import inventory_rules
from keysweep.verify.http_verifier import scrub
from keysweep.verify.model import Credential, Verification, clean_identity
from keysweep.verify.reach import unseen

if TYPE_CHECKING:
    from keysweep.models import Finding
    from keysweep.settings import Settings
    from keysweep.store import Store

DEFAULT_TTL = 3600
DEFAULT_CONCURRENCY = 8
DEFAULT_RATE = 5.0  # requests per second per provider host, unless [providers.<name>] rate_limit says


@dataclass
class VerifyResult:
    finding: "Finding"
    status: str
    identity: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    checked_at: str | None = None
    cached: bool = False
    unreadable: bool = False  # the value could not be read back from any place it was seen
    reach: dict[str, Any] | None = None  # read with this check (a live key), else None

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "checked_at": self.checked_at, "identity": self.identity, "error": self.error}


async def verify_one(finding: "Finding", credential: Credential | None, ctx: "Context",
                     reason_unreadable: str | None = None) -> Verification:
    """One finding's check; never raises (a crashing verifier is `unknown`)."""
    verifier = verifier_for(finding.provider)
    if verifier is None:
        return Verification("unknown", {}, f"no liveness check for provider {finding.provider!r}")
    if credential is None:
        return Verification("unknown", {}, reason_unreadable or "the value can no longer be re-read")
    try:
        verdict = await verifier.verify(credential, ctx)
    except Exception as exc:  # a plugin bug must not stop the run, nor leak the value
        return Verification("unknown", {}, scrub(f"verifier failed: {type(exc).__name__}: {exc}", credential.secret))
    error = scrub(verdict.error, credential.secret, limit=300) if verdict.error else None
    return Verification(verdict.status, clean_identity(verdict.identity or {}, credential.secret), error)


async def read_reach(finding: "Finding", credential: Credential, ctx: "Context",
                     identity: dict[str, Any]) -> dict[str, Any] | None:
    """A live key's reach through its provider's reader (`Provider.reach`), as the stored record;
    None when the provider has no reader. Never raises: a failing reader gives a reach that says
    what could not be seen, and no string in it keeps a run of the secret."""
    reader = provider_record(finding.provider).reach
    if reader is None:
        return None
    try:
        reach = await reader(credential, ctx, dict(identity))
    except Exception as exc:  # a reader bug or an unexpected answer: reach unknown, the check stands
        reach = unseen(scrub(f"reach not read: {type(exc).__name__}: {exc}", credential.secret, limit=200))
    record = reach.record()
    record["checked_at"] = ctx.now()
    return clean_identity(record, credential.secret)


async def verify_findings(findings: Iterable["Finding"], ctx: "Context", *, ttl: float = DEFAULT_TTL,
                          concurrency: int = DEFAULT_CONCURRENCY, rereader: "Rereader | None" = None,
                          record: bool = True, progress: Callable[[int], None] | None = None) -> list[VerifyResult]:
    """Check each finding once (an answer younger than `ttl` is reused); `progress(done)` is told
    after each check how many of the findings are done."""
    findings = list({f.id: f for f in findings}.values())
    done = [0]  # checks finished, for `progress`
    rereader = rereader or Rereader(settings=ctx.settings)
    store = ctx.store
    now = ctx.clock()
    cached: dict[str, dict[str, Any]] = {}
    # A reused live check whose reach was never read (checked before keysweep read reach, or by a
    # run that did not): its reach is read now and kept with that check (finding id -> row id).
    reach_due: dict[str, int] = {}
    if store is not None and ttl > 0:
        for finding_id, latest in store.latest_verifications(f.id for f in findings).items():
            if latest["status"] in ("live", "dead") and latest["checked_at"] \
                    and parse_utc(latest["checked_at"]) >= now - timedelta(seconds=ttl):
                cached[finding_id] = latest
        readers = {f.id for f in findings if f.id in cached and provider_record(f.provider).reach is not None}
        reach_due = store.checks_without_reach(readers) if readers else {}

    # Values are re-read up front, one blob at a time (the engine is not shared across threads).
    credentials: dict[str, tuple[Credential | None, str | None]] = {}
    for finding in findings:
        if (finding.id in cached and finding.id not in reach_due) or finding.id in credentials:
            continue
        try:
            hit = await rereader.fetch(finding, ctx.http)
        except Exception as exc:
            credentials[finding.id] = (None, f"cannot re-read the value: {type(exc).__name__}")
            continue
        if hit is None:
            credentials[finding.id] = (None, "the value can no longer be re-read from where it was found")
        else:
            credentials[finding.id] = (Credential(finding.provider, finding.rule_id, hit.secret,
                                                  hit.key_id or finding.key_id,
                                                  facts=dict(finding.metadata or {})), None)

    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def check(finding: "Finding") -> VerifyResult:
        if finding.id in cached:
            latest = cached[finding.id]
            reach = None
            credential = credentials.get(finding.id, (None, None))[0]
            if finding.id in reach_due and credential is not None:
                async with semaphore:
                    reach = await read_reach(finding, credential, ctx, dict(latest["identity"] or {}))
                if reach is not None:
                    finding.reach = reach
                    if record and store is not None:
                        store.attach_reach(reach_due[finding.id], reach)
            result = VerifyResult(finding, latest["status"], latest["identity"], latest.get("error"),
                                  latest["checked_at"], cached=True, reach=reach)
        else:
            credential, why = credentials[finding.id]
            reach = None
            async with semaphore:
                verdict = await verify_one(finding, credential, ctx, why)
                if verdict.status == "live" and credential is not None:
                    reach = await read_reach(finding, credential, ctx, dict(verdict.identity))
            checked_at = ctx.now()
            result = VerifyResult(finding, verdict.status, dict(verdict.identity), verdict.error, checked_at,
                                  unreadable=credential is None, reach=reach)
            if reach is not None:
                finding.reach = reach
            if record and store is not None:
                store.record_verification(finding.id, verdict.status, result.identity, verdict.error, checked_at,
                                          reach=reach)
                learned = result.identity.get("key_id")
                if learned and not finding.key_id:
                    store.set_key_id(finding.id, str(learned))
            if result.identity.get("key_id") and not finding.key_id:
                finding.key_id = str(result.identity["key_id"])
        finding.verification = result.as_json()
        done[0] += 1
        if progress is not None:
            progress(done[0])
        return result

    return list(await asyncio.gather(*(check(f) for f in findings)))


def rate_limits(settings: "Settings", providers: Iterable[str]) -> dict[str, float]:
    limits: dict[str, float] = {}
    for provider in set(providers):
        base = settings.base_url(provider)
        if base:
            host = urlsplit(base).netloc
            limits[host] = min(limits.get(host, float("inf")), settings.rate_limit(provider, DEFAULT_RATE))
    return limits


def run_verification(findings: list["Finding"], settings: "Settings", store: "Store | None", *,
                     ttl: float = DEFAULT_TTL, concurrency: int = DEFAULT_CONCURRENCY,
                     rereader: "Rereader | None" = None, timeout: float | None = None,
                     progress: Callable[[int], None] | None = None) -> list[VerifyResult]:
    """Synchronous entry point for the CLI: one HTTP client for the whole run."""

    async def main() -> list[VerifyResult]:
        section = settings.section("verify")
        client = HttpClient(timeout=float(timeout or section.get("timeout", 15.0)),
                            rate_limits=rate_limits(settings, (f.provider for f in findings)),
                            policy=RetryPolicy(attempts=int(section.get("attempts", 3)),
                                               max_retry_after=float(section.get("max_retry_after", 30.0))))
        async with client as http:
            ctx = Context(http=http, settings=settings, store=store, actor="keysweep verify")
            return await verify_findings(findings, ctx, ttl=ttl, concurrency=concurrency, rereader=rereader,
                                         progress=progress)

    if not findings:
        return []
    return asyncio.run(main())


def summary(results: list[VerifyResult]) -> str:
    counts = {status: sum(1 for r in results if r.status == status) for status in ("live", "dead", "unknown")}
    cached = sum(1 for r in results if r.cached)
    unreadable = sum(1 for r in results if r.unreadable)
    text = f"{counts['live']} live, {counts['dead']} dead, {counts['unknown']} unknown"
    notes = [f"{cached} from cache"] if cached else []
    if unreadable:
        notes.append(f"{unreadable} could not be re-read, so not checked")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def source_label(occurrence: Any) -> str:
    """Where a value was seen, at the level a person fixes access: a repository, a region's
    secret store, a directory, a forge's variables."""
    locator = occurrence.locator or {}
    where = occurrence.repo or locator.get("region") or locator.get("root") or locator.get("host") or ""
    return f"{occurrence.source} {where}".strip()


def unreadable_by_source(findings: Iterable["Finding"]) -> dict[str, int]:
    """{source label: findings whose value could not be re-read from it}, one entry per source."""
    counts: dict[str, int] = {}
    for finding in findings:
        for label in sorted({source_label(o) for o in finding.occurrences} or {"(no place recorded)"}):
            counts[label] = counts.get(label, 0) + 1
    return counts


def unreadable_notes(results: "list[VerifyResult] | list[Finding]") -> list[str]:
    """One line per source whose values could not be re-read: not harmless, the key may be live
    and nothing can tell or revoke it."""
    findings = [r.finding if isinstance(r, VerifyResult) else r for r in results
                if not isinstance(r, VerifyResult) or r.unreadable]
    return [f"cannot re-read {count} value(s) from {label}: their status is unknown "
            f"(see `keysweep findings --unreadable`)" for label, count in unreadable_by_source(findings).items()]


def unreadable_findings(findings: Iterable["Finding"], rereader: "Rereader") -> list["Finding"]:
    """Findings holding a value that can no longer be read back from any place it was seen.
    Inventory findings (a secret's age, an IAM key's age) hold no value and are never listed."""
    no_value = {rule.id for rule in inventory_rules()}
    unreadable = []
    for finding in findings:
        if finding.rule_id in no_value:
            continue
        try:
            hit = rereader.read(finding)
        except Exception:
            hit = None
        if hit is None:
            unreadable.append(finding)
    return unreadable
