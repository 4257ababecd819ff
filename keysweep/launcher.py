"""The `keysweep` console script.

A pre-commit hook runs `keysweep scan staged` on every commit. That exact invocation is answered
here without loading the command-line framework (click) or the other commands: the scan and its
report are keysweep/commands/staged.py, which the CLI's `scan staged` runs too, with its options.
Anything else, and a staged scan that fails before printing anything (the CLI then scans again and
reports the error in its usual way), goes through the full CLI.
"""

from __future__ import annotations

import sys


def _staged() -> None:
    """Scan the index, print and exit with the scan's status; return only when the scan failed."""
    from keysweep.commands.staged import report, scan_staged
    from keysweep.errors import KeysweepError

    try:
        result, rules, started = scan_staged()
    except (KeysweepError, OSError):
        return
    report(result, rules, started)


def main() -> None:
    if sys.argv[1:] == ["scan", "staged"]:
        _staged()
    from keysweep.cli import main as cli_main

    cli_main()
