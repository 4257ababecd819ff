#!/usr/bin/env python3
"""What the findings store costs a git scan, and what a second scan of an unchanged repository costs.

For each keysweep build (``--build NAME=COMMAND``, or one ``--keysweep COMMAND``) and each round:

``no-store``
    ``keysweep scan git REPO --no-store --format json``: the yardstick.
``store``
    ``keysweep scan git REPO --db NEW_STORE --format json`` into a store created for this run:
    the default first scan, which also records what it read.
``second``
    The same command again on that store, the repository unchanged: an incremental scan.

Builds take turns inside each round (build A's three runs, then build B's, …) so that a change
in the machine's load falls on all of them; a warm-up round is not counted. The table gives, per
build and mode, the median wall seconds (min–max), the median CPU seconds (user + system of
keysweep and every process it waited for: git, forked workers) and the CPU that other work on the
machine used during the runs (``/proc/stat``; far from 0 means the run was disturbed), then the
two ratios of issue 13 computed on CPU medians: ``store ÷ no-store`` (goal ≤ 1.1) and
``second ÷ store`` (goal ≤ 0.05). CPU time is the figure to compare on a shared machine.

Examples::

    python bench/bench_store.py ../lab/corpus/sqlalchemy --runs 5 --keysweep .venv/bin/keysweep
    python bench/bench_store.py ../lab/corpus/requests --runs 7 \\
        --build before='env PYTHONPATH=/tmp/before .venv/bin/keysweep' \\
        --build after='env PYTHONPATH=. .venv/bin/keysweep'

Standard library only (Python 3.11+); the measuring is bench_scan.py's. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
bench_scan = importlib.import_module("bench_scan")

MODES = ("no-store", "store", "second")


def scan_argv(build: list[str], repo: str, mode: str, db: Path) -> list[str]:
    store = ["--no-store"] if mode == "no-store" else ["--db", str(db)]
    return [*build, "scan", "git", repo, *store, "--format", "json"]


def one_round(builds: dict[str, list[str]], repo: str, timeout: float) -> dict[str, dict[str, object]]:
    """{build: {mode: Run}} of one round; each build's first scan writes a store of its own."""
    runs: dict[str, dict[str, object]] = {}
    for name, build in builds.items():
        with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
            db = Path(folder) / "store.db"
            runs[name] = {}
            for mode in MODES:
                run = bench_scan.run_measured(scan_argv(build, repo, mode, db), timeout=timeout, sample_interval=None)
                if run.returncode not in bench_scan.KEYSWEEP_OK:
                    sys.exit(f"bench_store: {name} {mode} exited {run.returncode}: {bench_scan.last_line(run.stderr)}")
                runs[name][mode] = run
    return runs


def summarize(samples: list) -> dict[str, float]:
    walls, cpus = [r.wall for r in samples], [r.cpu for r in samples]
    others = [r.bg_cpu for r in samples if r.bg_cpu is not None]
    return {"wall": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls),
            "cpu": statistics.median(cpus), "cpu_min": min(cpus), "cpu_max": max(cpus),
            "other_cpu": statistics.median(others) if others else None, "findings":
            bench_scan.count_findings(samples[-1].stdout)}


def table(summary: dict[str, dict[str, dict[str, float]]], runs: int) -> str:
    lines = ["| build | mode | runs | wall s median (min–max) | CPU s median (min–max) | other cpu s | findings |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, modes in summary.items():
        for mode in MODES:
            s = modes[mode]
            other = "–" if s["other_cpu"] is None else f"{s['other_cpu']:.2f}"
            lines.append(f"| {name} | {mode} | {runs} | {s['wall']:.2f} ({s['wall_min']:.2f}–{s['wall_max']:.2f}) | "
                         f"{s['cpu']:.2f} ({s['cpu_min']:.2f}–{s['cpu_max']:.2f}) | {other} | {s['findings']} |")
    lines += ["", "| build | store ÷ no-store (CPU) | second ÷ store (CPU) |", "|---|---:|---:|"]
    for name, modes in summary.items():
        lines.append(f"| {name} | {modes['store']['cpu'] / modes['no-store']['cpu']:.2f} | "
                     f"{modes['second']['cpu'] / modes['store']['cpu']:.3f} |")
    return "\n".join(lines)


def parse_builds(args) -> dict[str, list[str]]:
    builds = {}
    for spec in args.build or []:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command:
            sys.exit(f"bench_store: --build {spec!r}: expected NAME=COMMAND")
        builds[name] = shlex.split(command)
    if not builds:
        builds["keysweep"] = bench_scan.keysweep_argv(args.keysweep)
    return builds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", metavar="REPO_PATH")
    parser.add_argument("--keysweep", default="keysweep", metavar="CMD", help="keysweep command (one build)")
    parser.add_argument("--build", action="append", metavar="NAME=CMD",
                        help="a build to compare (repeatable); its runs alternate with the others'")
    parser.add_argument("--runs", type=int, default=5, help="counted rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds not counted (default 1)")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS")
    parser.add_argument("--json", action="store_true", help="every figure as JSON on stdout (table on stderr)")
    args = parser.parse_args(argv)
    builds = parse_builds(args)
    repo = str(Path(args.repo).resolve())
    collected: dict[str, dict[str, list]] = {name: {mode: [] for mode in MODES} for name in builds}
    for index in range(args.warmup + args.runs):
        counted = index >= args.warmup
        bench_scan.log(f"round {index + 1 - args.warmup if counted else 'warm-up'}")
        for name, modes in one_round(builds, repo, args.timeout).items():
            for mode, run in modes.items():
                bench_scan.log(f"  {name:>10} {mode:>8}: wall {run.wall:.2f} s, cpu {run.cpu:.2f} s")
                if counted:
                    collected[name][mode].append(run)
    summary = {name: {mode: summarize(samples) for mode, samples in modes.items()}
               for name, modes in collected.items()}
    text = table(summary, args.runs)
    machine = bench_scan.machine_info()
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps({"repo": repo, "machine": machine, "builds": {n: " ".join(b) for n, b in builds.items()},
                          "summary": summary}, indent=2))
    else:
        print(text)
        print(f"\nmachine: {machine}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
