"""`keysweep audit`: read and check the append-only, hash-chained audit log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from keysweep.sanitize import terminal_safe


def _store(db):
    from keysweep.scanner.store import Store, default_db_path

    path = Path(db) if db else default_db_path()
    if not path.exists():
        raise click.UsageError(f"{path}: no store yet (run a scan first, or pass --db)")
    return Store(path)


@click.group("audit")
def audit_group() -> None:
    """The audit log: who did what to which credential, each row chained to the previous."""


@audit_group.command("verify")
@click.option("--db", type=click.Path(dir_okay=False), help="Findings store. Default: $KEYSWEEP_DB or the user data dir.")
def audit_verify(db):
    """Recompute every row's hash; exit 1 if the chain is broken."""
    from keysweep.remediation.audit import verify_chain

    store = _store(db)
    report = verify_chain(store.conn)
    store.close()
    if report.ok:
        click.echo(f"audit log: {report.rows} rows, chain intact")
        return
    click.echo(f"audit log: chain BROKEN at row {report.first_bad_seq}: {terminal_safe(report.problem)}")
    sys.exit(1)


@audit_group.command("log")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N rows.")
@click.option("--action", help="Only actions matching this (glob, e.g. 'revoke.*').")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--db", type=click.Path(dir_okay=False), help="Findings store.")
def audit_log(limit, action, fmt, db):
    """Print the audit log."""
    from keysweep.remediation.audit import rows

    store = _store(db)
    found = rows(store.conn, limit=limit, action=action)
    store.close()
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    for row in found:  # actors, targets and results quote finding places and provider answers
        click.echo(f"{row['seq']:>6}  {terminal_safe(row['at'])}  {terminal_safe(row['actor'])}  "
                   f"{terminal_safe(row['action'])}  {terminal_safe(row['target'])}  → {terminal_safe(row['result'])}")
