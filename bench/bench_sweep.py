#!/usr/bin/env python3
"""Benchmark `keysweep sweep` against a fake GitHub organization (not a timed test).

Builds, in a temporary directory, an organization of ``--repos`` repositories (local bare git
repositories with a few commits each; some carry a generated fake key in their history) holding
``--variables`` Actions variables in all (repository and environment level; some hold generated
fake keys) and three Actions secrets per repository (some stale). The fake GitHub
(tests.fakes.forge) listens on 127.0.0.1 and enforces a server-side rate limit of
``--rate`` counted requests per second (answers 200 count, 304s don't, as on GitHub; over the
limit it answers 429 with Retry-After). keysweep's own per-host throttle is set to
``--client-rate`` (default: the server's limit) through keysweep.toml.

Then it runs the real CLI, `keysweep sweep --config keysweep.toml` in a subprocess with a fresh
store: a first run, a second with nothing changed, and (``--push N``, default 5) a third after N
repositories got a new commit holding a fake key (their `pushed_at` moves, as GitHub's does). For
each run: wall and CPU time, requests made (by status; how many were conditional, with
If-None-Match), requests per second achieved, blobs read (the store's record of each scope's
scan), findings; and the second and third runs' times as shares of the first. The Hyperscan
database is compiled by a warm-up scan first, so no run pays for it. ``--runs K`` repeats the
whole series K times (a fresh organization and store each time) and reports medians.

Nothing leaves the machine: the server is on 127.0.0.1 and clone URLs are file:// paths.

    .venv/bin/python bench/bench_sweep.py                 # 200 repos, 2,000 variables, 100 req/s
    .venv/bin/python bench/bench_sweep.py --repos 50 --variables 200 --commits 50 --runs 3
    .venv/bin/python bench/bench_sweep.py --repos 50 --variables 500 --rate 50 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from keysweep.clock import utc_iso  # noqa: E402
from keysweep.testing.keygen import KeyGen  # noqa: E402
from tests.fakes.forge import FakeGitHub, ForgeBehaviour, GhRepo  # noqa: E402

TOKEN = "bench-token-not-a-real-credential"


def stamp(days_ago: float) -> str:
    return utc_iso(datetime.now(timezone.utc) - timedelta(days=days_ago))


def build_repo(path: Path, index: int, keys: KeyGen, rng: random.Random, commits: int) -> None:
    subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
    lines: list[bytes] = []
    for number in range(1, commits + 1):
        when = 1_700_000_000 + index * 1000 + number * 60
        message = f"change {number}".encode()
        lines.append(f"commit refs/heads/main\nmark :{number}\n".encode())
        lines.append(f"author Dev {index} <dev{index}@example.com> {when} +0000\n".encode())
        lines.append(f"committer Dev {index} <dev{index}@example.com> {when} +0000\n".encode())
        lines.append(f"data {len(message)}\n".encode() + message + b"\n")
        for file_number in range(4):
            body = "".join(f"line {rng.random():.12f} of repo {index} file {file_number} commit {number}\n"
                           for _ in range(30))
            if index % 10 == 0 and number == 3 and file_number == 0:
                body += f"OPENAI_API_KEY={keys.openai_project()}\n"
            data = body.encode()
            lines.append(f"M 100644 inline src/file{file_number}.txt\ndata {len(data)}\n".encode() + data + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(lines), check=True,
                   env={**os.environ, "GIT_DIR": str(path)})


def build_org(root: Path, repos: int, variables: int, commits: int, server: FakeGitHub) -> dict[str, int]:
    keys = KeyGen(2024)
    rng = random.Random(7)
    server.add_org("acme")
    with_env = max(1, repos // 4)
    env_vars = variables // 10 if repos >= 4 else 0
    repo_vars = variables - env_vars
    planted = 0
    made = 0
    for index in range(repos):
        path = root / "remote" / f"repo{index:04d}.git"
        build_repo(path, index, keys, rng, commits)
        count = repo_vars // repos + (1 if index < repo_vars % repos else 0)
        values = []
        for number in range(count):
            made += 1
            if made % 50 == 0:
                value, planted = keys.anthropic(), planted + 1
            else:
                value = f"setting-{index}-{number}-{rng.randrange(10**6)}"
            values.append({"name": f"VAR_{number:02d}", "value": value, "created_at": stamp(30), "updated_at": stamp(20)})
        environments = {}
        if index < with_env and env_vars:
            per_env = env_vars // with_env + (1 if index < env_vars % with_env else 0)
            environments["prod"] = {
                "variables": [{"name": f"PROD_{n}", "value": f"prod-{index}-{n}", "created_at": stamp(9),
                               "updated_at": stamp(9)} for n in range(per_env)],
                "secrets": [{"name": "PROD_DB", "created_at": stamp(300), "updated_at": stamp(200)}]}
        secrets = [{"name": f"SECRET_{n}", "created_at": stamp(400), "updated_at": stamp(rng.choice([5, 60, 200]))}
                   for n in range(3)]
        server.add_repo(GhRepo("acme", f"repo{index:04d}", f"file://{path}", pushed_at=stamp(1),
                               variables=values, secrets=secrets, environments=environments))
    total_vars = sum(len(r.variables) + sum(len(e["variables"]) for e in r.environments.values())
                     for r in server.repos.values())
    return {"repos": repos, "variables": total_vars, "planted_variable_keys": planted}


def push(path: Path, index: int, keys: KeyGen) -> None:
    """One new commit on main of the bare repository at `path`, adding a file with a fake key."""
    parent = subprocess.run(["git", "rev-parse", "refs/heads/main"], cwd=path, capture_output=True, text=True,
                            check=True).stdout.strip()
    data = f"# pushed between sweeps\nHF_TOKEN={keys.huggingface()}\n".encode()
    when = 1_800_000_000 + index
    message = b"push between sweeps"
    stream = (f"commit refs/heads/main\nauthor Dev <dev@example.com> {when} +0000\n"
              f"committer Dev <dev@example.com> {when} +0000\ndata {len(message)}\n").encode() + message + \
        f"\nfrom {parent}\nM 100644 inline deploy/hf.env\ndata {len(data)}\n".encode() + data + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True,
                   env={**os.environ, "GIT_DIR": str(path)})


def blobs_read(store: Path, since: str) -> int:
    """Blobs the scans recorded since `since` read (each scope's scan stats in the store)."""
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT stats FROM scans WHERE started_at >= ?", [since]).fetchall()
    return sum(json.loads(stats).get("blobs_scanned", 0) for (stats,) in rows)


def run_sweep(root: Path, env: dict[str, str]) -> dict:
    started = time.monotonic()
    since = utc_iso(datetime.now(timezone.utc) - timedelta(seconds=1))
    before = os.times()
    done = subprocess.run([sys.executable, "-m", "keysweep", "sweep", "--config", str(root / "keysweep.toml"),
                           "--format", "json", "--no-progress"], cwd=root, env=env, capture_output=True,
                          timeout=3600)
    wall = time.monotonic() - started
    after = os.times()
    try:
        findings = len(json.loads(done.stdout))
    except ValueError:
        findings = -1
    return {"exit": done.returncode, "wall_s": round(wall, 2),
            "cpu_s": round(after.children_user + after.children_system - before.children_user
                           - before.children_system, 2),
            "findings": findings, "blobs_read": blobs_read(root / "store.db", since),
            "stderr_tail": done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]}


