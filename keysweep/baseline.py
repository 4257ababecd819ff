"""Baseline files: the findings a team already knows of, by finding id (one per secret; never a
path or a line number, so a file edit does not "un-know" a secret), so a CI job fails only on
secrets it has not seen.

    {"keysweep_baseline": 1,
     "findings": [{"id": "f_…", "rule_id": "…", "provider": "…", "redacted": "…"}, …]}

Only `id` counts when matching; `rule_id`, `provider` and `redacted` (the same redacted form every
output shows) are there so a reviewer of the file knows what each line is. Pure functions here;
the commands read and write the files.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from keysweep.errors import KeysweepError

BASELINE_VERSION = 1
FINDING_ID = re.compile(r"f_[0-9a-f]{16}")
# What a baseline holds per finding, besides its id (shown to reviewers, never matched on).
DESCRIPTIVE = ("rule_id", "provider", "redacted")


def baseline_document(findings: Iterable[Any]) -> dict[str, Any]:
    """The baseline of these findings (Finding objects or finding JSON dicts), one entry per id,
    sorted by id so that regenerating it gives a readable diff."""
    entries: dict[str, dict[str, Any]] = {}
    for finding in findings:
        get = finding.get if isinstance(finding, dict) else (lambda name, f=finding: getattr(f, name, None))
        entries.setdefault(get("id"), {"id": get("id"), **{name: get(name) for name in DESCRIPTIVE}})
    return {"keysweep_baseline": BASELINE_VERSION, "findings": [entries[key] for key in sorted(entries)]}


def parse_baseline(text: str, where: str) -> frozenset[str]:
    """The finding ids a baseline file lists. Anything else is a KeysweepError naming `where` and
    what is wrong, in one line."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KeysweepError(f"{where}: not a keysweep baseline: not JSON ({exc})") from None
    if not isinstance(document, dict) or "keysweep_baseline" not in document:
        raise KeysweepError(f"{where}: not a keysweep baseline: expected an object with \"keysweep_baseline\" "
                            f"(make one with `keysweep baseline create`)")
    if document["keysweep_baseline"] != BASELINE_VERSION:
        raise KeysweepError(f"{where}: baseline version {document['keysweep_baseline']!r} is not one this "
                            f"keysweep reads ({BASELINE_VERSION})")
    entries = document.get("findings")
    if not isinstance(entries, list):
        raise KeysweepError(f"{where}: \"findings\" must be a list")
    ids = set()
    for index, entry in enumerate(entries):
        value = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not FINDING_ID.fullmatch(value):
            raise KeysweepError(f"{where}: findings[{index}]: expected {{\"id\": \"f_\" + 16 hex digits, …}}")
        ids.add(value)
    return frozenset(ids)


def findings_from_output(text: str, where: str) -> list[dict[str, Any]]:
    """The findings of a `--format json` (an array) or `--format jsonl` (one object per line)
    output, for `keysweep baseline create --from`."""
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            findings = json.loads(stripped)
        else:
            findings = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except ValueError as exc:
        raise KeysweepError(f"{where}: not keysweep JSON or JSONL findings ({exc})") from None
    for index, finding in enumerate(findings):
        if not isinstance(finding, dict) or not FINDING_ID.fullmatch(str(finding.get("id", ""))):
            raise KeysweepError(f"{where}: finding {index + 1}: not a keysweep finding (no \"id\")")
    return findings


def mark_baselined(findings: Iterable[Any], known: frozenset[str] | None) -> None:
    """Set each finding's `baselined`: True when its id is in the baseline, False when not; left
    None when no baseline was given (the JSON field is then null: not computed)."""
    if known is None:
        return
    for finding in findings:
        finding.baselined = finding.id in known
