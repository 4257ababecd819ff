"""The GitLab CI template (examples/ci/keysweep.gitlab-ci.yml): it parses as YAML and validates against
GitLab's CI schema (check-jsonschema's vendored copy), declares GitLab's
secret detection report, every keysweep option its script passes is one `keysweep scan git` has, and
its `script` — run here with bash as a GitLab runner runs it (`set -eo pipefail`), with the template's
variables and GitLab's predefined variables of a merge request, a push and a schedule — scans the
right range of a temporary repository, writes a valid report and a SARIF file, and passes or fails
the job as documented. `before_script` (apt-get, pip) is left to the test environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keysweep.cli import scan_git_cmd
from tests.conftest import KEYSWEEP_BIN, PROJECT
from tests.gitlab_schema import gitlab_report_errors

TEMPLATE_PATH = PROJECT / "examples" / "ci" / "keysweep.gitlab-ci.yml"
TEMPLATE = yaml.safe_load(TEMPLATE_PATH.read_text())
JOB = TEMPLATE["keysweep"]
ZERO = "0" * 40


def test_the_job_declares_the_secret_detection_report_and_keeps_it_on_failure():
    assert JOB["artifacts"]["reports"] == {"secret_detection": "gl-secret-detection-report.json"}
    assert JOB["artifacts"]["when"] == "always"
    assert set(JOB["artifacts"]["paths"]) == {"gl-secret-detection-report.json", "keysweep.sarif"}
    assert JOB["variables"]["GIT_DEPTH"] == "0"
    assert any('"$KEYSWEEP_INSTALL"' in line for line in JOB["before_script"])
    assert set(TEMPLATE["variables"]) >= {"KEYSWEEP_INSTALL", "KEYSWEEP_BASELINE", "KEYSWEEP_RULES",
                                          "KEYSWEEP_FAIL_ON_FINDINGS"}


def test_the_template_validates_against_gitlabs_ci_schema(tmp_path):
    """check-jsonschema's vendored copy of GitLab's own .gitlab-ci.yml schema (offline), which also
    refuses a broken copy (so the check is not a rubber stamp)."""
    check = Path(sys.executable).parent / "check-jsonschema"
    valid = subprocess.run([str(check), "--builtin-schema", "vendor.gitlab-ci", str(TEMPLATE_PATH)],
                           capture_output=True, text=True, timeout=120)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    broken = tmp_path / "broken.gitlab-ci.yml"
    broken.write_text(TEMPLATE_PATH.read_text().replace("when: always", "when: sometimes"))
    refused = subprocess.run([str(check), "--builtin-schema", "vendor.gitlab-ci", str(broken)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "artifacts.when" in refused.stdout, refused.stdout


def test_every_option_the_script_passes_is_a_scan_git_option():
    script = "\n".join(JOB["script"])
    lines = [line for line in script.splitlines() if re.search(r"^\s*(keysweep |set -- |if .*set -- )", line)]
    passed = {option for line in lines for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-o)\b", line)}
    passed.discard("--")
    known = {name for param in scan_git_cmd.params for name in param.opts + param.secondary_opts}
    assert passed, "no keysweep option found in the script"
    assert passed <= known, f"options keysweep scan git does not have: {sorted(passed - known)}"
    formats = set(re.findall(r"--format (\w+)", script))
    fmt = next(p for p in scan_git_cmd.params if p.name == "fmt")
    assert formats == {"gitlab", "sarif"} and formats <= set(fmt.type.choices)


def run_job(repo: Path, **predefined: str) -> subprocess.CompletedProcess:
    """The job's script in `repo`, as GitLab runs it: its variables, then GitLab's predefined ones."""
    variables = {name: str(value) for name, value in {**TEMPLATE["variables"], **JOB["variables"]}.items()}
    env = {**os.environ, **variables, **predefined, "CI": "true",
           "PATH": f"{KEYSWEEP_BIN.parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(PROJECT)}
    for name in ("gl-secret-detection-report.json", "keysweep.sarif", "keysweep.db"):
        (repo / name).unlink(missing_ok=True)
    return subprocess.run(["bash", "-eo", "pipefail", "-c", "\n".join(JOB["script"])], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def reports(repo: Path) -> tuple[dict, dict]:
    report = json.loads((repo / "gl-secret-detection-report.json").read_text())
    assert gitlab_report_errors(report) == []
    return report, json.loads((repo / "keysweep.sarif").read_text())


def rules_found(report: dict) -> list[str]:
    return sorted(v["identifiers"][0]["value"] for v in report["vulnerabilities"])


@pytest.fixture
def project(make_repo, keys):
    """main holds an old GitHub token; the feature branch adds an Anthropic key."""
    repo = make_repo()
    base = repo.commit("Initial", {"README.md": "# app\n", "old.sh": f"export GH={keys.github()}\n"})
    repo.git("checkout", "-q", "-b", "feature")
    head = repo.commit("Add the agent", {"agent/config.py": f"KEY = '{keys.anthropic()}'\n"})
    return dict(repo=repo, path=Path(repo.path), base=base, head=head)


def test_a_merge_request_scans_what_it_adds_and_fails(project):
    result = run_job(project["path"], CI_PIPELINE_SOURCE="merge_request_event", CI_COMMIT_SHA=project["head"],
                     CI_MERGE_REQUEST_DIFF_BASE_SHA=project["base"], CI_COMMIT_BEFORE_SHA=ZERO)
    assert result.returncode == 1, result
    assert f"--range {project['base']}..{project['head']}" in result.stdout
    report, sarif = reports(project["path"])
    assert rules_found(report) == ["anthropic.api-key"]  # not main's old token
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]] \
        == ["agent/config.py"]


def test_fail_on_findings_false_reports_and_passes(project):
    result = run_job(project["path"], CI_PIPELINE_SOURCE="merge_request_event", CI_COMMIT_SHA=project["head"],
                     CI_MERGE_REQUEST_DIFF_BASE_SHA=project["base"], KEYSWEEP_FAIL_ON_FINDINGS="false")
    assert result.returncode == 0, result
    assert rules_found(reports(project["path"])[0]) == ["anthropic.api-key"]


def test_a_push_scans_the_pushed_commits(project):
    repo = project["repo"]
    repo.git("checkout", "-q", "main")
    after = repo.commit("Docs", {"README.md": "# app\nmore\n"})
    result = run_job(project["path"], CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA=project["base"],
                     CI_COMMIT_SHA=after, CI_COMMIT_BRANCH="main")
    assert result.returncode == 0, result
    assert report_is_empty(project["path"])


def report_is_empty(path: Path) -> bool:
    report, sarif = reports(path)
    return report["vulnerabilities"] == [] and sarif["runs"][0]["results"] == []


@pytest.mark.parametrize("before", [ZERO, "1234567890abcdef1234567890abcdef12345678"], ids=["new-branch", "force-push"])
def test_a_new_or_rewritten_branch_scans_its_whole_history(project, before):
    """A new branch (CI_COMMIT_BEFORE_SHA is zeros) or a force push (the old tip is not in the clone)."""
    result = run_job(project["path"], CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA=before,
                     CI_COMMIT_SHA=project["head"], CI_COMMIT_BRANCH="feature")
    assert result.returncode == 1, result
    assert "--range" not in result.stdout
    assert rules_found(reports(project["path"])[0]) == ["anthropic.api-key", "github.classic-pat"]


def test_a_schedule_with_a_baseline_passes_on_known_secrets(project, tmp_path, run):
    path = project["path"]
    db = tmp_path / "known.db"
    assert run("scan", "git", path, "--db", db, "--format", "json").code == 1
    baseline = tmp_path / "keysweep-baseline.json"
    assert run("baseline", "create", "--db", db, "-o", baseline).code == 0
    result = run_job(path, CI_PIPELINE_SOURCE="schedule", CI_COMMIT_SHA=project["head"], CI_COMMIT_BRANCH="feature",
                     KEYSWEEP_BASELINE=str(baseline))
    assert result.returncode == 0, result
    report, _ = reports(path)
    assert len(report["vulnerabilities"]) == 2
    assert {v["details"]["baselined"]["value"] for v in report["vulnerabilities"]} == {"yes"}


def test_a_scan_that_cannot_run_fails_the_job(tmp_path):
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    result = run_job(empty, CI_PIPELINE_SOURCE="schedule", CI_COMMIT_SHA=ZERO)
    assert result.returncode == 2, result
    assert "did not complete" in result.stdout


def test_the_template_is_not_given_to_action_validator():
    """.ci/run checks GitHub workflow files with action-validator; a GitLab file is not one."""
    ci = (PROJECT / ".ci" / "run").read_text()
    assert "*.gitlab-ci.yml) continue" in ci
