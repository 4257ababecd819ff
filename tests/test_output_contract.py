"""The output contract (docs/output.md): json, jsonl, csv and SARIF parsed back and checked field by
field. Other tools depend on these shapes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re

import pytest

from tests.conftest import find_secret

FINDING_KEYS = {"id", "rule_id", "rule_name", "provider", "secret_sha256", "redacted", "long_lived", "confidence",
                "key_id", "first_seen_at", "last_seen_at", "status", "occurrences", "verification", "owner",
                "remediation", "replacement"}
REPLACEMENT_KEYS = {"kind", "summary", "docs_url"}
OCCURRENCE_KEYS = {"source", "path", "line", "repo", "commit", "author_name", "author_email", "committed_at",
                   "locator"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def sample(make_repo, keys):
    repo = make_repo()
    planted = {
        "openai": keys.openai_project(), "anthropic": keys.anthropic(), "github": keys.github(),
        "aws_id": keys.aws_access_key_id(), "aws_secret": keys.aws_secret_access_key(),
    }
    first = repo.commit("Add keys", {
        "app/.env": f"OPENAI_API_KEY={planted['openai']}\nANTHROPIC_API_KEY={planted['anthropic']}\n",
        "deploy/aws.ini": f"[default]\naws_access_key_id = {planted['aws_id']}\n"
                          f"aws_secret_access_key = {planted['aws_secret']}\n",
    }, author=("Alice Example", "alice@example.com"))
    second = repo.commit("CI token", {"ci/run.sh": f"#!/bin/sh\n\nexport GITHUB_TOKEN={planted['github']}\n",
                                      "copy/.env": (repo.path / "app/.env").read_text()},
                         author=("Bob Example", "bob@example.com"))
    repo.planted, repo.first, repo.second = planted, first, second
    return repo


def scan(run, repo, fmt: str):
    result = run("scan", "git", repo.path, "--no-store", "--format", fmt)
    assert result.code == 1, result
    return result


def test_json_findings(run, sample):
    findings = scan(run, sample, "json").json()
    assert isinstance(findings, list) and len(findings) == 4
    for finding in findings:
        assert set(finding) >= FINDING_KEYS
        assert re.fullmatch(r"f_[0-9a-f]{16}", finding["id"])
        assert re.fullmatch(r"[0-9a-f]{64}", finding["secret_sha256"])
        assert "…" in finding["redacted"]
        assert isinstance(finding["long_lived"], bool)
        assert finding["verification"] is None and finding["owner"] is None
        assert set(finding["remediation"]) >= {"state", "leaked_at", "detected_at", "confirmed_dead_at",
                                               "exposure_seconds"}
        # Every planted key is long-lived: each names what should replace it (its provider's).
        assert set(finding["replacement"]) == REPLACEMENT_KEYS
        assert all(isinstance(v, str) and v for v in finding["replacement"].values())
        assert finding["replacement"]["docs_url"].startswith("https://")
        for occurrence in finding["occurrences"]:
            assert set(occurrence) >= OCCURRENCE_KEYS
            assert occurrence["source"] == "git"
            assert occurrence["repo"] == str(sample.path.resolve())
            assert re.fullmatch(r"[0-9a-f]{40}", occurrence["commit"])
            assert ISO.match(occurrence["committed_at"])
            assert isinstance(occurrence["line"], int) and occurrence["line"] >= 1

    openai = find_secret(findings, sample.planted["openai"])
    assert openai["secret_sha256"] == hashlib.sha256(sample.planted["openai"].encode()).hexdigest()
    assert (openai["rule_id"], openai["provider"], openai["long_lived"]) == ("openai.project-key", "openai", True)
    assert openai["redacted"] == "sk-proj-…" + sample.planted["openai"][-4:]
    assert [(o["path"], o["line"], o["commit"], o["author_email"]) for o in openai["occurrences"]] == [
        ("app/.env", 1, sample.first, "alice@example.com"), ("copy/.env", 1, sample.second, "bob@example.com")]

    github = find_secret(findings, sample.planted["github"])
    [occurrence] = github["occurrences"]
    assert (occurrence["path"], occurrence["line"], occurrence["author_name"]) == ("ci/run.sh", 3, "Bob Example")

    # An AWS pair is one finding: fingerprint of the secret part, the key id alongside.
    aws = find_secret(findings, sample.planted["aws_secret"])
    assert aws["rule_id"] == "aws.secret-access-key"
    assert aws["replacement"]["kind"] == "iam-role" and github["replacement"]["kind"] == "github-app"
    assert aws["key_id"] == sample.planted["aws_id"]
    assert not any(f["rule_id"] == "aws.access-key-id" for f in findings)
    assert aws["occurrences"][0]["line"] == 3


def test_jsonl_is_the_same_objects_one_per_line(run, sample):
    as_json = scan(run, sample, "json").json()
    lines = scan(run, sample, "jsonl").stdout.splitlines()
    assert len(lines) == len(as_json)
    as_jsonl = [json.loads(line) for line in lines]

    def stable(finding):  # the seen-at timestamps are the scan's own clock
        return {k: v for k, v in finding.items() if k not in ("first_seen_at", "last_seen_at", "remediation")}
    assert [stable(f) for f in as_jsonl] == [stable(f) for f in as_json]


def test_csv_one_row_per_occurrence(run, sample):
    rows = list(csv.DictReader(io.StringIO(scan(run, sample, "csv").stdout)))
    findings = scan(run, sample, "json").json()
    assert len(rows) == sum(len(f["occurrences"]) for f in findings) == 6
    assert set(rows[0]) >= {"id", "rule_id", "provider", "redacted", "secret_sha256", "path", "line", "commit",
                            "author_email", "committed_at"}
    digest = hashlib.sha256(sample.planted["github"].encode()).hexdigest()
    [row] = [r for r in rows if r["secret_sha256"] == digest]
    assert (row["path"], row["line"], row["commit"], row["author_email"]) == (
        "ci/run.sh", "3", sample.second, "bob@example.com")


def test_sarif_2_1_0(run, sample):
    log = scan(run, sample, "sarif").json()
    assert log["version"] == "2.1.0"
    assert "sarif" in log["$schema"] and "2.1.0" in log["$schema"]
    [run_] = log["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "keysweep"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run_["results"]
    assert len(results) == 6  # one per occurrence with a path
    for result in results:
        assert result["ruleId"] in rule_ids
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] and not physical["artifactLocation"]["uri"].startswith("/")
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    github = [r for r in results if r["ruleId"] == "github.classic-pat"]
    assert [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in github] == [("ci/run.sh", 3)]
    for secret in sample.planted.values():
        if not secret.startswith("AKIA"):
            assert secret not in json.dumps(log)


def test_sarif_with_no_findings_is_still_a_valid_log(run, make_repo):
    repo = make_repo()
    repo.commit("Init", {"README.md": "# clean\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "sarif")
    assert result.code == 0, result
    log = result.json()
    assert log["version"] == "2.1.0" and log["runs"][0]["results"] == []


def test_sarif_uri_of_a_path_with_spaces_and_unicode(run, make_repo, keys):
    repo = make_repo()
    repo.commit("Add", {"my docs/clé #1.env": f"KEY={keys.anthropic()}\n"})
    log = scan(run, repo, "sarif").json()
    [result] = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "my%20docs/cl%C3%A9%20%231.env"


def test_output_file_option(run, sample, tmp_path):
    target = tmp_path / "report.json"
    result = run("scan", "git", sample.path, "--no-store", "--format", "json", "-o", target)
    assert result.code == 1 and result.stdout == ""
    assert len(json.loads(target.read_text())) == 4


def test_table_is_redacted_and_summarised(run, sample):
    table = scan(run, sample, "table").stdout
    assert "4 findings" in table
    assert "sk-proj-…" + sample.planted["openai"][-4:] in table
    assert "3 blobs" in table  # app/.env, deploy/aws.ini, ci/run.sh; copy/.env is app/.env's blob
    for name, secret in sample.planted.items():
        if name != "aws_id":
            assert secret not in table


def test_clean_scan_exits_0(run, make_repo):
    repo = make_repo()
    repo.commit("Init", {"README.md": "# clean\n", "app.py": "KEY = os.environ['OPENAI_API_KEY']\n"})
    for fmt in ("json", "jsonl", "csv"):
        result = run("scan", "git", repo.path, "--no-store", "--format", fmt)
        assert result.code == 0, (fmt, result)
    assert run("scan", "git", repo.path, "--no-store", "--format", "json").json() == []
    assert run("scan", "git", repo.path, "--no-store", "--format", "jsonl").stdout == ""
