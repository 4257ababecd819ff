"""Baselines: `keysweep baseline create` records the known findings by finding id (one per secret,
never a path or a line number); `scan … --baseline FILE` still lists a known secret — also in a
place it was not seen before — marked `baselined`, and only secrets the baseline does not list
make the run fail."""

from __future__ import annotations

import json

import pytest

from tests.conftest import find_secret


@pytest.fixture
def known(make_repo, keys, tmp_path, run):
    """A repository with two keys, scanned into a store, and a baseline of that store."""
    repo = make_repo()
    first, second = keys.openai_project(), keys.github()
    repo.commit("Config", {"app/.env": f"OPENAI_API_KEY={first}\n", "deploy.sh": f"export GH={second}\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    baseline = tmp_path / "keysweep-baseline.json"
    created = run("baseline", "create", "--db", db, "-o", baseline)
    assert created.code == 0, created
    assert "2 findings" in created.stderr
    return dict(repo=repo, first=first, second=second, db=db, baseline=baseline, keys=keys)


def test_the_baseline_names_findings_by_id_only(known):
    text = known["baseline"].read_text()
    document = json.loads(text)
    assert document["keysweep_baseline"] == 1
    assert [set(entry) for entry in document["findings"]] == [{"id", "rule_id", "provider", "redacted"}] * 2
    assert [entry["id"] for entry in document["findings"]] == sorted(entry["id"] for entry in document["findings"])
    assert "\"line\"" not in text and "app/.env" not in text and "deploy.sh" not in text
    for entry in document["findings"]:
        secret = known["first"] if entry["provider"] == "openai" else known["second"]
        # Nothing of the value beyond the redacted form (prefix + last 4): no 8-character run of its body.
        body = secret[len(entry["redacted"].split("…")[0]):]
        assert len(body) > 20 and not any(body[i:i + 8] in text for i in range(len(body) - 7))


def test_known_secrets_are_listed_marked_and_do_not_fail_the_run(run, known):
    result = run("scan", "git", known["repo"].path, "--no-store", "--format", "json", "--baseline", known["baseline"])
    assert result.code == 0, result
    findings = result.json()
    assert len(findings) == 2 and all(f["baselined"] is True for f in findings)


def test_without_a_baseline_the_field_is_null(run, known):
    result = run("scan", "git", known["repo"].path, "--no-store", "--format", "json")
    assert result.code == 1
    assert [f["baselined"] for f in result.json()] == [None, None]


def test_a_known_secret_in_a_new_place_is_listed_and_still_known(run, known):
    repo = known["repo"]
    moved = repo.commit("Copy the key into the worker", {"worker/settings.py": f"\nKEY = '{known['first']}'\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "json", "--baseline", known["baseline"])
    assert result.code == 0, result
    finding = find_secret(result.json(), known["first"])
    assert finding["baselined"] is True
    assert ("worker/settings.py", 2, moved) in {(o["path"], o["line"], o["commit"]) for o in finding["occurrences"]}


def test_a_new_secret_fails_the_run_and_is_marked_new(run, known):
    repo = known["repo"]
    fresh = known["keys"].anthropic()
    repo.commit("Agent", {"agent.py": f"KEY = '{fresh}'\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "json", "--baseline", known["baseline"])
    assert result.code == 1, result
    findings = result.json()
    assert find_secret(findings, fresh)["baselined"] is False
    assert find_secret(findings, known["first"])["baselined"] is True
    sarif = run("scan", "git", repo.path, "--no-store", "--format", "sarif", "--baseline", known["baseline"])
    assert sarif.code == 1
    states = {r["partialFingerprints"]["secretSha256/v1"]: r["baselineState"] for r in sarif.json()["runs"][0]["results"]}
    assert states[find_secret(findings, fresh)["secret_sha256"]] == "new"
    assert states[find_secret(findings, known["first"])["secret_sha256"]] == "unchanged"
    table = run("scan", "git", repo.path, "--no-store", "--baseline", known["baseline"])
    assert table.code == 1 and table.stdout.count("(baselined)") == 2


def test_from_a_scans_json_or_jsonl_output_the_same_baseline(run, known, tmp_path):
    repo = known["repo"]
    as_json = run("scan", "git", repo.path, "--no-store", "--format", "json").stdout
    as_jsonl = run("scan", "git", repo.path, "--no-store", "--format", "jsonl").stdout
    (tmp_path / "scan.json").write_text(as_json)
    (tmp_path / "scan.jsonl").write_text(as_jsonl)
    from_json = run("baseline", "create", "--from", tmp_path / "scan.json")
    from_jsonl = run("baseline", "create", "--from", tmp_path / "scan.jsonl")
    assert from_json.code == from_jsonl.code == 0
    assert from_json.stdout == from_jsonl.stdout == known["baseline"].read_text()


def test_a_staged_commit_of_a_known_secret_passes(run, known):
    repo = known["repo"]
    repo.write("copy.env", f"OPENAI_API_KEY={known['first']}\n")
    repo.git("add", "copy.env")
    assert run("scan", "staged", cwd=repo.path).code == 1
    passed = run("scan", "staged", "--baseline", known["baseline"], "--format", "json", cwd=repo.path)
    assert passed.code == 0, passed
    assert [f["baselined"] for f in passed.json()] == [True]


@pytest.mark.parametrize("content, says", [
    ("not json", "not JSON"),
    ("[]", "keysweep_baseline"),
    ('{"keysweep_baseline": 2, "findings": []}', "version 2"),
    ('{"keysweep_baseline": 1, "findings": {}}', "must be a list"),
    ('{"keysweep_baseline": 1, "findings": [{"id": "src/app.py:12"}]}', "findings[0]"),
    ('{"keysweep_baseline": 1, "findings": [{"id": "f_\\u001b[2J0000000000000"}]}', "findings[0]"),
])
def test_a_bad_baseline_stops_the_scan_before_it_starts(run, known, tmp_path, content, says):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run("scan", "git", known["repo"].path, "--no-store", "--format", "json", "--baseline", bad)
    assert result.code == 2, result
    assert result.stdout == ""
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "\x1b" not in result.stderr


def test_a_missing_baseline_file_and_a_missing_store(run, known, tmp_path):
    missing = run("scan", "dir", known["repo"].path, "--no-store", "--baseline", tmp_path / "nope.json")
    assert missing.code == 2 and "nope.json" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    no_store = run("baseline", "create", "--db", tmp_path / "none.db")
    assert no_store.code == 2 and "no store yet" in no_store.stderr
    mixed = run("baseline", "create", "--from", "-", "--provider", "openai")
    assert mixed.code == 2 and "--from" in mixed.stderr
    not_findings = tmp_path / "x.json"
    not_findings.write_text('[{"name": 1}]')
    wrong = run("baseline", "create", "--from", not_findings)
    assert wrong.code == 2 and "not a keysweep finding" in wrong.stderr


def test_filters_select_what_the_baseline_holds(run, known):
    only_github = run("baseline", "create", "--db", known["db"], "--provider", "github")
    assert only_github.code == 0, only_github
    assert [e["provider"] for e in json.loads(only_github.stdout)["findings"]] == ["github"]
