"""Command line: parse, call the scanner, print. Heavy imports stay inside the commands."""

from __future__ import annotations

import functools
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import click

from keysweep import __version__
from keysweep.baseline import parse_baseline
from keysweep.commands._common import STARTED_AT, emit, open_report, settings_for_verify, verify_after_scan
from keysweep.errors import KeysweepError
from keysweep.progress import BlobProgress, progress_enabled
from keysweep.sanitize import terminal_safe
from keysweep.scanner.sources import DEFAULT_MAX_SIZE

FORMATS = ("table", "json", "jsonl", "sarif", "csv", "gitlab")


def fail(message: str) -> None:
    # Error messages quote paths, names and provider answers: one line, nothing a terminal obeys.
    click.echo(f"keysweep: error: {terminal_safe(message)}", err=True)
    sys.exit(2)


# What each --format value gives, for the option's help (the values differ by command, the words do not).
FORMAT_DESCRIPTIONS = {
    "table": "for people",
    "text": "for people",
    "json": "one JSON document, stable keys (docs/output.md)",
    "jsonl": "one JSON object per line",
    "sarif": "SARIF 2.1.0 for code scanning",
    "csv": "one row per place",
    "gitlab": "GitLab's secret detection report, gl-secret-detection-report.json",
    "html": "a self-contained page",
    "prometheus": "metrics in the Prometheus text format",
}


def format_help(choices: tuple[str, ...], **descriptions: str) -> str:
    """`Output format: table (for people), json (…), …`: every value, each with what it gives."""
    words = {**FORMAT_DESCRIPTIONS, **descriptions}
    return "Output format: " + ", ".join(f"{value} ({words[value]})" if value in words else value
                                         for value in choices) + "."


def format_option(choices: tuple[str, ...] = FORMATS, default: str = "table", **descriptions: str) -> Callable:
    """`--format`, its help listing every value (`descriptions` overrides what a value gives here)."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help=format_help(choices, **descriptions))


def output_file_option(func: Callable) -> Callable:
    return click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                        help="Write the output to this file (created private) instead of standard output.")(func)


def output_options(func: Callable) -> Callable:
    """`--format` (every findings format) and `-o/--output`: what a command that prints findings takes."""
    return output_file_option(format_option()(func))


class AliasOption(click.Option):
    """An old spelling of an option, still accepted (options are a contract) but not shown in --help.
    `alias_of` is the option it stands for; `target` that option's parameter name."""

    def __init__(self, *args, alias_of: str, target: str, **attrs) -> None:
        super().__init__(*args, hidden=True, **attrs)
        self.alias_of = alias_of
        self.target = target


def hidden_alias(flag: str, alias_of: str, target: str, **attrs) -> Callable:
    """Accept `flag` as the old name of `alias_of` (parameter `target`): the command receives its
    value as `target`; giving both is a usage error."""
    dest = "alias_" + flag.lstrip("-").replace("-", "_")

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def command(*args, **kwargs):
            value = kwargs.pop(dest, None)
            if value is not None:
                source = click.get_current_context().get_parameter_source(target)
                if source not in (None, click.core.ParameterSource.DEFAULT):
                    raise click.UsageError(f"{flag} is the old name of {alias_of}: give only {alias_of}")
                kwargs[target] = value
            # Through __wrapped__, so a test can see what the command itself receives.
            return command.__wrapped__(*args, **kwargs)

        return click.option(flag, dest, cls=AliasOption, alias_of=alias_of, target=target, **attrs)(command)

    return decorate


def progress_switch(shows: str) -> Callable:
    """`--progress/--no-progress`, its help saying what this command's progress shows."""
    return click.option("--progress/--no-progress", "show_progress", default=None,
                        help=f"Progress on stderr: {shows}. Default: shown when stderr is a terminal only.")


def progress_option(func: Callable) -> Callable:
    """`--progress/--no-progress` for a run counted in things done of a total, with the time left."""
    return progress_switch("done / total and the time left")(func)


def store_options(func: Callable) -> Callable:
    func = click.option("--db", type=click.Path(dir_okay=False),
                        help="Findings store: a SQLite file or a postgresql:// URL. "
                             "Default: $KEYSWEEP_DB or the user data dir.")(func)
    func = click.option("--no-store", is_flag=True, help="One-shot scan: read and write no store.")(func)
    return func


BASELINE_META = "keysweep.baseline"


