"""`keysweep scan staged`, the pre-commit hook: the lines added in the index of the repository at the
current directory. Kept free of click, like commands/_common.py: the console script
(keysweep/launcher.py) runs a plain `keysweep scan staged` through `scan_staged` and `report`
without the command-line framework, and cli.py's command does the same with its options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable

from keysweep.commands._common import emit, say
from keysweep.scanner.pipeline import ScanResult, scan_local, utc_now
from keysweep.scanner.rules import Rule
from keysweep.scanner.session import EXIT_FINDINGS, load_engine, open_store, persist
from keysweep.scanner.sources.staged import StagedSource
from keysweep.suppress import visible

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
# What `scan staged` says when it stops a commit (pre-commit shows stderr): the three ways on.
STAGED_HIT_ADVICE = (
    "keysweep: this commit would add a credential. To go on, either\n"
    "  - remove it from the file (use an environment variable) and git add again,\n"
    "  - rotate it if it was ever pushed or shared (revoke it, issue a new one),\n"
    "  - or, if it is not a secret, add a keysweep:allow comment on its line.")


def scan_staged(rule_paths: Iterable[str] = (), engine: str = "regex",
                max_size: int = DEFAULT_MAX_SIZE) -> tuple[ScanResult, list[Rule], str]:
    """Scan the index of the repository at the current directory: the result, the rules, and when
    the scan started. Raises KeysweepError (or OSError) before anything is printed."""
    started = utc_now()
    matcher, rules = load_engine(rule_paths, engine)
    return scan_local(StagedSource(Path.cwd(), max_size=max_size), matcher, [Path.cwd()]), rules, started


def report(result: ScanResult, rules: list[Rule], started: str, fmt: str = "table", output: str | None = None,
           db: str | None = None, no_store: bool = False, include_suppressed: bool = False,
           fail_on_error: bool = False, baseline: frozenset[str] | None = None) -> None:
    """Record (only with `db`), print and exit with the scan's status. A clean commit prints nothing
    in the table format; a commit stopped for a finding is told the ways on. The table format is
    plain text (keysweep/plain.py: the scan table's information without loading rich); the others
    are every scan's. `baseline`: the ids of `--baseline FILE` (known secrets do not stop the commit)."""
    store = open_store(db, no_store, default_on=False)
    new_ids = persist(store, result, rules, started)
    if store is None and fmt == "table" and not visible(result.findings, include_suppressed) \
            and not result.stats.errors and not result.stats.warnings:
        sys.exit(0)  # a clean commit prints nothing
    try:
        emit(result, rules, fmt, output, store, False, new_ids, include_suppressed=include_suppressed,
             fail_on_error=fail_on_error, unit="file", baseline=baseline, plain=True)
    except SystemExit as exit_:
        if exit_.code == EXIT_FINDINGS:  # the commit is stopped: say how to go on
            say(STAGED_HIT_ADVICE)
        raise
