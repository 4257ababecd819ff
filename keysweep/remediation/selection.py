"""Which credentials a command acts on: the one selection `keysweep findings`, `keysweep revoke`,
`keysweep report` (and `sweep --revoke-policy`, through the revocation run) share.

A selection is finding ids and filters; a finding is selected when it is one of the ids (if any
are given) and passes every filter given:

| filter | a finding passes when |
|---|---|
| `provider` | its provider, compared without regard to case (`GitHub` = `github`) |
| `rule` | its rule id |
| `owner` | its chosen owner's name or contact, without regard to case |
| `team` | its chosen owner's team, without regard to case |
| `status` | its status as the report counts it (`statuses.credential_status`): live, dead, unknown, unverified, no_value |
| `source` | one of its places is in this kind of source (git, dir, staged, aws-ssm, …) |
| `repo` | one of its places is in a repository whose name is or contains this |
| `since` | it was first detected at or after this moment |
| `severity` | its severity (keysweep/verify/reach.py: liveness x reach x exposure) is this one or worse |
| `overprivileged` | its reach holds a permission outside its owners-file entry's `allowed` list |

Findings suppressed everywhere they were seen are left out unless `include_suppressed`, or unless
named by id. Nothing here prints: `unmatched_filters` says which filter values match nothing the
store (or the provider registry) knows, for the face to warn about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from keysweep.clock import parse_utc, utc_iso
from keysweep.errors import KeysweepError
from keysweep.models import Finding
from keysweep.providers import PROVIDERS
from keysweep.remediation.statuses import STATUSES, finding_status, inventory_rule_ids
from keysweep.verify.reach import finding_reach, finding_severity, severity_rank

_RELATIVE = re.compile(r"(\d+)\s*([dhw])")
_RELATIVE_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


class SelectionError(KeysweepError):
    """A selection that cannot be understood (a date that is not one): a usage error, exit 2."""


@dataclass(frozen=True)
class Selection:
    ids: tuple[str, ...] = ()
    provider: str | None = None
    rule: str | None = None
    owner: str | None = None
    team: str | None = None
    source: str | None = None
    repo: str | None = None
    status: str | None = None
    since: str | None = None  # ISO-8601 UTC, as `parse_since` returns it
    severity: str | None = None  # this severity or worse (critical, high, medium, low)
    overprivileged: bool = False
    all: bool = False
    # Findings suppressed everywhere (inline allow, .keysweepignore) are left out of a selection
    # unless asked for, or named by id.
    include_suppressed: bool = False

    def empty(self) -> bool:
        return not (self.ids or self.provider or self.rule or self.owner or self.team or self.source
                    or self.repo or self.status or self.since or self.severity or self.overprivileged or self.all)


def parse_since(text: str, now: datetime | None = None) -> str:
    """`--since`: a date (2025-03-01, midnight UTC), an ISO-8601 time (2025-03-01T10:00:00Z), or an
    age counted back from now (36h, 7d, 2w); the moment in keysweep's one spelling. Raises
    SelectionError on anything else."""
    text = (text or "").strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        now = now or datetime.now(timezone.utc)
        return utc_iso(now - timedelta(seconds=int(relative.group(1)) * _RELATIVE_UNITS[relative.group(2)]))
    try:
        return utc_iso(parse_utc(text))
    except ValueError:
        raise SelectionError(f"--since {text!r}: expected a date (2025-03-01), an ISO-8601 time "
                             f"(2025-03-01T10:00:00Z) or an age (36h, 7d, 2w)") from None


def select(store, selection: Selection) -> list[Finding]:
    """The findings `selection` names, in the store's order (provider, rule, id)."""
    findings = store.findings(provider=selection.provider, rule=selection.rule, repo=selection.repo,
                              ids=list(selection.ids) if selection.ids else None,
                              include_suppressed=selection.include_suppressed)
    no_value = inventory_rule_ids() if selection.status else frozenset()
    since = parse_utc(selection.since) if selection.since else None
    return [finding for finding in findings if _passes(finding, selection, no_value, since)]


def _passes(finding: Finding, selection: Selection, no_value: frozenset[str], since: datetime | None) -> bool:
    owner = finding.owner or {}
    if selection.owner and selection.owner.lower() not in {str(owner.get(k) or "").lower()
                                                            for k in ("name", "contact")}:
        return False
    if selection.team and (owner.get("team") or "").lower() != selection.team.lower():
        return False
    if selection.source and not any((o.source or "").lower() == selection.source.lower()
                                    for o in finding.occurrences):
        return False
    if selection.status and finding_status(finding, no_value) != selection.status:
        return False
    if since is not None and not (finding.first_seen_at and parse_utc(finding.first_seen_at) >= since):
        return False
    if selection.severity and severity_rank(finding_severity(finding)) > severity_rank(selection.severity):
        return False
    if selection.overprivileged and (finding_reach(finding) or {}).get("overprivileged") is not True:
        return False
    return True


def unmatched_filters(store, selection: Selection) -> list[str]:
    """One sentence per filter value that matches nothing known: a provider neither registered nor
    in the store, a rule, owner, team, source kind or repository the store does not hold. A typo
    must not look like "nothing to do"."""
    known = store.selection_values()
    notes = []
    if selection.provider:
        held = {p.lower() for p in known["provider"]}
        registered = {p.lower() for p in PROVIDERS} - held
        if selection.provider.lower() not in held | registered:
            notes.append(_note("--provider", selection.provider, "no such provider", held, "the store holds")
                         [:-1] + f"; {len(registered)} more registered: `keysweep rules list`)")
    checks = (("--rule", selection.rule, known["rule"], lambda wanted, value: wanted == value),
              ("--owner", selection.owner, known["owner"], _same_text),
              ("--team", selection.team, known["team"], _same_text),
              ("--source", selection.source, known["source"], _same_text),
              ("--repo", selection.repo, known["repo"], lambda wanted, value: wanted in value))
    for option, wanted, values, matches in checks:
        if wanted and not any(matches(wanted, value) for value in values):
            notes.append(_note(option, wanted, "matches nothing in the store", values))
    return notes


def _same_text(wanted: str, value: str) -> bool:
    return wanted.lower() == value.lower()


def _note(option: str, wanted: str, problem: str, values, known: str = "known", shown: int = 8) -> str:
    ordered = sorted(values)
    listing = ", ".join(ordered[:shown]) + (f", … (+{len(ordered) - shown})" if len(ordered) > shown else "")
    return f"{option} {wanted!r}: {problem} ({known}: {listing or 'none'})"


__all__ = ["STATUSES", "Selection", "SelectionError", "parse_since", "select", "unmatched_filters"]
