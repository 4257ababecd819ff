"""`keysweep findings`: list what the store holds, selected as `keysweep revoke` selects."""

from __future__ import annotations

import sys

import click

from keysweep.cli import include_suppressed_option, output_options
from keysweep.commands._common import command_started_at, existing_store, open_report
from keysweep.commands._selection import build_selection, selection_options, warn_unmatched
from keysweep.output import render
from keysweep.remediation.selection import select
from keysweep.sanitize import terminal_safe
from keysweep.scanner.reread import Rereader
from keysweep.scanner.rules import load_rules
from keysweep.settings import load_settings
from keysweep.store import Store
from keysweep.verify.runner import unreadable_findings, unreadable_notes


@click.command("findings")
@selection_options
@click.option("--unreadable", is_flag=True,
              help="Only findings whose value can no longer be read back from where it was found (so "
                   "verify, owners and revoke cannot act on them); one line per source on stderr.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="keysweep.toml: forge API URLs and token variables used to read values back.")
@output_options
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@include_suppressed_option
def findings_cmd(ids, provider, rule, owner, team, status, source, repo, since, severity, overprivileged, unreadable,
                 config_path, fmt, output, db, include_suppressed):
    """List what the store holds (not findings suppressed everywhere, unless --include-suppressed).

    Finding IDS and the filters select as `keysweep revoke` does; exit 1 when anything is listed."""
    selection = build_selection(ids, provider, rule, owner, team, status, source, repo, since,
                                include_suppressed=include_suppressed, severity=severity,
                                overprivileged=overprivileged)
    path = existing_store(db)
    store = Store(path, writable=False)  # listing only reads: a read-only copy of a store will do
    unknown = store.unknown_finding_ids(ids)
    if unknown:  # a typo must not look like "nothing found"
        store.close()
        raise click.UsageError(f"no such finding: {', '.join(unknown)}")
    warn_unmatched(store, selection)
    findings = select(store, selection)
    if unreadable:
        settings = load_settings(config_path)
        findings = unreadable_findings(findings, Rereader(settings=settings))
        for note in unreadable_notes(findings):
            click.echo(f"keysweep: {terminal_safe(note)}", err=True)
    rules = {r.id: r for r in load_rules()}
    handle = open_report(output) if output else sys.stdout
    try:
        render(findings, fmt, rules, handle, started_at=command_started_at())
    finally:
        if output:
            handle.close()
    sys.exit(1 if findings else 0)
