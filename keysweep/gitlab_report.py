"""`--format gitlab`: GitLab's secret detection report (the `gl-secret-detection-report.json` a CI job
declares under `artifacts:reports:secret_detection`), written to GitLab's published security report
schema, version REPORT_VERSION (gitlab-org/security-products/security-report-schemas,
`secret-detection-report-format.json`).

What the schema requires, and how keysweep fills it:
- the report: `version` (x.y.z), `scan`, `vulnerabilities`;
- `scan`: `analyzer` and `scanner` (each `id`, `name`, `version`, `vendor.name`), `start_time` and
  `end_time` (`yyyy-mm-ddThh:mm:ss`, UTC), `status` (`success` or `failure`), `type`
  (`secret_detection`); sources that could not be read are `messages` (`warn`, or `fatal` when every
  source failed, and then `status` is `failure`);
- each vulnerability (one per place a secret was seen): `id` (a UUID, the same for the same place of
  the same finding on every run), `identifiers` (the rule first, the primary identifier GitLab tracks
  by; then CWE-798) and `location` with `commit.sha` (a place outside git has no commit: GitLab's
  own analyzer writes `0000000` there, and so does keysweep).

Never a value: no `raw_source_code_extract`, no commit message (a key can be in one); the redacted
form and the SHA-256 are in `details`.

What GitLab shows people as text (the place in `details`, a commit's author, `scan.messages`, a
flag's description) is `sanitize.terminal_safe`: a control, bidi or zero-width character in a
scanned name is shown escaped, never reorders or hides what is around it. `location.file` and the
commit's sha stay exact (GitLab links with them).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from keysweep import __version__
from keysweep.locations import describe_occurrence
from keysweep.models import Finding, Occurrence
from keysweep.providers.base import Replacement
from keysweep.sanitize import terminal_safe, web_url
from keysweep.scanner.rules import Rule, finding_replacement
from keysweep.verify.reach import finding_severity

REPORT_VERSION = "15.0.7"
INFORMATION_URI = "https://github.com/keysweep/keysweep"
NO_COMMIT = "0000000"
# A stable namespace for the vulnerabilities' UUIDs (uuid5 of the finding and the place).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, INFORMATION_URI + "#gitlab-secret-detection")
_SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}
_TOOL = {"id": "keysweep", "name": "keysweep", "version": __version__, "vendor": {"name": "keysweep"},
         "url": INFORMATION_URI}
SOLUTION = "Revoke or rotate the credential, then remove it from the code and its history."
CWE_798 = {"type": "cwe", "name": "CWE-798", "value": "798",
           "url": "https://cwe.mitre.org/data/definitions/798.html"}


def gitlab_time(moment: datetime | None) -> str:
    """`yyyy-mm-ddThh:mm:ss` in UTC, the schema's one time format (no zone, no fraction)."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def gitlab_report(findings: list[Finding], rules: dict[str, Rule], errors: Iterable[str] = (), *,
                  nothing_read: bool = False, started_at: datetime | None = None,
                  finished_at: datetime | None = None) -> dict[str, Any]:
    errors = [error for error in errors if error]
    finished = finished_at or datetime.now(timezone.utc)
    messages = [{"level": "warn", "value": terminal_safe(error)} for error in errors]
    if nothing_read:
        messages.append({"level": "fatal", "value": "nothing was scanned: every source failed"})
    vulnerabilities: list[dict[str, Any]] = []
    seen: set[str] = set()
    for finding in findings:
        for occurrence in finding.occurrences:
            vulnerability = _vulnerability(finding, occurrence, rules)
            if vulnerability["id"] not in seen:  # the same place twice is one vulnerability
                seen.add(vulnerability["id"])
                vulnerabilities.append(vulnerability)
    scan: dict[str, Any] = {
        "analyzer": dict(_TOOL),
        "scanner": dict(_TOOL),
        "type": "secret_detection",
        "start_time": gitlab_time(started_at or finished),
        "end_time": gitlab_time(finished),
        "status": "failure" if nothing_read else "success",
    }
    if messages:
        scan["messages"] = messages
    return {"version": REPORT_VERSION, "scan": scan, "vulnerabilities": vulnerabilities}


