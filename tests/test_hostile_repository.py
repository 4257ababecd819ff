"""The hostile repository of issue 10, end to end.

One repository holds everything an attacker controls at once: file names that are rich markup,
terminal escapes, bidi overrides and a spreadsheet formula, an author whose name and email carry
escapes, a committed `.keysweepignore -> /dev/zero`, a submodule, a file that makes a rule passed
with `--rules` backtrack catastrophically and, in the working tree, a FIFO. `scan git` and
`scan dir` must each report every planted key and exit 1, print nothing raw to the terminal, say
what they skipped, neutralise CSV formulas, and finish well within a bound, in a process whose
memory is limited (reading /dev/zero whole would exceed it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from keysweep.sanitize import terminal_safe
from keysweep.testing.gitrepo import RepoBuilder
from tests.conftest import KEYSWEEP_BIN, Run, validate_findings_output

TIME_LIMIT = 120  # seconds per run; each takes a few (the catastrophic rule is stopped after 2 s of CPU)
# The first run of each scan has the default regex time limit (2 s of CPU); the runs after it, which
# check the other output formats, stop the trap after this much instead: the same path, sooner.
SHORT_LIMIT = {"KEYSWEEP_REGEX_TIME_LIMIT": "0.2"}
MEMORY_LIMIT = 2 * 1024 ** 3
EVIL_AUTHOR = ("Evil \x1b[31mName\x1b[0m", "evil\x1b]8;;https://evil.example\x07@example.com")
RAW_FORBIDDEN = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\u2066")
TRAP = "tok_" + "a" * 40 + "\n"
REDOS_RULES = """
[[rules]]
id = "custom.redos"
name = "Catastrophic"
provider = "custom"
description = "A third-party rule whose pattern backtracks catastrophically."
regex = '''tok_(?P<secret>(a|aa)+b)'''
keywords = ["tok_"]
examples = ["tok_aab"]
negative_examples = ["tok_"]
"""


def planted_files(keys) -> dict[str, str]:
    """{file name: planted key}."""
    return {
        "[/]": keys.openai_project(),
        "[link=https:/evil]x[/link].env": keys.anthropic(),
        "clear\x1b[2J.env": keys.github(),
        "cr\rover.env": keys.huggingface(),
        "bidi\u202etxt.env": keys.xai(),
        "csi\x9b2J.env": keys.github_fine_grained(),
        "=HYPERLINK(1).env": keys.groq(),
        "plain/settings.py": keys.perplexity(),
    }


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@pytest.fixture
def hostile(tmp_path, keys):
    lib = RepoBuilder(tmp_path / "lib")
    lib_key = keys.huggingface()
    lib.commit("Library", {"lib.env": f"HF_TOKEN={lib_key}\n"})
    files = planted_files(keys)
    repo = RepoBuilder(tmp_path / "hostile")
    repo.commit("Hostile names", {name: f"TOKEN={key}\n" for name, key in files.items()}, author=EVIL_AUTHOR)
    os.symlink("/dev/zero", repo.path / ".keysweepignore")
    repo.commit("An ignore file that never ends, and a trap for a backtracking rule", {"trap.txt": TRAP},
                author=EVIL_AUTHOR)
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "vendor/lib")
    repo.commit("A submodule", author=EVIL_AUTHOR)
    os.mkfifo(repo.path / "pipe.env")  # in the working tree only: git cannot commit a FIFO
    rules = tmp_path / "third-party-rules.toml"
    rules.write_text(REDOS_RULES)
    return repo.path, files, rules, lib_key, repo.git("rev-parse", "HEAD:trap.txt")


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def keysweep(*args, cwd: Path, env: dict[str, str] | None = None) -> tuple[Run, float]:
    env = {**os.environ, "TERM": "dumb", **(env or {})}
    env.pop("FORCE_COLOR", None)
    started = time.monotonic()
    done = subprocess.run([str(KEYSWEEP_BIN), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          timeout=TIME_LIMIT, preexec_fn=_limits, stdin=subprocess.DEVNULL)
    validate_findings_output([str(a) for a in args], done.stdout.decode("utf-8", "replace"), cwd)
    return (Run(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")),
            time.monotonic() - started)


def assert_nothing_raw(result: Run) -> None:
    for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        for char in RAW_FORBIDDEN:
            assert char not in text, (stream, repr(char), result)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result


@pytest.mark.parametrize("source", ["git", "dir"])
def test_hostile_repository(hostile, tmp_path, source):
    repo, files, rules, lib_key, trap_blob = hostile
    # scan dir reads the submodule's checked-out files too; scan git reads this repository's objects
    expected = dict(files) if source == "git" else {**files, "vendor/lib/lib.env": lib_key}
    common = ("scan", source, repo, "--no-store", "--rules", rules)

    table, took = keysweep(*common, cwd=tmp_path)
    assert table.code == 1, table
    assert took < TIME_LIMIT
    assert_nothing_raw(table)
    for name in files:
        assert terminal_safe(name) in table.stdout, (name, table)
    stderr = table.stderr
    assert "ignore file" in stderr and ".keysweepignore" in stderr  # skipped, not followed
    [stopped] = [line for line in stderr.splitlines() if "custom.redos" in line]  # named once
    assert (trap_blob if source == "git" else "trap.txt") in stopped, table
    if source == "git":
        assert "submodule vendor/lib" in stderr and "keysweep scan git" in stderr
        assert EVIL_AUTHOR[0] not in table.stdout
    else:
        assert "pipe.env: a FIFO, not scanned" in stderr

    report, _ = keysweep(*common, "--format", "json", cwd=tmp_path, env=SHORT_LIMIT)
    assert report.code == 1, report
    findings = json.loads(report.stdout)
    assert {f["secret_sha256"] for f in findings} == {sha(key) for key in expected.values()}
    assert {o["path"] for f in findings for o in f["occurrences"]} == set(expected)  # JSON keeps exact names

    spreadsheet, _ = keysweep(*common, "--format", "csv", cwd=tmp_path, env=SHORT_LIMIT)
    assert spreadsheet.code == 1, spreadsheet
    cells = [cell for row in csv.reader(io.StringIO(spreadsheet.stdout, newline="")) for cell in row]
    assert "'=HYPERLINK(1).env" in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]

    strict, _ = keysweep(*common, "--format", "json", "--fail-on-error", cwd=tmp_path, env=SHORT_LIMIT)
    assert strict.code == 3, strict  # the stopped rule is a partial failure
    assert {f["secret_sha256"] for f in json.loads(strict.stdout)} == {sha(key) for key in expected.values()}
