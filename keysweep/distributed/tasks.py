"""What a worker does with one unit of work (plain Python; Celery calls it from `app`).

The unit is read as a local sweep reads it — the same Runner, the same incremental state, the same
`persist` into the store — so a distributed sweep records exactly what a local one records. A task
is idempotent: run twice (a worker died after recording, before acknowledging), the second run
finds everything already read and records nothing new. What the first run found new is not lost
with its answer: each scan it recorded names the sweep and keeps those ids, which the sweep reads
back (keysweep/distributed/orchestrate.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from keysweep.context import Context
from keysweep.distributed.units import build_item, build_source
from keysweep.http import HttpClient
from keysweep.scanner.remote import Runner
from keysweep.scanner.rules import rules_digest
from keysweep.scanner.session import load_engine, persist

# Test-only: the first task a worker started with this variable takes blocks until the process is
# killed, after writing the file the variable names (so a test knows which unit is held, and when).
HOLD_ENV = "KEYSWEEP_TEST_HOLD_FIRST_TASK"
# Test-only: the first task a worker started with this variable records its unit, then the worker
# kills itself (SIGKILL) before the task answers or is acknowledged, after writing the file the
# variable names: the window between a unit recorded and its task acknowledged.
DIE_ENV = "KEYSWEEP_TEST_DIE_AFTER_RECORDING"
# Progress a worker reports back, replayed by the sweep's display (counts and names, no values).
REPORTED_EVENTS = ("repo", "unit", "error")


@dataclass
class WorkerState:
    """What `keysweep worker` was started with, shared by the tasks of one process."""

    db: str | None
    settings: Any
    cache_dir: str | None = None
    limiter_redis: str | None = None
    config_path: str | None = None  # keysweep.toml given to `keysweep worker --config` (scheduled sweeps use it)
    _store: Any = None
    _engines: dict[tuple, tuple] = field(default_factory=dict)

    def store(self):
        if self._store is None:  # opened in the process that runs tasks (after a fork, in the child)
            from keysweep.store import Store  # noqa: PLC0415  (sqlite3/psycopg only in a worker)

            self._store = Store(self.db)
        return self._store

    def engine(self, rule_paths: tuple[str, ...], backend: str):
        key = (rule_paths, backend)
        if key not in self._engines:
            matcher, rules = load_engine(rule_paths, backend)
            self._engines[key] = (matcher, rules, rules_digest(rules))
        return self._engines[key]


class _OneUnit:
    """A source that yields the one unit a task names."""

    def __init__(self, source, unit: dict[str, Any]) -> None:
        self.source, self.unit = source, unit
        self.label = source.label

    async def items(self, run):
        yield build_item(self.source, self.unit, run)


def hold_if_asked() -> None:
    path = os.environ.get(HOLD_ENV)
    if not path or os.path.exists(path):
        return
    Path(path).write_text(str(os.getpid()))
    while True:  # until SIGKILL
        time.sleep(3600)


def die_if_asked() -> None:
    path = os.environ.get(DIE_ENV)
    if not path or os.path.exists(path):
        return
    Path(path).write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


def run_unit(payload: dict[str, Any], state: WorkerState) -> dict[str, Any]:
    """Read one unit into the store; what the sweep needs back (JSON): the scopes read, the ids of
    findings new to the store, the counts and error lines, the progress events."""
    options = payload["options"]
    matcher, rules, digest = state.engine(tuple(options.get("rule_paths") or ()), options.get("engine") or "auto")
    label = payload["unit"].get("label") or "unit"
    if options.get("rules_digest") and digest != options["rules_digest"]:
        return {"label": label, "failed": "this worker's rules differ from the sweep's (same keysweep version "
                                          "and --rules files on every machine)"}
    store = state.store()
    settings = state.settings
    events: list[dict[str, Any]] = []

    def progress(event: str, **info) -> None:
        if event in REPORTED_EVENTS:
            events.append({"event": event, **{k: v for k, v in info.items() if isinstance(v, (str, int, float, bool))}})

    cache_dir = state.cache_dir or options.get("cache_dir")
    concurrency, git_workers = int(options.get("concurrency") or 8), int(options.get("git_workers") or 4)

    async def main():
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=concurrency + git_workers + 4, thread_name_prefix="keysweep"))
        async with HttpClient(default_rate=settings.rate_limit("default", 10.0)) as http:
            shared = None
            if state.limiter_redis:
                from keysweep.distributed.limiter import share_limits  # noqa: PLC0415  (redis only when asked)

                shared = share_limits(http, state.limiter_redis)
            try:
                return await read(http)
            finally:
                if shared is not None:
                    await shared.aclose()

    async def read(http):
        ctx = Context(http=http, settings=settings, store=store)
        runner = Runner(matcher, ctx=ctx, store=store, rules_digest=digest,
                        persist=lambda result: persist(store, result, rules, payload["started"], digest,
                                                       sweep=payload.get("sweep")),
                        cache_dir=Path(cache_dir) if cache_dir else None, max_size=int(options["max_size"]),
                        max_age_days=int(options["max_age"]), workers=concurrency, git_workers=git_workers,
                        full=bool(options.get("full")), progress=progress, ignore_roots=[Path.cwd()])
        outcome = await runner.run([_OneUnit(build_source(payload["source"]), payload["unit"])])
        outcome.counters["requests"] = http.requests_sent
        return outcome

    outcome = asyncio.run(main())
    return {"label": label, "scopes": sorted(outcome.scopes), "new_ids": list(outcome.new_ids),
            "stats": asdict(outcome.stats), "counters": dict(outcome.counters), "events": events}


def run_scheduled_sweep(args: list[str], state: WorkerState, broker: str, queue: str) -> dict[str, Any]:
    """`keysweep sweep --broker` with this worker's keysweep.toml and store, plus the schedule's
    `args` (a scheduled sweep's findings are in the store; its stdout is dropped). Returns its exit
    status and the last lines of its stderr (counts and warnings, never a value)."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    command = [sys.executable, "-m", "keysweep", "sweep", "--no-progress", "--format", "json"]
    if state.config_path:
        command += ["--config", state.config_path]
    if state.db:
        command += ["--db", state.db]
    env = dict(os.environ, KEYSWEEP_BROKER_URL=broker, KEYSWEEP_QUEUE=queue)
    done = subprocess.run([*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                          stdin=subprocess.DEVNULL)
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return {"exit": done.returncode, "stderr_tail": lines[-5:]}