def baseline_option(func: Callable) -> Callable:
    """`--baseline FILE`, read (and checked) when the command line is parsed, before anything is
    scanned; kept in the click context (`baseline_ids`), so every scan command takes it alike."""
    def load(ctx: click.Context, _param, value: str | None) -> None:
        if value is None:
            return
        try:
            with open(value, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"{value}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            ctx.meta[BASELINE_META] = parse_baseline(text, value)
        except KeysweepError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option("--baseline", metavar="FILE", type=click.Path(dir_okay=False), expose_value=False,
                        callback=load,
                        help="Known findings (`keysweep baseline create`): those it lists are still reported, "
                             "marked baselined, and do not make the exit status 1.")(func)


def baseline_ids() -> frozenset[str] | None:
    """The finding ids of this command's `--baseline`, or None without one (what `emit` marks with)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(BASELINE_META) if ctx is not None else None


def scan_options(func: Callable) -> Callable:
    func = click.option("--rules", "rule_paths", multiple=True, type=click.Path(),
                        help="Extra rule file or folder (repeatable).")(func)
    func = click.option("--engine", type=click.Choice(["auto", "hyperscan", "regex"]), default="auto",
                        show_default=True, help="Candidate finder; both give identical findings.")(func)
    func = click.option("--max-size", type=click.IntRange(min=1), default=DEFAULT_MAX_SIZE, show_default=True,
                        help="Skip blobs and files larger than this many bytes (those over 16 MiB are "
                             "read in overlapping chunks).")(func)
    func = click.option("--new-only", is_flag=True,
                        help="Report only findings the store did not hold before this scan.")(func)
    func = include_suppressed_option(func)
    func = baseline_option(func)
    return func


def fail_on_error_option(func: Callable) -> Callable:
    return click.option("--fail-on-error", is_flag=True,
                        help="Exit 3 when part of the source could not be read or a rule timed out "
                             "(the rest is still reported).")(func)


def include_suppressed_option(func: Callable) -> Callable:
    return click.option("--include-suppressed", is_flag=True,
                        help="Also list findings suppressed everywhere they were seen (inline allow "
                             "marker, .keysweepignore); their occurrences say so.")(func)


def verify_option(func: Callable) -> Callable:
    func = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        help="keysweep.toml for --verify (provider endpoints and limits). Default: ./keysweep.toml "
                             "if present.")(func)
    return click.option("--verify", is_flag=True,
                        help="Then check each finding's key with a read-only call to its provider "
                             "(see `keysweep verify`).")(func)


# Commands that live in their own modules (keysweep/commands/<name>.py), imported only when run,
# so that `keysweep scan staged` never pays for aiohttp, boto3 or PyGithub.
LAZY_COMMANDS: dict[str, str] = {
    "findings": "keysweep.commands.findings:findings_cmd",
    "verify": "keysweep.commands.verify:verify_cmd",
    "owners": "keysweep.commands.owners:owners_cmd",
    "revoke": "keysweep.commands.revoke:revoke_cmd",
    "report": "keysweep.commands.report:report_cmd",
    "status": "keysweep.commands.status:status_cmd",
    "audit": "keysweep.commands.audit:audit_group",
    "sweep": "keysweep.commands.sweep:sweep_cmd",
    "worker": "keysweep.commands.worker:worker_cmd",
    "beat": "keysweep.commands.beat:beat_cmd",
    "store": "keysweep.commands.store:store_group",
    "baseline": "keysweep.commands.baseline:baseline_group",
    "schema": "keysweep.commands.schema:schema_cmd",
    "init": "keysweep.commands.init:init_cmd",
    "events": "keysweep.commands.events:events_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module_name, _, attribute = LAZY_COMMANDS[name].partition(":")
            self.add_command(getattr(importlib.import_module(module_name), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keysweep")
def cli() -> None:
    """Find long-lived credentials, attribute them, revoke them, and time it."""
    # When the command began: a report that says when its scan started (--format gitlab) reads it.
    click.get_current_context().meta[STARTED_AT] = datetime.now(timezone.utc)


# `keysweep scan <source>` subcommands defined in other modules, e.g. {"github": "keysweep.commands.github:scan_github"}.
LAZY_SCAN_SOURCES: dict[str, str] = {
    "github": "keysweep.commands.scan_github:scan_github_cmd",
    "gitlab": "keysweep.commands.scan_gitlab:scan_gitlab_cmd",
    "aws": "keysweep.commands.scan_aws:scan_aws_cmd",
    "kubernetes": "keysweep.commands.scan_kubernetes:scan_kubernetes_cmd",
    "vault": "keysweep.commands.scan_vault:scan_vault_cmd",
    "gcp": "keysweep.commands.scan_gcp:scan_gcp_cmd",
    "azure": "keysweep.commands.scan_azure:scan_azure_cmd",
}


class LazyScanGroup(LazyGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(click.Group.list_commands(self, ctx)) | set(LAZY_SCAN_SOURCES))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_SCAN_SOURCES and name not in self.commands:
            import importlib

            module_name, _, attribute = LAZY_SCAN_SOURCES[name].partition(":")
            self.add_command(getattr(importlib.import_module(module_name), attribute), name)
        return click.Group.get_command(self, ctx, name)


@cli.group(cls=LazyScanGroup)
def scan() -> None:
    """Scan a source for credentials."""


@scan.command("git")
@click.argument("path", type=click.Path(file_okay=False), default=".")
@click.option("--full", is_flag=True, help="Rescan every blob, ignoring what the store has already seen.")
@click.option("--unreachable", is_flag=True,
              help="Also report matches in blobs no ref reaches (e.g. left behind by a history rewrite).")
@click.option("--range", "commit_range", metavar="BASE..HEAD",
              help="Only the blobs and messages of the commits reachable from HEAD and not from BASE (what a "
                   "pull request, a push or a pre-receive hook adds). A BASE of zeros: all of HEAD's history.")
@click.option("--exclude-refs", is_flag=True,
              help="With --range: also leave out the commits any ref of the repository already reaches. In a "
                   "pre-receive hook (the refs have not moved yet) that is what the push adds to the "
                   "repository: a new branch reads only its new commits.")
@output_options
@store_options
@scan_options
@fail_on_error_option
@verify_option
@progress_switch("blobs done / total, MB/s and the time left")
def scan_git_cmd(path, full, unreachable, fmt, output, db, no_store, rule_paths, engine, max_size, new_only,
                 fail_on_error=False, include_suppressed=False, verify=False, show_progress=None, commit_range=None,
                 config_path=None, exclude_refs=False):
    """Every blob reachable from any ref of the repository at PATH (a working tree or a bare
    repository), each read once; with --range, those a range of commits adds."""
    from keysweep.scanner.pipeline import scan_git, scan_git_range, utc_now
    from keysweep.scanner.session import git_state, load_engine, open_store, persist
    from keysweep.scanner.sources.git import GitRepo

    if commit_range is not None and unreachable:
        raise click.UsageError("--range reads the commits of a range; --unreachable reads objects no ref reaches")
    if exclude_refs and commit_range is None:
        raise click.UsageError("--exclude-refs narrows a --range; without one there is nothing to narrow")
    started = utc_now()
    settings = settings_for_verify(verify, config_path)
    repo = GitRepo(path)
    bounds = repo.resolve_range(commit_range) if commit_range is not None else None
    matcher, rules = load_engine(rule_paths, engine)
    store = open_store(db, no_store)
    progress = BlobProgress(live=sys.stderr.isatty()) if progress_enabled(show_progress) else None
    try:
        if bounds is not None:
            result = scan_git_range(repo, matcher, *bounds, max_size=max_size, progress=progress,
                                    progress_total=progress.total if progress else None, ignore_roots=[Path.cwd()],
                                    exclude_refs=exclude_refs)
        else:
            state = git_state(store, repo.identity, rules, full, walk=not unreachable)
            result = scan_git(repo, matcher, already_scanned=state.already_scanned, max_size=max_size,
                              include_unreachable=unreachable, progress=progress,
                              progress_total=progress.total if progress else None, previous_tips=state.previous_tips,
                              known_match_blobs=state.known_match_blobs, ignore_roots=[Path.cwd()], since=state.since,
                              messages_scanned=state.messages_scanned)
    finally:
        if progress:
            progress.close()
    new_ids = persist(store, result, rules, started)
    if verify:
        verify_after_scan(store, result, rules, settings, include_suppressed)
    emit(result, rules, fmt, output, store, new_only, new_ids, include_suppressed=include_suppressed,
         fail_on_error=fail_on_error, baseline=baseline_ids())


@scan.command("dir")
@click.argument("path", type=click.Path(), default=".")
@output_options
@store_options
@scan_options
@fail_on_error_option
@verify_option
@progress_switch("files done / total, MB/s and the time left")
def scan_dir_cmd(path, fmt, output, db, no_store, rule_paths, engine, max_size, new_only, include_suppressed=False,
                 fail_on_error=False, verify=False, config_path=None, show_progress=None):
    """Files under PATH (no .git/, no binaries, no symlinks)."""
    from keysweep.scanner.pipeline import scan_local, utc_now
    from keysweep.scanner.session import load_engine, open_store, persist
    from keysweep.scanner.sources.directory import DirectorySource

    started = utc_now()
    settings = settings_for_verify(verify, config_path)
    source = DirectorySource(path, max_size=max_size)
    matcher, rules = load_engine(rule_paths, engine)
    store = open_store(db, no_store)
    progress = BlobProgress(live=sys.stderr.isatty(), noun="file") if progress_enabled(show_progress) else None
    if progress is not None:
        # Only when progress shows: a walk of names and sizes first (no content read) gives the total.
        progress.total(*source.census())
    try:
        result = scan_local(source, matcher, [Path.cwd()], progress=progress)
    finally:
        if progress:
            progress.close()
    new_ids = persist(store, result, rules, started)
    if verify:
        verify_after_scan(store, result, rules, settings, include_suppressed)
    emit(result, rules, fmt, output, store, new_only, new_ids, include_suppressed=include_suppressed,
         fail_on_error=fail_on_error, unit="file", baseline=baseline_ids())


@scan.command("staged")
@output_options
@click.option("--db", type=click.Path(dir_okay=False),
              help="Record findings in this store too (by default a staged scan writes nothing).")
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(),
              help="Extra rule file or folder (repeatable).")
@click.option("--engine", type=click.Choice(["auto", "hyperscan", "regex"]), default="regex", show_default=True,
              help="Candidate finder; a commit is small, so the keyword prefilter starts fastest.")
@click.option("--max-size", type=click.IntRange(min=1), default=10 * 1024 * 1024, show_default=True,
              help="Skip staged files larger than this many bytes.")
@click.option("--no-store", is_flag=True, hidden=True)
@include_suppressed_option
@baseline_option
@fail_on_error_option
def scan_staged_cmd(fmt, output, db, rule_paths, engine, max_size, no_store, include_suppressed, fail_on_error=False):
    """Lines added in the index of the repository at the current directory (pre-commit)."""
    from keysweep.commands.staged import report, scan_staged

    result, rules, started = scan_staged(rule_paths, engine, max_size)
    report(result, rules, started, fmt, output, db, no_store, include_suppressed, fail_on_error, baseline_ids())


@cli.group("rules")
def rules_group() -> None:
    """Inspect and check detection rules."""


@rules_group.command("list")
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(), help="Extra rule file or folder (repeatable).")
@click.option("--provider", help="Only this provider's rules, e.g. github (any case).")
@format_option(("table", "json"))
@output_file_option
def rules_list(rule_paths, provider, fmt, output):
    """Every loaded rule (with --provider, that provider's)."""
    from keysweep.scanner.rules import load_rules

    rules = load_rules([Path(p) for p in rule_paths])
    if provider:
        known = sorted({r.provider for r in rules})
        rules = [r for r in rules if r.provider.lower() == provider.lower()]
        if not rules:  # a typo must not look like "no rules"
            click.echo(f"keysweep: warning: --provider {terminal_safe(repr(provider))}: no rule of this provider "
                       f"(rules exist for: {terminal_safe(', '.join(known))})", err=True)
    out = open_report(output) if output else sys.stdout
    try:
        _print_rules(rules, fmt, out)
    finally:
        if output:
            out.close()


def _print_rules(rules, fmt: str, out) -> None:
    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": r.id, "name": r.name, "provider": r.provider, "long_lived": r.long_lived,
                                "confidence": r.confidence, "checksum": r.checksum, "keywords": list(r.keywords)}
                               for r in rules], indent=2), file=out)
        return
    from keysweep.sanitize import rich_text
    from keysweep.tables import Column, print_table
    from keysweep.wording import counted

    # On a narrow terminal the name (it folds) stays beside the id; long-lived, then the check, go first.
    columns = (Column("id", whole=True), Column("provider", whole=True, drop=3), Column("name"),
               Column("long-lived", whole=True, drop=1), Column("check", whole=True, drop=2))
    # Rule files given with --rules may come from anywhere.
    rows = [[rich_text(cell) for cell in (r.id, r.provider, r.name, "yes" if r.long_lived else "no", r.checksum or "")]
            for r in rules]
    print_table(out, counted(len(rules), "rule"), columns, rows)


