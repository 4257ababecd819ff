"""The `keysweep` console script.

A pre-commit hook runs `keysweep scan staged` on every commit. That exact invocation is answered
here without loading the command-line framework (click) or the other commands: the scan and its
report are keysweep/commands/staged.py, which the CLI's `scan staged` runs too, with its options.
Anything else, and a staged scan that fails before printing anything (the CLI then scans again and
reports the error in its usual way), goes through the full CLI.

A sweep, once done, leaves without tearing the interpreter down (`exit_without_teardown`).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, NoReturn


def _staged() -> None:
    """Scan the index, print and exit with the scan's status; return only when the scan failed."""
    from keysweep.commands.staged import report, scan_staged
    from keysweep.errors import KeysweepError

    try:
        result, rules, started = scan_staged()
    except (KeysweepError, OSError):
        return
    report(result, rules, started)


def exit_without_teardown(command: Callable[[], object]) -> NoReturn:
    """Run `command`, then exit with its status as Python would, without freeing the interpreter.

    A scheduled sweep with nothing new is mostly start-up: tearing down the few hundred modules it
    imported (aiohttp, asyncio, click, keysweep's) took a fifth of its CPU time, as long as its
    300 conditional requests. Everything an exit does that anyone can observe still happens, in
    Python's order: non-daemon threads are joined, atexit callbacks run (logging, executors,
    weakref finalizers), stdout and stderr are flushed; then the process ends, and the memory,
    descriptors and sockets go back to the system as after any exit. A status Python would print
    (a message), or a flush that fails (a closed pipe), takes Python's own exit instead."""
    import atexit  # noqa: PLC0415
    import threading  # noqa: PLC0415

    try:
        command()
        code: object = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    if not isinstance(code, int):
        sys.exit(code)
    shutdown = getattr(threading, "_shutdown", None)  # what the interpreter calls first at exit
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)  # Python's exit reports the failed flush as it always did
    os._exit(code & 0xFF)


def main() -> None:
    if sys.argv[1:] == ["scan", "staged"]:
        _staged()
    from keysweep.cli import main as cli_main

    if sys.argv[1:2] == ["sweep"]:
        exit_without_teardown(cli_main)
    cli_main()
