"""One revocation run, as `keysweep revoke` (and `sweep --revoke-policy`) performs it:

    select → policy → plan → (dry run: stop here) → threshold → jobs → run → delayed deletes → summary

The face parses its options into `RunOptions`, calls `RevocationRun(...).run()` and renders the
`RunOutcome`; the few moments a person is involved mid-run (the confirmation above the threshold,
the plan shown before acting, progress lines) are callbacks in `RunHooks`. Nothing here prints.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from keysweep.errors import KeysweepError
from keysweep.models import Finding
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Job, Jobs
from keysweep.remediation.orchestrator import Orchestrator, Selection, Summary, finish_run, open_context, select, start_run
from keysweep.remediation.policy import Decision, Policy, load
from keysweep.remediation.secrets import forget
from keysweep.remediation.waits import DEFAULT_MAX_WAIT, WaitBudget
from keysweep.revokers import available_revokers, revoker_for
from keysweep.verify.reach import finding_severity, severity_rank
from keysweep.wording import counted

# Exit statuses of a run: 2 when the person declined at the threshold prompt, 3 while something
# selected is failed or not yet confirmed dead (the face turns 3 into 0 without --fail-on-error).
EXIT_OK, EXIT_DECLINED, EXIT_UNSETTLED = 0, 2, 3


class RevokeRequestError(KeysweepError):
    """A request the run cannot carry out as asked (an unknown revoker, --policy without a policy,
    more credentials than the threshold without --yes): the face reports it as a usage error."""


@dataclass(frozen=True)
class RunOptions:
    """What to revoke and how; the defaults are those of `keysweep revoke` without options."""

    selection: Selection
    actor: str
    execute: bool = False
    resume: bool = False
    yes: bool = False
    threshold: int = 10
    use_policy: bool = False
    policy_file: str | None = None
    approve: bool = False
    force: bool = False
    force_revoker: str | None = None
    preflight: bool = False
    confirm_attempts: int = 3
    confirm_delay: float = 2.0
    max_wait: float = DEFAULT_MAX_WAIT

    @property
    def mode(self) -> str:
        return "execute" if self.execute else "resume" if self.resume else "dry-run"

    @property
    def command(self) -> str:
        """The run as recorded in remediation_runs."""
        return "revoke " + ("--execute" if self.execute else "--resume" if self.resume else "(dry run)")


@dataclass
class Preflight:
    ok: bool
    detail: str


@dataclass
class PlanEntry:
    """One selected credential: the policy's decision, the revoker and its plan (None when the
    policy says never, when no revoker supports it, or when it follows another finding of the
    same key), the job it already has, and the dry run's preflight answer."""

    finding: Finding
    decision: Decision | None
    revoker: Any = None
    plan: Any = None
    job: Job | None = None
    follows: str | None = None  # the finding whose revocation or rotation covers this key
    preflight: Preflight | None = None


@dataclass
class DelayedDeletes:
    """Keys deactivated with a grace period (AWS delete_after_days) looked at by a `--resume`."""

    deleted: list[Job] = field(default_factory=list)
    waiting: list[tuple[Job, datetime]] = field(default_factory=list)  # (job, when it is due)
    failed: list[tuple[Job, str]] = field(default_factory=list)


@dataclass
class RunOutcome:
    mode: str
    run_id: str
    entries: list[PlanEntry]
    status: int = EXIT_OK
    cancelled: bool = False  # declined at the threshold prompt: nothing was done
    summary: Summary | None = None
    elapsed: float = 0.0
    jobs: list[Job] = field(default_factory=list)  # this run's jobs, as they ended
    awaiting_approval: list[str] = field(default_factory=list)  # finding ids planned for an approver
    unsettled: list[Job] = field(default_factory=list)  # selected jobs not yet confirmed dead
    redacted: dict[str, str] = field(default_factory=dict)  # finding id -> redacted form, of the jobs run
    deletes: DelayedDeletes = field(default_factory=DelayedDeletes)

    @property
    def dry_run(self) -> bool:
        return self.mode == "dry-run"


@dataclass
class RunHooks:
    """Where the face takes part in a run."""

    # Above the threshold without --yes: ask a person (True: go on). None when nobody can be asked.
    ask: Callable[[int], bool] | None = None
    # With --execute, the plan about to be acted on (entries with a revoker), before any call.
    show_plan: Callable[[list[PlanEntry]], None] | None = None
    # One line per job event while the jobs run.
    progress: Callable[[str], None] | None = None


