"""`.keysweepignore`: finding ids (or secret SHA-256 fingerprints) that a team has reviewed and
accepted, one per line, `#` for comments. Read from the scanned root and the current directory."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from keysweep.safefs import read_text_or_warn
from keysweep.scanner.models import Finding

IGNORE_FILE = ".keysweepignore"


def load_ignored(roots: Iterable[Path]) -> set[str]:
    ignored: set[str] = set()
    for root in dict.fromkeys(Path(r).resolve() for r in roots):  # the repo is often the cwd: read once
        # A scanned repository writes this file: it may be a FIFO, a link to /dev/zero or huge.
        text = read_text_or_warn(Path(root) / IGNORE_FILE, "ignore file", root=root)
        if text is None:
            continue
        for line in text.splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry:
                ignored.add(entry)
    return ignored


def without_ignored(findings: list[Finding], ignored: set[str]) -> list[Finding]:
    return [f for f in findings if f.id not in ignored and f.secret_sha256 not in ignored]
