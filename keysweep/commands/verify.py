"""`keysweep verify`: is each stored finding's key still live?"""

from __future__ import annotations

import sys

import click

from keysweep.cli import format_option, output_file_option, progress_switch
from keysweep.commands._common import existing_store
from keysweep.commands._selection import build_selection, id_option, selected, selection_options
from keysweep.files import open_private_output
from keysweep.output import render
from keysweep.progress import CountProgress, progress_enabled
from keysweep.remediation.selection import Selection
from keysweep.sanitize import rich_text, safe_console, terminal_safe
from keysweep.scanner.reread import Rereader
from keysweep.scanner.rules import load_rules
from keysweep.settings import load_settings
from keysweep.store import Store
from keysweep.tables import Column, print_table
from keysweep.verify.runner import run_verification, summary, unreadable_notes
from keysweep.wording import counted

REPORT_FORMATS = ("table", "json", "jsonl")


def open_existing_store(db: str | None):
    path = existing_store(db)
    return Store(path)


def select_findings(store, provider: str | None, rule: str | None, ids: tuple[str, ...],
                    include_suppressed: bool = False):
    """Findings named by id, or else those the filters select (suppressed everywhere: only with
    `include_suppressed`): the shared selection with only these filters."""
    return selected(store, Selection(ids=tuple(ids), provider=provider, rule=rule,
                                     include_suppressed=include_suppressed))


def emit_findings(findings, fmt: str, output: str | None, table_writer) -> None:
    """JSON/JSONL: the output contract (`finding_json`); table: the command's own view."""
    handle = open_private_output(output) if output else sys.stdout
    try:
        if fmt in ("json", "jsonl"):
            render(findings, fmt, {r.id: r for r in load_rules()}, handle)
        else:
            table_writer(findings, handle)
    finally:
        if output:
            handle.close()


def identity_summary(identity: dict | None) -> str:
    if not identity:
        return ""
    for key in ("owner", "login", "username", "arn", "user_email", "email", "org", "org_id", "team_id",
                "account", "label", "name", "restricted"):
        if identity.get(key):
            return f"{key}={identity[key]}"
    return ""


# Least useful dropped first on a narrow terminal; the id and the status always shown.
VERIFY_COLUMNS = (Column("id", whole=True), Column("rule", whole=True, drop=4), Column("secret", whole=True, drop=5),
                  Column("status", whole=True), Column("identity", drop=3), Column("checked", whole=True, drop=1),
                  Column("note", drop=2))


def _table(results_by_id):
    def write(findings, out) -> None:
        # Identities and errors come from provider answers: cells are sanitised Text, never markup.
        if not findings:
            safe_console(out).print("No findings to verify.")
            return
        rows = []
        styles = {"live": "bold red", "dead": "green", "unknown": "yellow"}
        for f in findings:
            v = f.verification or {}
            result = results_by_id.get(f.id)
            note = (v.get("error") or "") if v.get("status") == "unknown" else ""
            if result is not None and result.cached:
                note = (note + " " if note else "") + "(cached)"
            status = v.get("status") or ""
            rows.append([rich_text(f.id), rich_text(f.rule_id), rich_text(f.redacted),
                         rich_text(status, style=styles.get(status, "")),
                         rich_text(identity_summary(v.get("identity"))), rich_text(v.get("checked_at")),
                         rich_text(note)])
        print_table(out, f"{counted(len(findings), 'finding')} verified", VERIFY_COLUMNS, rows)
    return write


@click.command("verify")
@selection_options
@id_option
@click.option("--ttl", type=click.IntRange(min=0), default=3600, show_default=True,
              help="Reuse a live/dead answer younger than this many seconds; 0 checks again.")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), default=8, show_default=True,
              help="Checks in flight at once (each provider host is also throttled).")
@format_option(REPORT_FORMATS)
@output_file_option
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="keysweep.toml with [providers.<name>] base_url / rate_limit.")
@click.option("--include-suppressed", is_flag=True,
              help="Also check findings suppressed everywhere they were seen (inline allow, .keysweepignore).")
@progress_switch("keys checked / total and the time left")
def verify_cmd(ids, id_options, provider, rule, owner, team, status, source, repo, since, severity, overprivileged,
               ttl, concurrency, fmt, output, db, config_path, include_suppressed, show_progress=None):
    """Check whether stored findings still work, with read-only calls to each provider.

    Finding IDS and the filters select as `keysweep findings` does (none: every finding). Each
    answer is live, dead (the provider said so) or unknown (with the reason), and is recorded with
    its time. Exit status 1 when any key is live."""
    selection = build_selection(ids + id_options, provider, rule, owner, team, status, source, repo, since,
                                include_suppressed=include_suppressed, severity=severity,
                                overprivileged=overprivileged)
    settings = load_settings(config_path)
    store = open_existing_store(db)
    findings = selected(store, selection)
    progress = (CountProgress("verifying", "key", len({f.id for f in findings}), live=sys.stderr.isatty())
                if findings and progress_enabled(show_progress) else None)
    try:
        results = run_verification(findings, settings, store, ttl=ttl, concurrency=concurrency,
                                   rereader=Rereader(settings=settings), progress=progress)
    finally:
        if progress is not None:
            progress.close()
    refreshed = store.findings(ids=[f.id for f in findings]) if findings else []
    emit_findings(refreshed, fmt, output, _table({r.finding.id: r for r in results}))
    if results:
        click.echo(f"keysweep: verified {counted(len(results), 'finding')}: {summary(results)}", err=True)
    for note in unreadable_notes(results):
        click.echo(f"keysweep: {terminal_safe(note)}", err=True)
    sys.exit(1 if any(r.status == "live" for r in results) else 0)