def series(args, root: Path) -> dict:
    """Build the organization, then the first, second and (with --push) third sweeps."""
    behaviour = ForgeBehaviour(token=TOKEN, rate_per_second=args.rate)
    server = FakeGitHub(behaviour).start()
    try:
        t0 = time.monotonic()
        shape = build_org(root, args.repos, args.variables, args.commits, server)
        build_s = time.monotonic() - t0
        client_rate = args.client_rate or args.rate
        (root / "keysweep.toml").write_text(
            f'[sources]\ncache_dir = "{root / "cache"}"\n\n[[sources.github]]\norgs = ["acme"]\n\n'
            f'[providers.github]\nrate_limit = {client_rate}\n')
        env = dict(os.environ, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=server.url,
                   KEYSWEEP_DB=str(root / "store.db"), GIT_TERMINAL_PROMPT="0")
        env.pop("KEYSWEEP_DEBUG", None)
        warm = root / "warm"
        warm.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "keysweep", "scan", "dir", str(warm), "--no-store"],
                       env=env, capture_output=True)
        runs = {}
        for name in ("first", "second", "third"):
            if name == "third":
                if not args.push:
                    break
                keys = KeyGen(99)
                for index in range(min(args.push, args.repos)):
                    push(root / "remote" / f"repo{index:04d}.git", index, keys)
                    server.repos[f"acme/repo{index:04d}"].pushed_at = stamp(0)
            logged, before_total, before = len(behaviour.log), behaviour.total, behaviour.statuses.copy()
            result = run_sweep(root, env)
            statuses = {str(k): v - before.get(k, 0) for k, v in behaviour.statuses.items() if v - before.get(k, 0)}
            result["requests"] = behaviour.total - before_total
            result["conditional_requests"] = sum(1 for _, conditional, _ in behaviour.log[logged:] if conditional)
            result["requests_by_status"] = statuses
            result["requests_per_s"] = round(result["requests"] / result["wall_s"], 1) if result["wall_s"] else None
            counted = statuses.get("200", 0)
            result["counted_requests_per_s"] = round(counted / result["wall_s"], 1) if result["wall_s"] else None
            runs[name] = result
    finally:
        server.stop()
    return {"shape": shape, "build_s": round(build_s, 1), "client_rate_limit": client_rate, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--variables", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=5, help="commits per repository")
    parser.add_argument("--rate", type=float, default=100.0, help="server-side limit, counted requests/s")
    parser.add_argument("--client-rate", type=float, default=None, help="keysweep's per-host throttle (req/s)")
    parser.add_argument("--push", type=int, default=5,
                        help="repositories pushed to before a third run (0: no third run)")
    parser.add_argument("--runs", type=int, default=1, help="whole series to run; medians are reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--keep", help="build in this directory and keep it (one series)")
    args = parser.parse_args()

    series_results = []
    for _ in range(max(1, args.runs)):
        with tempfile.TemporaryDirectory(prefix="keysweep-bench-sweep-") as scratch:
            root = Path(args.keep) if args.keep else Path(scratch)
            root.mkdir(parents=True, exist_ok=True)
            series_results.append(series(args, root))
        if args.keep:
            break
    names = [name for name in ("first", "second", "third") if name in series_results[0]["runs"]]

    def med(name: str, key: str):
        values = [result["runs"][name][key] for result in series_results]
        return statistics.median(values) if all(isinstance(v, (int, float)) for v in values) else values[0]

    summary = {name: {key: med(name, key) for key in ("wall_s", "cpu_s", "requests", "conditional_requests",
                                                       "blobs_read", "findings", "exit")} for name in names}
    for name in names:
        summary[name]["wall_s_all"] = [result["runs"][name]["wall_s"] for result in series_results]
    report = {"shape": series_results[0]["shape"], "commits": args.commits, "server_rate_limit": args.rate,
              "client_rate_limit": series_results[0]["client_rate_limit"], "series": len(series_results),
              "median": summary, "runs": [result["runs"] for result in series_results]}
    for name in names[1:]:
        report[f"{name}_over_first"] = round(summary[name]["wall_s"] / summary["first"]["wall_s"], 3)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    shape = report["shape"]
    print(f"fake org: {shape['repos']} repositories ({args.commits} commits each), {shape['variables']} variables "
          f"({shape['planted_variable_keys']} holding fake keys)")
    print(f"server limit {args.rate:g} counted req/s (304s free), keysweep throttle "
          f"{report['client_rate_limit']:g} req/s; medians of {len(series_results)} series")
    print(f"{'run':<8}{'exit':>5}{'wall s':>9}{'cpu s':>8}{'requests':>10}{'conditional':>13}{'blobs read':>12}"
          f"{'findings':>10}  statuses (last series)")
    for name in names:
        run, last = summary[name], series_results[-1]["runs"][name]
        print(f"{name:<8}{run['exit']:>5}{run['wall_s']:>9}{run['cpu_s']:>8}{run['requests']:>10}"
              f"{run['conditional_requests']:>13}{run['blobs_read']:>12}{run['findings']:>10}  "
              f"{last['requests_by_status']}")
    for name in names[1:]:
        print(f"{name} run / first run: {report[f'{name}_over_first']:.1%}")
    for result in series_results:
        for name in names:
            run = result["runs"][name]
            if run["exit"] not in (0, 1):
                print(f"{name} run failed: {' | '.join(run['stderr_tail'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
