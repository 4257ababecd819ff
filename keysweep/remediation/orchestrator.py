"""`keysweep revoke`: select findings, plan, approve, then run jobs concurrently within each
provider's limits, confirm every key dead, and resume whatever a killed run left.

Per provider: a semaphore (`[providers.X] concurrency`, default 8) bounds calls in flight, a
throttle (`revoke_rate`, default the provider's `rate_limit`) paces revoke calls, and the HTTP
client paces every request per host and retries 429/5xx with backoff. Revokers with `batch_size`
(GitHub's revoke list) receive whole batches.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections import Counter, defaultdict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, AsyncIterator, Callable
from urllib.parse import urlsplit

from keysweep.clock import parse_utc, utc_iso
from keysweep.context import Context, system_clock
from keysweep.errors import KeysweepError
from keysweep.http import HttpClient, TransportError
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Job, Jobs, plan_from_json
from keysweep.remediation.notify import notify
from keysweep.remediation.secrets import scrub

# The selection lives in remediation/selection.py; re-exported for the callers that import it from here.
from keysweep.remediation.selection import Selection, select  # noqa: F401
from keysweep.remediation.services import for_revocation
from keysweep.remediation.waits import DEFAULT_MAX_WAIT, WaitBudget
from keysweep.revokers import RevokeResult


# -- context ---------------------------------------------------------------------------------------
def provider_hosts(settings, providers) -> dict[str, float]:
    rates: dict[str, float] = {}
    for provider in providers:
        base = settings.base_url(provider)
        if base:
            rates[urlsplit(base).netloc] = settings.rate_limit(provider, default=20.0)
    return rates


@asynccontextmanager
async def open_context(settings, store, actor: str, providers=(), clock=None, extra=None,
                       waits: WaitBudget | None = None) -> AsyncIterator:
    """The run's context. With `waits`, every wait between HTTP attempts is slept through it and
    only while its budget lasts (a 429 past the budget comes back at once, for the run to record)."""
    clock = clock or (waits.clock if waits else system_clock)
    timing = {"sleep": waits.sleep, "may_wait": waits.allows} if waits else {}
    async with HttpClient(rate_limits=provider_hosts(settings, providers), **timing) as http:
        context = for_revocation(Context(http=http, settings=settings, store=store, clock=clock, actor=actor,
                                         extra=dict(extra or {})))
        if waits is not None:
            context.sleep = waits.sleep
        yield context


# -- runs ------------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_run(store, actor: str, command: str, at: str) -> str:
    run_id = uuid.uuid4().hex[:12]
    if _shared(store):  # alive while this process is: taken before the run exists
        store.conn.hold_run_lock(run_id)
    with J.transaction(store.conn):
        store.conn.execute("INSERT INTO remediation_runs (id, actor, pid, host, command, started_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [run_id, actor, os.getpid(), socket.gethostname(), command, at])
    return run_id


def _shared(store) -> bool:
    """A store several machines use (PostgreSQL): a run's liveness is its lock there, not a pid."""
    return getattr(store, "dialect", "sqlite") == "postgresql"


def finish_run(store, run_id: str, at: str, summary: dict[str, Any]) -> None:
    with J.transaction(store.conn):
        store.conn.execute("UPDATE remediation_runs SET finished_at = ?, summary = ? WHERE id = ?",
                           [at, json.dumps(summary, sort_keys=True), run_id])


def abandoned_runs(store, current: str) -> set[str]:
    """Runs whose claims may be taken over: finished, or whose process is gone — on a PostgreSQL
    store, on any machine (the run's lock was released with its session); on SQLite, on this host."""
    host = socket.gethostname()
    shared = _shared(store)
    abandoned = set()
    for run_id, pid, run_host, finished in store.conn.execute(
            "SELECT id, pid, host, finished_at FROM remediation_runs WHERE id != ?", [current]).fetchall():
        if finished:
            abandoned.add(run_id)
        elif shared:
            if not store.conn.run_is_alive(run_id):
                abandoned.add(run_id)
        elif run_host == host and not _pid_alive(pid):
            abandoned.add(run_id)
    return abandoned


