"""Revocation jobs in the store: one per (finding, revoker), moved through its states in
transactions, with a timestamp per transition, every call recorded, and an audit row for each.

States (docs/revocation.md):

    planned ──approve──> approved ──claim──> revoking ──> revoked ──confirm──> confirmed
                                                │  └──> failed_retryable ──(backoff)──> revoking
                                                └────> failed_permanent (needs a person)
    notify-only providers: revoking ──> awaiting_owner ──(re-verified until dead)──> confirmed
    failed_permanent ──(the person reruns `revoke … --execute`)──> approved

A job is claimed (state `revoking`, the run's id) in its own committed transaction before any
call is made; the call's result and the next state are written in one transaction, so a run
killed at any point leaves either a claim without a result (the resumed run checks whether the
key is already dead before repeating the idempotent call) or a recorded result. `attempts`
counts provider calls, not claims: a crash spends no attempt.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator

from keysweep.remediation import audit
from keysweep.revokers import Plan, PlannedCall
from keysweep.sanitize import stored_text
from keysweep.store import begin_immediate

PLANNED = "planned"
APPROVED = "approved"
REVOKING = "revoking"
REVOKED = "revoked"
CONFIRMED = "confirmed"
FAILED_RETRYABLE = "failed_retryable"
FAILED_PERMANENT = "failed_permanent"
AWAITING_OWNER = "awaiting_owner"

# Jobs that still need work from the orchestrator.
OPEN_STATES = (APPROVED, REVOKING, FAILED_RETRYABLE, REVOKED, AWAITING_OWNER)
CLAIMABLE = (APPROVED, FAILED_RETRYABLE)
# Events that hold for the key, not only for the finding a job was made for (see Jobs._same_key_events).
SAME_KEY_EVENTS = ("revoked", "confirmed_dead")

JOB_COLUMNS = ("id", "finding_id", "revoker", "provider", "plan", "state", "attempts", "last_error",
               "updated_at", "created_at", "next_attempt_at", "run_id", "approved_by", "policy_rule")


def _text(value: str | None) -> str | None:
    """A call's target or a provider's error as SQLite holds it: an error body's lone surrogate
    (JSON's `\\ud800`) made every write of the job fail mid-run. (audit.append makes the strings
    of its own rows storable.)"""
    return stored_text(value) if isinstance(value, str) else value


@dataclass
class Job:
    id: int
    finding_id: str
    revoker: str
    provider: str | None
    plan: dict[str, Any]
    state: str
    attempts: int = 0
    last_error: str | None = None
    updated_at: str | None = None
    created_at: str | None = None
    next_attempt_at: str | None = None
    run_id: str | None = None
    approved_by: str | None = None
    policy_rule: str | None = None


@dataclass
class CallRecord:
    """One request made for a job, as recorded (never headers or bodies: they carry the key)."""

    method: str
    target: str
    outcome: str  # e.g. "202", "ok", "already revoked", "429 after retries"
    ok: bool = True
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def transaction(conn) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT: one writer at a time (another process's write is waited for, within
    a bound), rolled back on any error."""
    if conn.in_transaction:
        conn.commit()
    begin_immediate(conn)
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


# The audit action of a job note when the revoker names none: it records identifiers, nothing more.
NOTE_ACTION = "revoke.note"
_NOTE_ACTIONS = re.compile(r"revoke\.[a-z][a-z_]*")


def note_job(ctx, finding_id: str, revoker: str, *, action: str = NOTE_ACTION, **values: Any) -> None:
    """Record identifiers in the job's plan data (committed now) and the audit log under `action`:
    what a revoker that acts in several steps (aws-rotate, google) calls, through `ctx.note_job`,
    so a killed run resumes from them. aws-rotate's notes say `revoke.rotate` (as they always
    have); a note that names no action is `revoke.note`. A value of None removes the identifier."""
    if not _NOTE_ACTIONS.fullmatch(action):
        raise ValueError(f"a job note's audit action is revoke.<word>, not {action!r}")
    store = ctx.store
    if store is None:
        return
    conn = store.conn
    with transaction(conn):
        row = conn.execute("SELECT id, plan FROM revocations WHERE finding_id = ? AND revoker = ?",
                           [finding_id, revoker]).fetchone()
        if row is None:
            return
        plan = json.loads(row[1] or "{}")
        data = plan.setdefault("data", {})
        for key, value in values.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        conn.execute("UPDATE revocations SET plan = ? WHERE id = ?", [json.dumps(plan, sort_keys=True), row[0]])
        audit.append(conn, ctx.now(), ctx.actor, action, {"finding": finding_id, "job": row[0]}, values)


