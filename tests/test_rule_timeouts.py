"""Rules cannot stall a scan.

A rule from a third party can backtrack catastrophically: `(a|aa)+b` on forty `a`s takes minutes in
the `regex` module. Every confirmation runs with a CPU time limit; a rule past it is stopped for that
content, reported once (rule id and file) and the scan goes on, exit 3 with --fail-on-error.
`rules check` rejects such patterns by probing them, and a gitleaks config (written for RE2, which
never backtracks) has them left out at import with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from keysweep.scanner.backtrack import backtracking_problem
from keysweep.scanner.engine import Engine
from keysweep.scanner.rules import Rule, load_rules
from keysweep.scanner.session import REGEX_TIME_LIMIT_ENV, load_engine
from tests.conftest import KEYSWEEP_BIN, Run, validate_findings_output

REDOS_PATTERN = r"tok_(?P<secret>(a|aa)+b)"
TRAP = "tok_" + "a" * 40 + "\n"
TIME_LIMIT = 90  # seconds for a whole CLI run; the time limit stops the trap after ~2 s of CPU
# The CLI runs below stop the trap after this much CPU instead of the default 2 s: the same path,
# sooner. test_the_regex_time_limit_is_the_engines_unless_the_environment_sets_one shows the default.
SHORT_LIMIT = "0.2"

REDOS_RULES = f"""
[[rules]]
id = "custom.redos"
name = "Catastrophic"
provider = "custom"
description = "A pattern that backtracks catastrophically."
regex = '''{REDOS_PATTERN}'''
keywords = ["tok_"]
examples = ["tok_aab"]
negative_examples = ["tok_"]
"""

GITLEAKS_RULES = """
title = "team rules"

[[rules]]
id = "redos-token"
regex = '''tok_((a|aa)+b)'''
secretGroup = 1
keywords = ["tok_"]

