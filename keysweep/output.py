"""Rendering findings: table (people), json/jsonl (tools; the output contract), sarif, csv, gitlab
(GitLab's secret detection report, keysweep/gitlab_report.py).

The JSON finding is a contract (docs/output.md): fields are added, never renamed or removed, and a
field a command has not computed is null, not absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, TextIO
from urllib.parse import quote

from keysweep import __version__
from keysweep.models import Finding, Occurrence, ScanStats
from keysweep.plain import empty_table_line, finding_cells, summary_line
from keysweep.sanitize import csv_safe, json_text, rich_text, safe_console, sarif_markdown, sarif_text, terminal_safe, web_url
from keysweep.scanner.rules import Rule, finding_replacement
from keysweep.tables import Column, draw_width, fitted_table
from keysweep.verify.reach import finding_reach
from keysweep.wording import counted

FORMATS = ("table", "json", "jsonl", "sarif", "csv", "gitlab")
INFORMATION_URI = "https://github.com/keysweep/keysweep"


def occurrence_json(o: Occurrence) -> dict[str, Any]:
    return {
        "source": o.source, "repo": o.repo, "path": o.path, "line": o.line, "commit": o.commit,
        "author_name": o.author_name, "author_email": o.author_email, "committed_at": o.committed_at,
        "locator": o.locator or None,
        "metadata": getattr(o, "metadata", None),
        "suppressed": o.suppressed,
        "suppression": o.suppression,
    }


def fallback_remediation(finding: Finding) -> dict[str, Any]:
    leaked = min((o.committed_at for o in finding.occurrences if o.committed_at), default=None)
    return {"state": None, "leaked_at": leaked, "detected_at": finding.first_seen_at,
            "confirmed_dead_at": None, "exposure_seconds": None}


def finding_json(finding: Finding, rules: dict[str, Rule]) -> dict[str, Any]:
    rule = rules.get(finding.rule_id)
    return {
        "id": finding.id,
        "rule_id": finding.rule_id,
        "rule_name": rule.name if rule else None,
        "provider": finding.provider,
        "secret_sha256": finding.secret_sha256,
        "redacted": finding.redacted,
        "long_lived": finding.long_lived,
        "confidence": rule.confidence if rule else None,
        "key_id": finding.key_id,
        "first_seen_at": finding.first_seen_at,
        "last_seen_at": finding.last_seen_at,
        "status": finding.status,
        "occurrences": [occurrence_json(o) for o in finding.occurrences],
        "verification": finding.verification,
        "owner": finding.owner,
        "remediation": finding.remediation or fallback_remediation(finding),
        "account_id": account_id(finding),
        "metadata": finding.metadata or None,
        "managed": _managed_json(finding),
        "replacement": replacement_json(finding, rules),
        "baselined": getattr(finding, "baselined", None),
        "reach": finding_reach(finding),
    }


def replacement_json(finding: Finding, rules: dict[str, Rule]) -> dict[str, str] | None:
    """The short-lived or narrower credential that should replace this one (its rule's, else its
    provider's); null for a short-lived credential."""
    replacement = finding_replacement(finding, rules)
    return replacement.as_json() if replacement else None


def _managed_json(finding: Finding) -> dict[str, Any] | None:
    managed = getattr(finding, "managed", None)
    if not managed:
        return None
    return {"rotated_from": managed.get("rotated_from"), "written_to": managed.get("written_to"),
            "key_id": managed.get("key_id"), "created_at": managed.get("created_at"),
            "only_where_written": bool(managed.get("only_where_written"))}


def account_id(finding: Finding) -> str | None:
    """The cloud account that owns the credential, when it is known offline: from the finding's
    metadata (scan time), or decoded again from an AWS access key id (findings read from a store)."""
    if finding.metadata and finding.metadata.get("account_id"):
        return finding.metadata["account_id"]
    if finding.provider == "aws" and finding.key_id:
        # Only an AWS key's report needs the AWS module (a sweep's report of other keys loads none).
        from keysweep.providers.aws import account_id as decode_account  # noqa: PLC0415

        return decode_account(finding.key_id)
    return None


def render(findings: list[Finding], fmt: str, rules: dict[str, Rule], out: TextIO,
           stats: ScanStats | None = None, errors: Iterable[str] = (), *, nothing_read: bool = False,
           unit: str = "blob", started_at: datetime | None = None) -> None:
    """`nothing_read`: every source failed, so the table must not claim there is nothing to find.
    `unit`: what the scan read one of, for the table's summary line (blob, file, object).
    `started_at`: when the command began (the GitLab report's scan start; else its end)."""
    if fmt == "json":
        # One write of the whole text (json.dump writes each token: 15,000 writes for 75 findings).
        out.write(json_text([finding_json(f, rules) for f in findings], indent=2) + "\n")
    elif fmt == "jsonl":
        for finding in findings:
            out.write(json_text(finding_json(finding, rules)) + "\n")
    elif fmt == "sarif":
        out.write(json_text(sarif(findings, rules, list(errors)), indent=2) + "\n")
    elif fmt == "csv":
        write_csv(findings, out)
    elif fmt == "gitlab":
        from keysweep.gitlab_report import gitlab_report  # noqa: PLC0415  (only this format needs it)

        out.write(json_text(gitlab_report(findings, rules, errors, nothing_read=nothing_read, started_at=started_at),
                            indent=2) + "\n")
    else:
        write_table(findings, rules, out, stats, list(errors), nothing_read=nothing_read, unit=unit)


# Columns are added at the end, never renamed or reordered (docs/output.md): tools read them by position.
CSV_COLUMNS = ("id", "rule_id", "provider", "redacted", "secret_sha256", "long_lived", "key_id", "source",
               "repo", "path", "line", "commit", "author_email", "committed_at", "place", "locator")


def write_csv(findings: list[Finding], out: TextIO) -> None:
    """One row per occurrence. Cells are exact except that a would-be spreadsheet formula is
    neutralised (see keysweep.sanitize.csv_safe): paths and authors come from the scanned source.
    `place` is where the occurrence sits as the table's *where* column names it (a secret store's
    path, name, version, key: `vault secret/ml/chat api_key (v2)`), escaped to one line of visible
    text; `locator` is the JSON output's `occurrences[].locator`, exact, as ASCII JSON (json_text:
    every character a spreadsheet, terminal or CI log could be fooled by is a JSON escape)."""
    import csv  # noqa: PLC0415  (only this format writes CSV)

    from keysweep.locations import describe_occurrence  # noqa: PLC0415

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in findings:
        for o in f.occurrences or [None]:
            place = terminal_safe(describe_occurrence(o)) if o else None
            locator = json_text(o.locator, separators=(",", ":")) if o and o.locator else None
            o = o or Occurrence(source="", path=None, line=None)
            cells = [f.id, f.rule_id, f.provider, f.redacted, f.secret_sha256, str(f.long_lived).lower(),
                     f.key_id, o.source, o.repo, o.path, o.line, o.commit, o.author_email, o.committed_at,
                     place, locator]
            writer.writerow([csv_safe(cell) for cell in cells])


# The scan table's columns, least useful dropped first on a narrow terminal; `where` is the origin
# (the first commit's path, or the store and name), `source` the kind of place on its own.
FINDING_COLUMNS = (Column("id", whole=True), Column("rule", whole=True, drop=6), Column("secret", whole=True, drop=5),
                   Column("source", whole=True, drop=4), Column("where", place=True), Column("commit", whole=True, drop=2),
                   Column("author", drop=1), Column("n", whole=True, drop=3))


def finding_row(f: Finding) -> list:
    """One finding as the scan table's cells (sanitised rich Texts)."""
    return [rich_text(cell) for cell in finding_cells(f)]


def write_table(findings: list[Finding], rules: dict[str, Rule], out: TextIO,
                stats: ScanStats | None, errors: list[str], *, nothing_read: bool = False, unit: str = "blob",
                width: int | None = None) -> None:
    """`unit`: what the scan read one of (blob, file, object), for the summary line. `width`: the
    columns to fit (default: the terminal's; piped, as wide as the table needs)."""
    # Every cell is a rich Text of a sanitised string: a path like `[/]` or `\x1b[2J` is shown, not obeyed.
    rows = [finding_row(f) for f in findings]
    console = safe_console(out, width=width or draw_width(out, FINDING_COLUMNS, rows))
    if findings:
        console.print(fitted_table(counted(len(findings), "finding"), FINDING_COLUMNS, rows, console.width))
    else:
        console.print(empty_table_line(errors, nothing_read))
    if stats is not None:
        console.print(summary_line(stats, unit), style="dim")
    for error in errors:
        console.print(rich_text(f"error: {terminal_safe(error)}", style="red"))


def _level(rule: Rule | None) -> str:
    return "warning" if rule is not None and rule.confidence == "low" else "error"


def sarif(findings: list[Finding], rules: dict[str, Rule], errors: Iterable[str] = ()) -> dict[str, Any]:
    """SARIF 2.1.0, one result per place, shaped for GitHub code scanning ingestion."""
    errors = list(errors)
    used = sorted({f.rule_id for f in findings})
    rule_index = {rule_id: i for i, rule_id in enumerate(used)}
    descriptors = []
    for rule_id in used:
        rule = rules.get(rule_id)
        name = rule.name if rule else rule_id
        description = " ".join((rule.description if rule else rule_id).split())
        # Message strings (SARIF §3.11): a rule file's words shown as written, never a placeholder,
        # an embedded link or HTML.
        descriptor: dict[str, Any] = {
            "id": rule_id,
            "name": "".join(part.capitalize() for part in rule_id.replace("-", ".").split(".")),
            "shortDescription": {"text": sarif_text(name)},
            "fullDescription": {"text": sarif_text(description)},
            "help": {
                "text": sarif_text(f"{description} Revoke or rotate the credential, then remove it from history."),
                "markdown": f"**{sarif_markdown(name)}**\n\n{sarif_markdown(description)}\n\nRevoke or rotate the "
                            f"credential, then remove it from history.",
            },
            "defaultConfiguration": {"level": _level(rule)},
            "properties": {
                "tags": ["security", "secret", "external/cwe/cwe-798"],
                "precision": {"high": "very-high", "medium": "high", "low": "medium"}[rule.confidence if rule else "high"],
                "security-severity": "9.0" if (rule is None or rule.long_lived) else "7.0",
                "provider": rule.provider if rule else "",
            },
        }
        help_uri = next((url for url in (rule.references if rule else ()) if web_url(url)), None)
        if help_uri:
            descriptor["helpUri"] = help_uri
        descriptors.append(descriptor)
    results = []
    for f in findings:
        rule = rules.get(f.rule_id)
        for o in f.occurrences:
            if not o.path:
                continue
            results.append({
                "ruleId": f.rule_id,
                "ruleIndex": rule_index[f.rule_id],
                "level": _level(rule),
                "message": {"text": sarif_text(f"{rule.name if rule else f.rule_id} {f.redacted} (finding {f.id}, "
                                               f"sha256 {f.secret_sha256[:12]}…)"
                                               + (f" introduced in commit {o.commit[:12]}" if o.commit else "") + ".")},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": _uri(o.path)},
                    "region": {"startLine": max(1, o.line or 1)},
                }}],
                "partialFingerprints": {"keysweepFinding/v1": f.id, "secretSha256/v1": f.secret_sha256},
                "properties": {"commit": o.commit, "author_email": o.author_email, "committed_at": o.committed_at,
                               "source": o.source},
                **sarif_suppressions(o),
                # With a baseline: SARIF's own word for a known result ("unchanged") and a new one.
                **({} if getattr(f, "baselined", None) is None
                   else {"baselineState": "unchanged" if f.baselined else "new"}),
            })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "keysweep", "version": __version__, "semanticVersion": __version__,
                                "informationUri": INFORMATION_URI, "rules": descriptors}},
            "results": results,
            # A source that failed (a repository, a permission, a region) is reported, not hidden.
            "invocations": [{
                "executionSuccessful": not errors,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": sarif_text(error)}}
                                               for error in errors],
            }],
        }],
    }


def sarif_suppressions(o: Occurrence) -> dict[str, Any]:
    """SARIF's own field for an accepted result (only present with --include-suppressed): an
    inline allow marker is `inSource`, an ignore-file entry `external`."""
    if not o.suppressed:
        return {}
    reason = o.suppression or {}
    inline = reason.get("kind") == "inline"
    where = reason.get("marker") if inline else f"{reason.get('file')}:{reason.get('line')}"
    return {"suppressions": [{"kind": "inSource" if inline else "external", "status": "accepted",
                              "justification": f"{reason.get('kind') or 'suppressed'}: {where}"}]}


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/").lstrip("/"), safe="/")