@rules_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
def rules_check(paths):
    """Compile every rule and run its examples. With PATHs, check those files (with the shipped
    rules loaded beside them, so duplicate ids are caught)."""
    from keysweep.scanner.rules import load_rule_file, load_rules, rule_files, self_test

    if paths:
        checked = [rule for path in rule_files([Path(p) for p in paths])
                   for rule in load_rule_file(path, keep_backtracking=True)]
        everything = load_rules([Path(p) for p in paths], keep_backtracking=True)
        checked_ids = {r.id for r in checked}
        to_test = [r for r in everything if r.id in checked_ids]
    else:
        to_test = everything = load_rules(validate_shipped=True)
    failures = self_test(to_test, catalogue=everything)
    for failure in failures:
        click.echo(terminal_safe(failure), err=True)
    examples = sum(len(r.examples) + len(r.negative_examples) for r in to_test)
    from keysweep.wording import counted

    if failures:
        click.echo(f"{counted(len(failures), 'failure')} in {counted(len(to_test), 'rule')}", err=True)
        sys.exit(1)
    click.echo(f"{counted(len(to_test), 'rule')} OK ({counted(examples, 'example')})")


@cli.command("demo")
@click.option("--keep", type=click.Path(file_okay=False), metavar="DIR",
              help="Keep the demo (its repository and its own store) in DIR, which must be new or empty. "
                   "Default: a new directory under the system's temporary directory.")
