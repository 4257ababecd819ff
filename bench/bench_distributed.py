#!/usr/bin/env python3
"""Benchmark a distributed `keysweep sweep --broker` against the local SQLite sweep (not a timed test).

Builds bench_sweep.py's fake GitHub organization (``--repos`` local bare repositories with a few
commits each, some with a fake key in their history, Actions variables and secrets) on 127.0.0.1,
then times a first sweep of it:

- ``local``: `keysweep sweep` in one process with a SQLite store (the baseline);
- ``N workers``: for each N of ``--workers`` (default 1 2 4), N `keysweep worker` processes
  (one unit at a time each) on the broker (``--broker``, default Redis on 127.0.0.1, a queue of the
  run's own) against a fresh PostgreSQL schema (``--postgres``), and `keysweep sweep --broker`.

Each run starts from an empty store and an empty clone cache, so each clones and reads everything.
Workers are started and ready before the clock starts. For each run: wall time, findings, exit
status, units sent; and the machine (CPUs, load average before and after) the figures were taken on.

    .venv/bin/python bench/bench_distributed.py                      # 200 repositories, 1 2 4 workers
    .venv/bin/python bench/bench_distributed.py --repos 50 --workers 1 2 --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_sweep import TOKEN, build_org  # noqa: E402

from tests.fakes.forge import FakeGitHub, ForgeBehaviour  # noqa: E402

POSTGRES = os.environ.get("KEYSWEEP_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
BROKER = os.environ.get("KEYSWEEP_TEST_BROKER_URL") or "redis://127.0.0.1:6379/0"


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def sweep(root: Path, config: Path, db: str, env: dict) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "keysweep", "sweep", "--config", str(config), "--db", db,
                           "--format", "json", "--no-progress"], cwd=root, env=env, capture_output=True, timeout=7200)
    wall = time.monotonic() - started
    try:
        findings = len(json.loads(done.stdout))
    except ValueError:
        findings = -1
    return {"exit": done.returncode, "wall_s": round(wall, 1), "findings": findings,
            "stderr_tail": done.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]}


def schema(create: bool, name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"' if create else f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def distributed(root: Path, workers: int, broker: str, env: dict) -> dict:
    name = f"keysweep_bench_{uuid.uuid4().hex[:12]}"
    queue = f"keysweep-bench-{uuid.uuid4().hex[:8]}"
    schema(True, name)
    db = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{name}"
    cache = root / f"cache-{workers}"
    config = root / f"distributed-{workers}.toml"
    config.write_text(f'[sources]\ncache_dir = "{cache}"\n\n[[sources.github]]\norgs = ["acme"]\n\n'
                      f'[distributed]\nbroker = "{broker}"\nqueue = "{queue}"\n')
    procs, logs = [], []
    try:
        for index in range(workers):
            log = root / f"worker-{workers}-{index}.log"
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-m", "keysweep", "worker", "--broker", broker, "--queue",
                                           queue, "--db", db, "--loglevel", "info"], cwd=root, env=env,
                                          stdout=log.open("wb"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 300
        while not all("ready." in log.read_text(errors="replace") for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"workers did not start: see {root}")
            time.sleep(0.5)
        before = load()
        result = sweep(root, config, db, env)
        result.update(load_before=before, load_after=load())
        return result
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        schema(False, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--variables", type=int, default=400)
    parser.add_argument("--commits", type=int, default=5, help="commits per repository")
    parser.add_argument("--rate", type=float, default=1000.0, help="the fake forge's limit, counted requests/s")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--broker", default=BROKER)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table after the JSON")
    args = parser.parse_args()

    results: dict = {"machine": machine(), "repos": args.repos, "broker": args.broker.split("://")[0], "runs": {}}
    with tempfile.TemporaryDirectory(prefix="keysweep-bench-distributed-") as scratch:
        root = Path(scratch)
        server = FakeGitHub(ForgeBehaviour(token=TOKEN, rate_per_second=args.rate)).start()
        try:
            results["shape"] = build_org(root, args.repos, args.variables, args.commits, server)
            env = dict(os.environ, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=server.url, GIT_TERMINAL_PROMPT="0")
            env.pop("KEYSWEEP_DEBUG", None)
            warm = root / "warm"
            warm.mkdir()
            subprocess.run([sys.executable, "-m", "keysweep", "scan", "dir", str(warm), "--no-store"], env=env,
                           capture_output=True)  # the Hyperscan database compiled once, before any run
            local = root / "local.toml"
            local.write_text(f'[sources]\ncache_dir = "{root / "cache-local"}"\n\n[[sources.github]]\norgs = ["acme"]\n')
            before = load()
            results["runs"]["local (SQLite)"] = {**sweep(root, local, str(root / "local.db"), env),
                                                 "load_before": before, "load_after": load()}
            for workers in args.workers:
                results["runs"][f"{workers} worker{'s' if workers > 1 else ''} (PostgreSQL)"] = \
                    distributed(root, workers, args.broker, env)
        finally:
            server.stop()
    print(json.dumps(results, indent=2))
    if args.markdown:
        base = results["runs"]["local (SQLite)"]["wall_s"]
        print("\n| run | wall (s) | vs local | findings | exit | load avg before → after |")
        print("|---|---:|---:|---:|---:|---|")
        for name, run in results["runs"].items():
            print(f"| {name} | {run['wall_s']} | {run['wall_s'] / base:.2f}× | {run['findings']} | {run['exit']} | "
                  f"{run['load_before'][0]} → {run['load_after'][0]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
