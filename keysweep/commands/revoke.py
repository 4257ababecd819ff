"""`keysweep revoke`: plan (the default, a dry run), or act with `--execute`, or finish a killed
run with `--resume`. See docs/revocation.md."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

import click

from keysweep.clock import utc_iso
from keysweep.remediation.waits import DEFAULT_MAX_WAIT, WaitBudget, parse_duration
from keysweep.sanitize import terminal_safe


def _where(finding) -> str:
    from keysweep.scanner.locations import describe_finding

    return describe_finding(finding)


def _owner(finding) -> str:
    owner = finding.owner or {}
    name = owner.get("name") or "-"
    return f"{name} ({owner['team']})" if owner.get("team") else name


def _follow_same_key(store, entries: list) -> tuple[list, dict[str, str]]:
    """Findings of one key (an IAM key-age record, the key in a repo, the key in a secret) move
    together: where one of them is revoked or rotated by a revoker that acts (this run, or a job
    already recorded), the others get no notify-only job of their own — nobody is told to revoke
    by hand a key keysweep is rotating. Returns the entries and {finding id: the finding it follows}."""
    leaders: dict[tuple[str, str], str] = {}
    for provider, key_id, finding_id in store.conn.execute(
            "SELECT f.provider, f.key_id, f.id FROM revocations r JOIN findings f ON f.id = r.finding_id "
            "WHERE f.key_id IS NOT NULL AND r.revoker != 'notify' AND r.state != 'failed_permanent'"):
        leaders.setdefault((provider, key_id), finding_id)
    for finding, _decision, revoker, plan, _job in entries:
        if finding.key_id and revoker is not None and plan is not None and not getattr(revoker, "manual", False):
            leaders.setdefault((finding.provider, finding.key_id), finding.id)
    follows: dict[str, str] = {}
    kept = []
    for entry in entries:
        finding, decision, revoker, _plan, _job = entry
        leader = leaders.get((finding.provider, finding.key_id)) if finding.key_id else None
        if revoker is not None and getattr(revoker, "manual", False) and leader and leader != finding.id:
            follows[finding.id] = leader
            entry = (finding, decision, None, None, None)
        kept.append(entry)
    return kept, follows


def _plan_rows(entries, follows: dict[str, str] | None = None) -> list[dict]:
    from keysweep.scanner.locations import describe_all

    rows = []
    for finding, decision, revoker, plan, job in entries:
        rows.append({
            "finding": finding.id, "provider": finding.provider, "rule_id": finding.rule_id,
            "redacted": finding.redacted, "where": _where(finding), "locations": describe_all(finding), "owner": (finding.owner or {}).get("name"),
            "team": (finding.owner or {}).get("team"),
            "verification": (finding.verification or {}).get("status"),
            "policy": {"action": decision.action, "rule": decision.rule} if decision else None,
            "revoker": revoker.name if revoker else None,
            "calls": [{"method": c.method, "target": c.target, "description": c.description}
                      for c in (plan.calls if plan else [])],
            "needs": list(plan.needs) if plan else [],
            "job": {"id": job.id, "state": job.state} if job else None,
            "follows": (follows or {}).get(finding.id),
        })
    return rows


def _places(row: dict, shown: int = 5) -> str:
    """Every place (up to `shown`), named as the scan table names them."""
    places = row.get("locations") or [row["where"]]
    more = len(places) - shown
    return "; ".join(places[:shown]) + (f" (+{more} more)" if more > 0 else "")


def _print_plan(rows: list[dict], out) -> None:
    """The plan for people. Places, owners, call targets and policy rule names come from scanned
    sources and configuration, so every value is passed through `terminal_safe`."""
    if not rows:
        out.write("No credential selected.\n")
        return
    for row in map(_terminal_row, rows):
        policy = row["policy"]
        head = (f"{row['finding']}  {row['provider']}  {row['redacted']}  ({row['rule_id']})\n"
                f"    where:   {_places(row)}\n"
                f"    owner:   {row['owner'] or '-'}{' (' + row['team'] + ')' if row['team'] else ''}"
                f"    verified: {row['verification'] or 'not checked'}\n")
        if row.get("follows"):
            out.write(head + f"    revoker: none: the same key is revoked or rotated with {row['follows']}\n")
            continue
        if policy and policy["action"] == "never" and not row["revoker"]:
            out.write(head + f"    policy:  never touched (rule '{policy['rule']}')\n")
            continue
        out.write(head + f"    revoker: {row['revoker']}"
                  f"{'   policy: ' + policy['action'] + (' (' + policy['rule'] + ')' if policy['rule'] else '') if policy else ''}"
                  f"{'   job: ' + row['job']['state'] if row['job'] else ''}\n")
        for call in row["calls"]:
            out.write(f"    call:    {call['method']} {call['target']}  — {call['description']}\n")
        if row["needs"]:
            out.write(f"    needs:   {', '.join(row['needs'])}\n")


def _terminal_row(row: dict) -> dict:
    """`row` with every string (nested in dicts and lists too) made safe for a terminal."""
    if isinstance(row, dict):
        return {key: _terminal_row(value) for key, value in row.items()}
    if isinstance(row, list):
        return [_terminal_row(value) for value in row]
    return terminal_safe(row) if isinstance(row, str) else row


def _summary_line(summary, elapsed: float) -> str:
    states = ", ".join(f"{count} {state}" for state, count in sorted(summary.states.items()))
    return f"{states or 'nothing to do'} in {elapsed:.1f}s"


@click.command("revoke")
@click.argument("ids", nargs=-1)
@click.option("--provider", help="Only this provider.")
@click.option("--rule", help="Only this rule id.")
@click.option("--owner", help="Only credentials whose chosen owner (name or contact) is this.")
@click.option("--team", help="Only credentials owned by this team.")
@click.option("--source", help="Only credentials seen in this kind of source (git, dir, …).")
@click.option("--repo", help="Only credentials seen in this repository.")
@click.option("--status", type=click.Choice(["live", "dead", "unknown"]), help="Only this verification status.")
@click.option("--all", "select_all", is_flag=True,
              help="Every credential in the store (not those suppressed everywhere, unless --include-suppressed).")
@click.option("--include-suppressed", is_flag=True,
              help="Also select credentials suppressed everywhere they were seen (inline allow, .keysweepignore).")
@click.option("--execute", is_flag=True, help="Act. Without it, print the plan and change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation above the threshold.")
@click.option("--threshold", type=click.IntRange(min=0), default=10, show_default=True,
              help="Above this many credentials, --execute also needs --yes (or an interactive yes).")
@click.option("--resume", is_flag=True, help="Finish the jobs earlier runs left open (claimed, retrying, "
                                             "awaiting confirmation).")
@click.option("--policy", "use_policy", is_flag=True,
              help="Apply the policy: approve automatically what it allows, plan the rest for an approver.")
@click.option("--policy-file", type=click.Path(dir_okay=False), help="Policy file (default ./keysweep-policy.toml).")
@click.option("--approve", is_flag=True, help="Approve, as the actor, the selected credentials the policy classes "
                                              "'approve' (without it they stay planned for an approver).")
@click.option("--force", is_flag=True, help="Also revoke selected credentials the policy classes 'never' "
                                            "(recorded in the audit log with the actor).")
@click.option("--revoker", "force_revoker", help="Use this revoker (e.g. notify) where it supports the credential.")
@click.option("--rotate", is_flag=True, help="AWS access keys: rotate (new key into the Secrets Manager secret or SSM "
                                            "parameter that held the old one, then deactivate the old one) "
                                            "instead of only deactivating.")
@click.option("--preflight", is_flag=True, help="Dry run: also ask providers that can check without acting "
                                                "(Slack's test mode).")
@click.option("--actor", help="Who is acting, for the audit log. Default: $KEYSWEEP_ACTOR or the OS user.")
@click.option("--confirm-attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Verification attempts per key after revoking, with backoff.")
@click.option("--confirm-delay", type=float, default=2.0, show_default=True,
              help="Seconds before the second verification attempt (doubling after).")
@click.option("--max-wait", "max_wait", default="15m", show_default=True, metavar="DURATION",
              help="Longest the whole run waits for rate-limited or failing providers (429/5xx), e.g. 90s, 15m; "
                   "what is still refused then stays failed_retryable for the next run.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--fail-on-error", is_flag=True, help="Exit 3 while some selected credential's job is failed or not "
                                                    "yet confirmed dead (on every run until it is).")
@click.option("--db", type=click.Path(dir_okay=False), help="Findings store. Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="keysweep.toml to use.")
def revoke_cmd(ids, provider, rule, owner, team, source, repo, status, select_all, include_suppressed, execute, yes,
               threshold, resume, use_policy, policy_file, approve, force, force_revoker, rotate, preflight, actor,
               confirm_attempts, confirm_delay, max_wait, fmt, fail_on_error, db, config_path):
    """Revoke credentials: select, plan (dry run by default), execute, confirm dead."""
    from keysweep.remediation.audit import default_actor
    from keysweep.remediation.orchestrator import Selection
    from keysweep.store import Store, default_db_path
    from keysweep.settings import load_settings

    try:
        max_wait_seconds = parse_duration(max_wait)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-wait") from None
    path = Path(db) if db else default_db_path()
    if not path.exists():
        raise click.UsageError(f"{path}: no store yet (run a scan first, or pass --db)")
    selection = Selection(ids=tuple(ids), provider=provider, rule=rule, owner=owner, team=team, source=source,
                          repo=repo, status=status, all=select_all, include_suppressed=include_suppressed)
    if selection.empty() and not resume and not use_policy:
        raise click.UsageError("select credentials: finding ids, --provider, --rule, --owner, --team, --source, "
                               "--repo, --status, or --all (or --resume, or --policy)")
    if rotate:
        if force_revoker and force_revoker != "aws-rotate":
            raise click.UsageError("--rotate and --revoker: choose one")
        force_revoker = "aws-rotate"
    settings = load_settings(config_path)
    store = Store(path)
    unknown = store.unknown_finding_ids(ids)
    if unknown:  # a typo must not look like "nothing to do", as in `verify --id`
        store.close()
        raise click.UsageError(f"no such finding: {', '.join(unknown)}")
    options = dict(execute=execute, yes=yes, threshold=threshold, resume=resume, use_policy=use_policy,
                   policy_file=policy_file, approve=approve, force=force, force_revoker=force_revoker,
                   preflight=preflight, confirm_attempts=confirm_attempts, confirm_delay=confirm_delay, fmt=fmt,
                   max_wait=max_wait_seconds)
    try:
        code = asyncio.run(_revoke(store, settings, selection, actor or default_actor(), **options))
    finally:
        store.close()
    if code == 3 and not fail_on_error:
        code = 0
    sys.exit(code)


async def _revoke(store, settings, selection, actor, *, execute, yes, threshold, resume, use_policy, policy_file,
                  approve, force_revoker, preflight, confirm_attempts, confirm_delay, fmt,
                  max_wait: float = DEFAULT_MAX_WAIT, force: bool = False) -> int:
    import time

    from keysweep.remediation import jobs as J
    from keysweep.remediation.jobs import Jobs
    from keysweep.remediation.orchestrator import Orchestrator, finish_run, open_context, select, start_run
    from keysweep.remediation.policy import load
    from keysweep.remediation.secrets import forget
    from keysweep.revokers import available_revokers, revoker_for

    revokers = available_revokers()
    if force_revoker and force_revoker not in revokers:
        raise click.UsageError(f"unknown revoker {force_revoker!r} (available: {', '.join(sorted(revokers))})")
    policy = load(policy_file, settings)
    if use_policy and policy is None:
        raise click.UsageError("--policy: no keysweep-policy.toml here and no [policy] in keysweep.toml")
    findings = select(store, selection) if not selection.empty() or use_policy else []
    if use_policy and selection.empty():
        from keysweep.remediation.orchestrator import Selection

        findings = select(store, Selection(all=True, include_suppressed=selection.include_suppressed))
    if use_policy:
        # Keys keysweep created (--rotate) and finds only where it wrote them are its own: no policy
        # rotates or revokes them because a sweep found them there.
        findings = [f for f in findings if not (f.managed or {}).get("only_where_written")]
    providers = {f.provider for f in findings} | {row[0] for row in store.conn.execute(
        "SELECT DISTINCT provider FROM revocations WHERE provider IS NOT NULL")}
    command = "revoke " + ("--execute" if execute else "--resume" if resume else "(dry run)")
    waits = WaitBudget(max_wait)
    async with open_context(settings, store, actor, providers, waits=waits) as ctx:
        clock_now = ctx.now
        run_id = start_run(store, actor, command, clock_now())
        jobs = Jobs(store, actor, run_id, clock_now)
        entries = []
        decisions = ctx.extra.setdefault("_decisions", {})  # revokers read per-rule settings (rotate_to)
        for finding in findings:
            decision = policy.decide(finding) if policy else None
            if decision is not None:
                decisions[finding.id] = decision
            if decision and decision.action == "never" and not force:
                entries.append((finding, decision, None, None, None))
                continue
            revoker = revoker_for(finding, revokers, prefer=force_revoker or (decision.revoker if decision else None))
            plan = await revoker.plan(finding, ctx) if revoker else None
            entries.append((finding, decision, revoker, plan, jobs.for_finding(finding.id, revoker.name)
                            if revoker else None))
        entries, follows = _follow_same_key(store, entries)
        rows = _plan_rows(entries, follows)
        jobs.audit("revoke.select", {"selection": {k: v for k, v in vars(selection).items() if v},
                                     "policy": policy.origin if policy else None},
                   {"findings": len(findings), "mode": "execute" if execute else "resume" if resume else "dry-run",
                    "run": run_id})
        out = sys.stdout
        if not execute and not resume:
            if preflight:
                for (finding, _d, revoker, plan, _j), row in zip(entries, rows):
                    check = getattr(revoker, "preflight", None) if revoker else None
                    if check is not None and plan is not None:
                        result = await check(plan, ctx)
                        row["preflight"] = {"ok": result.ok, "detail": result.detail}
            for finding, decision, revoker, plan, _job in entries:
                if plan is not None:
                    jobs.audit("revoke.dry_run", {"finding": finding.id, "redacted": finding.redacted},
                               {"revoker": revoker.name, "calls": [[c.method, c.target] for c in plan.calls],
                                "policy": decision.action if decision else None})
            if fmt == "json":
                json.dump({"mode": "dry-run", "plan": rows}, out, indent=2)
                out.write("\n")
            else:
                _print_plan(rows, out)
                for row in rows:
                    if row.get("preflight"):
                        out.write(f"preflight {row['finding']}: {'ok' if row['preflight']['ok'] else 'FAILED'} "
                                  f"{terminal_safe(row['preflight']['detail'])}\n")
                acting = sum(1 for row in rows if row["revoker"])
                out.write(f"\nDry run: {acting} credential(s) would be acted on. Add --execute to act.\n")
            finish_run(store, run_id, clock_now(), {"dry_run": len(rows)})
            forget(ctx)
            return 0

        to_run: list = []
        if execute:
            approvals = []
            for finding, decision, revoker, plan, job in entries:
                if revoker is None or plan is None:
                    continue
                auto = policy_allows(decision, approve=approve, force=force)
                approvals.append((finding, decision, revoker, plan, auto))
            # Calls this run may make: new jobs, planned ones approved now, failed ones retried.
            new = sum(1 for f, d, r, p, auto in approvals if auto and not
                      ((j := jobs.for_finding(f.id, r.name)) and j.state not in (J.PLANNED, J.FAILED_PERMANENT)))
            if new > threshold and not yes:
                if sys.stdin.isatty():
                    if not click.confirm(f"Revoke {new} credentials?", default=False):
                        jobs.audit("revoke.cancel", {"run": run_id}, {"reason": "declined at the prompt"})
                        finish_run(store, run_id, clock_now(), {"cancelled": new})
                        return 2
                else:
                    finish_run(store, run_id, clock_now(), {"refused": new})
                    raise click.UsageError(f"{new} credentials selected, above the threshold of {threshold}: "
                                           f"add --yes to revoke them all")
            for finding, decision, revoker, plan, auto in approvals:
                by_policy = bool(decision and use_policy and decision.action == "auto")
                if auto and decision and decision.action == "never":
                    jobs.audit("revoke.force", {"finding": finding.id, "redacted": finding.redacted},
                               {"by": actor, "policy_rule": decision.rule, "policy": policy.origin})
                job, _created = jobs.create(finding, revoker.name, plan, approve=auto,
                                            policy_rule=decision.rule if by_policy else None)
                to_run.append(job)
        if resume:
            open_jobs = jobs.find(states=J.OPEN_STATES)
            if not selection.empty():
                wanted = {f.id for f in findings}
                open_jobs = [j for j in open_jobs if j.finding_id in wanted]
            known = {j.id for j in to_run}
            to_run.extend(j for j in open_jobs if j.id not in known)
        to_run = [j for j in to_run if j.state in J.OPEN_STATES]
        if policy is not None and not force:  # `never` holds for jobs approved before the policy said so
            to_run = hold_never(store, jobs, policy, to_run)
        if fmt == "table" and execute:
            _print_plan([r for r in rows if r["revoker"]], sys.stderr)
        progress = (lambda line: click.echo(terminal_safe(line), err=True)) if fmt == "table" else None
        orchestrator = Orchestrator(ctx, jobs, revokers, confirm_attempts=confirm_attempts,
                                    confirm_delay=confirm_delay, progress=progress, waits=waits)
        started = time.monotonic()
        summary = await orchestrator.run(to_run)
        deletes = {"deleted": [], "waiting": [], "failed": []}
        if resume:  # keys deactivated with a grace period (AWS delete_after_days) whose time has come
            settled = jobs.find(states=[J.CONFIRMED])
            if not selection.empty():
                wanted = {f.id for f in findings}
                settled = [j for j in settled if j.finding_id in wanted]
            deletes = await orchestrator.delete_due(settled)
        elapsed = time.monotonic() - started
        finish_run(store, run_id, clock_now(), summary.as_dict())
        forget(ctx)
        waiting = [j for j in jobs.find(ids=[j.id for j in to_run])]
        unsettled = unsettled_jobs(jobs.find(), None if selection.empty() and not use_policy
                                   else {f.id for f in findings})
        planned = [e for e in entries if e[3] is not None and (j := jobs.for_finding(e[0].id, e[2].name))
                   and j.state == J.PLANNED]
        if fmt == "json":
            json.dump({"mode": "execute" if execute else "resume", "run": run_id, "summary": summary.as_dict(),
                       "elapsed_seconds": round(elapsed, 3),
                       "jobs": [{"id": j.id, "finding": j.finding_id, "revoker": j.revoker, "state": j.state,
                                 "attempts": j.attempts, "last_error": j.last_error} for j in waiting],
                       "awaiting_approval": [e[0].id for e in planned],
                       "unsettled": dict(sorted(Counter(j.state for j in unsettled).items())),
                       "delayed_deletes": {"deleted": [j.finding_id for j in deletes["deleted"]],
                                           "failed": [j.finding_id for j, _d in deletes["failed"]],
                                           "waiting": [{"finding": j.finding_id, "due": utc_iso(due)} for j, due in deletes["waiting"]]}},
                      sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            click.echo(_summary_line(summary, elapsed))
            if deletes["deleted"] or deletes["waiting"]:
                soonest = min((due for _j, due in deletes["waiting"]), default=None)
                click.echo(f"  delayed deletes: {len(deletes['deleted'])} deleted, {len(deletes['waiting'])} "
                           f"still in their grace period"
                           + (f" (next due {utc_iso(soonest)})" if soonest else ""))
            for finding_id, error in summary.errors:
                click.echo(f"  failed {finding_id}: {terminal_safe(error)}")
            if unsettled:
                counts = ", ".join(f"{n} {state}" for state, n in sorted(Counter(j.state for j in unsettled).items()))
                click.echo(f"  not yet confirmed dead among the selected: {counts}")
            if planned:
                click.echo(f"  {len(planned)} credential(s) await an approver: keysweep revoke --approve "
                           f"--execute {' '.join(e[0].id for e in planned[:5])}{' …' if len(planned) > 5 else ''}")
        # 3 (with --fail-on-error) while anything selected is failed or still open, on every run
        # until it is settled: a scheduled run stays red, not only the run where the failure began.
        return 3 if summary.errors or unsettled else 0


def policy_allows(decision, *, approve: bool, force: bool) -> bool:
    """May `--execute` approve this credential now? Whenever a policy is configured it gates every
    run: `auto` yes, `approve` only with --approve (the actor approves), `never` only with --force.
    With no policy, the person running --execute on a selection approves it."""
    if decision is None:
        return True
    return {"auto": True, "approve": approve, "never": force}.get(decision.action, False)


def hold_never(store, jobs, policy, to_run: list) -> list:
    """Open jobs minus those not yet acted on whose credential the policy now classes `never`."""
    from keysweep.remediation import jobs as J

    pending = [j for j in to_run if j.state in (J.APPROVED, J.FAILED_RETRYABLE, J.REVOKING)]
    ids = sorted({j.finding_id for j in pending})
    findings = {f.id: f for start in range(0, len(ids), 500) for f in store.findings(ids=ids[start:start + 500])}
    held = {j.id for j in pending if j.finding_id in findings and policy.decide(findings[j.finding_id]).action == "never"}
    for job in to_run:
        if job.id in held:
            jobs.audit("revoke.hold", {"finding": job.finding_id, "job": job.id},
                       {"reason": "the policy classes it never; --force to act", "state": job.state})
    return [j for j in to_run if j.id not in held]


def unsettled_jobs(all_jobs: list, finding_ids: set[str] | None) -> list:
    """Jobs of the selected findings (every job when None) not yet confirmed dead."""
    from keysweep.remediation import jobs as J

    return [job for job in all_jobs if job.state != J.CONFIRMED
            and (finding_ids is None or job.finding_id in finding_ids)]
