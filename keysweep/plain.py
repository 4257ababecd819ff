"""A scan's findings as plain text: what `keysweep scan staged` prints in its table format.

The pre-commit hook runs on every commit, so a commit holding a key is reported without rich (its
import alone cost more than the scan of a 20-file change): the scan table's information (`output.py`
`write_table`: the title, then per finding its id, rule, secret's redacted form, source, where, commit,
author and number of places; the summary line; one line per error) as lines of text with the
columns aligned. Nothing is folded or cut, so a path stays whole in a terminal, a log and a grep;
the commit and author columns, which a staged change never fills, are left out when every row has
them empty.

Every cell is data from the scanned repository (a path can hold ESC, `[/]`, a bidi override, CR LF):
each goes through `keysweep.sanitize.terminal_safe` and is written as the characters it is. No
markup language is involved at all, so there is nothing to escape for one.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Iterable, TextIO

from keysweep.locations import describe_occurrence
from keysweep.sanitize import terminal_safe
from keysweep.suppress import is_suppressed
from keysweep.wording import counted

if TYPE_CHECKING:
    from keysweep.models import Finding, ScanStats

FINDING_HEADERS = ("id", "rule", "secret", "source", "where", "commit", "author", "n")
# Left out of the plain table when every row has them empty (a staged change has no commit yet).
_OPTIONAL = frozenset({"commit", "author"})
GAP = "  "


def finding_cells(f: "Finding") -> list[str]:
    """One finding as the scan table's cells, in FINDING_HEADERS' order (not yet made terminal-safe)."""
    first = f.occurrences[0] if f.occurrences else None
    where = describe_occurrence(first) if first else ""
    if is_suppressed(f):  # listed only with --include-suppressed
        where += " (suppressed)"
    if getattr(f, "baselined", None):  # known from the baseline: listed, does not fail the run
        where += " (baselined)"
    rule = f"{f.rule_id} (managed by keysweep)" if getattr(f, "managed", None) else f.rule_id
    return [f.id, rule, f.redacted, first.source if first else "", where,
            (first.commit or "")[:10] if first else "",
            (first.author_email or "") if first else "",
            str(len(f.occurrences))]


def empty_table_line(errors: list[str], nothing_read: bool) -> str:
    """What an empty table says: never "No findings." about sources that could not be read."""
    if nothing_read:
        return "Nothing was scanned: every source failed (errors below)."
    if errors:
        return f"No findings in what could be read ({counted(len(errors), 'error')} below)."
    return "No findings."


def summary_line(stats: "ScanStats", unit: str = "blob") -> str:
    """What the scan read and left out; `unit` names what it read one of (git: blob, dir: file)."""
    parts = [f"{counted(stats.blobs_scanned, unit)} ({stats.bytes_scanned / 1e6:.1f} MB) scanned"]
    if stats.archive_members:
        parts.append(f"{counted(stats.archive_members, 'archive member')} scanned")
    if stats.messages_scanned:
        count = stats.messages_scanned
        parts.append(f"{count} {'commit or tag message' if count == 1 else 'commit and tag messages'}")
    if stats.blobs_already_scanned:
        parts.append(f"{stats.blobs_already_scanned} already scanned")
    if stats.blobs_skipped_binary:
        parts.append(f"{stats.blobs_skipped_binary} binary skipped")
    if stats.blobs_skipped_size:
        unread = f" ({stats.bytes_skipped_size / 1e6:.1f} MB not read)" if stats.bytes_skipped_size else ""
        parts.append(f"{stats.blobs_skipped_size} over size limit skipped{unread}")
    if stats.suppressed_inline:
        parts.append(f"{stats.suppressed_inline} allowed inline")
    if stats.blobs_unreachable:
        parts.append(f"{counted(stats.blobs_unreachable, 'unreachable blob')} with matches ignored")
    return ", ".join(parts)


def cell_width(text: str) -> int:
    """The columns `text` (already terminal-safe) takes on a terminal: East Asian wide and
    full-width characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
               for char in text)


def finding_lines(findings: list["Finding"]) -> list[str]:
    """The title, the header and one line per finding, each cell terminal-safe, columns aligned."""
    rows = [[terminal_safe(cell) for cell in finding_cells(f)] for f in findings]
    kept = [i for i, header in enumerate(FINDING_HEADERS) if header not in _OPTIONAL or any(row[i] for row in rows)]
    table = [[FINDING_HEADERS[i] for i in kept], *([row[i] for i in kept] for row in rows)]
    widths = [max(cell_width(line[k]) for line in table) for k in range(len(kept))]
    lines = [counted(len(findings), "finding")]
    for line in table:
        padded = [cell + " " * (widths[k] - cell_width(cell)) for k, cell in enumerate(line[:-1])]
        lines.append(GAP.join([*padded, line[-1]]))  # the last column (n) is not padded
    return lines


def write_plain(findings: list["Finding"], out: TextIO, stats: "ScanStats | None" = None,
                errors: Iterable[str] = (), *, nothing_read: bool = False, unit: str = "blob") -> None:
    """The scan table's information as plain lines on `out` (see the module doc). `nothing_read`:
    every source failed, so it must not say there is nothing to find."""
    errors = list(errors)
    lines = finding_lines(findings) if findings else [empty_table_line(errors, nothing_read)]
    if stats is not None:
        lines.append(summary_line(stats, unit))
    lines.extend(f"error: {terminal_safe(error)}" for error in errors)
    out.write("\n".join(lines) + "\n")
