"""`keysweep revoke`: plan (the default, a dry run), or act with `--execute`, or finish a killed
run with `--resume`. See docs/revocation.md."""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import sys
from typing import TextIO

import click

from keysweep.cli import format_option, output_file_option
from keysweep.clock import utc_iso
from keysweep.commands._common import existing_store, open_report
from keysweep.commands._selection import build_selection, selection_options, warn_unmatched
from keysweep.locations import describe_all, describe_finding
from keysweep.owners import DEFAULT_THRESHOLD, is_unowned
from keysweep.providers import never_confirmed
from keysweep.providers import provider as provider_record
from keysweep.remediation.audit import default_actor
from keysweep.remediation.run import (
    PlanEntry,
    RevocationRun,
    RevokeRequestError,
    RunHooks,
    RunOptions,
    RunOutcome,
    unsettled_counts,
)
from keysweep.remediation.waits import parse_duration
from keysweep.sanitize import json_text, stored_text, terminal_safe
from keysweep.scanner.rules import finding_replacement
from keysweep.settings import load_settings
from keysweep.store import Store
from keysweep.verify.reach import finding_reach, finding_severity, reach_summary
from keysweep.wording import counted


def _where(finding) -> str:
    return describe_finding(finding)


def _owner(finding) -> str:
    owner = finding.owner or {}
    name = owner.get("name") or "-"
    return f"{name} ({owner['team']})" if owner.get("team") else name


def _plan_rows(entries: list[PlanEntry]) -> list[dict]:
    """The plan as data: the JSON dry run's `plan`, and what the table shows."""
    rows = []
    for entry in entries:
        finding, decision, revoker, plan, job = entry.finding, entry.decision, entry.revoker, entry.plan, entry.job
        row = {
            "finding": finding.id, "provider": finding.provider, "rule_id": finding.rule_id,
            "redacted": finding.redacted, "where": _where(finding), "locations": describe_all(finding),
            "owner": (finding.owner or {}).get("name"),
            "team": (finding.owner or {}).get("team"),
            # As `keysweep owners --unowned` counts it: a best guess (a commit author) is not an owner.
            "unowned": is_unowned(finding.owner, DEFAULT_THRESHOLD),
            "verification": (finding.verification or {}).get("status"),
            "policy": {"action": decision.action, "rule": decision.rule} if decision else None,
            "revoker": revoker.name if revoker else None,
            "calls": [{"method": c.method, "target": c.target, "description": c.description}
                      for c in (plan.calls if plan else [])],
            "needs": list(plan.needs) if plan else [],
            "notes": list(plan.notes) if plan else [],
            "replacement": _replacement(finding),
            # What the key can do (docs/output.md `reach`), and how urgent it is: plans list the most severe first.
            "severity": finding_severity(finding),
            "reach": finding_reach(finding),
            "job": {"id": job.id, "state": job.state, "last_error": job.last_error,
                    "next_attempt_at": job.next_attempt_at} if job else None,
            "follows": entry.follows,
        }
        if entry.preflight is not None:
            row["preflight"] = {"ok": entry.preflight.ok, "detail": entry.preflight.detail}
        rows.append(row)
    return rows


def _replacement(finding) -> dict | None:
    replacement = finding_replacement(finding)
    return replacement.as_json() if replacement else None


def _places(row: dict, shown: int = 5) -> str:
    """Every place (up to `shown`), named as the scan table names them."""
    places = row.get("locations") or [row["where"]]
    more = len(places) - shown
    return "; ".join(places[:shown]) + (f" (+{more} more)" if more > 0 else "")


