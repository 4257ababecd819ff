"""`keysweep status`: which keys are still live, whose are they, and what to look at first."""

from __future__ import annotations

import sys
from typing import Any

import click

from keysweep.cli import format_option, output_file_option
from keysweep.commands._common import existing_store
from keysweep.files import write_private_text
from keysweep.remediation.report import human
from keysweep.remediation.status import build_status
from keysweep.sanitize import json_text, terminal_safe
from keysweep.store import Store
from keysweep.wording import counted, folded

# The table is for an 80-column terminal; a provider or team name longer than NAME_WIDTH goes on a
# line of its own, above its counts.
WIDTH, NAME_WIDTH = 80, 13
COUNT_LABELS = (("count", "count"), ("live", "live"), ("dead", "dead"), ("unknown", "unknown"),
                ("unverified", "unverified"), ("no_value", "no value"), ("unowned", "unowned"),
                ("open_jobs", "open jobs"))


@click.command("status")
@format_option(("table", "json"), json="the keys documented in docs/usage.md, \"keysweep status\"")
@output_file_option
@click.option("--min-confidence", "threshold", type=click.FloatRange(0, 1), default=None,
              help="Confidence an owner needs to count as owned (default: that of `keysweep owners`, 0.5).")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--include-suppressed", is_flag=True,
              help="Also count credentials suppressed everywhere they were seen (inline allow, .keysweepignore).")
def status_cmd(fmt, output, threshold, db, include_suppressed):
    """Live / dead / unknown / unverified / no-value / unowned / open-job counts per provider and
    team (the same names and counts as `keysweep report`), and the ten most urgent credentials:
    the most severe first (liveness, reach and exposure), then live, long-lived, the widest spread
    (most kinds of source, most places), the oldest."""
    path = existing_store(db)
    store = Store(path, writable=False)
    try:
        status = build_status(store, threshold=threshold, include_suppressed=include_suppressed)
    finally:
        store.close()
    text = json_text(status, indent=2) + "\n" if fmt == "json" else render_table(status)
    if output:
        write_private_text(output, text)
    else:
        sys.stdout.write(text)


# An open revocation job, as a fact of a most urgent credential.
_JOB_FACTS = {"failed_permanent": "revocation failed: needs a person",
              "failed_retryable": "revocation to be retried (revoke --resume)",
              "planned": "revocation awaits an approver", "revoked": "revoked, not yet confirmed dead",
              "awaiting_owner": "owner notified (no revocation API)"}


def render_table(status: dict[str, Any]) -> str:
    """Plain text for an 80-column terminal. Providers, teams, owners and places come from scanned
    data and provider answers: every such value goes through `terminal_safe`."""
    totals = status["totals"]
    # The states are adjectives ("1 live", "2 dead"); only the jobs are counted things.
    counts = [counted(totals[key], "open job") if key == "open_jobs" else f"{totals[key]} {label}"
              for key, label in COUNT_LABELS[1:]]
    lines = [*folded(f"{counted(totals['count'], 'credential')}:", [part + "," for part in counts[:-1]] + counts[-1:],
                     gap=" ", width=WIDTH, indent="  "), ""]
    for title, groups in (("provider", status["by_provider"]), ("team", status["by_team"])):
        names = {name: terminal_safe(name) for name in groups}
        width = min(max([len(title) + 3, *map(len, names.values())]), NAME_WIDTH)
        lines.append(f"{'by ' + title:<{width}}  " + " ".join(f"{label:>{max(5, len(label))}}"
                                                              for _key, label in COUNT_LABELS))
        for name, summary in groups.items():
            if len(names[name]) > width:  # whole, on a line of its own: the counts keep their columns
                lines.append(names[name])
            lines.append(f"{'' if len(names[name]) > width else names[name]:<{width}}  "
                         + " ".join(f"{summary[key]:>{max(5, len(label))}}" for key, label in COUNT_LABELS))
        lines.append("")
    if not status["urgent"]:
        lines.append("Nothing urgent: no credential is live, unchecked or inconclusive.")
        return "\n".join(lines) + "\n"
    lines.append("most urgent:")
    for item in status["urgent"]:
        places = item["places"]
        facts = [item["status"], terminal_safe(item["provider"]), terminal_safe(item["redacted"])]
        if item["long_lived"]:
            facts.append("long-lived")
        facts.append(counted(places, "place")
                     + (f" in {len(item['sources'])} kinds of source" if len(item["sources"]) > 1 else ""))
        if item["age_seconds"] is not None:
            facts.append(f"{human(item['age_seconds'])} old")
        if item.get("job"):  # a revocation under way, or one that needs a person
            facts.append(_JOB_FACTS.get(item["job"], f"revocation {item['job']}"))
        owner = terminal_safe(item["owner"]) if item["owner"] else "-"
        if item["team"]:
            owner += f" ({terminal_safe(item['team'])})"
        if item["unowned"]:
            owner += " [unowned]"
        lines.extend(folded(f"{item['rank']:>3}. {terminal_safe(item['id'])}", facts, width=WIDTH))
        lines.extend(folded(f"     owner: {owner}", [f"where: {terminal_safe(item['where'])}"], gap="   ", width=WIDTH))
    return "\n".join(lines) + "\n"