def vulnerability_id(finding: Finding, o: Occurrence) -> str:
    place = "\0".join(str(part or "") for part in (finding.id, o.source, o.repo, o.path, o.line, o.commit,
                                                    describe_occurrence(o)))
    return str(uuid.uuid5(_NAMESPACE, place))


def _vulnerability(finding: Finding, o: Occurrence, rules: dict[str, Rule]) -> dict[str, Any]:
    rule = rules.get(finding.rule_id)
    replacement = finding_replacement(finding, rules)
    name = rule.name if rule else finding.rule_id
    description = " ".join((rule.description if rule else finding.rule_id).split())
    place = describe_occurrence(o)
    location: dict[str, Any] = {"commit": _commit(o)}
    if o.path:
        location["file"] = o.path
        if o.line:
            location.update(start_line=o.line, end_line=o.line)
    primary = {"type": "keysweep_rule_id", "name": f"keysweep rule {finding.rule_id}", "value": finding.rule_id}
    vulnerability: dict[str, Any] = {
        "id": vulnerability_id(finding, o),
        "name": name[:255],
        "description": description[:1_000_000],  # GitLab: the place is the location's, not the description's
        "severity": _SEVERITY.get(finding_severity(finding), "Unknown"),
        "solution": _solution(replacement)[:7000],
        "identifiers": [primary, CWE_798],
        "location": location,
        "details": _details(finding, o, place),
    }
    links = [{"url": url} for url in _links(rule, replacement)]
    if links:
        vulnerability["links"] = links
    if o.suppressed:
        reason = o.suppression or {}
        where = reason.get("marker") if reason.get("kind") == "inline" else f"{reason.get('file')}:{reason.get('line')}"
        vulnerability["flags"] = [{"type": "flagged-as-likely-false-positive", "origin": "keysweep",
                                   "description": terminal_safe(f"suppressed ({reason.get('kind') or 'ignored'}: {where})")}]
    return vulnerability


def _commit(o: Occurrence) -> dict[str, Any]:
    commit: dict[str, Any] = {"sha": o.commit or NO_COMMIT}
    if o.commit:
        author = terminal_safe(" ".join(part for part in (o.author_name, f"<{o.author_email}>" if o.author_email else "")
                                        if part))
        if author:
            commit["author"] = author
        if o.committed_at:
            commit["date"] = o.committed_at
    return commit


def _solution(replacement: Replacement | None) -> str:
    if replacement is None:
        return SOLUTION
    return f"{SOLUTION} Instead ({replacement.kind}): {' '.join(replacement.summary.split())}"


def _links(rule: Rule | None, replacement: Replacement | None) -> list[str]:
    urls = list(rule.references) if rule else []
    if replacement is not None and replacement.docs_url:
        urls.append(replacement.docs_url)
    return [url for url in dict.fromkeys(urls) if web_url(url)]


def _text(name: str, value: str) -> dict[str, str]:
    return {"name": name, "type": "text", "value": value}


def _details(finding: Finding, o: Occurrence, place: str) -> dict[str, Any]:
    details: dict[str, Any] = {
        "finding_id": _text("keysweep finding", finding.id),
        "redacted": _text("Secret (redacted)", finding.redacted),
        "secret_sha256": _text("SHA-256 of the secret", finding.secret_sha256),
        "provider": _text("Provider", finding.provider),
        "place": _text("Seen at", terminal_safe(place)),
        "source": _text("Source", o.source),
    }
    if o.commit:
        details["commit"] = {"name": "Commit", "type": "commit", "value": o.commit}
    if finding.key_id:
        details["key_id"] = _text("Key id", finding.key_id)
    status = (finding.verification or {}).get("status")
    if status:
        details["verification"] = _text("Verification", status)
    baselined = getattr(finding, "baselined", None)
    if baselined is not None:
        details["baselined"] = _text("In the baseline", "yes" if baselined else "no")
    return details
