"""Usage and input errors: exit status 2 and one line on stderr, `keysweep: error: ...`, never a
traceback. Checked through the installed console script, as a user or a CI job meets them."""

from __future__ import annotations

import re
import textwrap

import pytest

from tests.conftest import KEYSWEEP_BIN

pytestmark = pytest.mark.skipif(not KEYSWEEP_BIN.exists(), reason="console script not installed")

VALID_RULE = """\
[[rules]]
id = "{id}"
name = "Test token"
provider = "testco"
description = "A test token."
regex = '''(?P<secret>tst_[a-z0-9]{{20}})'''
keywords = ["tst_"]
{extra}
examples = ["token = tst_a1b2c3d4e5f6g7h8i9j0"]
negative_examples = ["token = tst_short"]

[rules.replacement]
kind = "scoped-token"
summary = "A token scoped to one service."
docs_url = "https://docs.testco.example/tokens"
"""


def rule_file(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.code == 2, result
    assert result.stdout == "", result
    assert "Traceback" not in result.stderr, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("keysweep: error: "), result
    for fragment in fragments:
        assert fragment in lines[0], (fragment, result)
    return lines[0]


def test_not_a_repository(run_process, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_one_line_error(run_process("scan", "git", plain), str(plain), "not a git repository")


def test_nonexistent_repository_path(run_process, tmp_path):
    assert_one_line_error(run_process("scan", "git", tmp_path / "missing"), str(tmp_path / "missing"),
                          "no such directory")


def test_nonexistent_directory_to_scan(run_process, tmp_path):
    assert_one_line_error(run_process("scan", "dir", tmp_path / "missing"), str(tmp_path / "missing"))


def test_staged_outside_a_repository(run_process, tmp_path):
    assert_one_line_error(run_process("scan", "staged", cwd=tmp_path), "not inside a git work tree")


def test_malformed_rule_file_names_its_path_and_line(run_process, tmp_path):
    bad = rule_file(tmp_path, "broken.toml", '[[rules]]\nid = "x.y"\nname = "n"\n  this is not toml\n')
    for args in (("rules", "check", bad), ("scan", "dir", tmp_path, "--no-store", "--rules", bad)):
        line = assert_one_line_error(run_process(*args), str(bad))
        assert re.search(r"line 4\b|:4\b", line), line


def test_rule_without_a_secret_group(run_process, tmp_path):
    text = VALID_RULE.format(id="testco.token", extra="").replace("(?P<secret>", "(?P<token>")
    bad = rule_file(tmp_path, "nogroup.toml", text)
    line = assert_one_line_error(run_process("rules", "check", bad), f"{bad}:2", "testco.token", "secret")
    scan = run_process("scan", "dir", tmp_path, "--no-store", "--rules", bad)
    assert assert_one_line_error(scan) == line


def test_regex_that_does_not_compile(run_process, tmp_path):
    text = VALID_RULE.format(id="testco.token", extra="").replace("{20}", "{20")
    bad = rule_file(tmp_path, "badregex.toml", text.replace("(?P<secret>tst_", "(?P<secret>(tst_"))
    assert_one_line_error(run_process("rules", "check", bad), f"{bad}:2", "regex does not compile")


def test_duplicate_rule_id(run_process, tmp_path):
    first = rule_file(tmp_path, "one.toml", VALID_RULE.format(id="testco.token", extra=""))
    second = rule_file(tmp_path, "two.toml", VALID_RULE.format(id="testco.token", extra=""))
    assert_one_line_error(run_process("rules", "check", first, second), "duplicate rule id testco.token",
                          str(first), str(second))
    # A user rule may not take a shipped rule's id either.
    shadow = rule_file(tmp_path, "shadow.toml", VALID_RULE.format(id="openai.project-key", extra=""))
    assert_one_line_error(run_process("scan", "dir", tmp_path / "one.toml", "--no-store", "--rules", shadow),
                          "duplicate rule id openai.project-key")


def test_unknown_checksum_name(run_process, tmp_path):
    bad = rule_file(tmp_path, "checksum.toml", VALID_RULE.format(id="testco.token", extra='checksum = "crc99"'))
    assert_one_line_error(run_process("rules", "check", bad), str(bad), "unknown checksum 'crc99'")
    assert_one_line_error(run_process("scan", "dir", bad, "--no-store", "--rules", bad), "unknown checksum")


def test_missing_rule_path(run_process, tmp_path):
    assert_one_line_error(run_process("rules", "check", tmp_path / "nope.toml"), str(tmp_path / "nope.toml"))


def test_a_valid_extra_rule_file_is_used(run_process, tmp_path):
    good = rule_file(tmp_path, "good.toml", VALID_RULE.format(id="testco.token", extra=""))
    check = run_process("rules", "check", good)
    assert check.code == 0 and "1 rule OK (2 examples)" in check.stdout, check
    target = tmp_path / "app.cfg"
    target.write_text("x = 1\ntoken = tst_q9w8e7r6t5y4u3i2o1p0\n")
    result = run_process("scan", "dir", target, "--no-store", "--format", "json", "--rules", good,
                         "--engine", "regex")  # a new rule set means a Hyperscan compile: seconds
    assert result.code == 1, result
    assert [(f["rule_id"], f["occurrences"][0]["line"]) for f in result.json()] == [("testco.token", 2)]


def test_failing_example_fails_rules_check(run_process, tmp_path):
    text = VALID_RULE.format(id="testco.token", extra="").replace("tst_short", "tst_z1x2c3v4b5n6m7k8j9h0")
    bad = rule_file(tmp_path, "negative.toml", text)
    result = run_process("rules", "check", bad)
    assert result.code == 1, result
    assert "negative example matches" in result.stderr and "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error(run_process, tmp_path):
    result = run_process("scan", "dir", tmp_path, "--format", "xml")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "'xml' is not one of" in result.stderr


def test_a_file_where_a_repository_is_expected_is_one_line(run_process, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x\n")
    assert_one_line_error(run_process("scan", "git", target), str(target))


def test_unwritable_report_file(run_process, tmp_path):
    target = tmp_path / "no-such-dir" / "report.json"
    assert_one_line_error(run_process("scan", "dir", tmp_path, "--no-store", "--format", "json", "-o", target),
                          str(target), "cannot write the report")
