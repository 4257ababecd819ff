"""How a place where a secret was seen is named for people: one function for scan tables, revocation
plans, notifications and reports, so every output names a place the same way.

Remote sources name their resource themselves (`ssm us-east-1 /prod/eval/api-key (v3)`,
`github.com/acme/web actions variable DEPLOY_TOKEN`): that name is used as is. Files are
`repo:path:line` (the repository as the scan names it: a forge name, or a local checkout's path); a
line number is shown only with a path, never alone (`:1` names nothing). A commit or tag message is
`repo:commit <sha> message line N` (or `repo:tag <ref> message line N`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keysweep.models import Finding, Occurrence


def describe_occurrence(occurrence: "Occurrence") -> str:
    locator = occurrence.locator or {}
    if locator.get("resource"):
        return str(locator["resource"])
    if occurrence.source == "git-message":
        return f"{_repo_prefix(occurrence.repo)}{_message_place(occurrence)}"
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


def _message_place(occurrence: "Occurrence") -> str:
    """`commit 1a2b3c4d5e6f message line 3`, `tag refs/tags/v1.0 message line 2`."""
    locator = occurrence.locator or {}
    if locator.get("tag") is not None:
        what = f"tag {locator['tag'] or str(locator.get('object', ''))[:12]}"
    else:
        what = f"commit {str(occurrence.commit or locator.get('object') or '')[:12]}"
    line = f" line {occurrence.line}" if occurrence.line else ""
    return f"{what} message{line}"


def _repo_prefix(repo: str | None) -> str:
    # Always the repository: a notification or a plan read elsewhere must say which one.
    return f"{repo}:" if repo else ""


def at_target(occurrence: "Occurrence", target: dict) -> bool:
    """Whether the occurrence is in the Secrets Manager secret or SSM parameter `target` names
    (`{"service": "secretsmanager" | "ssm", "id": name or ARN, "region": …}`, as `revoke --rotate` writes)."""
    locator = occurrence.locator or {}
    if target.get("region") and locator.get("region") and target["region"] != locator["region"]:
        return False
    wanted = str(target.get("id") or "")
    if target.get("service") == "secretsmanager" and occurrence.source == "aws-secretsmanager":
        names = {locator.get("arn"), (occurrence.metadata or {}).get("name"), _secret_name(locator.get("arn"))}
        return wanted in names or _secret_name(wanted) in names - {None}
    if target.get("service") == "ssm" and occurrence.source == "aws-ssm":
        return wanted in (locator.get("name"), locator.get("arn"))
    return False


def _secret_name(arn: str | None) -> str | None:
    """`prod/ci` of `arn:aws:secretsmanager:…:secret:prod/ci-AbCdEf` (AWS appends 6 random characters)."""
    if not arn or ":secret:" not in arn:
        return None
    name = arn.split(":secret:", 1)[1]
    return name[:-7] if len(name) > 7 and name[-7] == "-" else name
