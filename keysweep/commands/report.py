"""`keysweep report`: time to remediation per credential and by provider, owner, team and source."""

from __future__ import annotations

import shutil
import sys

import click

from keysweep.cli import format_option, hidden_alias, output_file_option
from keysweep.commands._common import existing_store
from keysweep.commands._selection import build_selection, selection_options, warn_unmatched
from keysweep.files import write_private_text
from keysweep.remediation import report as R
from keysweep.sanitize import json_text
from keysweep.store import Store


@click.command("report")
@selection_options
@format_option(("table", "json", "html", "prometheus"), html="a self-contained page to hand on",
               prometheus="gauges for a Prometheus textfile collector")
@click.option("--audit", "audit_view", is_flag=True,
              help="Audit view: owner, reach and speed per credential, mapped to the OWASP NHI Top 10.")
@click.option("--min-confidence", "threshold", type=click.FloatRange(0, 1), default=None,
              help="Confidence (0 to 1) an owner needs to count as owned (default: that of `keysweep owners`, 0.5).")
@hidden_alias("--threshold", "--min-confidence", "threshold", type=click.FloatRange(0, 1))
@output_file_option
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--include-suppressed", is_flag=True,
              help="Also count credentials suppressed everywhere they were seen (inline allow, .keysweepignore).")
def report_cmd(ids, provider, rule, owner, team, status, source, repo, since, severity, overprivileged, fmt,
               audit_view, threshold, output, db, include_suppressed):
    """Time to remediation: leaked → detected → verified → notified → revoked → confirmed dead.

    Finding IDS and the filters select as `keysweep findings` and `keysweep revoke` do."""
    selection = build_selection(ids, provider, rule, owner, team, status, source, repo, since,
                                include_suppressed=include_suppressed, severity=severity,
                                overprivileged=overprivileged)
    path = existing_store(db)
    store = Store(path)
    try:
        unknown = store.unknown_finding_ids(ids)
        if unknown:  # a typo must not look like "nothing to report"
            raise click.UsageError(f"no such finding: {', '.join(unknown)}")
        warn_unmatched(store, selection)
        report = R.build(store, selection=selection, threshold=threshold)
    finally:
        store.close()
    if audit_view:
        view = R.audit_view(report)
        if fmt == "json":
            text = json_text(view, indent=2) + "\n"
        elif fmt == "table":
            text = R.render_audit_table(view)
        else:
            raise click.UsageError("--audit supports --format table or json")
    elif fmt == "json":
        text = json_text(report, indent=2) + "\n"
    elif fmt == "html":
        text = R.render_html(report)
    elif fmt == "prometheus":
        text = R.render_prometheus(report)
    else:
        # On a terminal, laid out for its width; piped or to a file, every group on one line.
        on_terminal = not output and sys.stdout.isatty()
        text = R.render_table(report, width=shutil.get_terminal_size().columns if on_terminal else None)
    if output:
        write_private_text(output, text)
    else:
        sys.stdout.write(text)
