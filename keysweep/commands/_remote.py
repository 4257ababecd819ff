"""What `scan github`, `scan gitlab`, `scan aws` and `sweep` share: options, progress display, and
one run of the remote runner followed by the CLI's usual persist/emit."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import click

from keysweep.cli import baseline_ids
from keysweep.commands._common import emit
from keysweep.context import Context
from keysweep.errors import KeysweepError
from keysweep.files import open_private_output
from keysweep.http import HttpClient
from keysweep.progress import PLAIN_EVERY, BlobProgress, progress_enabled, rate_and_eta_column
from keysweep.sanitize import json_text, safe_console, terminal_safe
from keysweep.scanner.pipeline import utc_now
from keysweep.scanner.remote import Runner
from keysweep.scanner.rules import rules_digest
from keysweep.scanner.session import load_engine, open_store, persist
from keysweep.scanner.sources.remote import inventory_rules
from keysweep.settings import load_settings
from keysweep.wording import counted, plural

MAX_AGE_HELP = ("Age limit in days: Actions secrets not updated and active IAM keys created longer ago are "
                "reported as long-lived.")
REPOSITORY_PROGRESS = ("on a terminal a line per repository or scope as it ends and a live bar per repository "
                       "(blobs done / total, MB/s, time left); plain lines on a pipe")


def remote_options(func: Callable | None = None, *, max_age: bool | str = True, progress: str = REPOSITORY_PROGRESS):
    """The options every remote scan takes. `max_age=False` on a source that reports nothing by its
    age (only `scan github`'s Actions secrets and `scan aws`'s IAM keys are); `progress` says what
    this command's progress shows (a scan that reads no repository has no per-repository bar);
    `max_age="…"`: what the age limit applies to on this command, for its help.
    Used bare (`@remote_options`) or called (`@remote_options(max_age=False, progress=…)`)."""
    def decorate(func: Callable) -> Callable:
        if max_age:
            func = click.option("--max-age", "max_age", type=click.IntRange(min=0), default=90, show_default=True,
                                help=f"Age limit in days: {max_age}." if isinstance(max_age, str)
                                else MAX_AGE_HELP)(func)
        func = click.option("--fail-on-error", is_flag=True,
                            help="Exit 3 when any repository, permission or region failed (the rest is still "
                                 "reported).")(func)
        func = click.option("--errors-json", type=click.Path(dir_okay=False, writable=True),
                            help="Also write the errors as JSON ({\"errors\": [...]}) to this file.")(func)
        func = click.option("--concurrency", type=click.IntRange(min=1, max=64), default=8, show_default=True,
                            help="API reads in flight at once (each host is also throttled).")(func)
        func = click.option("--full", is_flag=True,
                            help="Read everything again, ignoring what the store has already seen.")(func)
        func = click.option("--progress/--no-progress", "show_progress", default=None,
                            help=f"Progress on stderr: {progress}. Default: shown when stderr is a terminal only. "
                                 "--no-progress also drops the closing counts line.")(func)
        return func

    return decorate(func) if func is not None else decorate


# What the progress of a scan that reads no repository shows (`scan aws`, `scan vault`, …).
SCOPE_PROGRESS = "a line per scope (a region's service, a namespace, a mount, a project, a vault) as it ends"


def clone_options(func: Callable) -> Callable:
    """What only a source that clones repositories takes (not `scan aws`)."""
    func = click.option("--cache-dir", type=click.Path(file_okay=False),
                        help="Where repositories are cloned and fetched. Default: the user cache dir "
                             "($XDG_CACHE_HOME/keysweep/repos).")(func)
    func = click.option("--git-workers", type=click.IntRange(min=1, max=16), default=4, show_default=True,
                        help="Clones and fetches at once.")(func)
    return func


def repo_line(info: dict) -> str:
    """A finished repository, as both displays say it (its name comes from the forge: sanitised)."""
    if info.get("unchanged"):
        return terminal_safe(f"{info['name']}: unchanged since the last sweep")
    return terminal_safe(f"{info['name']}: {counted(info.get('blobs', 0), 'object')}, "
                         f"{info.get('nbytes', 0) / 1e6:.1f} MB, {counted(info.get('findings', 0), 'finding')} "
                         f"in {info.get('seconds', 0):.1f}s")


def unit_line(info: dict) -> str:
    """A finished scope of a remote store (Actions variables, a region's parameters, …)."""
    return f"{terminal_safe(info['source'])} {terminal_safe(info['name'])}: {counted(info.get('findings', 0), 'finding')}"


class PlainProgress:
    """`--progress` where stderr is no terminal (a CI log): one line per finished repository or
    scope, and for a repository being scanned a line every PLAIN_EVERY seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, every: float = PLAIN_EVERY) -> None:
        self.repos = 0
        self.clock = clock
        self.every = every
        self.lock = threading.Lock()  # scans report from their threads
        self.scans: dict[str, BlobProgress] = {}

    def __call__(self, event: str, **info) -> None:
        with self.lock:
            if event == "repo":
                self.repos += 1
                self.scans.pop(info["name"], None)
                click.echo(f"keysweep: [{self.repos}] {repo_line(info)}", err=True)
            elif event == "unit" and info.get("source") != "git":
                click.echo(f"keysweep: {unit_line(info)}", err=True)
            elif event == "blobs-total":
                scan = self.scans[info["name"]] = BlobProgress(live=False, stream=_Prefixed(info["name"]),
                                                               clock=self.clock, every=self.every)
                scan.total(info["blobs"], info["nbytes"])
            elif event == "blobs" and info["name"] in self.scans:
                self.scans[info["name"]](info["blobs"], info["nbytes"])

    def close(self) -> None:
        pass


class _Prefixed:
    """stderr, each line naming the repository it is about."""

    def __init__(self, name: str) -> None:
        self.name = terminal_safe(name)

    def write(self, text: str) -> None:
        click.echo(text.rstrip("\n").replace("keysweep: ", f"keysweep: {self.name}: ", 1), err=True)

    def flush(self) -> None:
        pass


class RichProgress:
    """On a terminal: one line per source as it finishes (it stays, like a log), and below them,
    live, the run's counts and one bar per repository being scanned — blobs done / total, MB/s and
    the time left — so a large repository never looks stuck."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

        self.start = time.monotonic()
        self.blobs = self.nbytes = 0
        self.repos = self.units = self.errors = 0
        self.lock = threading.Lock()  # scans report from their threads
        self.tasks: dict[str, Any] = {}
        # Repository names come from the forge: descriptions are plain text, never markup.
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                                 TextColumn("{task.fields[detail]}", markup=False), rate_and_eta_column(),
                                 console=safe_console(stderr=True), transient=True)
        self.overall = self.progress.add_task("starting", total=None, detail="")
        self.progress.start()

    def __call__(self, event: str, **info) -> None:
        with self.lock:
            self._event(event, info)
            elapsed = max(time.monotonic() - self.start, 1e-6)
            self.progress.update(self.overall, description=(
                f"{counted(self.repos, 'repository')}, {counted(self.units, 'scope')}, "
                f"{counted(self.blobs, 'object')}, {self.nbytes / 1e6 / elapsed:.1f} MB/s, "
                f"{counted(self.errors, 'error')}"))

    def _event(self, event: str, info: dict) -> None:
        name = info.get("name", "")
        if event == "repo":
            self.repos += 1
            self.blobs += info.get("blobs", 0)
            self.nbytes += info.get("nbytes", 0)
            task = self.tasks.pop(name, None)
            if task is not None:
                self.progress.remove_task(task)
            self.progress.console.print(repo_line(info))
        elif event == "repo-start":
            self._task(name, "fetching")
        elif event == "blobs-total":
            self.progress.reset(self._task(name, ""), total=max(info["nbytes"], 1), completed=0,
                                detail=f"0/{info['blobs']:,} {plural(info['blobs'], 'blob')}",
                                blobs_total=info["blobs"])
        elif event == "blobs" and name in self.tasks:
            task = self.tasks[name]
            total = self.progress.tasks[self._index(task)].fields.get("blobs_total", 0)
            self.progress.update(task, completed=info["nbytes"],
                                 detail=f"{info['blobs']:,}/{total:,} {plural(total, 'blob')}")
            if info["blobs"] >= total:
                # The last blob: drawn now, whatever the refresh timer says (a small repository is
                # read and recorded between two refreshes, and its bar would never show it done).
                self.progress.refresh()
        elif event == "unit":
            self.units += 1
            if info.get("source") != "git":
                self.progress.console.print(unit_line(info))
        elif event == "error":
            self.errors += 1

    def _task(self, name: str, detail: str):
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(terminal_safe(name), total=None, detail=detail)
        return self.tasks[name]

    def _index(self, task) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)

    def close(self) -> None:
        self.progress.stop()


