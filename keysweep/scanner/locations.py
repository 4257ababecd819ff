"""How a place where a secret was seen is named for people: one function for scan tables, revocation
plans, notifications and reports, so every output names a place the same way.

Remote sources name their resource themselves (`ssm us-east-1 /prod/eval/openai (v3)`,
`github.com/acme/web actions variable OPENAI_API_KEY`): that name is used as is. Files are
`path:line`, prefixed by the repository when it is a forge repository (a sweep reads many); a
line number is shown only with a path, never alone (`:1` names nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keysweep.scanner.models import Finding, Occurrence


def describe_occurrence(occurrence: "Occurrence") -> str:
    locator = occurrence.locator or {}
    if locator.get("resource"):
        return str(locator["resource"])
    if occurrence.path:
        line = f":{occurrence.line}" if occurrence.line else ""
        return f"{_repo_prefix(occurrence.repo)}{occurrence.path}{line}"
    if locator.get("blob"):
        return f"{_repo_prefix(occurrence.repo)}blob {locator['blob']}"
    return occurrence.repo or occurrence.source or "unknown place"


def describe_finding(finding: "Finding") -> str:
    """The first place (in the store's order) and how many more there are."""
    if not finding.occurrences:
        return "unknown place"
    more = len(finding.occurrences) - 1
    return describe_occurrence(finding.occurrences[0]) + (f" (+{more} more)" if more else "")


def describe_all(finding: "Finding") -> list[str]:
    """Every place, each named once, in the store's order."""
    seen: dict[str, None] = {}
    for occurrence in finding.occurrences:
        seen.setdefault(describe_occurrence(occurrence), None)
    return list(seen)


def _repo_prefix(repo: str | None) -> str:
    # A local checkout's absolute path is the directory the user scanned: naming it again is noise.
    if not repo or repo.startswith(("/", ".")) or (len(repo) > 1 and repo[1] == ":"):
        return ""
    return f"{repo}:"
