"""Lines added in the git index: what `git commit` is about to record. For pre-commit hooks."""

from __future__ import annotations

import codecs
import os
import re
import subprocess
from pathlib import Path
from typing import Iterator

from keysweep.errors import SourceError
from keysweep.models import Blob, ScanStats
from keysweep.scanner.sources import DEFAULT_MAX_SIZE, display_path

HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def _unquote(path: bytes) -> str:
    """git quotes paths with unusual characters in C style."""
    if path.startswith(b'"') and path.endswith(b'"'):
        return display_path(codecs.escape_decode(path[1:-1])[0])
    return display_path(path)


class StagedSource:
    kind = "staged"

    def __init__(self, cwd: str | Path = ".", max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.cwd = Path(cwd)
        try:
            top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=self.cwd, capture_output=True)
        except FileNotFoundError:
            raise SourceError("git is not installed or not on PATH") from None
        if top.returncode != 0:
            raise SourceError(f"{self.cwd.resolve()}: not inside a git work tree")
        self.root = Path(os.fsdecode(top.stdout.strip())).resolve()  # a directory named in Latin-1 too
        self.max_size = max_size

    @property
    def identity(self) -> str:
        return display_path(os.fsencode(self.root))  # as GitRepo.identity: a byte not UTF-8 as \\xNN

    def blobs(self, stats: ScanStats) -> Iterator[Blob]:
        result = subprocess.run(
            ["git", "-c", "core.quotePath=false", "diff", "--cached", "--no-color", "--no-ext-diff",
             "--diff-filter=ACMR", "-U0", "--src-prefix=a/", "--dst-prefix=b/"],
            cwd=self.root, capture_output=True,
        )
        if result.returncode != 0:
            raise SourceError(f"{self.root}: git diff --cached failed: {result.stderr.decode(errors='replace').strip()}")
        yield from self._parse(result.stdout, stats)

    def _parse(self, diff: bytes, stats: ScanStats) -> Iterator[Blob]:
        path: str | None = None
        lines: list[bytes] = []
        numbers: list[int] = []
        next_line = 0

        def flush() -> Iterator[Blob]:
            if path is not None and lines:
                content = b"\n".join(lines)
                if len(content) > self.max_size:
                    stats.blobs_skipped_size += 1
                else:
                    yield Blob(content=content, source=self.kind,
                               provenance={"root": str(self.root), "path": path},
                               line_map=tuple(numbers))

        in_header = False
        for raw in diff.split(b"\n"):
            if raw.startswith(b"diff --git "):
                yield from flush()
                path, lines, numbers, in_header = None, [], [], True
            elif in_header and raw.startswith(b"+++ "):
                target = raw[4:]
                if target.endswith(b"\t"):
                    # git ends a name that contains a space with a tab (a tab inside a name is quoted).
                    target = target[:-1]
                name = None if target == b"/dev/null" else _unquote(target)
                path = name[2:] if name and name.startswith("b/") else name
            elif in_header and raw.startswith(b"Binary files "):
                stats.blobs_skipped_binary += 1
                path = None
            elif raw.startswith(b"@@"):
                in_header = False
                hunk = HUNK.match(raw)
                next_line = int(hunk.group(1)) if hunk else 0
            elif not in_header and raw.startswith(b"+") and path is not None:
                lines.append(raw[1:])
                numbers.append(next_line)
                next_line += 1
        yield from flush()
