"""Progress on the long runs (issue 14): `scan git` shows blobs done / total, MB/s and the time left;
`sweep` (and the remote scans) a line per repository or scope and, for a repository being read, its
blobs done / total, so a large one never sits still. `--progress/--no-progress` decide; unset,
progress shows only when stderr is a terminal: a pipe, a log or CI gets none."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from keysweep.progress import (
    BlobProgress,
    CountProgress,
    describe,
    describe_count,
    duration,
    progress_enabled,
    rate_and_eta,
)
from keysweep.scanner.engine import Engine
from keysweep.scanner.pipeline import scan_git
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources.git import GitRepo

from .conftest import KEYSWEEP_BIN, validate_findings_output
from .test_verify_command import leaky_repo, providers  # noqa: F401  (fixtures)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_unset_progress_shows_on_a_terminal_only():
    assert progress_enabled(None, Terminal()) is True
    assert progress_enabled(None, io.StringIO()) is False
    assert progress_enabled(True, io.StringIO()) is True
    assert progress_enabled(False, Terminal()) is False


def test_a_progress_line_says_done_of_total_the_rate_and_the_time_left():
    assert describe(1200, 5000, 30_000_000, 120_000_000, 10.0) == \
        "1,200/5,000 blobs, 30.0 of 120.0 MB, 3.0 MB/s, ETA 30s"
    assert describe(1, 1, 0, 0, 1.0) == "1/1 blob, 0.0 of 0.0 MB, 0.0 MB/s"  # no rate yet: no time left
    assert describe(3, None, 2_000_000, None, 2.0) == "3 blobs, 2.0 MB, 1.0 MB/s"  # total not known
    assert [duration(s) for s in (0, 42, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]
    assert rate_and_eta(30_000_000, 120_000_000, 10.0) == "3.0 MB/s ETA 30s"  # the live display's words
    assert rate_and_eta(0, 120_000_000, 0.5) == "0.0 MB/s ETA ?"


def test_plain_lines_come_a_few_seconds_apart_and_at_the_end():
    now = [100.0]
    out = io.StringIO()
    progress = BlobProgress(live=False, stream=out, clock=lambda: now[0], every=5.0)
    progress.total(10, 10_000_000)
    for blobs in range(1, 11):
        now[0] += 1.0
        progress(blobs, blobs * 1_000_000)
    lines = out.getvalue().splitlines()
    # The first call, five seconds later, and the last: never one per blob.
    assert lines == ["keysweep: 1/10 blobs, 1.0 of 10.0 MB, 1.0 MB/s, ETA 9s",
                     "keysweep: 6/10 blobs, 6.0 of 10.0 MB, 1.0 MB/s, ETA 4s",
                     "keysweep: 10/10 blobs, 10.0 of 10.0 MB, 1.0 MB/s, ETA 0s"]


def test_scan_git_tells_the_total_before_the_first_blob_and_ends_at_it(make_repo):
    repo = make_repo()
    repo.commit("files", {f"f{i}.txt": f"line {i}\n" * (i + 1) for i in range(300)})
    calls: list[tuple[str, int, int]] = []
    scan_git(GitRepo(repo.path), Engine(load_rules(), backend="regex"), workers=1,
             progress_total=lambda blobs, nbytes: calls.append(("total", blobs, nbytes)),
             progress=lambda blobs, nbytes: calls.append(("done", blobs, nbytes)))
    kind, blobs, nbytes = calls[0]
    assert kind == "total" and blobs == 300 and nbytes == sum(len(f"line {i}\n") * (i + 1) for i in range(300))
    done = [(b, n) for k, b, n in calls[1:]]
    assert all(k == "done" for k, _b, _n in calls[1:]) and len(done) >= 2  # during the read, not only after
    assert done == sorted(done) and done[-1] == (300, nbytes)


@pytest.fixture
def small_repo(make_repo, keys):
    repo = make_repo("small")
    repo.commit("config", {"a.txt": "nothing\n", "b.env": f"OPENAI_API_KEY={keys.openai_project()}\n"})
    return repo


def test_scan_git_piped_shows_no_progress_unless_asked(run, small_repo):
    quiet = run("scan", "git", small_repo.path, "--no-store")
    assert quiet.code == 1 and quiet.stderr == "", quiet
    asked = run("scan", "git", small_repo.path, "--no-store", "--progress")
    assert asked.code == 1
    assert re.search(r"^keysweep: 2/2 blobs, [\d.]+ of [\d.]+ MB, [\d.]+ MB/s", asked.stderr, re.M), asked
    refused = run("scan", "git", small_repo.path, "--no-store", "--no-progress")
    assert refused.stderr == ""


def on_a_terminal(*args: str, cwd) -> tuple[int, str, str]:
    """Run the console script with stderr on a pseudo-terminal: (exit, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="150", LINES="40")
    process = subprocess.Popen([str(KEYSWEEP_BIN), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    screen = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the process is done with it
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    stdout = process.communicate(timeout=60)[0]
    os.close(master)
    validate_findings_output([str(a) for a in args], stdout.decode("utf-8", "replace"), cwd)
    # What a person sees, without the colour and cursor codes.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    return process.returncode, stdout.decode(), text


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_scan_git_on_a_terminal_shows_blobs_of_total_rate_and_time_left(small_repo, tmp_path):
    code, stdout, screen = on_a_terminal("scan", "git", small_repo.path, "--no-store", cwd=tmp_path)
    assert code == 1, stdout + screen
    assert re.search(r"2/2 blobs [\d.]+ MB/s ETA \d+s", screen), screen
    assert "2/2 blobs" not in stdout  # progress is stderr's, never in the records


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_sweep_on_a_terminal_shows_each_repository_and_its_blobs(small_repo, tmp_path):
    (tmp_path / "keysweep.toml").write_text('[sources]\ngit = ["small"]\n')
    code, stdout, screen = on_a_terminal("sweep", "--config", "keysweep.toml", "--db", tmp_path / "s.db",
                                         cwd=tmp_path)
    assert code == 1, stdout + screen
    assert "2/2 blobs" in screen, screen                                   # the live bar of the repository
    assert re.search(r"small: 2 objects, [\d.]+ MB, 1 finding in", screen), screen  # its line when done
    assert "keysweep: 1 repository scanned" in screen                      # the run's counts


def test_sweep_piped_shows_progress_lines_only_when_asked(run, small_repo, tmp_path):
    (tmp_path / "keysweep.toml").write_text('[sources]\ngit = ["small"]\n')
    args = ("sweep", "--config", tmp_path / "keysweep.toml", "--db", tmp_path / "s.db", "--full")
    quiet = run(*args)
    assert quiet.code == 1
    assert not re.search(r"blobs|\[1\]", quiet.stderr), quiet      # no progress on a pipe by default
    assert "keysweep: 1 repository scanned" in quiet.stderr        # the run's counts still close it
    asked = run(*args, "--progress")
    assert re.search(r"^keysweep: \S*small: 2/2 blobs, ", asked.stderr, re.M), asked
    assert re.search(r"^keysweep: \[1\] \S*small: 2 objects", asked.stderr, re.M), asked
    refused = run(*args, "--no-progress")
    assert refused.stderr == "", refused


def test_a_count_line_says_done_of_total_and_the_time_left():
    assert describe_count(12, 40, "key", 6.0) == "12/40 keys, ETA 14s"
    assert describe_count(0, 1, "key", 0.5) == "0/1 key"  # nothing done yet: no time left to give
    now = [0.0]
    out = io.StringIO()
    progress = CountProgress("verifying", "key", 3, live=False, stream=out, clock=lambda: now[0], every=5.0)
    for done in (1, 2, 3):
        now[0] += 1.0
        progress(done)
    assert out.getvalue().splitlines() == ["keysweep: verifying: 1/3 keys, ETA 2s",
                                           "keysweep: verifying: 3/3 keys, ETA 0s"]


@pytest.fixture
def verified_store(run, providers, leaky_repo, tmp_path):  # noqa: F811
    repo, _secrets = leaky_repo
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    return db


def test_verify_piped_shows_no_progress_unless_asked(run, verified_store):
    quiet = run("verify", "--db", verified_store)
    assert "verifying" not in quiet.stderr and "keysweep: verified 3 findings" in quiet.stderr, quiet
    asked = run("verify", "--db", verified_store, "--ttl", "0", "--progress")
    assert re.search(r"^keysweep: verifying: 3/3 keys, ETA \d+s$", asked.stderr, re.M), asked


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_verify_on_a_terminal_shows_keys_of_total(verified_store, providers, tmp_path, monkeypatch):
    code, stdout, screen = on_a_terminal("verify", "--db", verified_store, "--ttl", "0", cwd=tmp_path)
    assert code == 1, stdout + screen
    assert re.search(r"verifying.*3/3 keys ETA", screen), screen


def test_scan_dir_shows_files_done_of_total_the_rate_and_the_time_left(run, small_repo, tmp_path):
    tree = small_repo.path  # its working tree: two files (scan dir skips .git/)
    quiet = run("scan", "dir", tree, "--no-store")
    assert quiet.code == 1 and quiet.stderr == "", quiet
    asked = run("scan", "dir", tree, "--no-store", "--progress")
    # The first file at once, then the last: each of the total, with the time left.
    assert re.findall(r"^keysweep: (\d/\d) files, [\d.]+ of [\d.]+ MB, [\d.]+ MB/s, ETA \d+s$", asked.stderr,
                      re.M) == ["1/2", "2/2"], asked
    code, stdout, screen = on_a_terminal("scan", "dir", tree, "--no-store", cwd=tmp_path)
    assert code == 1 and re.search(r"2/2 files [\d.]+ MB/s ETA \d+s", screen), stdout + screen


def test_the_total_of_scan_dir_is_what_it_reads(tmp_path):
    """Regular files up to --max-size, not .git/, not a link, not one over the limit."""
    from keysweep.scanner.sources.directory import DirectorySource

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_bytes(b"x" * 10)
    (tmp_path / "two.txt").write_bytes(b"y" * 20)
    (tmp_path / "big.bin").write_bytes(b"z" * 1000)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_bytes(b"[core]\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "two.txt")
    assert DirectorySource(tmp_path, max_size=100).census() == (2, 30)
    assert DirectorySource(tmp_path / "two.txt").census() == (1, 20)


def test_owners_shows_findings_resolved_of_total(run, small_repo, tmp_path):
    db = tmp_path / "s.db"
    assert run("scan", "git", small_repo.path, "--db", db).code == 1
    quiet = run("owners", "--offline", "--db", db)
    assert "resolving" not in quiet.stderr, quiet
    asked = run("owners", "--offline", "--db", db, "--progress")
    assert re.search(r"^keysweep: resolving owners: 1/1 finding, ETA \d+s$", asked.stderr, re.M), asked
    code, stdout, screen = on_a_terminal("owners", "--offline", "--db", db, cwd=tmp_path)
    assert code == 0 and re.search(r"resolving owners.*1/1 finding ETA", screen), stdout + screen


def test_plain_lines_without_a_total_end_with_the_last_count():
    now = [0.0]
    out = io.StringIO()
    progress = BlobProgress(live=False, stream=out, clock=lambda: now[0], every=5.0, noun="file")
    for files in (1, 2, 3):
        now[0] += 1.0
        progress(files, files * 2_000_000)
    progress.close()
    assert out.getvalue().splitlines() == ["keysweep: 1 file, 2.0 MB, 2.0 MB/s", "keysweep: 3 files, 6.0 MB, 2.0 MB/s"]


def test_the_demo_shows_its_scans_progress_as_scan_git_does(run, tmp_path):
    """The demo scans a repository like `scan git`: the same switch, the same blobs done / total."""
    asked = run("demo", "--keep", tmp_path / "asked", "--progress")
    assert asked.code == 0 and re.search(r"^keysweep: (\d+)/\1 blobs, ", asked.stderr, re.M), asked
    quiet = run("demo", "--keep", tmp_path / "quiet")
    assert quiet.code == 0 and " blobs, " not in quiet.stderr, quiet