[[rules]]
id = "acme-token"
regex = '''acme_token\\s*=\\s*(acm_[a-z0-9]{32})'''
keywords = ["acme_token"]
"""


def redos_rule() -> Rule:
    return Rule(id="custom.redos", name="x", provider="custom", description="d", regex=REDOS_PATTERN,
                keywords=("tok_",))


def keysweep(*args, cwd: Path | None = None) -> Run:
    result = subprocess.run([str(KEYSWEEP_BIN), *map(str, args)], cwd=cwd, capture_output=True,
                            timeout=TIME_LIMIT, stdin=subprocess.DEVNULL,
                            env={**os.environ, REGEX_TIME_LIMIT_ENV: SHORT_LIMIT})
    validate_findings_output([str(a) for a in args], result.stdout.decode("utf-8", "replace"), cwd)
    return Run(result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace"))


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- the engine ----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["regex", "hyperscan"])
def test_a_rule_past_the_time_limit_is_stopped_and_named(backend, keys, session_cache):
    key = keys.openai_project()
    shipped = load_rules()
    engine = Engine([*shipped, redos_rule()], backend=backend, confirm_timeout=0.2)
    started = time.process_time()
    matches = engine.scan(f"{TRAP}OPENAI_API_KEY={key}\n".encode())
    assert time.process_time() - started < 10
    assert engine.timed_out == ["custom.redos"]
    assert [m.secret for m in matches] == [key]  # the other rules' matches stand

    engine.scan(f"OPENAI_API_KEY={key}\n".encode())
    assert engine.timed_out == []  # per scan: the next content starts clean


def test_an_allowlist_regex_past_the_time_limit_stops_its_rule():
    from keysweep.scanner.rules import Allowlist

    rule = Rule(id="custom.slow-allow", name="x", provider="custom", description="d",
                regex=r"tok_(?P<secret>[a-z]{4,80})", keywords=("tok_",), allow_placeholders=True,
                allowlists=(Allowlist(regexes=(r"(a|aa)+b",), regex_target="secret"),))
    engine = Engine([rule], backend="regex", confirm_timeout=0.2)
    engine.scan(TRAP.encode())
    assert engine.timed_out == ["custom.slow-allow"]


def test_the_regex_time_limit_is_the_engines_unless_the_environment_sets_one(monkeypatch):
    from keysweep.scanner.engine import CONFIRM_TIMEOUT

    monkeypatch.delenv(REGEX_TIME_LIMIT_ENV, raising=False)
    assert CONFIRM_TIMEOUT == 2.0
    assert load_engine([], "regex")[0].confirm_timeout == CONFIRM_TIMEOUT
    monkeypatch.setenv(REGEX_TIME_LIMIT_ENV, "0.5")
    engine, _rules = load_engine([], "regex", lazy=True)
    assert engine.confirm_timeout == 0.5 and {r.timeout for r in engine.rules} == {0.5}


@pytest.mark.parametrize("value", ["soon", "0", "-1", "inf", "nan"])
def test_a_bad_regex_time_limit_is_a_one_line_error(run, tmp_path, monkeypatch, value):
    monkeypatch.setenv(REGEX_TIME_LIMIT_ENV, value)
    result = run("scan", "dir", tmp_path, "--no-store")
    assert result.code == 2 and result.stderr.count("\n") == 1, result
    assert result.stderr.startswith(f"keysweep: error: {REGEX_TIME_LIMIT_ENV}=") and "Traceback" not in result.stderr


# -- the CLI -------------------------------------------------------------------------------------
@pytest.fixture
def redos_rules(tmp_path) -> Path:
    path = tmp_path / "redos.toml"
    path.write_text(REDOS_RULES)
    return path


def test_scan_dir_goes_on_past_a_stalling_rule(tmp_path, keys, redos_rules):
    root = tmp_path / "project"
    root.mkdir()
    key = keys.github()
    (root / "trap.txt").write_text(TRAP)
    (root / "deploy.sh").write_text(f"export GH={key}\n")

    result = keysweep("scan", "dir", root, "--no-store", "--format", "json", "--rules", redos_rules)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(key)]
    lines = [line for line in result.stderr.splitlines() if "custom.redos" in line]
    assert len(lines) == 1 and "trap.txt" in lines[0] and f"the {SHORT_LIMIT} s regex time limit" in lines[0], result

    strict = keysweep("scan", "dir", root, "--no-store", "--format", "json", "--rules", redos_rules,
                      "--fail-on-error")
    assert strict.code == 3, strict
    assert [f["secret_sha256"] for f in json.loads(strict.stdout)] == [sha(key)]


def test_scan_git_reports_the_blob_and_reads_it_again_next_time(make_repo, keys, redos_rules, tmp_path):
    repo = make_repo()
    key = keys.anthropic()
    repo.commit("Add", {"trap.txt": TRAP, "settings.py": f"ANTHROPIC_API_KEY = '{key}'\n"})
    db = tmp_path / "store.db"
    trap_blob = repo.git("rev-parse", "HEAD:trap.txt")

    for _ in range(2):  # the trap blob is not recorded as scanned: the second run meets it again
        result = keysweep("scan", "git", repo.path, "--db", db, "--format", "json", "--rules", redos_rules,
                          "--fail-on-error")
        assert result.code == 3, result
        assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(key)]
        lines = [line for line in result.stderr.splitlines() if "custom.redos" in line]
        assert len(lines) == 1 and trap_blob in lines[0], result


# -- rules check and gitleaks import -------------------------------------------------------------
def test_backtracking_probe_flags_the_catastrophic_and_passes_the_shipped_rules(session_cache):
    assert "backtracks catastrophically" in backtracking_problem(r"(a|aa)+b")
    assert "backtracks catastrophically" in backtracking_problem(REDOS_PATTERN)
    assert backtracking_problem(r"(?P<secret>sk-[a-z0-9]{20,40})") is None
    assert [r.id for r in load_rules(validate_shipped=True) if backtracking_problem(r.regex)] == []


def test_rules_check_rejects_a_backtracking_rule_quickly(redos_rules):
    started = time.monotonic()
    result = keysweep("rules", "check", redos_rules)
    assert result.code == 1, result
    assert "custom.redos" in result.stderr and "backtracks catastrophically" in result.stderr
    assert time.monotonic() - started < 60


def test_gitleaks_rule_that_backtracks_is_left_out_at_import_with_a_warning(tmp_path):
    config = tmp_path / "gitleaks.toml"
    config.write_text(GITLEAKS_RULES)
    project = tmp_path / "project"
    project.mkdir()
    token = "acm_k3j9x0q2m5n8b1v4c7z6l2p0o9i8u7y6"
    (project / "app.cfg").write_text(f"acme_token = {token}\n{TRAP}")

    result = keysweep("scan", "dir", project, "--no-store", "--format", "json", "--rules", config,
                      "--fail-on-error")
    assert result.code == 1, result  # nothing timed out: the stalling rule never ran
    assert [f["rule_id"] for f in json.loads(result.stdout)] == ["acme-token"]
    [warning] = [line for line in result.stderr.splitlines() if "redos-token" in line]
    assert warning.startswith("keysweep: warning: ") and "left out" in warning

    check = keysweep("rules", "check", config)
    assert check.code == 1 and "redos-token" in check.stderr, check
