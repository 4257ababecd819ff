#!/usr/bin/env python3
"""Every row of issue 13's performance table in one command, keysweep beside the peers (not a timed test).

Runs, one after the other, the benchmark scripts beside this one, each with ``--json``, and prints
one table: the figure, keysweep's value, the yardstick's value, the ratio, the goal and whether this
run met it, with the machine and the load average before and after each step.

``scan``    ``bench_scan.py git REPO --engine hyperscan --engine regex`` with every peer found in
            ``--peers-venv``, the tools taking turns run by run: full history ``--no-store`` against
            the fastest peer (wall and CPU), keysweep's peak memory (largest single process, and all
            of its processes together), and the pure-``regex`` engine ÷ the Hyperscan engine.
``store``   ``bench_store.py REPO``: the same scan with the store (a new one) ÷ without, and a second
            scan of the unchanged repository ÷ the first (CPU time; the three modes take turns).
``staged``  ``bench_scan.py staged --hook`` twice (a clean 20-file change, then one holding a
            generated key-shaped value): plain ``keysweep scan staged``, what a pre-commit hook runs,
            against ``betterleaks git --staged`` (and the other peers found).
``sweep``   ``bench_sweep.py`` against the fake GitHub organization, for each ``--sweep-org``: the
            second run with nothing new ÷ the first.

Wall time is what the goals are stated in; on a machine shared with other work compare the CPU
ratios (also printed) and the load averages. ``--only``/``--skip`` take the step names above.

    python bench/bench_all.py /tmp/corpus/sqlalchemy --keysweep .venv/bin/keysweep \\
        --peers-venv /tmp/peers-venv --peers-venv /tmp/peers-venv-bl

Standard library only (Python 3.11+); bench_sweep.py runs with keysweep's own interpreter (it
imports the fake forge from tests/). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
bench_scan = importlib.import_module("bench_scan")

STEPS = ("scan", "store", "staged", "sweep")
# (repositories, variables, server limit = keysweep's throttle, req/s): a small organization at a
# generous limit and a larger one bound by the limit.
DEFAULT_ORGS = ("50:200:100", "200:2000:20")


def log(message: str) -> None:
    print(f"bench_all: {message}", file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_json(argv: list[str], timeout: float) -> dict:
    """Run one benchmark script with --json; its JSON from stdout (its table and progress go to stderr)."""
    log(" ".join(argv))
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"bench_all: {Path(argv[1]).name} exited {done.returncode} without a JSON result")


def step(name: str, argv: list[str], timeout: float) -> dict:
    before, started = load(), time.monotonic()
    result = run_json(argv, timeout)
    return {"step": name, "load_before": before, "load_after": load(),
            "seconds": round(time.monotonic() - started, 1), "result": result}


def byte_compile(python: str) -> None:
    """Byte-compile keysweep's modules, as installing its wheel does.

    An editable install under PYTHONDONTWRITEBYTECODE=1 (or a read-only checkout) would otherwise
    compile every module from source on every run: about 0.1-0.3 s more for each scan, most of a
    staged scan's time.
    """
    where = subprocess.run([python, "-c", "import keysweep, os; print(os.path.dirname(keysweep.__file__))"],
                           capture_output=True, text=True, cwd="/").stdout.strip()
    if where:
        subprocess.run([python, "-m", "compileall", "-q", where], capture_output=True)


def by_tool(result: dict) -> dict[str, dict]:
    return {r["tool"]: r for r in result.get("results", []) if r.get("wall_s") is not None}


def ratio(a, b):
    return None if a is None or not b else a / b


def rows_scan(done: dict) -> list[dict]:
    tools = by_tool(done["result"])
    ks = tools.get("keysweep")
    regex = tools.get("keysweep --engine regex")
    peers = [r for name, r in tools.items() if not name.startswith("keysweep")]
    fastest = min(peers, key=lambda r: r["wall_s"]) if peers else None
    where = f"{Path(done['result']['repo']).name}, median of {done['result']['runs']}"
    rows = []
    if ks and fastest:
        rows.append({"figure": "full history, --no-store, vs fastest peer", "where": where,
                     "keysweep": f"{ks['wall_s']:.2f} s (CPU {ks['cpu_s']:.2f} s)",
                     "yardstick": f"{fastest['tool']} {fastest['wall_s']:.2f} s (CPU {fastest['cpu_s']:.2f} s)",
                     "ratio": ratio(ks["wall_s"], fastest["wall_s"]), "cpu_ratio": ratio(ks["cpu_s"], fastest["cpu_s"]),
                     "goal": 0.5})
    if ks:
        rows.append({"figure": "peak memory, first scan (largest process)", "where": where,
                     "keysweep": f"{ks['peak_max_mib']:.0f} MiB (all processes {ks.get('tree_peak_mib') or 0:.0f} MiB)",
                     "yardstick": "250 MB = 238 MiB", "ratio": ks["peak_max_mib"] * 1024 * 1024 / 250e6,
                     "cpu_ratio": None, "goal": 1.0})
    if ks and regex:
        rows.append({"figure": "pure-regex engine ÷ Hyperscan engine", "where": where,
                     "keysweep": f"{regex['wall_s']:.2f} s (CPU {regex['cpu_s']:.2f} s)",
                     "yardstick": f"Hyperscan {ks['wall_s']:.2f} s (CPU {ks['cpu_s']:.2f} s)",
                     "ratio": ratio(regex["wall_s"], ks["wall_s"]), "cpu_ratio": ratio(regex["cpu_s"], ks["cpu_s"]),
                     "goal": 3.0})
    return rows


def rows_store(done: dict) -> list[dict]:
    summary = next(iter(done["result"]["summary"].values()))
    no_store, store, second = summary["no-store"], summary["store"], summary["second"]
    where = f"{Path(done['result']['repo']).name}, median of {done['result'].get('runs', '?')}"
    return [
        {"figure": "full history with the store ÷ --no-store", "where": where,
         "keysweep": f"{store['wall']:.2f} s (CPU {store['cpu']:.2f} s)",
         "yardstick": f"no-store {no_store['wall']:.2f} s (CPU {no_store['cpu']:.2f} s)",
         "ratio": ratio(store["wall"], no_store["wall"]), "cpu_ratio": ratio(store["cpu"], no_store["cpu"]), "goal": 1.1},
        {"figure": "second scan of the unchanged repo ÷ first", "where": where,
         "keysweep": f"{second['wall']:.2f} s (CPU {second['cpu']:.2f} s)",
         "yardstick": f"first (store) {store['wall']:.2f} s (CPU {store['cpu']:.2f} s)",
         "ratio": ratio(second["wall"], store["wall"]), "cpu_ratio": ratio(second["cpu"], store["cpu"]), "goal": 0.05},
    ]


def rows_staged(done: dict, label: str) -> list[dict]:
    tools = by_tool(done["result"])
    ks, peer = tools.get("keysweep"), tools.get("betterleaks")
    if not ks:
        return []
    where = f"{done['result']['staged_files']} files, median of {done['result']['runs']}"
    return [{"figure": f"scan staged, {label}, vs Betterleaks git --staged", "where": where,
             "keysweep": f"{ks['wall_s'] * 1000:.0f} ms (CPU {ks['cpu_s'] * 1000:.0f} ms)",
             "yardstick": (f"betterleaks {peer['wall_s'] * 1000:.0f} ms (CPU {peer['cpu_s'] * 1000:.0f} ms)"
                           if peer else "betterleaks not found"),
             "ratio": ratio(ks["wall_s"], peer and peer["wall_s"]), "cpu_ratio": ratio(ks["cpu_s"], peer and peer["cpu_s"]),
             "goal": 1.0}]


def rows_sweep(done: dict) -> list[dict]:
    result = done["result"]
    first, second = result["median"]["first"], result["median"]["second"]
    shape = result["shape"]
    return [{"figure": "sweep, second run with nothing new ÷ first",
             "where": f"{shape['repos']} repos, {shape['variables']} variables, {result['server_rate_limit']:g} req/s, "
                      f"median of {result['series']}",
             "keysweep": f"{second['wall_s']:.2f} s (CPU {second['cpu_s']:.2f} s)",
             "yardstick": f"first {first['wall_s']:.2f} s (CPU {first['cpu_s']:.2f} s)",
             "ratio": ratio(second["wall_s"], first["wall_s"]), "cpu_ratio": ratio(second["cpu_s"], first["cpu_s"]),
             "goal": 0.10}]


def fmt_ratio(x) -> str:
    return "–" if x is None else (f"{x:.3f}" if x < 0.2 else f"{x:.2f}")


def print_table(rows: list[dict], steps: list[dict], machine: dict) -> None:
    print("| figure | where | keysweep | yardstick | ratio (wall) | ratio (CPU) | goal | met (wall) |")
    print("|---|---|---|---|---:|---:|---:|---|")
    for row in rows:
        met = "–" if row["ratio"] is None else ("yes" if row["ratio"] <= row["goal"] else "no")
        print(f"| {row['figure']} | {row['where']} | {row['keysweep']} | {row['yardstick']} | "
              f"{fmt_ratio(row['ratio'])} | {fmt_ratio(row['cpu_ratio'])} | ≤ {row['goal']:g} | {met} |")
    print()
    print(f"machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['mem_gib']} GiB, Linux {machine['kernel']}, "
          f"Python {machine['python']}, {machine['git']}; started {machine['date']}")
    for done in steps:
        print(f"  {done['step']:<14} {done['seconds']:>7.1f} s   load average before {done['load_before']}, "
              f"after {done['load_after']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("repo", metavar="REPO_PATH", help="full clone for the scan and store rows (sqlalchemy in the issue)")
    parser.add_argument("--keysweep", default="keysweep", metavar="CMD", help="keysweep command (default: on PATH)")
    parser.add_argument("--peers-venv", action="append", default=[], metavar="VENV",
                        help="venv holding peer scanners (repeatable; see bench_scan.py)")
    parser.add_argument("--runs", type=int, default=3, help="counted runs of each scan (default 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="uncounted runs of each scan before the counted ones (default 1; 0 when caches are warm)")
    parser.add_argument("--regex-repo", metavar="REPO_PATH",
                        help="repository for the pure-regex row if not REPO (its runs are then apart from the peers')")
    parser.add_argument("--staged-runs", type=int, default=15, help="counted runs of each staged scan (default 15)")
    parser.add_argument("--sweep-org", action="append", metavar="REPOS:VARIABLES:RATE",
                        help=f"fake organization for the sweep row (repeatable; default {' and '.join(DEFAULT_ORGS)})")
    parser.add_argument("--sweep-runs", type=int, default=3, help="series per organization (default 3)")
    parser.add_argument("--only", action="append", choices=STEPS, help="run only these steps (repeatable)")
    parser.add_argument("--skip", action="append", choices=STEPS, default=[], help="leave out these steps")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="passed to bench_scan.py: wait for a quiet machine before each run")
    parser.add_argument("--timeout", type=float, default=7200.0, metavar="SECONDS", help="per step")
    parser.add_argument("--json", action="store_true", help="every step's result as JSON on stdout")
    args = parser.parse_args(argv)

    keysweep = bench_scan.keysweep_argv(args.keysweep)
    command = " ".join(keysweep)
    python = bench_scan.interpreter_of(keysweep[0])
    peers = [arg for venv in args.peers_venv for arg in ("--peers-venv", venv)]
    idle = ["--wait-idle", str(args.wait_idle)] if args.wait_idle else []
    wanted = [s for s in (args.only or STEPS) if s not in args.skip]
    repo = str(Path(args.repo).resolve())
    machine = bench_scan.machine_info()
    byte_compile(python)
    here = [sys.executable]
    steps: list[dict] = []
    rows: list[dict] = []

    if "scan" in wanted:
        engines = ["--engine", "hyperscan"] + ([] if args.regex_repo else ["--engine", "regex"])
        counts = ["--runs", str(args.runs), "--warmup", str(args.warmup)]
        done = step("scan", [*here, str(HERE / "bench_scan.py"), "git", repo, *counts, "--json", "--keysweep", command,
                             *engines, *peers, *idle], args.timeout)
        steps.append(done)
        rows += rows_scan(done)
        if args.regex_repo:
            done = step("scan (regex)", [*here, str(HERE / "bench_scan.py"), "git", str(Path(args.regex_repo).resolve()),
                                         *counts, "--json", "--keysweep", command, "--engine", "hyperscan",
                                         "--engine", "regex", *idle], args.timeout)
            steps.append(done)
            rows += [r for r in rows_scan(done) if r["figure"].startswith("pure-regex")]
    if "store" in wanted:
        done = step("store", [*here, str(HERE / "bench_store.py"), repo, "--runs", str(args.runs), "--warmup",
                              str(args.warmup), "--json", "--keysweep", command], args.timeout)
        done["result"]["runs"] = args.runs
        steps.append(done)
        rows += rows_store(done)
    if "staged" in wanted:
        for label, extra in (("clean", ["--clean"]), ("one key", [])):
            done = step(f"staged {label}", [*here, str(HERE / "bench_scan.py"), "staged", "--hook", *extra,
                                            "--runs", str(args.staged_runs), "--json", "--keysweep", command,
                                            *peers, *idle], args.timeout)
            steps.append(done)
            rows += rows_staged(done, label)
    if "sweep" in wanted:
        for spec in args.sweep_org or DEFAULT_ORGS:
            repos, variables, rate = spec.split(":")
            done = step(f"sweep {spec}", [python, str(HERE / "bench_sweep.py"), "--repos", repos, "--variables",
                                          variables, "--rate", rate, "--runs", str(args.sweep_runs), "--push", "0",
                                          "--json"], args.timeout)
            steps.append(done)
            rows += rows_sweep(done)

    if args.json:
        print(json.dumps({"machine": machine, "keysweep": command, "rows": rows, "steps": steps}, indent=2, default=str))
    else:
        print_table(rows, steps, machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