# -- execution -------------------------------------------------------------------------------------
class Pacer:
    """Token bucket on the client side: `rate` calls a second, at most `burst` at once.

    Spacing calls evenly (rather than a window's worth at once, then a wait) matches the servers'
    own buckets, so calls are not answered 429 and retried."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = max(rate, 1e-6)
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)

    async def __aexit__(self, *exc_info) -> None:
        return None


@dataclass
class Summary:
    states: Counter = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (finding id, error)
    revoke_calls: int = 0
    started: float = 0.0
    revoked_at: list[float] = field(default_factory=list)  # monotonic times of successful revocations

    def as_dict(self) -> dict[str, Any]:
        return {"states": dict(self.states), "errors": len(self.errors), "revoke_calls": self.revoke_calls}


def retry_wait(result, attempts: int, base: float) -> float:
    """Seconds before asking again: what the provider named, else exponential backoff (capped at an hour)."""
    asked = getattr(result, "retry_after", None)
    if asked is not None:
        return max(0.0, float(asked))
    return min(base * 2 ** (attempts - 1), 3600.0)


class Orchestrator:
    """Runs jobs. A failure the provider may get over is retried in the run while `waits` (the
    run's `--max-wait` budget) allows: 429/5xx (`busy`) as often as that, never ending
    failed_permanent; other retryable failures up to `max_attempts` provider calls."""

    def __init__(self, ctx, jobs: Jobs, revokers: dict[str, Any], *, confirm_attempts: int = 3,
                 confirm_delay: float = 2.0, max_attempts: int = 5, retry_base: float = 2.0,
                 notify_owners: bool = True, progress: Callable[[str], None] | None = None, sleep=None,
                 waits: WaitBudget | None = None) -> None:
        self.ctx = for_revocation(ctx)  # revokers reach remediation only through the context
        self.jobs = jobs
        self.revokers = revokers
        self.confirm_attempts = confirm_attempts
        self.confirm_delay = confirm_delay
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.notify_owners = notify_owners
        self.progress = progress or (lambda _line: None)
        self.sleep = sleep or getattr(ctx, "sleep", asyncio.sleep)
        self.waits = waits or WaitBudget(DEFAULT_MAX_WAIT, ctx.clock, self.sleep)
        self.summary = Summary()
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._confirm_semaphores: dict[str, asyncio.Semaphore] = {}
        self._throttles: dict[str, Any] = {}
        self._findings: dict[str, Any] = {}
        self._abandoned: set[str] = set()

    # -- limits ---------------------------------------------------------------------------------
    def _provider_config(self, provider: str) -> dict[str, Any]:
        return self.ctx.settings.provider(provider)

    def _semaphore(self, provider: str) -> asyncio.Semaphore:
        if provider not in self._semaphores:
            self._semaphores[provider] = asyncio.Semaphore(int(self._provider_config(provider).get("concurrency", 8)))
        return self._semaphores[provider]

    def _confirm_semaphore(self, provider: str) -> asyncio.Semaphore:
        if provider not in self._confirm_semaphores:
            self._confirm_semaphores[provider] = asyncio.Semaphore(
                int(self._provider_config(provider).get("confirm_concurrency", 8)))
        return self._confirm_semaphores[provider]

    def _throttle(self, provider: str) -> "Pacer":
        if provider not in self._throttles:
            config = self._provider_config(provider)
            rate = float(config.get("revoke_rate", self.ctx.settings.rate_limit(provider, default=10.0)))
            self._throttles[provider] = Pacer(rate, float(config.get("revoke_burst", 1)))
        return self._throttles[provider]

    # -- entry ----------------------------------------------------------------------------------
    async def run(self, job_list: list[Job]) -> Summary:
        self.summary.started = time.monotonic()
        self._abandoned = abandoned_runs(self.ctx.store, self.jobs.run_id)
        finding_ids = sorted({job.finding_id for job in job_list})
        for start in range(0, len(finding_ids), 500):
            for finding in self.ctx.store.findings(ids=finding_ids[start:start + 500]):
                self._findings[finding.id] = finding
        self.ctx.extra["_findings"] = self._findings  # revokers re-read values by finding id
        by_revoker: dict[str, list[Job]] = defaultdict(list)
        for job in job_list:
            by_revoker[job.revoker].append(job)
        tasks = []
        for name, group in by_revoker.items():
            revoker = self.revokers.get(name)
            if revoker is None:
                for job in group:
                    self._fail_missing(job, name)
                continue
            if getattr(revoker, "batch_size", None):
                tasks.append(self._run_batches(revoker, group))
            else:
                tasks.extend(self._run_job(revoker, job) for job in group)
        await asyncio.gather(*tasks)
        for job in self.jobs.find(ids=[j.id for j in job_list]):
            self.summary.states[job.state] += 1
        return self.summary

    def findings(self) -> list[Any]:
        """The findings of the jobs this orchestrator ran."""
        return list(self._findings.values())

    def _fail_missing(self, job: Job, name: str) -> None:
        if job.state in (J.CONFIRMED, J.FAILED_PERMANENT):
            return
        self.jobs.record(job, [], J.FAILED_PERMANENT, error=f"revoker {name!r} is not installed")
        self.summary.errors.append((job.finding_id, f"revoker {name!r} is not installed"))

    # -- one job ----------------------------------------------------------------------------------
    async def _run_job(self, revoker, job: Job) -> None:
        finding = self._findings.get(job.finding_id)
        if finding is None:
            return
        while True:
            if job.state in (J.REVOKED, J.AWAITING_OWNER):
                await self._confirm(revoker, job, finding)
                return
            if job.state not in (J.APPROVED, J.FAILED_RETRYABLE, J.REVOKING):
                return
            claimed = self.jobs.claim(job.id, abandoned=self._abandoned)
            if claimed is None:
                return
            job = claimed
            if job.plan.get("_resumed") and await self._already_dead(revoker, job, finding):
                return

            plan = plan_from_json(job.plan)
            async with self._semaphore(finding.provider):
                async with self._throttle(finding.provider):
                    result = await self._call(revoker.revoke(plan, self.ctx))
            delay = await self._apply(revoker, job, finding, result)
            if delay is None:
                continue  # confirm (or stop) on the next pass
            if not await self.waits.wait(delay):
                return  # failed_permanent, or failed_retryable for the next run

    async def _already_dead(self, revoker, job: Job, finding) -> bool:
        """A claim taken over from a killed run: its call may have gone out. Ask before repeating."""
        try:
            dead = await revoker.confirm(finding, self.ctx)
        except Exception:
            dead = False
        if not dead:
            return False
        self.jobs.record(job, [J.CallRecord("CHECK", "verification", "dead")], J.REVOKED,
                         event="revoked", event_detail={"note": "already dead when the run resumed"})
        self.jobs.record(job, [], J.CONFIRMED, event="confirmed_dead")
        self.summary.revoked_at.append(self._now_mono())
        self.progress(f"confirmed dead {finding.id} {finding.redacted} (already dead when this run took over "
                      f"a gone run's claim: not called again)")
        return True

    @staticmethod
    def _now_mono() -> float:
        return time.monotonic()

    async def _call(self, coroutine):
        """A revoker call whose exception becomes a result (scrubbed of any value read)."""
        self.summary.revoke_calls += 1
        try:
            return await coroutine
        except TransportError as exc:
            return RevokeResult(False, scrub(str(exc), self.ctx), retryable=True, busy=True)
        except KeysweepError as exc:
            return RevokeResult(False, scrub(str(exc), self.ctx))
        except Exception as exc:  # a plugin's bug must not stop the other jobs
            return RevokeResult(False, scrub(f"{type(exc).__name__}: {exc}", self.ctx))

    async def _apply(self, revoker, job: Job, finding, result) -> float | None:
        """Record a result; returns None to go on (confirm), or seconds before a retry."""
        calls = [J.CallRecord(m, t, o, ok=result.ok) for m, t, o in result.calls] or \
            [J.CallRecord("-", "-", "no request" if not result.ok else "ok", ok=result.ok)]
        detail = scrub(result.detail, self.ctx)
        if result.ok:
            manual = getattr(revoker, "manual", False)
            # The result is the last call's doing: the listings and lookups before it deleted nothing,
            # so their audit rows do not say "key deleted".
            calls[-1].detail = detail
            self.jobs.record(job, calls, J.AWAITING_OWNER if manual else J.REVOKED,
                             event="owner_notified" if manual else "revoked",
                             event_detail={"revoker": job.revoker, "detail": detail}, attempted=True)
            if not manual:
                self.summary.revoked_at.append(self._now_mono())
                await self._notify("revoked", finding, detail)
            # With the revoker's word: "key deleted", or that the key was already gone (deleted by hand).
            self.progress(f"{'notified' if manual else 'revoked'} {finding.id} {finding.redacted}"
                          f"{': ' + detail if detail else ''}")
            return None
        attempts = (job.attempts or 0) + 1  # this call included
        busy = getattr(result, "busy", False)
        if busy or (result.retryable and attempts < self.max_attempts):
            delay = retry_wait(result, attempts, self.retry_base)
            next_at = utc_iso(self.ctx.clock() + timedelta(seconds=delay))
            self.jobs.record(job, calls, J.FAILED_RETRYABLE, error=detail, next_attempt_at=next_at, attempted=True)
            self.progress(f"retry {finding.id} in {delay:.0f}s: {detail}")
            return delay
        self.jobs.record(job, calls, J.FAILED_PERMANENT, error=detail, attempted=True)
        self.summary.errors.append((finding.id, detail))
        self.progress(f"FAILED {finding.id} {finding.redacted}: {detail}")
        await self._notify("failed", finding, detail)
        return float("inf")

    async def _notify(self, kind: str, finding, detail: str) -> None:
        if not self.notify_owners or not self.ctx.settings.section("notify"):
            return

        sent = await notify(kind, finding, self.ctx, detail)
        if sent:
            self.jobs.audit("notify", {"finding": finding.id, "event": kind},
                            [{k: s[k] for k in ("target", "host", "status")} for s in sent])
            if any(s["ok"] for s in sent):
                self.jobs.event(finding.id, "owner_notified", {"event": kind})

    async def _confirm(self, revoker, job: Job, finding) -> None:
        attempts = 1 if getattr(revoker, "manual", False) else self.confirm_attempts
        for attempt in range(attempts):
            async with self._confirm_semaphore(finding.provider):
                try:
                    dead = await revoker.confirm(finding, self.ctx)
                except Exception:
                    dead = False
            if dead:
                self.jobs.record(job, [J.CallRecord("CHECK", "verification", "dead")], J.CONFIRMED,
                                 event="confirmed_dead", action="revoke.confirm")
                self.progress(f"confirmed dead {finding.id} {finding.redacted}")
                return
            if attempt + 1 < attempts:
                await self.sleep(self.confirm_delay * 2 ** attempt)
        self.jobs.audit("revoke.confirm", {"finding": finding.id, "job": job.id},
                        {"outcome": "not yet dead", "state": job.state})

    # -- delayed deletes --------------------------------------------------------------------------
    async def delete_due(self, job_list: list[Job]) -> dict[str, list]:
        """Delete what revokers with a grace period (AWS `delete_after_days`) deactivated long enough
        ago, by the context's clock. Returns {"deleted": [...], "waiting": [(job, due)], "failed": [...]}."""
        now = self.ctx.clock()
        outcome: dict[str, list] = {"deleted": [], "waiting": [], "failed": []}
        for job in job_list:
            revoker = self.revokers.get(job.revoker)
            if job.state != J.CONFIRMED or revoker is None or not hasattr(revoker, "delete_due_at"):
                continue
            deactivated = next((at for state, at in self.jobs.transitions(job.id) if state == J.REVOKED), None)
            if deactivated is None:
                continue
            due = revoker.delete_due_at(job.plan.get("data", {}), parse_utc(deactivated))
            if due is None:
                continue
            if due > now:
                outcome["waiting"].append((job, due))
                continue
            async with self._semaphore(job.provider or job.revoker):
                async with self._throttle(job.provider or job.revoker):
                    result = await self._call(revoker.delete(plan_from_json(job.plan), self.ctx))
            detail = scrub(result.detail, self.ctx) or ""
            calls = [J.CallRecord(m, t, o, ok=result.ok, detail=detail) for m, t, o in result.calls] or \
                [J.CallRecord("-", "-", "no request", ok=result.ok, detail=detail)]
            if result.ok:
                self.jobs.add_calls(job, calls, data={"deleted_at": self.ctx.now()}, event="deleted",
                                    event_detail={"revoker": job.revoker}, action="revoke.delete")
                outcome["deleted"].append(job)
                self.progress(f"deleted {job.finding_id} (deactivated {deactivated})")
            else:
                self.jobs.add_calls(job, calls, action="revoke.delete")
                outcome["failed"].append((job, detail))
                self.summary.errors.append((job.finding_id, f"delayed delete: {detail}"))
                self.progress(f"delete FAILED {job.finding_id}: {detail}")
        return outcome

    # -- batches ----------------------------------------------------------------------------------
    async def _run_batches(self, revoker, group: list[Job]) -> None:
        pending = list(group)
        while pending:
            claimed: list[Job] = []
            later: list[Job] = []
            for job in pending:
                finding = self._findings.get(job.finding_id)
                if finding is None:
                    continue
                if job.state in (J.REVOKED, J.AWAITING_OWNER):
                    later.append(job)
                    continue
                if job.state not in (J.APPROVED, J.FAILED_RETRYABLE, J.REVOKING):
                    continue
                got = self.jobs.claim(job.id, abandoned=self._abandoned)
                if got is None:
                    continue
                if got.plan.get("_resumed") and await self._already_dead(revoker, got, finding):
                    continue
                claimed.append(got)
            retry: list[Job] = []
            delay = 0.0
            size = int(revoker.batch_size)
            for start in range(0, len(claimed), size):
                chunk = claimed[start:start + size]
                plans = [plan_from_json(job.plan) for job in chunk]
                provider = self._findings[chunk[0].finding_id].provider
                async with self._semaphore(provider):
                    async with self._throttle(provider):
                        results = await self._call(revoker.revoke_batch(plans, self.ctx))
                if not isinstance(results, list):
                    results = [results] * len(chunk)
                for job, result in zip(chunk, results):
                    wait = await self._apply(revoker, job, self._findings[job.finding_id], result)
                    if wait is None:
                        later.append(job)
                    elif wait != float("inf"):
                        retry.append(job)
                        delay = max(delay, wait)
            await asyncio.gather(*(self._confirm(revoker, job, self._findings[job.finding_id]) for job in later))
            # Past the run's wait budget the failed jobs stay failed_retryable for the next run.
            pending = retry if retry and await self.waits.wait(delay) else []
