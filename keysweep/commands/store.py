"""`keysweep store`: manage the findings store itself (move it into a shared PostgreSQL database)."""

from __future__ import annotations

import json
import sys

import click

from keysweep.cli import format_option, output_file_option, progress_switch
from keysweep.errors import StoreError
from keysweep.files import write_private_text
from keysweep.progress import CountProgress, progress_enabled
from keysweep.remediation import audit
from keysweep.sanitize import terminal_safe
from keysweep.store import Store, show_location, store_exists, store_location
from keysweep.store.move import counts, move
from keysweep.store.postgres import is_postgres_url
from keysweep.wording import plural


@click.group("store")
def store_group() -> None:
    """The findings store itself."""


@store_group.command("migrate")
@click.option("--from", "source", required=True, metavar="STORE",
              help="The store to move: a SQLite file (e.g. keysweep.db) or a postgresql:// URL.")
@click.option("--to", "destination", required=True, metavar="URL",
              help="The new store: a postgresql:// URL whose schema holds no keysweep data yet.")
@format_option(("table", "json"), table="one line per table")
@output_file_option
@progress_switch("rows copied / total and the time left")
def store_migrate(source, destination, fmt, output, show_progress=None):
    """Copy every finding, occurrence, job, scan state and audit row of one store into a new
    PostgreSQL store, then check the copy: the same rows, and the same audit chain and head.
    The source is left as it was (and is not written to while the copy runs)."""
    if not is_postgres_url(destination):
        raise click.BadParameter(f"{terminal_safe(destination)}: expected a postgresql:// URL", param_hint="--to")
    source_location = store_location(source)
    if not store_exists(source_location):
        raise StoreError(f"{show_location(source_location)}: no store there")
    old = Store(source_location)
    progress = None
    try:
        new = Store(destination)
        try:
            if progress_enabled(show_progress):
                progress = CountProgress("copying", "row", sum(counts(old).values()), live=sys.stderr.isatty())
            result = {"rows": move(old, new, progress=progress), "audit_head": _checked_head(old, new)}
        finally:
            if progress is not None:
                progress.close()
            new.close()
    finally:
        old.close()
    if fmt == "json":
        text = json.dumps({"from": show_location(source_location), "to": show_location(destination), **result},
                          indent=2) + "\n"
    else:
        head = result["audit_head"]
        text = "".join(f"{table:<24}{count:>10} {plural(count, 'row')}\n" for table, count in result["rows"].items()) + (
            f"moved {terminal_safe(show_location(source_location))} -> {terminal_safe(show_location(destination))}; "
            f"audit log verified, head {head['seq']}:{head['hash']}\n")
    if output:
        write_private_text(output, text)
    else:
        click.echo(text, nl=False)


def _checked_head(old: Store, new: Store) -> dict:
    """The moved audit log verifies and ends on the source's head: the same chain, whole."""
    report = audit.verify_chain(new.conn)
    if not report.ok:
        raise StoreError(f"{new.path}: the moved audit log does not verify: {report.problem}")
    head = audit.head(new.conn)
    if head != audit.head(old.conn):
        raise StoreError(f"{new.path}: the moved audit log does not end where the source's does")
    return head