class RevocationRun:
    """select → policy → plan → threshold → jobs → run → delayed deletes → summary, over `store`."""

    def __init__(self, store, settings, options: RunOptions, hooks: RunHooks | None = None) -> None:
        self.store = store
        self.settings = settings
        self.options = options
        self.hooks = hooks or RunHooks()

    async def run(self) -> RunOutcome:
        options = self.options
        revokers = available_revokers()
        if options.force_revoker and options.force_revoker not in revokers:
            raise RevokeRequestError(f"unknown revoker {options.force_revoker!r} "
                                     f"(available: {', '.join(sorted(revokers))})")
        policy = load(options.policy_file, self.settings)
        if options.use_policy and policy is None:
            raise RevokeRequestError("--policy: no keysweep-policy.toml here and no [policy] in keysweep.toml")
        findings = self._select()
        providers = {f.provider for f in findings} | self.store.revocation_providers()
        waits = WaitBudget(options.max_wait)
        async with open_context(self.settings, self.store, options.actor, providers, waits=waits) as ctx:
            run_id = start_run(self.store, options.actor, options.command, ctx.now())
            jobs = Jobs(self.store, options.actor, run_id, ctx.now)
            entries = follow_same_key(self.store, await self._plan(findings, policy, revokers, jobs, ctx))
            jobs.audit("revoke.select", {"selection": {k: v for k, v in vars(options.selection).items() if v},
                                         "policy": policy.origin if policy else None},
                       {"findings": len(findings), "mode": options.mode, "run": run_id})
            outcome = RunOutcome(options.mode, run_id, entries)
            if not options.execute and not options.resume:
                await self._dry_run(entries, jobs, ctx)
                finish_run(self.store, run_id, ctx.now(), {"dry_run": len(entries)})
                forget(ctx)
                return outcome
            to_run = self._jobs_to_run(entries, findings, policy, jobs, outcome)
            if outcome.cancelled:
                return outcome
            if options.execute and self.hooks.show_plan is not None:
                self.hooks.show_plan([e for e in entries if e.revoker is not None])
            await self._execute(to_run, findings, revokers, jobs, ctx, waits, outcome)
            return outcome

    # -- select, policy, plan ----------------------------------------------------------------------
    def _select(self) -> list[Finding]:
        selection, use_policy = self.options.selection, self.options.use_policy
        if selection.empty() and not use_policy:
            return []
        if selection.empty():  # --policy alone: the policy looks at every credential
            selection = Selection(all=True, include_suppressed=selection.include_suppressed)
        # Most severe first (liveness x reach x exposure): planned, listed and revoked in that order.
        findings = sorted(select(self.store, selection), key=lambda f: severity_rank(finding_severity(f)))
        if use_policy:
            # Keys keysweep created (--rotate) and finds only where it wrote them are its own: no policy
            # rotates or revokes them because a sweep found them there.
            findings = [f for f in findings if not (f.managed or {}).get("only_where_written")]
        return findings

    async def _plan(self, findings: list[Finding], policy: Policy | None, revokers: dict, jobs: Jobs,
                    ctx) -> list[PlanEntry]:
        options = self.options
        entries = []
        decisions = ctx.extra.setdefault("_decisions", {})  # revokers read per-rule settings (rotate_to)
        for finding in findings:
            decision = policy.decide(finding) if policy else None
            if decision is not None:
                decisions[finding.id] = decision
            if decision and decision.action == "never" and not options.force:
                entries.append(PlanEntry(finding, decision))
                continue
            revoker = revoker_for(finding, revokers,
                                  prefer=options.force_revoker or (decision.revoker if decision else None))
            plan = await revoker.plan(finding, ctx) if revoker else None
            entries.append(PlanEntry(finding, decision, revoker, plan,
                                     jobs.for_finding(finding.id, revoker.name) if revoker else None))
        return entries

    async def _dry_run(self, entries: list[PlanEntry], jobs: Jobs, ctx) -> None:
        if self.options.preflight:
            for entry in entries:
                check = getattr(entry.revoker, "preflight", None) if entry.revoker else None
                if check is not None and entry.plan is not None:
                    result = await check(entry.plan, ctx)
                    entry.preflight = Preflight(result.ok, result.detail)
        for entry in entries:
            if entry.plan is not None:
                jobs.audit("revoke.dry_run", {"finding": entry.finding.id, "redacted": entry.finding.redacted},
                           {"revoker": entry.revoker.name, "calls": [[c.method, c.target] for c in entry.plan.calls],
                            "policy": entry.decision.action if entry.decision else None})

    # -- threshold and jobs ------------------------------------------------------------------------
    def _jobs_to_run(self, entries: list[PlanEntry], findings: list[Finding], policy: Policy | None, jobs: Jobs,
                     outcome: RunOutcome) -> list[Job]:
        options = self.options
        to_run: list[Job] = []
        if options.execute:
            approvals = [(entry, policy_allows(entry.decision, approve=options.approve, force=options.force))
                         for entry in entries if entry.revoker is not None and entry.plan is not None]
            if not self._within_threshold(approvals, jobs, outcome):
                return []
            to_run = [self._create_job(entry, auto, policy, jobs) for entry, auto in approvals]
        if options.resume:
            known = {j.id for j in to_run}
            to_run.extend(j for j in self._selected(jobs.find(states=J.OPEN_STATES), findings) if j.id not in known)
        to_run = [j for j in to_run if j.state in J.OPEN_STATES]
        if policy is not None and not options.force:  # `never` holds for jobs approved before the policy said so
            to_run = hold_never(self.store, jobs, policy, to_run)
        return to_run

    def _within_threshold(self, approvals: list[tuple[PlanEntry, bool]], jobs: Jobs, outcome: RunOutcome) -> bool:
        """False when the person declined at the prompt (the outcome says cancelled); raises when
        above the threshold with nobody to ask and no --yes."""
        options = self.options
        # Calls this run may make: new jobs, planned ones approved now, failed ones retried.
        new = sum(1 for entry, auto in approvals if auto and not (
            (j := jobs.for_finding(entry.finding.id, entry.revoker.name))
            and j.state not in (J.PLANNED, J.FAILED_PERMANENT)))
        if new <= options.threshold or options.yes:
            return True
        if self.hooks.ask is None:
            finish_run(self.store, outcome.run_id, jobs.now(), {"refused": new})
            raise RevokeRequestError(f"{counted(new, 'credential')} selected, above the threshold of {options.threshold}: "
                                     f"add --yes to revoke them all")
        if self.hooks.ask(new):
            return True
        jobs.audit("revoke.cancel", {"run": outcome.run_id}, {"reason": "declined at the prompt"})
        finish_run(self.store, outcome.run_id, jobs.now(), {"cancelled": new})
        outcome.cancelled, outcome.status = True, EXIT_DECLINED
        return False

    def _create_job(self, entry: PlanEntry, auto: bool, policy: Policy | None, jobs: Jobs) -> Job:
        decision = entry.decision
        by_policy = bool(decision and self.options.use_policy and decision.action == "auto")
        if auto and decision and decision.action == "never":
            jobs.audit("revoke.force", {"finding": entry.finding.id, "redacted": entry.finding.redacted},
                       {"by": self.options.actor, "policy_rule": decision.rule, "policy": policy.origin})
        job, _created = jobs.create(entry.finding, entry.revoker.name, entry.plan, approve=auto,
                                    policy_rule=decision.rule if by_policy else None)
        return job

    def _selected(self, job_list: list[Job], findings: list[Finding]) -> list[Job]:
        """`job_list` limited to the selected findings (all of it when nothing was selected)."""
        if self.options.selection.empty():
            return job_list
        wanted = {f.id for f in findings}
        return [j for j in job_list if j.finding_id in wanted]

    # -- run, delayed deletes, summary -------------------------------------------------------------
    async def _execute(self, to_run: list[Job], findings: list[Finding], revokers: dict, jobs: Jobs, ctx,
                       waits: WaitBudget, outcome: RunOutcome) -> None:
        options = self.options
        orchestrator = Orchestrator(ctx, jobs, revokers, confirm_attempts=options.confirm_attempts,
                                    confirm_delay=options.confirm_delay, progress=self.hooks.progress, waits=waits)
        started = time.monotonic()
        summary = await orchestrator.run(to_run)
        if options.resume:  # keys deactivated with a grace period (AWS delete_after_days) whose time has come
            deletes = await orchestrator.delete_due(self._selected(jobs.find(states=[J.CONFIRMED]), findings))
            outcome.deletes = DelayedDeletes(deletes["deleted"], deletes["waiting"], deletes["failed"])
        outcome.elapsed = time.monotonic() - started
        finish_run(self.store, outcome.run_id, ctx.now(), summary.as_dict())
        forget(ctx)
        outcome.summary = summary
        outcome.jobs = jobs.find(ids=[j.id for j in to_run])
        outcome.redacted = {f.id: f.redacted for f in [*findings, *orchestrator.findings()]}
        outcome.unsettled = unsettled_jobs(jobs.find(), None if options.selection.empty() and not options.use_policy
                                           else {f.id for f in findings})
        # Failures an earlier run left to a person are named with their key too.
        earlier = sorted({j.finding_id for j in outcome.unsettled
                          if j.state == J.FAILED_PERMANENT and j.finding_id not in outcome.redacted})
        for start in range(0, len(earlier), 500):
            outcome.redacted.update((f.id, f.redacted) for f in self.store.findings(ids=earlier[start:start + 500]))
        outcome.awaiting_approval = [e.finding.id for e in outcome.entries if e.plan is not None
                                     and (j := jobs.for_finding(e.finding.id, e.revoker.name))
                                     and j.state == J.PLANNED]
        # 3 while anything selected is failed or still open, on every run until it is settled: a
        # scheduled run stays red, not only the run where the failure began.
        outcome.status = EXIT_UNSETTLED if summary.errors or outcome.unsettled else EXIT_OK


