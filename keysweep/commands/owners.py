"""`keysweep owners`: who owns each finding, what it is for, and the evidence."""

from __future__ import annotations

import sys

import click

from keysweep.cli import format_option, hidden_alias, output_file_option, progress_switch
from keysweep.commands._selection import build_selection, id_option, selected, selection_options
from keysweep.commands.verify import REPORT_FORMATS, emit_findings, open_existing_store
from keysweep.files import open_private_output
from keysweep.output import finding_json
from keysweep.owners import DEFAULT_THRESHOLD, is_unowned, run_owners
from keysweep.owners.ownersfile import load_owner_rules
from keysweep.progress import CountProgress, progress_enabled
from keysweep.providers import PROVIDERS
from keysweep.sanitize import json_text, rich_text, safe_console, terminal_safe
from keysweep.scanner.reread import Rereader
from keysweep.scanner.rules import load_rules
from keysweep.settings import load_settings
from keysweep.tables import Column, print_table
from keysweep.wording import counted

# Least useful dropped first on a narrow terminal; the id and the owner always shown.
OWNER_COLUMNS = (Column("id", whole=True), Column("rule", whole=True, drop=6), Column("secret", whole=True, drop=5),
                 Column("owner"), Column("team", drop=7), Column("purpose", drop=2),
                 Column("source", whole=True, drop=3), Column("conf", whole=True, drop=4),
                 Column("evidence", drop=1))


def _table(threshold: float, unowned_only: bool):
    def write(findings, out) -> None:
        # Owner names, teams and evidence come from commits, CODEOWNERS and provider inventories.
        if not findings:
            safe_console(out).print("No unowned findings." if unowned_only else "No findings.")
            return
        rows = []
        for f in findings:
            o = f.owner or {}
            unowned = is_unowned(f.owner, threshold)
            name = o.get("name") or ""
            owner_cell = rich_text(f"{name or '—'} (unowned)", style="yellow") if unowned else rich_text(name)
            rows.append([rich_text(f.id), rich_text(f.rule_id), rich_text(f.redacted), owner_cell,
                         rich_text(o.get("team")), rich_text(o.get("purpose")), rich_text(o.get("source")),
                         rich_text(f"{o['confidence']:.2f}" if o.get("confidence") is not None else ""),
                         rich_text((o.get("evidence") or "").split(" | ")[0])])
        print_table(out, counted(len(findings), "unowned finding" if unowned_only else "finding"), OWNER_COLUMNS, rows)
    return write


def _help() -> str:
    """The command's help, naming the admin inventories the registry holds (providers/<name>.py)."""
    inventories = ", ".join(record.title for record in PROVIDERS.values() if record.inventory is not None)
    return (f"Attribute every finding to an owner: owners file, provider admin inventories ({inventories}, "
            "AWS IAM), the token's own identity, CODEOWNERS at the commit, commit author.\n\n"
            "All candidates are stored; the best is chosen and explained. JSON adds every candidate. "
            "Finding IDS and the filters select as `keysweep findings` does (none: every finding).")


@click.command("owners", help=_help())
@selection_options
@id_option
@click.option("--unowned", "unowned_only", is_flag=True,
              help="List only findings whose best owner is below --min-confidence (exit 1 if any).")
@click.option("--min-confidence", "threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD,
              show_default=True, help="Confidence (0 to 1) an owner needs for a finding to count as owned.")
@hidden_alias("--threshold", "--min-confidence", "threshold", type=click.FloatRange(0, 1))
@click.option("--owners-file", type=click.Path(dir_okay=False),
              help="keysweep-owners.toml to use (default: ./keysweep-owners.toml or [owners] file).")
@click.option("--offline", is_flag=True, help="No network: owners file, CODEOWNERS and commit authors only.")
@format_option(REPORT_FORMATS, json="the findings' JSON (docs/output.md) with unowned and owner_candidates")
@output_file_option
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store: a SQLite file or a postgresql:// URL. Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="keysweep.toml with [providers.<name>] endpoints and admin key variables.")
@click.option("--include-suppressed", is_flag=True,
              help="Also attribute findings suppressed everywhere they were seen (inline allow, .keysweepignore).")
@progress_switch("findings resolved / total and the time left")
def owners_cmd(ids, id_options, provider, rule, owner, team, status, source, repo, since, severity, overprivileged,
               unowned_only, threshold, owners_file, offline, fmt, output, db, config_path, include_suppressed,
               show_progress=None):
    selection = build_selection(ids + id_options, provider, rule, owner, team, status, source, repo, since,
                                include_suppressed=include_suppressed, severity=severity,
                                overprivileged=overprivileged)
    settings = load_settings(config_path)
    owner_rules = load_owner_rules(owners_file, settings)
    store = open_existing_store(db)
    findings = selected(store, selection)
    progress = (CountProgress("resolving owners", "finding", len(findings), live=sys.stderr.isatty())
                if findings and progress_enabled(show_progress) else None)
    try:
        _, warnings = run_owners(findings, settings, store, owner_rules, offline=offline,
                                 rereader=Rereader(settings=settings), progress=progress)
    finally:
        if progress is not None:
            progress.close()
    refreshed = store.findings(ids=[f.id for f in findings]) if findings else []
    unowned = [f for f in refreshed if is_unowned(f.owner, threshold)]
    shown = unowned if unowned_only else refreshed
    if fmt in ("json", "jsonl"):
        rules = {r.id: r for r in load_rules()}
        records = []
        for f in shown:
            record = finding_json(f, rules)
            record["unowned"] = is_unowned(f.owner, threshold)
            record["owner_candidates"] = [{k: v for k, v in c.items() if k != "resolved_at"}
                                          for c in store.owner_candidates(f.id)]
            records.append(record)
        handle = open_private_output(output) if output else sys.stdout
        try:
            if fmt == "json":
                handle.write(json_text(records, indent=2) + "\n")
            else:
                for record in records:
                    handle.write(json_text(record) + "\n")
        finally:
            if output:
                handle.close()
    else:
        emit_findings(shown, fmt, output, _table(threshold, unowned_only))
    for warning in warnings:
        click.echo(f"keysweep: warning: {terminal_safe(warning)}", err=True)
    if refreshed:
        click.echo(f"keysweep: {len(refreshed) - len(unowned)} owned, {len(unowned)} unowned "
                   f"(--min-confidence {threshold})", err=True)
    sys.exit(1 if unowned_only and unowned else 0)
