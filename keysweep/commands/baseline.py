"""`keysweep baseline create`: write the known findings — those the store holds (selected as
`keysweep findings` selects) or those of a scan's JSON/JSONL output — as a baseline file for
`scan … --baseline FILE` (keysweep/baseline.py)."""

from __future__ import annotations

import json
import sys

import click

from keysweep.baseline import baseline_document, findings_from_output
from keysweep.cli import fail, include_suppressed_option, output_file_option
from keysweep.commands._common import existing_store, open_report
from keysweep.commands._selection import build_selection, selection_options, warn_unmatched
from keysweep.remediation.selection import select
from keysweep.sanitize import terminal_safe
from keysweep.store import Store
from keysweep.wording import counted


@click.group("baseline")
def baseline_group() -> None:
    """Known findings, so a CI job fails only on secrets it has not seen."""


@baseline_group.command("create")
@selection_options
@click.option("--from", "from_file", metavar="FILE",
              help="Take the findings of a scan's --format json or jsonl output (`-`: standard input) "
                   "instead of the store.")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@include_suppressed_option
@output_file_option
def baseline_create(ids, provider, rule, owner, team, status, source, repo, since, severity, overprivileged, from_file,
                    db, include_suppressed, output):
    """Write a baseline: one entry per finding id (never a path or a line), to standard output or
    -o FILE. From the store (finding IDS and the filters select as `keysweep findings` does), or
    with --from from a scan's JSON output."""
    if from_file is not None:
        selected = [ids, provider, rule, owner, team, status, source, repo, since, severity, overprivileged, db]
        if any(selected) or include_suppressed:
            raise click.UsageError("--from takes the findings of that output as they are: no filters, ids or --db")
        findings = _read_output(from_file)
    else:
        path = existing_store(db, hint=", or --from a scan's JSON output")
        selection = build_selection(ids, provider, rule, owner, team, status, source, repo, since,
                                    include_suppressed=include_suppressed, severity=severity,
                                    overprivileged=overprivileged)
        store = Store(path, writable=False)
        try:
            unknown = store.unknown_finding_ids(ids)
            if unknown:
                raise click.UsageError(f"no such finding: {', '.join(unknown)}")
            warn_unmatched(store, selection)
            findings = select(store, selection)
        finally:
            store.close()
    document = baseline_document(findings)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output:
        with open_report(output) as handle:
            handle.write(text)
        click.echo(f"keysweep: wrote a baseline of {counted(len(document['findings']), 'finding')} to "
                   f"{terminal_safe(output)}", err=True)
    else:
        sys.stdout.write(text)


def _read_output(name: str) -> list[dict]:
    if name == "-":
        return findings_from_output(sys.stdin.read(), "standard input")
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{name}: cannot read it: {getattr(exc, 'strerror', None) or exc}")
    return findings_from_output(text, name)
