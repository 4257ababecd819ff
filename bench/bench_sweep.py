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

Then it runs the real CLI twice, `keysweep sweep --config keysweep.toml` in a subprocess with a
fresh store, and reports for each run: wall time, requests made (by status), requests per second
achieved, findings; and the second run's time as a share of the first (nothing changed between
them). The Hyperscan database is compiled by a warm-up scan first, so neither run pays for it.

Nothing leaves the machine: the server is on 127.0.0.1 and clone URLs are file:// paths.

    .venv/bin/python bench/bench_sweep.py                 # 200 repos, 2,000 variables, 100 req/s
    .venv/bin/python bench/bench_sweep.py --repos 50 --variables 500 --rate 50 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def run_sweep(root: Path, env: dict[str, str]) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "keysweep", "sweep", "--config", str(root / "keysweep.toml"),
                           "--format", "json", "--no-progress"], cwd=root, env=env, capture_output=True,
                          timeout=3600)
    wall = time.monotonic() - started
    try:
        findings = len(json.loads(done.stdout))
    except ValueError:
        findings = -1
    return {"exit": done.returncode, "wall_s": round(wall, 2), "findings": findings,
            "stderr_tail": done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--variables", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=5, help="commits per repository")
    parser.add_argument("--rate", type=float, default=100.0, help="server-side limit, counted requests/s")
    parser.add_argument("--client-rate", type=float, default=None, help="keysweep's per-host throttle (req/s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--keep", help="build in this directory and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keysweep-bench-sweep-") as scratch:
        root = Path(args.keep or scratch)
        root.mkdir(parents=True, exist_ok=True)
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
            runs = []
            for _ in range(2):
                before_total, before = behaviour.total, behaviour.statuses.copy()
                result = run_sweep(root, env)
                statuses = {str(k): v - before.get(k, 0) for k, v in behaviour.statuses.items() if v - before.get(k, 0)}
                result["requests"] = behaviour.total - before_total
                result["requests_by_status"] = statuses
                result["requests_per_s"] = round(result["requests"] / result["wall_s"], 1) if result["wall_s"] else None
                counted = statuses.get("200", 0)
                result["counted_requests_per_s"] = round(counted / result["wall_s"], 1) if result["wall_s"] else None
                runs.append(result)
        finally:
            server.stop()
    report = {"shape": shape, "build_s": round(build_s, 1), "server_rate_limit": args.rate,
              "client_rate_limit": client_rate, "first": runs[0], "second": runs[1],
              "second_over_first": round(runs[1]["wall_s"] / runs[0]["wall_s"], 3) if runs[0]["wall_s"] else None}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"fake org: {shape['repos']} repositories, {shape['variables']} variables "
          f"({shape['planted_variable_keys']} holding fake keys); built in {report['build_s']} s")
    print(f"server limit {args.rate:g} counted req/s (304s free), keysweep throttle {client_rate:g} req/s")
    print(f"{'run':<8}{'exit':>5}{'wall s':>9}{'requests':>10}{'req/s':>8}{'200/s':>8}{'findings':>10}  statuses")
    for name, run in (("first", runs[0]), ("second", runs[1])):
        print(f"{name:<8}{run['exit']:>5}{run['wall_s']:>9}{run['requests']:>10}{run['requests_per_s']:>8}"
              f"{run['counted_requests_per_s']:>8}{run['findings']:>10}  {run['requests_by_status']}")
    print(f"second run / first run: {report['second_over_first']:.1%}")
    for name, run in (("first", runs[0]), ("second", runs[1])):
        if run["exit"] not in (0, 1):
            print(f"{name} run failed: {' | '.join(run['stderr_tail'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
