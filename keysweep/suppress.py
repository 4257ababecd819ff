"""Suppressions: a match a team has reviewed and accepted is kept, marked, and hidden by default.

Two kinds, applied by the scan stage of every source (scan git/dir/staged, sweep, scan github/gitlab):
- inline: the secret's line carries `keysweep:allow` or `gitleaks:allow` (the engine marks the match);
- ignore file: `.keysweepignore` lists finding ids (or secret SHA-256 fingerprints), one per line, `#`
  for comments; read from the scanned root (a bare clone: the file at HEAD) and the current directory.

Each suppressed occurrence carries `suppressed = True` and a `suppression` reason (a JSON object, see
docs/output.md). A finding is hidden only when every one of its occurrences is suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from keysweep.models import Finding, Occurrence
from keysweep.safefs import read_text_or_warn

IGNORE_FILE = ".keysweepignore"
INLINE = "inline"
IGNORE = "ignore_file"


@dataclass(frozen=True)
class IgnoreList:
    """Entries of the ignore files that apply to one scope: entry -> where it was written."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __contains__(self, entry: object) -> bool:
        return entry in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def merged(self, other: IgnoreList) -> IgnoreList:
        # The first file to list an entry is the one named as its reason.
        return IgnoreList({**other.entries, **self.entries})

    def reason_for(self, finding_id: str, secret_sha256: str) -> dict[str, Any] | None:
        return self.entries.get(finding_id) or self.entries.get(secret_sha256)


def parse_ignore(text: str, origin: str) -> IgnoreList:
    """Entries of one ignore file; `origin` names it in each entry's reason."""
    entries: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if entry and entry not in entries:
            entries[entry] = ignore_reason(origin, number, entry)
    return IgnoreList(entries)


def ignore_reason(origin: str, line: int, entry: str) -> dict[str, Any]:
    return {"kind": IGNORE, "file": origin, "line": line, "entry": entry, "marker": None}


def inline_reason(marker: str) -> dict[str, Any]:
    return {"kind": INLINE, "file": None, "line": None, "entry": None, "marker": marker}


def load_ignored(roots: Iterable[Path]) -> IgnoreList:
    ignored = IgnoreList()
    for root in dict.fromkeys(Path(r).resolve() for r in roots):  # the repo is often the cwd: read once
        path = Path(root) / IGNORE_FILE
        # A scanned repository writes this file: it may be a FIFO, a link to /dev/zero or huge.
        text = read_text_or_warn(path, "ignore file", root=root)
        if text is None:
            continue
        ignored = ignored.merged(parse_ignore(text, str(path)))
    return ignored


def mark_inline(occurrence: Occurrence, marker: str | None) -> None:
    if marker:
        occurrence.suppressed = True
        occurrence.suppression = inline_reason(marker)


def apply_ignore(findings: Iterable[Finding], ignored: IgnoreList) -> None:
    """Mark every occurrence of an ignored finding; an inline reason, fixed by the content, stays."""
    if not ignored:
        return
    for finding in findings:
        reason = ignored.reason_for(finding.id, finding.secret_sha256)
        if reason is None:
            continue
        for occurrence in finding.occurrences:
            if not occurrence.suppressed:
                occurrence.suppressed = True
                occurrence.suppression = dict(reason)


def is_suppressed(finding: Finding) -> bool:
    """Hidden by default: seen, and suppressed everywhere it was seen."""
    return bool(finding.occurrences) and all(o.suppressed for o in finding.occurrences)


def visible(findings: list[Finding], include_suppressed: bool = False) -> list[Finding]:
    return list(findings) if include_suppressed else [f for f in findings if not is_suppressed(f)]