def _print_plan(rows: list[dict], out, width: int | None = None) -> None:
    """The plan for people. Places, owners, call targets and policy rule names come from scanned
    sources and configuration, so every value is passed through `terminal_safe`. On a terminal
    (or with `width`), each field's lines break between words, under the field's text, never
    inside a word (a URL, an id, a key's redacted form); a place stands whole."""
    if not rows:
        out.write("No credential selected.\n")
        return
    if width is None and getattr(out, "isatty", lambda: False)():
        width = shutil.get_terminal_size().columns

    def field(label: str, text: str, units: list[str] | None = None) -> str:
        """`    label:   text`; `units` (each with the spaces before it) are what may not be broken."""
        head = f"    {label + ':':<9}"
        if width is None:
            return f"{head}{text}\n"
        parts = units or re.findall(r" *\S+", text)
        lines, line = [], head + parts[0].lstrip()
        for part in parts[1:]:
            if len(line) + len(part) > width:
                lines.append(line)
                line = " " * len(head) + part.lstrip()
            else:
                line += part
        return "\n".join([*lines, line]) + "\n"

    for row in map(_terminal_row, rows):
        policy = row["policy"]
        places = row.get("locations") or [row["where"]]
        shown = places[:5] + ([f"(+{len(places) - 5} more)"] if len(places) > 5 else [])
        where = [f"{' ' if i else ''}{place}{';' if i < len(shown) - 1 and i < 4 else ''}"
                 for i, place in enumerate(shown)]
        owner = (f"{row['owner'] or '-'}{' (' + row['team'] + ')' if row['team'] else ''}"
                 f"{' [unowned]' if row.get('unowned') else ''}"
                 f"    verified: {row['verification'] or 'not checked'}    severity: {row['severity']}")
        head = (f"{row['finding']}  {row['provider']}  {row['redacted']}  ({row['rule_id']})\n"
                + field("where", _places(row), where) + field("owner", owner))
        if row.get("follows"):
            out.write(head + field("revoker", f"none: the same key is revoked or rotated with {row['follows']}"))
            continue
        if policy and policy["action"] == "never" and not row["revoker"]:
            out.write(head + field("policy", f"never touched (rule '{policy['rule']}')"))
            continue
        rule = f" ({policy['rule']})" if policy and policy['rule'] else ""
        out.write(head + field("revoker", f"{row['revoker']}"
                                          f"{'   policy: ' + policy['action'] + rule if policy else ''}"
                                          f"{'   job: ' + row['job']['state'] if row['job'] else ''}"))
        if _settled(row):
            out.write(field("done", "confirmed dead by an earlier run: nothing will be sent"))
            continue
        if row["job"] and row["job"]["state"] == "failed_permanent" and row["job"].get("last_error"):
            out.write(field("failed", f"{row['job']['last_error']} (--execute tries again)"))
        if row["job"] and row["job"]["state"] == "failed_retryable":
            due = row["job"].get("next_attempt_at")
            out.write(field("retry", f"{row['job'].get('last_error') or 'no error recorded'} (--resume or "
                                     f"--execute asks again{'; it was due ' + due if due else ''})"))
        for call in row["calls"]:
            out.write(field("call", f"{call['method']} {call['target']}  — {call['description']}",
                            [f"{call['method']} {call['target']}", *re.findall(r" *\S+", f"  — {call['description']}")]))
        if row["needs"]:
            out.write(field("needs", ", ".join(row["needs"])))
        for note in row["notes"]:
            out.write(field("note", note))
        if row["reach"]:
            out.write(field("reach", reach_summary(row["reach"])))
        if row["replacement"]:
            out.write(field("replace", f"{row['replacement']['kind']} ({row['replacement']['docs_url']}): "
                                       f"{row['replacement']['summary']}"))


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
@selection_options
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
@click.option("--rotate", is_flag=True, help="AWS access keys: rotate (a new key written where the old one was found — "
                                            "Secrets Manager, SSM, Vault KV, a Kubernetes Secret, GCP Secret "
                                            "Manager, Azure Key Vault, a GitLab project variable — then the old one "
                                            "deactivated) instead of only deactivating.")
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
@format_option(("table", "json"), json="the plan, or the run's jobs and summary (docs/revocation.md)")
@output_file_option
@click.option("--fail-on-error", is_flag=True, help="Exit 3 while some selected credential's job is failed or not "
                                                    "yet confirmed dead (on every run until it is).")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="keysweep.toml to use.")
def revoke_cmd(ids, provider, rule, owner, team, status, source, repo, since, severity, overprivileged, select_all,
               include_suppressed, execute, yes,
               threshold, resume, use_policy, policy_file, approve, force, force_revoker, rotate, preflight, actor,
               confirm_attempts, confirm_delay, max_wait, fmt, output, fail_on_error, db, config_path):
    """Revoke credentials: select, plan (dry run by default), execute, confirm dead."""
    try:
        max_wait_seconds = parse_duration(max_wait)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-wait") from None
    path = existing_store(db)
    selection = build_selection(ids, provider, rule, owner, team, status, source, repo, since, select_all=select_all,
                                include_suppressed=include_suppressed, severity=severity,
                                overprivileged=overprivileged)
    if selection.empty() and not resume and not use_policy:
        raise click.UsageError("select credentials: finding ids, --provider, --rule, --owner, --team, --status, "
                               "--source, --repo, --since, --severity, --overprivileged, or --all (or --resume, "
                               "or --policy)")
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
    warn_unmatched(store, selection)
    options = RunOptions(selection=selection, actor=stored_text(actor) if actor else default_actor(), execute=execute, yes=yes,
                         threshold=threshold, resume=resume, use_policy=use_policy, policy_file=policy_file,
                         approve=approve, force=force, force_revoker=force_revoker, preflight=preflight,
                         confirm_attempts=confirm_attempts, confirm_delay=confirm_delay, max_wait=max_wait_seconds)
    out = open_report(output) if output else sys.stdout
    try:
        code = revoke(store, settings, options, fmt, out)
    except RevokeRequestError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        store.close()
        if output:
            out.close()
    if code == 3 and not fail_on_error:
        code = 0
    sys.exit(code)