def plan_json(plan) -> dict[str, Any]:
    return {"revoker": plan.revoker, "finding_id": plan.finding_id,
            "calls": [{"method": c.method, "target": c.target, "description": c.description} for c in plan.calls],
            "needs": list(plan.needs), "data": dict(plan.data), "notes": list(plan.notes)}


def plan_from_json(data: dict[str, Any]):
    return Plan(revoker=data["revoker"], finding_id=data["finding_id"],
                calls=[PlannedCall(c["method"], c["target"], c.get("description", "")) for c in data.get("calls", [])],
                needs=list(data.get("needs", [])), data=dict(data.get("data", {})), notes=list(data.get("notes", [])))


class Jobs:
    """Job persistence for one run (`run_id`) acting as `actor`."""

    def __init__(self, store, actor: str, run_id: str, now) -> None:
        self.store = store
        self.conn = store.conn
        # WAL + NORMAL: a commit survives the process being killed (what resume relies on) without
        # an fsync per state change; only an OS crash can lose the last transitions.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.actor = actor
        self.run_id = run_id
        self.now = now  # () -> ISO-8601 UTC string

    # -- reading ------------------------------------------------------------------------------
    def _row(self, row) -> Job:
        values = dict(zip(JOB_COLUMNS, row))
        values["plan"] = json.loads(values["plan"] or "{}")
        values["attempts"] = values["attempts"] or 0
        return Job(**values)

    def get(self, job_id: int) -> Job | None:
        row = self.conn.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM revocations WHERE id = ?", [job_id]).fetchone()
        return self._row(row) if row else None

    def find(self, *, states: Iterable[str] | None = None, finding_ids: Iterable[str] | None = None,
             ids: Iterable[int] | None = None) -> list[Job]:
        clauses, params = [], []
        for column, values in (("state", states), ("finding_id", finding_ids), ("id", ids)):
            if values is not None:
                values = list(values)
                clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "1 = 0")
                params.extend(values)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [self._row(r) for r in self.conn.execute(
            f"SELECT {', '.join(JOB_COLUMNS)} FROM revocations {where} ORDER BY id", params)]

    def for_finding(self, finding_id: str, revoker: str) -> Job | None:
        row = self.conn.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM revocations WHERE finding_id = ? AND revoker = ?",
                                [finding_id, revoker]).fetchone()
        return self._row(row) if row else None

    def transitions(self, job_id: int) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT state, at FROM revocation_transitions WHERE revocation_id = ? ORDER BY id", [job_id])]

    def calls(self, job_id: int) -> list[dict[str, Any]]:
        return [dict(zip(("method", "target", "outcome", "detail", "at", "run_id"), r)) for r in self.conn.execute(
            "SELECT method, target, outcome, detail, at, run_id FROM revocation_calls WHERE revocation_id = ? "
            "ORDER BY id", [job_id])]

    # -- writing (each method is one transaction) ---------------------------------------------------
    def _transition(self, job_id: int, finding_id: str, state: str, at: str, detail: str | None = None) -> None:
        self.conn.execute("INSERT INTO revocation_transitions (revocation_id, finding_id, state, at, actor, run_id, "
                          "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [job_id, finding_id, state, at, self.actor, self.run_id, detail])

    def _event(self, finding_id: str, kind: str, at: str, detail: dict | None = None, once: bool = True) -> None:
        if once and self.conn.execute("SELECT 1 FROM events WHERE finding_id = ? AND kind = ? LIMIT 1",
                                      [finding_id, kind]).fetchone():
            return
        self.conn.execute("INSERT INTO events (finding_id, kind, at, detail) VALUES (?, ?, ?, ?)",
                          [finding_id, kind, at, json.dumps(detail, sort_keys=True) if detail else None])

    def event(self, finding_id: str, kind: str, detail: dict | None = None, once: bool = True) -> None:
        with transaction(self.conn):
            self._event(finding_id, kind, self.now(), detail, once)

    def audit(self, action: str, target: Any, result: Any) -> None:
        with transaction(self.conn):
            audit.append(self.conn, self.now(), self.actor, action, target, result)

    def create(self, finding, revoker: str, plan, *, approve: bool, policy_rule: str | None = None) -> tuple[Job, bool]:
        """The finding's job for this revoker, created as planned (and approved if asked).

        An existing job is returned unchanged, except when approval is asked: a planned one is
        approved, and a failed_permanent one (it needed a person, who has now rerun the command) is
        approved again with a fresh plan and a new attempt budget. Returns (job, created)."""
        at = self.now()
        with transaction(self.conn):
            existing = self.conn.execute("SELECT id, state FROM revocations WHERE finding_id = ? AND revoker = ?",
                                         [finding.id, revoker]).fetchone()
            created = existing is None
            if created:
                cursor = self.conn.execute(
                    "INSERT INTO revocations (finding_id, revoker, provider, plan, state, attempts, updated_at, "
                    "created_at, run_id, policy_rule) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                    [finding.id, revoker, finding.provider, json.dumps(plan_json(plan), sort_keys=True), PLANNED,
                     at, at, self.run_id, policy_rule])
                job_id = cursor.lastrowid
                self._transition(job_id, finding.id, PLANNED, at)
                self._event(finding.id, "revoke_planned", at, {"revoker": revoker})
                audit.append(self.conn, at, self.actor, "revoke.plan",
                             {"finding": finding.id, "redacted": finding.redacted, "provider": finding.provider,
                              "job": job_id},
                             {"revoker": revoker, "calls": plan_json(plan)["calls"], "policy_rule": policy_rule})
                state = PLANNED
            else:
                job_id, state = existing
            if approve and state == PLANNED:
                self.conn.execute("UPDATE revocations SET state = ?, approved_by = ?, updated_at = ?, plan = ? "
                                  "WHERE id = ?", [APPROVED, self.actor if not policy_rule else f"policy:{policy_rule}",
                                                   at, json.dumps(plan_json(plan), sort_keys=True), job_id])
                self._transition(job_id, finding.id, APPROVED, at, f"policy:{policy_rule}" if policy_rule else None)
                audit.append(self.conn, at, self.actor, "revoke.approve", {"finding": finding.id, "job": job_id},
                             {"by": self.actor, "policy_rule": policy_rule})
            elif approve and state == FAILED_PERMANENT:
                self._approve_again(job_id, finding.id, plan, at, policy_rule)
        return self.get(job_id), created

    def _approve_again(self, job_id: int, finding_id: str, plan, at: str, policy_rule: str | None) -> None:
        """failed_permanent → approved, inside the caller's transaction.

        The plan is made again (the person may have fixed what it needed: an admin key, a free IAM
        key slot), but identifiers an earlier attempt recorded in it (a new AWS key id) are kept, so
        the retry continues that work instead of repeating it. Attempts restart: the failures that
        led here were the person's to fix."""
        row = self.conn.execute("SELECT plan, last_error, attempts FROM revocations WHERE id = ?", [job_id]).fetchone()
        old_plan = json.loads(row[0] or "{}")
        fresh = plan_json(plan)
        fresh["data"] = {**old_plan.get("data", {}), **fresh["data"]}
        by = f"policy:{policy_rule}" if policy_rule else self.actor
        self.conn.execute("UPDATE revocations SET state = ?, approved_by = ?, updated_at = ?, plan = ?, attempts = 0, "
                          "next_attempt_at = NULL WHERE id = ?",
                          [APPROVED, by, at, json.dumps(fresh, sort_keys=True), job_id])
        self._transition(job_id, finding_id, APPROVED, at, f"retry after: {row[1]}" if row[1] else "retry")
        audit.append(self.conn, at, self.actor, "revoke.retry", {"finding": finding_id, "job": job_id},
                     {"by": by, "policy_rule": policy_rule, "previous_error": row[1], "previous_attempts": row[2]})

    def claim(self, job_id: int, *, states: Iterable[str] = CLAIMABLE, abandoned: Iterable[str] = ()) -> Job | None:
        """Move the job to `revoking` under this run, before any call. None if another run holds it
        or it is no longer in a claimable state. `abandoned` lists run ids whose claims may be taken over.

        A claim is not an attempt (a run killed after claiming has spent nothing): `attempts`
        counts provider calls, and grows when one is recorded (`record(..., attempted=True)`)."""
        at = self.now()
        states = list(states)
        with transaction(self.conn):
            # PostgreSQL: the row is locked until this claim commits, and a row another transaction
            # holds is skipped (not waited for): that run is claiming it. The store's write lock
            # already makes claims one at a time; the row lock keeps a claim safe on its own.
            lock = " FOR UPDATE SKIP LOCKED" if getattr(self.store, "dialect", "sqlite") == "postgresql" else ""
            row = self.conn.execute("SELECT state, run_id, finding_id, next_attempt_at FROM revocations "
                                    f"WHERE id = ?{lock}", [job_id]).fetchone()
            if row is None:
                return None
            state, holder, finding_id, _ = row
            takeover = state == REVOKING and holder in set(abandoned)
            if state not in states and not takeover:
                return None
            self.conn.execute("UPDATE revocations SET state = ?, run_id = ?, updated_at = ?, next_attempt_at = NULL "
                              "WHERE id = ?", [REVOKING, self.run_id, at, job_id])
            self._transition(job_id, finding_id, REVOKING, at, f"taken over from run {holder}" if takeover else None)
            audit.append(self.conn, at, self.actor, "revoke.claim", {"finding": finding_id, "job": job_id},
                         {"run": self.run_id, "took_over": holder if takeover else None})
        job = self.get(job_id)
        if job is not None:
            job.plan.setdefault("data", {})
            job.plan["_resumed"] = takeover
        return job

    def _insert_calls(self, job: Job, calls: list[CallRecord], at: str, action: str) -> None:
        """Each call made for a job, and its audit row; inside the caller's transaction."""
        for call in calls:
            self.conn.execute(
                "INSERT INTO revocation_calls (revocation_id, finding_id, run_id, method, target, outcome, detail, "
                "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [job.id, job.finding_id, self.run_id, call.method, _text(call.target), call.outcome,
                 _text(call.detail), at])
            audit.append(self.conn, at, self.actor, action,
                         {"finding": job.finding_id, "job": job.id, "method": call.method, "target": call.target},
                         {"outcome": call.outcome, "ok": call.ok, "detail": call.detail or None})

    def record(self, job: Job, calls: list[CallRecord], state: str, *, error: str | None = None,
               next_attempt_at: str | None = None, event: str | None = None,
               event_detail: dict | None = None, action: str = "revoke.call", attempted: bool = False) -> None:
        """The calls made for a job and the state they lead to, in one transaction. `attempted`:
        they were an attempt at the provider (a revoke call), which counts in `attempts`."""
        at = self.now()
        error = _text(error)
        with transaction(self.conn):
            self._insert_calls(job, calls, at, action)
            self.conn.execute("UPDATE revocations SET state = ?, last_error = ?, updated_at = ?, next_attempt_at = ?, "
                              "attempts = coalesce(attempts, 0) + ? WHERE id = ?",
                              [state, error, at, next_attempt_at, int(attempted), job.id])
            self._transition(job.id, job.finding_id, state, at, error)
            audit.append(self.conn, at, self.actor, "revoke.state", {"finding": job.finding_id, "job": job.id},
                         {"state": state, "error": error, "next_attempt_at": next_attempt_at})
            if event:
                self._event(job.finding_id, event, at, event_detail)
                if event in SAME_KEY_EVENTS:
                    self._same_key_events(job, event, at)
        job.state, job.last_error, job.next_attempt_at = state, error, next_attempt_at
        job.attempts = (job.attempts or 0) + int(attempted)

    def _same_key_events(self, job: Job, event: str, at: str) -> None:
        """Every other finding of the job's key (the IAM key-age record of AKIA…X, the key in a repo
        or a secret store) gets the event too: it is the same credential, revoked once. Inside the
        caller's transaction; one audit row per finding moved."""
        row = self.conn.execute("SELECT provider, key_id FROM findings WHERE id = ?", [job.finding_id]).fetchone()
        if row is None or not row[1]:
            return
        provider, key_id = row
        siblings = [r[0] for r in self.conn.execute(
            "SELECT id FROM findings WHERE provider = ? AND key_id = ? AND id != ? ORDER BY id",
            [provider, key_id, job.finding_id])]
        for sibling in siblings:
            self._event(sibling, event, at, {"same_key_as": job.finding_id, "job": job.id, "key_id": key_id})
            audit.append(self.conn, at, self.actor, "revoke.same_key", {"finding": sibling, "key_id": key_id},
                         {"event": event, "with": job.finding_id, "job_of": job.id})

    def add_calls(self, job: Job, calls: list[CallRecord], *, data: dict[str, Any] | None = None,
                  event: str | None = None, event_detail: dict | None = None,
                  action: str = "revoke.call") -> None:
        """Calls made for a job after it was settled (a delayed delete), with identifiers merged
        into its plan data, without a state change; one transaction."""
        at = self.now()
        with transaction(self.conn):
            # The job's rows first, then the audit rows that anchor them (audit.append digests them).
            if data:
                row = self.conn.execute("SELECT plan FROM revocations WHERE id = ?", [job.id]).fetchone()
                plan = json.loads(row[0] or "{}") if row else {}
                plan.setdefault("data", {}).update(data)
                self.conn.execute("UPDATE revocations SET plan = ?, updated_at = ? WHERE id = ?",
                                  [json.dumps(plan, sort_keys=True), at, job.id])
                job.plan = plan
            self._insert_calls(job, calls, at, action)
            if data and not calls:
                audit.append(self.conn, at, self.actor, action, {"finding": job.finding_id, "job": job.id},
                             {"data": sorted(data)})
            if event:
                self._event(job.finding_id, event, at, event_detail)
