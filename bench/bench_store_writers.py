#!/usr/bin/env python3
"""Benchmark (not a test): several processes writing one store at once, SQLite and PostgreSQL.

Each of N writer processes records M small scans into one fresh store: a write transaction holding
one finding with one occurrence and the blob ids it read (what `keysweep scan` writes per
repository), with no pause between them. Reported per backend and writer count: wall seconds of
the whole run and write transactions per second; then the rows are counted (each finding once,
every scan recorded). Writers take the store's write lock one at a time on both backends, so this
measures the lock hand-over and the round trips, not parallel writing.

    python bench/bench_store_writers.py [--writers 1 2 4] [--scans 200]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

The PostgreSQL store is made in a schema of its own (dropped afterwards). See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keysweep.fingerprint import finding_id, redact, secret_sha256  # noqa: E402
from keysweep.models import Finding, Occurrence  # noqa: E402
from keysweep.store import Store  # noqa: E402


def one_writer(location: str, writer: int, scans: int, start: multiprocessing.Event) -> None:
    store = Store(location)
    start.wait()
    for n in range(scans):
        value = f"sk-proj-{writer:03d}{n:05d}" + "Zq7x" * 11
        digest = secret_sha256(value)
        finding = Finding(id=finding_id("openai", digest), rule_id="openai.project-key", provider="openai",
                          secret_sha256=digest, redacted=redact(value, "sk-proj-"), long_lived=True,
                          occurrences=[Occurrence(source="git", path=".env", line=1, repo=f"repo-{writer}-{n}")])
        with store.transaction():
            store.record([finding], f"repo-{writer}-{n}", "2026-01-01T00:00:00Z")
            store.mark_scanned("git", f"repo-{writer}-{n}", [f"{writer}-{n}-{i}" for i in range(20)], "rules",
                               "2026-01-01T00:00:00Z")
            store.record_scan("git", f"repo-{writer}-{n}", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", {}, 1)
    store.close()


def measure(location: str, writers: int, scans: int) -> tuple[float, int, int]:
    Store(location).close()  # created (and migrated) before the clock starts
    start = multiprocessing.Event()
    processes = [multiprocessing.Process(target=one_writer, args=(location, w, scans, start)) for w in range(writers)]
    for process in processes:
        process.start()
    time.sleep(0.5)
    began = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            sys.exit(f"bench_store_writers: a writer exited {process.exitcode}")
    wall = time.perf_counter() - began
    store = Store(location)
    findings = store.conn.execute("SELECT count(*) FROM findings").fetchone()[0]
    recorded = store.conn.execute("SELECT count(*) FROM scans").fetchone()[0]
    store.close()
    return wall, findings, recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--scans", type=int, default=200, help="write transactions per writer")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    import psycopg  # noqa: PLC0415  (the benchmark's own setup: a schema for the PostgreSQL store)

    print("| backend | writers | transactions | wall s | transactions/s | findings | scans |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for writers in args.writers:
        with tempfile.TemporaryDirectory(prefix="bench-writers-") as folder:
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                sep = "&" if "?" in args.postgres else "?"
                for backend, location in (("sqlite", str(Path(folder) / "store.db")),
                                          ("postgresql", f"{args.postgres}{sep}options=-csearch_path%3D{schema}")):
                    wall, findings, recorded = measure(location, writers, args.scans)
                    total = writers * args.scans
                    print(f"| {backend} | {writers} | {total} | {wall:.2f} | {total / wall:.0f} | {findings} | {recorded} |",
                          flush=True)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