def revoke(store, settings, options: RunOptions, fmt: str, out: TextIO | None = None) -> int:
    """One revocation run over `store`, rendered on `out` (default stdout; the plan on stderr before
    acting, with `fmt` table); its exit status. Raises RevokeRequestError for a request it refuses."""
    out = out or sys.stdout
    hooks = RunHooks(
        ask=((lambda count: click.confirm(f"Revoke {counted(count, 'credential')}?", default=False))
             if sys.stdin.isatty() else None),
        show_plan=(lambda entries: _print_plan(_plan_rows(entries), sys.stderr)) if fmt == "table" else None,
        progress=(lambda line: click.echo(terminal_safe(line), err=True)) if fmt == "table" else None)
    outcome = asyncio.run(RevocationRun(store, settings, options, hooks).run())
    if outcome.cancelled:
        return outcome.status
    if outcome.dry_run:
        _render_dry_run(_plan_rows(outcome.entries), fmt, out)
    elif fmt == "json":
        _render_run_json(outcome, out)
    else:
        _render_run_table(outcome, out)
    return outcome.status


def _render_dry_run(rows: list[dict], fmt: str, out) -> None:
    if fmt == "json":
        out.write(json_text({"mode": "dry-run", "plan": rows}, indent=2) + "\n")
        return
    _print_plan(rows, out)
    for row in rows:
        if row.get("preflight"):
            out.write(f"preflight {row['finding']}: {'ok' if row['preflight']['ok'] else 'FAILED'} "
                      f"{terminal_safe(row['preflight']['detail'])}\n")
    acting = [row for row in rows if row["revoker"] and not _settled(row)]
    blocked = sum(1 for row in acting if row["needs"])
    settled = sum(1 for row in rows if _settled(row))
    out.write(f"\nDry run: {counted(len(acting), 'credential')} would be acted on. Add --execute to act.\n")
    if blocked:  # each fact on a line of its own: the summary fits 80 columns
        which = ("it" if blocked == 1 else "all of them") if blocked == len(acting) else f"{blocked} of them"
        out.write(f"  {which} would fail at once for want of what {'its' if blocked == 1 else 'their'} "
                  f"`needs:` line names.\n")
    if settled:
        out.write(f"  {settled} already confirmed dead: nothing to send.\n")


def _settled(row: dict) -> bool:
    """The credential's job is confirmed: `--execute` sends nothing for it."""
    return bool(row["revoker"] and row["job"] and row["job"]["state"] == "confirmed")


def _render_run_json(outcome: RunOutcome, out) -> None:
    deletes = outcome.deletes
    out.write(json_text({"mode": outcome.mode, "run": outcome.run_id, "summary": outcome.summary.as_dict(),
               "elapsed_seconds": round(outcome.elapsed, 3),
               "jobs": [{"id": j.id, "finding": j.finding_id, "revoker": j.revoker, "state": j.state,
                         "attempts": j.attempts, "last_error": j.last_error} for j in outcome.jobs],
               "awaiting_approval": outcome.awaiting_approval,
               "unsettled": unsettled_counts(outcome.unsettled),
               "delayed_deletes": {"deleted": [j.finding_id for j in deletes.deleted],
                                   "failed": [j.finding_id for j, _d in deletes.failed],
                                   "waiting": [{"finding": j.finding_id, "due": utc_iso(due)}
                                               for j, due in deletes.waiting]}},
                        indent=2) + "\n")