def follow_same_key(store, entries: list[PlanEntry]) -> list[PlanEntry]:
    """Findings of one key (an IAM key-age record, the key in a repo, the key in a secret) move
    together: where one of them is revoked or rotated by a revoker that acts (this run, or a job
    already recorded), the others get no notify-only job of their own — nobody is told to revoke
    by hand a key keysweep is rotating. Such an entry loses its revoker and names the finding it
    follows."""
    leaders: dict[tuple[str, str], str] = {}
    for provider, key_id, finding_id in store.acting_revocation_keys():
        leaders.setdefault((provider, key_id), finding_id)
    for entry in entries:
        if entry.finding.key_id and entry.revoker is not None and entry.plan is not None \
                and not getattr(entry.revoker, "manual", False):
            leaders.setdefault((entry.finding.provider, entry.finding.key_id), entry.finding.id)
    kept = []
    for entry in entries:
        finding = entry.finding
        leader = leaders.get((finding.provider, finding.key_id)) if finding.key_id else None
        if entry.revoker is not None and getattr(entry.revoker, "manual", False) and leader and leader != finding.id:
            entry = PlanEntry(finding, entry.decision, follows=leader)
        kept.append(entry)
    return kept


def policy_allows(decision: Decision | None, *, approve: bool, force: bool) -> bool:
    """May `--execute` approve this credential now? Whenever a policy is configured it gates every
    run: `auto` yes, `approve` only with --approve (the actor approves), `never` only with --force.
    With no policy, the person running --execute on a selection approves it."""
    if decision is None:
        return True
    return {"auto": True, "approve": approve, "never": force}.get(decision.action, False)


