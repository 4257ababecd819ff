"""`keysweep events`: the store's events as JSON Lines (or one JSON array), oldest first, for SIEM
ingestion (keysweep/events.py)."""

from __future__ import annotations

import sys

import click

from keysweep.cli import format_option, output_file_option
from keysweep.commands._common import existing_store, open_report
from keysweep.events import EVENT_KINDS, event_json, kind_matches
from keysweep.remediation.selection import SelectionError, parse_since
from keysweep.sanitize import json_text, terminal_safe
from keysweep.store import Store


@click.command("events")
@click.option("--since", metavar="DATE",
              help="Only events at or after DATE (the event's own time): 2025-03-01, an ISO-8601 time, or an "
                   "age such as 36h, 7d, 2w.")
@click.option("--after-seq", type=click.IntRange(min=0), metavar="N",
              help="Only events written after the one whose seq is N (resume after the last one ingested).")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="Only events of this kind (repeatable): detected, leaked, verified (every verified_*), "
                   "verified_live, owner_notified, revoked, confirmed_dead, …")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@format_option(("jsonl", "json"), default="jsonl", jsonl="one event per line", json="one JSON array of events")
@output_file_option
def events_cmd(since, after_seq, kinds, db, fmt, output):
    """Dated facts about findings — detected, leaked, verified_*, owner_notified, revoked,
    confirmed_dead — each with a stable id, in the order they were written (docs/usage.md)."""
    try:
        since_at = parse_since(since) if since else None
    except SelectionError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    path = existing_store(db)
    store = Store(path, writable=False)
    try:
        known = sorted({*EVENT_KINDS, *store.event_kinds()})
        for wanted in kinds:  # a typo must not look like "nothing happened"
            if not any(kind_matches(wanted, kind) for kind in known):
                click.echo(f"keysweep: warning: --kind {terminal_safe(repr(wanted))}: no such kind of event "
                           f"(kinds: {', '.join(map(terminal_safe, known))})", err=True)
        events = [event_json(row) for row in store.events(since=since_at, after_seq=after_seq, kinds=kinds)]
    finally:
        store.close()
    handle = open_report(output) if output else sys.stdout
    try:
        if fmt == "json":
            handle.write(json_text(events, indent=2) + "\n")
        else:
            for event in events:
                handle.write(json_text(event) + "\n")
    finally:
        if output:
            handle.close()