@format_option()
@output_file_option
@progress_switch("blobs scanned / total, MB/s and the time left")
def demo_cmd(keep, fmt, output, show_progress=None):
    """Build a repository with generated fake keys in its history, scan it into a store of its own
    (never your default store), and print the next commands to try on that store."""
    from keysweep.demo import REPO_NAME, STORE_NAME, build_demo_repo, demo_directory, next_commands

    home = demo_directory(keep)
    repo, store = home / REPO_NAME, home / STORE_NAME
    build_demo_repo(repo)
    click.echo(f"Demo directory: {terminal_safe(home)} (the repository in {REPO_NAME}/, its store {STORE_NAME})",
               err=True)
    try:
        click.get_current_context().invoke(
            scan_git_cmd, path=str(repo), full=True, unreachable=False, fmt=fmt, output=output, db=str(store),
            no_store=False, rule_paths=(), engine="auto", max_size=DEFAULT_MAX_SIZE, new_only=False,
            show_progress=show_progress)
        code = 0
    except SystemExit as exit_:
        code = 0 if exit_.code == 1 else exit_.code  # the demo always finds its planted keys: success here
    if code == 0:
        width = max(len(command) for command, _what in next_commands(store))
        click.echo("\nNext, on the demo's own store:", err=True)
        for command, what in next_commands(store):
            click.echo(f"  {terminal_safe(command):<{width}}  # {what}", err=True)
    sys.exit(code)


def _store_problem(exc: Exception) -> str | None:
    """A store error that escaped the store's own handling (a statement outside a transaction that
    met a lock, a file made read-only mid-run): an input/environment error, not an internal one."""
    if type(exc).__module__.split(".")[0] not in ("sqlite3", "psycopg"):
        return None
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "locked" in text or "busy" in text:
        return f"the findings store is locked by another process: {text}"
    if "readonly" in text or "read-only" in text:
        return f"the findings store is read-only: {text}"
    return f"the findings store cannot be used: {text}"


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("keysweep: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            # Bare `keysweep` or `keysweep scan`: the group's help, as click users expect (exit 0).
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"keysweep: error: {terminal_safe(exc.format_message())}{terminal_safe(hint)}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"keysweep: error: {terminal_safe(exc.format_message())}", err=True)
        sys.exit(2)
    except KeysweepError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        click.echo("keysweep: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("KEYSWEEP_DEBUG"):
            raise
        problem = _store_problem(exc)
        if problem:
            fail(problem)
        fail(f"internal error: {type(exc).__name__}: {exc} (set KEYSWEEP_DEBUG=1 for details)")