def hold_never(store, jobs: Jobs, policy: Policy, to_run: list[Job]) -> list[Job]:
    """Open jobs minus those not yet acted on whose credential the policy now classes `never`."""
    pending = [j for j in to_run if j.state in (J.APPROVED, J.FAILED_RETRYABLE, J.REVOKING)]
    ids = sorted({j.finding_id for j in pending})
    findings = {f.id: f for start in range(0, len(ids), 500) for f in store.findings(ids=ids[start:start + 500])}
    held = {j.id for j in pending if j.finding_id in findings and policy.decide(findings[j.finding_id]).action == "never"}
    for job in to_run:
        if job.id in held:
            jobs.audit("revoke.hold", {"finding": job.finding_id, "job": job.id},
                       {"reason": "the policy classes it never; --force to act", "state": job.state})
    return [j for j in to_run if j.id not in held]


def unsettled_jobs(all_jobs: list[Job], finding_ids: set[str] | None) -> list[Job]:
    """Jobs of the selected findings (every job when None) not yet confirmed dead."""
    return [job for job in all_jobs if job.state != J.CONFIRMED
            and (finding_ids is None or job.finding_id in finding_ids)]


def unsettled_counts(job_list: list[Job]) -> dict[str, int]:
    """{state: number of jobs}, sorted by state."""
    return dict(sorted(Counter(j.state for j in job_list).items()))
