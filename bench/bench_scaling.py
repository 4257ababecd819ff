#!/usr/bin/env python3
"""How `keysweep scan git` grows with history size and with cores, peers beside it (not a timed test).

For every repository given and every core count in ``--cores`` (default 1 and 2), runs
``bench/bench_scan.py git REPO --json`` pinned to that many CPUs (``taskset -c 0..N-1``, so the
tools and every process they start see only those CPUs) and prints one table: wall time, CPU time,
MB/s over all blob bytes, peak memory of the largest single process and of all of a tool's processes
together (PSS), for keysweep and for each peer found in ``--peers-venv``. Linux only (taskset).

    python bench/bench_scaling.py ../lab/corpus/requests ../lab/corpus/sqlalchemy \\
        --keysweep .venv/bin/keysweep --peers-venv ../lab/venv-bl
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(repo: str, cores: int, args) -> dict:
    command = ["taskset", "-c", f"0-{cores - 1}", sys.executable, str(HERE / "bench_scan.py"), "git", repo,
               "--runs", str(args.runs), "--warmup", str(args.warmup), "--json", "--keysweep", args.keysweep]
    for venv in args.peers_venv or []:
        command += ["--peers-venv", venv]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode not in (0, 1):
        sys.exit(f"bench_scaling: bench_scan.py failed on {repo}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="+", help="git repositories (full clones), smallest first")
    parser.add_argument("--cores", default="1,2", help="core counts to pin to, comma-separated (default 1,2)")
    parser.add_argument("--keysweep", default="keysweep", help="keysweep command (default: keysweep on PATH)")
    parser.add_argument("--peers-venv", action="append", help="venv holding peer scanners (repeatable)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        sys.exit("bench_scaling: taskset (util-linux) is needed to pin the runs to N cores")
    cores = [int(c) for c in args.cores.split(",")]
    if max(cores) > len(os.sched_getaffinity(0)):
        sys.exit(f"bench_scaling: this machine has {len(os.sched_getaffinity(0))} usable CPUs")
    results = []
    for repo in args.repos:
        for n in cores:
            print(f"bench_scaling: {repo} on {n} core(s)…", file=sys.stderr, flush=True)
            results.append({"repo": repo, "cores": n, "result": measure(repo, n, args)})
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("| repository | blobs | blob MB | cores | tool | wall s | CPU s | MB/s | peak MiB | all processes MiB | findings |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for entry in results:
        result = entry["result"]
        for tool in result.get("results", []):
            if tool.get("wall_s") is None:
                continue
            print(f"| {Path(entry['repo']).name} | {result.get('blobs', 0):,} | {result.get('blob_bytes', 0) / 1e6:,.1f} "
                  f"| {entry['cores']} | {tool['tool']} | {tool['wall_s']:.2f} | {tool['cpu_s']:.2f} "
                  f"| {tool.get('mb_per_s') or 0:.1f} | {tool['peak_mib']:.0f} | {tool.get('tree_peak_mib') or 0:.0f} "
                  f"| {tool.get('findings')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
