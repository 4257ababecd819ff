"""The `keysweep` console script.

A pre-commit hook runs `keysweep scan staged` on every commit, and almost every commit is clean.
That exact invocation is answered here without loading the command-line framework: a clean index
exits 0 at once; anything else (a finding, an error, any option) goes through the full CLI, which
scans again — a staged scan costs milliseconds — and reports in the usual way.
"""

from __future__ import annotations

import sys


def _clean_staged_index() -> bool:
    from pathlib import Path

    from keysweep.errors import KeysweepError
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.pipeline import scan_local
    from keysweep.scanner.rules import load_rules
    from keysweep.scanner.sources.staged import StagedSource
    from keysweep.suppress import visible

    try:
        result = scan_local(StagedSource(Path.cwd()), Engine(load_rules(), backend="regex"), [Path.cwd()])
    except (KeysweepError, OSError):
        return False
    return not visible(result.findings) and not result.stats.errors


def main() -> None:
    if sys.argv[1:] == ["scan", "staged"] and _clean_staged_index():
        sys.exit(0)
    from keysweep.cli import main as cli_main

    cli_main()
