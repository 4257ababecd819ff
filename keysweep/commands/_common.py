"""Presentation shared by the scan commands (`scan git|dir|staged|github|gitlab|aws`, `sweep`):
render a scan's findings, its warnings and errors, exit with the scan's status, and the
`--verify` step. Light on purpose: cli.py imports it for every command and `keysweep scan staged`
runs through it, so the scanner, the store and anything heavy are imported inside the functions
(each such import says so). No click either: the console script reports a finding of a plain
`keysweep scan staged` through `emit` without loading the command-line framework."""

from __future__ import annotations

import sys
from typing import IO

from keysweep.baseline import mark_baselined
from keysweep.errors import KeysweepError
from keysweep.files import open_private_output
from keysweep.safefs import warn
from keysweep.sanitize import terminal_safe
from keysweep.wording import counted


def say(message: str) -> None:
    """One line on stderr (already made terminal-safe by the caller)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def existing_store(db: str | None, hint: str = "") -> str:
    """The store `--db` (or $KEYSWEEP_DB, or the default) names, or the one error every command
    gives when there is none yet (exit 2; a PostgreSQL URL shown without its password)."""
    from keysweep.store import show_location, store_exists, store_location  # noqa: PLC0415  (scan staged opens no store)

    path = store_location(db)
    if not store_exists(path):
        raise KeysweepError(f"{show_location(path)}: no store yet (run a scan first, or pass --db{hint})")
    return path


def open_report(output: str) -> IO[str]:
    """The report file `--output` names, created private; a KeysweepError (exit 2) if it cannot be."""
    try:
        return open_private_output(output)
    except OSError as exc:
        raise KeysweepError(f"{output}: cannot write the report: {exc.strerror}") from None


# The click context's meta key for when the command began (set by the `keysweep` group).
STARTED_AT = "keysweep.started_at"


def command_started_at():
    """When this command began (a datetime), or None outside a click command (the console script's
    plain `scan staged` path loads no click)."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    return ctx.meta.get(STARTED_AT) if ctx is not None else None


def emit(result, rules, fmt: str, output: str | None, store, new_only: bool, new_ids: list[str] | None,
         *, include_suppressed: bool = False, fail_on_error: bool = False, exit_on_new: bool = False,
         unit: str = "blob", baseline: frozenset[str] | None = None, plain: bool = False) -> None:
    """Render and exit with the scan's status (keysweep.scanner.session.exit_status). Findings
    suppressed everywhere are left out (and do not count) unless `include_suppressed`. `unit`: what
    the scan read one of (git: blob; dir, staged: file; remote sources: object). `baseline`: the
    finding ids of `--baseline FILE`; each finding is marked baselined or not (none without one).
    `plain`: the table format as plain aligned lines (keysweep/plain.py, `scan staged`), without rich."""
    # A scan's own modules: `keysweep report` and the other commands load this module without them.
    from keysweep.scanner.session import exit_status, findings_to_report  # noqa: PLC0415

    findings = findings_to_report(result, store, new_only, new_ids, include_suppressed)
    mark_baselined(findings, baseline)
    stats = result.stats
    nothing_read = bool(getattr(result, "nothing_read", False))

    def draw(out: IO[str]) -> None:
        if plain and fmt == "table":  # the pre-commit hook's report: no rich, no output.py
            from keysweep.plain import write_plain  # noqa: PLC0415

            write_plain(findings, out, stats, stats.errors, nothing_read=nothing_read, unit=unit)
            return
        from keysweep.output import render  # noqa: PLC0415

        render(findings, fmt, {rule.id: rule for rule in rules}, out, stats, stats.errors, nothing_read=nothing_read,
               unit=unit, started_at=command_started_at())

    if output:
        with open_report(output) as handle:
            draw(handle)
    else:
        draw(sys.stdout)
    if fmt != "table" or output or not sys.stdout.isatty():
        # On a terminal the table's footer shows them; anywhere else stderr gets one line each too.
        for error in stats.errors:
            say(f"keysweep: warning: {terminal_safe(error)}")
        if nothing_read:
            say(f"keysweep: error: nothing was scanned: every source failed "
                f"({counted(len(stats.errors), 'error')})")
    for warning in stats.warnings:  # what was left out on purpose, and how to read it
        warn(warning)
    sys.exit(exit_status(findings, stats.errors, nothing_read=nothing_read, fail_on_error=fail_on_error,
                         new_ids=new_ids, exit_on_new=exit_on_new))


def settings_for_verify(verify: bool, config_path: str | None = None):
    """`scan … --verify` reads keysweep.toml (`--config`, else ./keysweep.toml) before scanning, so a
    bad value stops the run first. `--config` without `--verify` is checked too: it is never ignored."""
    if not verify and config_path is None:
        return None
    from keysweep.settings import load_settings  # noqa: PLC0415  (scan staged reads no keysweep.toml)

    settings = load_settings(config_path)
    return settings if verify else None


def verify_after_scan(store, result, rules, settings, include_suppressed: bool = False) -> None:
    """`scan … --verify`: the same routine as `keysweep verify`, for this scan's findings (those
    suppressed everywhere only with --include-suppressed, as `keysweep verify` selects)."""
    # Only for --verify: a scan without it loads neither the re-reader nor the verification runner.
    from keysweep.scanner.reread import Rereader  # noqa: PLC0415
    from keysweep.suppress import visible  # noqa: PLC0415
    from keysweep.verify.runner import run_verification, summary, unreadable_notes  # noqa: PLC0415

    results = run_verification(visible(result.findings, include_suppressed), settings, store,
                               rereader=Rereader(rules=rules, settings=settings))
    if results:
        say(f"keysweep: verified {counted(len(results), 'finding')}: {summary(results)}")
    for note in unreadable_notes(results):
        say(f"keysweep: {terminal_safe(note)}")
