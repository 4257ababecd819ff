"""`keysweep audit`: read and check the append-only, hash-chained audit log."""

from __future__ import annotations

import json
import shutil
import sys

import click

from keysweep.cli import format_option, output_file_option
from keysweep.commands._common import existing_store
from keysweep.files import write_private_text
from keysweep.remediation.audit import actions, head, parse_head, rows, verify_chain
from keysweep.sanitize import json_text, terminal_safe
from keysweep.store import Store
from keysweep.wording import counted, folded


def _store(db):
    path = existing_store(db)
    return Store(path)


def _write(text: str, output: str | None) -> None:
    """`text` to the file `--output` names (created private), else to standard output."""
    if output:
        write_private_text(output, text)
    else:
        click.echo(text, nl=False)


@click.group("audit")
def audit_group() -> None:
    """The audit log: who did what to which credential, each row chained to the previous."""


def _expected_head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    try:
        return parse_head(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect") from None


@audit_group.command("verify")
@click.option("--expect", "expect", metavar="SEQ:HASH",
              help="A head kept earlier (`keysweep audit head`, or any report's audit head): fail unless "
                   "that row is still in the log, unchanged.")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
def audit_verify(expect, db):
    """Recompute every row's hash, check the log ends at its checkpoint (and at least at --expect),
    and that no revocation job was changed behind the log; exit 1 if not."""
    expected = _expected_head(expect)
    store = _store(db)
    try:
        report = verify_chain(store.conn, expect=expected)
    finally:
        store.close()
    if report.ok:
        click.echo(f"audit log: {counted(report.rows, 'row')}, chain intact"
                   + (f", expected head {expected[0]} present" if expected else ""))
        return
    where = f" at row {report.first_bad_seq}" if report.first_bad_seq else ""
    click.echo(f"audit log: chain BROKEN{where}: {terminal_safe(report.problem)}")
    sys.exit(1)


@audit_group.command("head")
@format_option(("text", "json"), default="text", text="SEQ:HASH", json="{\"seq\": …, \"hash\": …}")
@output_file_option
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
def audit_head(fmt, output, db):
    """Print the log's head as SEQ:HASH: keep it somewhere else (a ticket, a chat, another machine)
    and check it later with `keysweep audit verify --expect SEQ:HASH`."""
    store = _store(db)
    try:
        current = head(store.conn)
    finally:
        store.close()
    text = json.dumps(current) if fmt == "json" else f"{current['seq']}:{current['hash']}"
    _write(text + "\n", output)


@audit_group.command("log")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N rows.")
@click.option("--action", help="Only actions matching this (glob, e.g. 'revoke.*').")
@format_option(("table", "json"), table="one line per row")
@output_file_option
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
def audit_log(limit, action, fmt, output, db):
    """Print the audit log."""
    store = _store(db)
    found = rows(store.conn, limit=limit, action=action)
    held = actions(store.conn) if action and not found else []
    store.close()
    if held:  # a typo must not look like "nothing was done"
        click.echo(f"keysweep: warning: --action {terminal_safe(repr(action))}: matches no action in the log "
                   f"(actions: {', '.join(map(terminal_safe, held))})", err=True)
    if fmt == "json":
        _write(json_text(found, indent=2) + "\n", output)
        return
    # Actors, targets and results quote finding places and provider answers. One line per row; on a
    # terminal a row breaks between its fields to fit (a target or a result is never broken).
    width = shutil.get_terminal_size().columns if not output and sys.stdout.isatty() else 10**6
    _write("".join("\n".join(folded(f"{row['seq']:>6}  {terminal_safe(row['at'])}",
                                     [terminal_safe(row["actor"]), terminal_safe(row["action"]),
                                      terminal_safe(row["target"]), f"→ {terminal_safe(row['result'])}"],
                                     width=width, indent=" " * 8)) + "\n"
                   for row in found), output)