def _render_run_table(outcome: RunOutcome, out: TextIO) -> None:
    summary, deletes = outcome.summary, outcome.deletes
    echo = functools.partial(click.echo, file=out)
    echo(_summary_line(summary, outcome.elapsed))
    if deletes.deleted or deletes.waiting:
        soonest = min((due for _j, due in deletes.waiting), default=None)
        echo(f"  delayed deletes: {len(deletes.deleted)} deleted, {len(deletes.waiting)} "
             f"still in their grace period"
             + (f" (next due {utc_iso(soonest)})" if soonest else ""))
    jobs = {j.finding_id: j for j in [*outcome.unsettled, *outcome.jobs]}
    for finding_id, error in summary.errors:
        echo(f"  failed {_named(finding_id, outcome, jobs)}: {terminal_safe(error)}")
    failed_now = {finding_id for finding_id, _error in summary.errors}
    earlier = [j for j in outcome.unsettled if j.state == "failed_permanent" and j.finding_id not in failed_now]
    for job in earlier[:10]:  # what a person must fix, when an earlier run failed it
        echo(f"  failed earlier {_named(job.finding_id, outcome, jobs)}: {terminal_safe(job.last_error or '')}")
    if len(earlier) > 10:
        echo(f"  (+{len(earlier) - 10} more failed earlier: a dry run of the same selection shows each one's error)")
    if outcome.unsettled:
        counts = ", ".join(f"{n} {state}" for state, n in unsettled_counts(outcome.unsettled).items())
        echo(f"  not yet confirmed dead among the selected: {counts}")
    planned = outcome.awaiting_approval
    if planned:
        waits = "awaits" if len(planned) == 1 else "await"
        echo(f"  {counted(len(planned), 'credential')} {waits} an approver: keysweep revoke --approve "
             f"--execute {_ids(planned)}")
    for line in _next_steps(outcome):
        echo(f"  {line}")


def _ids(finding_ids: list[str], shown: int = 5) -> str:
    return " ".join(finding_ids[:shown]) + (" …" if len(finding_ids) > shown else "")


def _named(finding_id: str, outcome: RunOutcome, jobs: dict) -> str:
    """`f_… sk-proj-…x9Qa (job 4)`: the finding, the key as the scan showed it, and its job."""
    redacted = outcome.redacted.get(finding_id)
    job = jobs.get(finding_id)
    return (f"{finding_id}{' ' + terminal_safe(redacted) if redacted else ''}"
            f"{f' (job {job.id})' if job is not None else ''}")


def _next_steps(outcome: RunOutcome) -> list[str]:
    """What the responder does next about each selected job that is not settled, by its state."""
    by_state: dict[str, list[str]] = {}
    for job in outcome.unsettled:
        by_state.setdefault(job.state, []).append(job.finding_id)
    lines = []
    if by_state.get("failed_permanent"):
        ids = by_state["failed_permanent"]
        rerun = (f"keysweep revoke {' '.join(ids)} --execute" if len(ids) <= 5
                 else "the same keysweep revoke … --execute (it tries each such job it selects again)")
        lines.append(f"left to a person: {_ids(ids)} — not proven revoked; fix the cause shown "
                     f"(or revoke the key by hand at its provider), then rerun: {rerun}")
    if by_state.get("failed_retryable"):
        ids = by_state["failed_retryable"]
        lines.append(f"to be retried (the provider was busy or its answer not believed): {_ids(ids)} — "
                     f"keysweep revoke --resume")
    if by_state.get("revoked"):
        ids = [job.finding_id for job in outcome.unsettled if job.state == "revoked" and not never_confirmed(job.provider)]
        if ids:
            lines.append(f"revoked, not yet confirmed dead: {_ids(ids)} — keysweep revoke --resume checks again")
        unconfirmable: dict[str, list[str]] = {}
        for job in outcome.unsettled:
            if job.state == "revoked" and never_confirmed(job.provider):
                unconfirmable.setdefault(str(job.provider), []).append(job.finding_id)
        for name, ids in sorted(unconfirmable.items()):
            record = provider_record(name)
            where = f" at {record.console_url}" if record.console_url else " in its console"
            lines.append(f"revoked, never confirmable: {_ids(ids)} — {record.title} documents no check of a key, "
                         f"so keysweep revoke --resume cannot confirm it dead; make sure it is gone{where}")
    if by_state.get("approved") or by_state.get("revoking"):
        ids = [*by_state.get("approved", []), *by_state.get("revoking", [])]
        lines.append(f"approved or claimed, not yet run: {_ids(ids)} — keysweep revoke --resume "
                     f"(a claim whose run is gone is taken over)")
    if by_state.get("awaiting_owner"):
        ids = by_state["awaiting_owner"]
        lines.append(f"no revocation API, owner notified: {_ids(ids)} — the next keysweep revoke --resume "
                     f"confirms it once its verification says dead")
    return lines
