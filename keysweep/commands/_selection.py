"""The selection options `keysweep findings`, `verify`, `owners`, `revoke`, `report` and `baseline
create` share (one set of options, one library function: keysweep/remediation/selection.py), and the
warning for a filter value that matches nothing known."""

from __future__ import annotations

from typing import Callable

import click

from keysweep.errors import KeysweepError
from keysweep.remediation.selection import Selection, parse_since, select, unmatched_filters
from keysweep.sanitize import stored_text, terminal_safe
from keysweep.verify.reach import SEVERITIES

# The report's statuses (keysweep.remediation.report.STATUSES), spelled here so that `--help`
# imports nothing heavy.
STATUS_CHOICES = ("live", "dead", "unknown", "unverified", "no_value")


class OneValue(click.Option):
    """A filter given at most once. Click keeps only the last of a repeated option: `revoke
    --provider A --provider B --execute` would revoke provider B's keys alone while the person
    meant both. A second value is a usage error instead."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, multiple=True, **kwargs)

    def process_value(self, ctx: click.Context, value):
        values = super().process_value(ctx, value)
        if values and len(values) > 1:
            raise click.BadParameter(f"given {len(values)} times ({', '.join(map(str, values))}): each filter takes "
                                     f"one value; run once for each", ctx=ctx, param=self)
        return values[0] if values else None


def selection_options(func: Callable) -> Callable:
    """Finding ids as arguments, then the filters; each narrows the selection (and is given once)."""
    options = [
        click.option("--overprivileged", is_flag=True,
                     help="Only credentials whose reach holds a permission outside the `allowed` list of their "
                          "owners-file entry."),
        click.option("--severity", cls=OneValue, type=click.Choice(SEVERITIES),
                     help="Only credentials of this severity or worse (liveness, reach and exposure together: "
                          "critical, high, medium, low)."),
        click.option("--since", cls=OneValue, metavar="DATE",
                     help="Only credentials first detected at or after DATE: 2025-03-01, an ISO-8601 time, "
                          "or an age such as 36h, 7d, 2w."),
        click.option("--repo", cls=OneValue, help="Only credentials seen in this repository (its name or part of it)."),
        click.option("--source", cls=OneValue,
                     help="Only credentials seen in this kind of source (git, dir, staged, aws-ssm, …)."),
        click.option("--status", cls=OneValue, type=click.Choice(STATUS_CHOICES),
                     help="Only credentials with this status, as `keysweep report` counts them: live, dead "
                          "(verified dead or confirmed dead after revoking), unknown (the latest check was "
                          "inconclusive), unverified (never checked), no_value (a record with no value to check)."),
        click.option("--team", cls=OneValue, help="Only credentials whose chosen owner is in this team (any case)."),
        click.option("--owner", cls=OneValue, help="Only credentials whose chosen owner (name or contact) is this (any case)."),
        click.option("--rule", cls=OneValue, help="Only this rule id."),
        click.option("--provider", cls=OneValue, help="Only this provider, e.g. github (any case)."),
        click.argument("ids", nargs=-1),
    ]
    for option in options:
        func = option(func)
    return func


def build_selection(ids, provider, rule, owner, team, status, source, repo, since, *, select_all: bool = False,
                    include_suppressed: bool = False, severity: str | None = None, overprivileged: bool = False):
    """The Selection these option values name; a bad --since is a usage error (exit 2). Values are
    taken as the store holds text (`stored_text`): a repository path with a byte that is not UTF-8
    names the repository findings name, instead of failing the store's query."""
    def text(value):
        return stored_text(value) if isinstance(value, str) else value

    provider, rule, owner, team, source, repo = map(text, (provider, rule, owner, team, source, repo))
    return Selection(ids=tuple(map(text, ids)), provider=provider, rule=rule, owner=owner, team=team, source=source, repo=repo,
                     status=status, since=parse_since(since) if since else None, all=select_all,
                     include_suppressed=include_suppressed, severity=severity, overprivileged=overprivileged)


def warn_unmatched(store, selection) -> None:
    """One line on stderr per filter value that matches nothing known (`--provider nosuch`)."""
    for note in unmatched_filters(store, selection):
        click.echo(f"keysweep: warning: {terminal_safe(note)}", err=True)


def id_option(func: Callable) -> Callable:
    """`--id ID` (repeatable): `verify`'s and `owners`' earlier spelling of the IDS arguments, still
    accepted (options are a contract), not shown in --help."""
    return click.option("--id", "id_options", multiple=True, hidden=True)(func)


def selected(store, selection):
    """The findings `selection` names, after checking its ids (one the store does not hold is a usage
    error, exit 2) and warning about each filter value that matches nothing known."""
    unknown = store.unknown_finding_ids(selection.ids)
    if unknown:  # a typo must not look like "nothing to do"
        raise KeysweepError(f"no such finding: {', '.join(unknown)}")
    warn_unmatched(store, selection)
    return select(store, selection)