def counts_line(counters: dict[str, int], new: int, errors: int) -> str:
    """The run's closing counts, only those that apply: repositories when any was read or found
    unchanged (not on `scan aws`), inventory records and API requests when there were any (the
    SDKs' calls — boto3, the Kubernetes client — are not counted: no "0 API requests" for them)."""
    parts = []
    if counters.get("repos_scanned") or counters.get("repos_unchanged"):
        parts.append(f"{counted(counters.get('repos_scanned', 0), 'repository')} scanned, "
                     f"{counters.get('repos_unchanged', 0)} unchanged")
    parts.append(f"{counted(counters.get('values', 0), 'value')} read")
    if counters.get("inventory"):
        parts.append(counted(counters["inventory"], "inventory record"))
    if counters.get("requests"):
        parts.append(counted(counters["requests"], "API request"))
    return ", ".join([*parts, counted(new, "new finding"), counted(errors, "error")])


def make_progress(show_progress: bool | None):
    """The display `--progress/--no-progress` asks for (unset: on a terminal only), or None."""
    if not progress_enabled(show_progress):
        return None
    return RichProgress() if sys.stderr.isatty() else PlainProgress()


def checked_url(value: str | None, what: str) -> str | None:
    """An API base URL, or a usage error (exit 2) naming the option or setting it came from."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KeysweepError(f"{what} {value!r}: expected an http(s) URL, e.g. https://host")
    return value.strip().rstrip("/")


def token_from(env_name: str, default_env: str) -> str | None:
    return os.environ.get(env_name or default_env) or None


def run_remote(build_sources: Callable[[object], list], *, fmt: str, output: str | None, db: str | None,
               no_store: bool, rule_paths: tuple[str, ...], engine: str, max_size: int, new_only: bool,
               fail_on_error: bool, errors_json: str | None, concurrency: int, full: bool,
               show_progress: bool | None, cache_dir: str | None = None, git_workers: int = 4,
               include_suppressed: bool = False, max_age: int = 90, settings=None, exit_on_new: bool = False,
               after: Callable[[object, object], None] | None = None, distributed=None) -> None:
    """Run the sources built by `build_sources(settings)`, persist per scope, then emit and exit.
    `after(store, outcome)` runs once everything is recorded, before the findings are rendered.
    `distributed` (a keysweep.distributed.config.DistributedConfig): units go to Celery workers."""
    started = utc_now()
    settings = settings or load_settings()
    sources = build_sources(settings)
    matcher, rules = load_engine(rule_paths, engine, lazy=True)  # compiled when a value or blob is read
    store = open_store(db, no_store)
    try:
        digest = rules_digest(rules)
        progress = make_progress(show_progress)

        async def main():
            # Threads for clones/scans, blocking SDK calls (boto3, PyGithub) and matching, so a slow
            # region never starves the rest.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=concurrency + git_workers + 4, thread_name_prefix="keysweep"))
            async with HttpClient(default_rate=settings.rate_limit("default", 10.0)) as http:
                ctx = Context(http=http, settings=settings, store=store)
                kwargs: dict[str, Any] = dict(
                    ctx=ctx, store=store, rules_digest=digest,
                    persist=lambda result: persist(store, result, rules, started, digest),
                    cache_dir=Path(cache_dir) if cache_dir else None, max_size=max_size, max_age_days=max_age,
                    workers=concurrency, git_workers=git_workers, full=full, progress=progress,
                    ignore_roots=[Path.cwd()])
                if distributed is None:
                    runner = Runner(matcher, **kwargs)
                else:  # Celery only for a distributed sweep
                    from keysweep.distributed.orchestrate import DistributedRunner  # noqa: PLC0415

                    options = {"rule_paths": [str(Path(p).resolve()) for p in rule_paths], "engine": engine,
                               "rules_digest": digest, "max_size": max_size, "max_age": max_age, "full": full,
                               "concurrency": concurrency, "git_workers": git_workers,
                               "cache_dir": str(Path(cache_dir).expanduser().resolve()) if cache_dir else None}
                    runner = DistributedRunner(matcher, config=distributed, options=options, started=started,
                                               say=lambda text: click.echo(text, err=True), **kwargs)
                outcome = await runner.run(sources)
                outcome.counters["requests"] = outcome.counters.get("requests", 0) + http.requests_sent
                return outcome

        try:
            outcome = asyncio.run(main())
        finally:
            if progress is not None:
                progress.close()
        if errors_json:
            try:
                with open_private_output(errors_json) as handle:
                    handle.write(json_text({"errors": [{"message": error} for error in outcome.stats.errors]},
                                           indent=2) + "\n")
            except OSError as exc:
                click.echo(f"keysweep: warning: {terminal_safe(errors_json)}: {exc.strerror}", err=True)
        counters = outcome.counters
        if show_progress is not False:  # the run's counts: on stderr unless --no-progress
            click.echo(f"keysweep: {counts_line(counters, len(outcome.new_ids), len(outcome.stats.errors))}", err=True)
        if after is not None and store is not None:  # e.g. sweep's --verify, --owners, --revoke-policy
            after(store, outcome)
        emit(outcome, list(rules) + inventory_rules(), fmt, output, store, new_only, outcome.new_ids if store else None,
             include_suppressed=include_suppressed, fail_on_error=fail_on_error, exit_on_new=exit_on_new, unit="object",
             baseline=baseline_ids())
    finally:
        # Closed here, not left to the interpreter's teardown (a sweep skips it): SQLite then
        # folds its write-ahead log back into the store, as it always did at exit.
        if store is not None:
            store.close()
