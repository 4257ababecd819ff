"""`--format gitlab`: GitLab's secret detection report (gl-secret-detection-report.json), one
vulnerability per place a secret was seen, valid against GitLab's report schema (tests/gitlab_schema.py;
every `--format gitlab` output of the suite is checked by the run helpers too), never a value."""

from __future__ import annotations

import json
import re

from keysweep.gitlab_report import gitlab_report
from tests.conftest import find_secret
from tests.gitlab_schema import gitlab_report_errors

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def by_finding(report: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for vulnerability in report["vulnerabilities"]:
        found.setdefault(vulnerability["details"]["finding_id"]["value"], []).append(vulnerability)
    return found


def assert_no_value(text: str, secret: str) -> None:
    """No 8-character run of the secret's body (past the prefix its redacted form shows)."""
    body = secret[secret.index("-", secret.index("-") + 1) + 1 if secret.startswith("sk-") else 4:-4]
    assert not any(body[i:i + 8] in text for i in range(len(body) - 7)), "a run of the secret is in the report"


def test_each_place_is_a_vulnerability_of_the_rule_at_its_commit(run, make_repo, keys):
    repo = make_repo()
    openai, github = keys.openai_project(), keys.github()
    first = repo.commit("Config", {"app/.env": f"# settings\nOPENAI_API_KEY={openai}\n"})
    second = repo.commit("Deploy", {"deploy.sh": f"export GH={github}\n", "copy.env": f"\n\nK={openai}\n"})
    json_findings = run("scan", "git", repo.path, "--no-store", "--format", "json").json()
    result = run("scan", "git", repo.path, "--no-store", "--format", "gitlab")
    assert result.code == 1, result
    report = json.loads(result.stdout)
    assert gitlab_report_errors(report) == []
    assert report["scan"]["type"] == "secret_detection" and report["scan"]["status"] == "success"
    assert report["scan"]["scanner"]["id"] == "keysweep" and report["scan"]["analyzer"]["vendor"] == {"name": "keysweep"}
    assert TIME.match(report["scan"]["start_time"]) and report["scan"]["start_time"] <= report["scan"]["end_time"]

    places = by_finding(report)
    openai_id = find_secret(json_findings, openai)["id"]
    assert set(places) == {openai_id, find_secret(json_findings, github)["id"]}
    located = sorted((v["location"]["file"], v["location"]["start_line"], v["location"]["end_line"],
                      v["location"]["commit"]["sha"]) for v in places[openai_id])
    assert located == [("app/.env", 2, 2, first), ("copy.env", 3, 3, second)]
    vulnerability = places[openai_id][0]
    # The rule is the primary identifier (what GitLab tracks a vulnerability by), then CWE-798.
    assert [i["type"] for i in vulnerability["identifiers"]] == ["keysweep_rule_id", "cwe"]
    assert vulnerability["identifiers"][0]["value"] == "openai.project-key"
    assert vulnerability["name"] == "OpenAI project API key"
    assert vulnerability["severity"] == "Medium"  # not checked: liveness unknown (docs/output.md)
    assert vulnerability["details"]["redacted"]["value"] == find_secret(json_findings, openai)["redacted"]
    assert "Revoke or rotate" in vulnerability["solution"]
    assert len({v["id"] for v in report["vulnerabilities"]}) == 3
    assert "raw_source_code_extract" not in result.stdout
    for secret in (openai, github):
        assert_no_value(result.stdout, secret)

    again = json.loads(run("scan", "git", repo.path, "--no-store", "--format", "gitlab").stdout)
    assert [v["id"] for v in again["vulnerabilities"]] == [v["id"] for v in report["vulnerabilities"]]


def test_a_place_outside_git_has_gitlabs_no_commit(run, tmp_path, keys):
    folder = tmp_path / "tree"
    folder.mkdir()
    key = keys.anthropic()
    (folder / "agent.py").write_text(f"KEY = '{key}'\n")
    out = tmp_path / "gl-secret-detection-report.json"
    result = run("scan", "dir", folder, "--no-store", "--format", "gitlab", "-o", out)
    assert result.code == 1, result
    report = json.loads(out.read_text())
    [vulnerability] = report["vulnerabilities"]
    assert vulnerability["location"] == {"commit": {"sha": "0000000"}, "file": "agent.py", "start_line": 1,
                                         "end_line": 1}
    assert_no_value(out.read_text(), key)


def test_a_clean_scan_is_an_empty_successful_report(run, make_repo):
    repo = make_repo()
    repo.commit("Docs", {"README.md": "# nothing here\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "gitlab")
    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert report["vulnerabilities"] == [] and report["scan"]["status"] == "success"
    assert "messages" not in report["scan"]


def test_findings_from_the_store_baselined_and_suppressed(run, make_repo, keys, tmp_path):
    repo = make_repo()
    known, allowed = keys.openai_project(), keys.anthropic()
    repo.commit("Config", {"a.env": f"OPENAI_API_KEY={known}\n", "b.env": f"ANTHROPIC_API_KEY={allowed} # keysweep:allow\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    listed = run("findings", "--db", db, "--format", "gitlab")
    assert listed.code == 1, listed
    assert len(json.loads(listed.stdout)["vulnerabilities"]) == 1

    baseline = tmp_path / "baseline.json"
    assert run("baseline", "create", "--db", db, "-o", baseline).code == 0
    newer = keys.github()
    repo.commit("More", {"c.sh": f"export GH={newer}\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "gitlab", "--baseline", baseline,
                 "--include-suppressed")
    assert result.code == 1, result
    report = json.loads(result.stdout)
    details = {v["location"]["file"]: v for v in report["vulnerabilities"]}
    assert details["a.env"]["details"]["baselined"]["value"] == "yes"
    assert details["c.sh"]["details"]["baselined"]["value"] == "no"
    # An inline allow marker is GitLab's likely-false-positive flag; the others carry none.
    assert [f["type"] for f in details["b.env"]["flags"]] == ["flagged-as-likely-false-positive"]
    assert "keysweep:allow" in details["b.env"]["flags"][0]["description"]
    assert "flags" not in details["a.env"]


def test_sources_that_failed_are_messages_and_nothing_read_is_a_failure():
    partial = gitlab_report([], {}, ["github.com/acme/private: HTTP 403"])
    assert gitlab_report_errors(partial) == []
    assert partial["scan"]["status"] == "success"
    assert partial["scan"]["messages"] == [{"level": "warn", "value": "github.com/acme/private: HTTP 403"}]
    failed = gitlab_report([], {}, ["github.com/acme: HTTP 401"], nothing_read=True)
    assert gitlab_report_errors(failed) == []
    assert failed["scan"]["status"] == "failure"
    assert [m["level"] for m in failed["scan"]["messages"]] == ["warn", "fatal"]


def test_the_schema_check_refuses_what_gitlab_refuses():
    """The test schema is not a rubber stamp: each rule GitLab enforces on these fields fails here."""
    good = gitlab_report([], {})
    good["vulnerabilities"] = [{"id": "v1", "identifiers": [{"type": "keysweep_rule_id", "name": "r", "value": "r"}],
                                "location": {"commit": {"sha": "0000000"}, "file": "a", "start_line": 1}}]
    assert gitlab_report_errors(good) == []
    broken = [
        lambda r: r.pop("version"),
        lambda r: r.update(version="15.0"),
        lambda r: r["scan"].update(type="sast"),
        lambda r: r["scan"].update(start_time="2025-01-01T00:00:00Z"),
        lambda r: r["scan"]["scanner"].pop("vendor"),
        lambda r: r["vulnerabilities"][0].pop("location"),
        lambda r: r["vulnerabilities"][0]["location"].update(commit={}),
        lambda r: r["vulnerabilities"][0].update(identifiers=[]),
        lambda r: r["vulnerabilities"][0].update(severity="critical"),
        lambda r: r["vulnerabilities"][0].update(links=[{"url": "mailto:x"}]),
    ]
    for index, breakage in enumerate(broken):
        report = json.loads(json.dumps(good))
        breakage(report)
        assert gitlab_report_errors(report), f"breakage {index} was accepted"


def test_a_key_in_a_commit_message_is_located_at_its_commit_without_a_file(run, make_repo, keys):
    repo = make_repo()
    key = keys.openai_project()
    commit = repo.commit(f"Debugging\n\nOPENAI_API_KEY was {key}", {"notes.txt": "nothing\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "gitlab")
    assert result.code == 1, result
    [vulnerability] = json.loads(result.stdout)["vulnerabilities"]
    assert vulnerability["location"]["commit"]["sha"] == commit and "file" not in vulnerability["location"]
    assert vulnerability["details"]["source"]["value"] == "git-message"
    assert "message" not in vulnerability["location"]["commit"]  # the message holds the key
    assert_no_value(result.stdout, key)
