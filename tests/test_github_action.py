"""The GitHub Action (action.yml, composite): its bash steps run here as a runner runs them — each
`run:` with its `env:`, the inputs (defaults or given), GitHub's event context, `runner.temp` and
the earlier steps' outputs substituted — against a temporary repository; the outputs, the SARIF
file and the final verdict are checked. The `uses:` steps (setup-python, the SARIF upload) are
GitHub's own and are not run here; installing keysweep is left to the test environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import KEYSWEEP_BIN, PROJECT, validate_findings_output

ACTION = yaml.safe_load((PROJECT / "action.yml").read_text())
ZERO = "0" * 40


def expand(text: str, context: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        expression = match.group(1).strip()
        assert expression in context, f"action.yml uses ${{{{ {expression} }}}}, which this test does not provide"
        return context[expression]
    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def run_action(repo: Path, tmp_path: Path, event_name: str, event: dict[str, str], **inputs: str) -> dict:
    """Run the action's bash steps in order; the step outputs, the action's outputs, each step's status
    and each step's log (standard output and standard error, as the runner reads them)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    context = {f"inputs.{name}": str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    context.update({f"inputs.{name.replace('_', '-')}": value for name, value in inputs.items()})
    context.update({f"github.event.{name}": value for name, value in event.items()})
    for name in ("github.event.pull_request.base.sha", "github.event.pull_request.head.sha", "github.event.before",
                 "github.event.after"):
        context.setdefault(name, "")
    context["runner.temp"] = str(tmp_path / "runner-temp")
    steps: dict[str, dict[str, str]] = {}
    statuses: list[tuple[str, int]] = []
    logs: dict[str, tuple[str, str]] = {}
    for number, step in enumerate(ACTION["runs"]["steps"]):
        if "uses" in step:
            continue
        if "pip install" in step["run"]:
            assert '"$GITHUB_ACTION_PATH"' in step["run"]  # installs from the action's own checkout
            continue
        outputs_file = tmp_path / f"github-output-{number}"
        outputs_file.write_text("")
        for step_id, outputs in steps.items():
            context.update({f"steps.{step_id}.outputs.{name}": value for name, value in outputs.items()})
        for name in ("findings-count", "sarif-file", "exit-code"):
            context.setdefault(f"steps.scan.outputs.{name}", "")
        env = {**os.environ, **{name: expand(str(value), context) for name, value in step.get("env", {}).items()},
               "GITHUB_ACTION_PATH": str(PROJECT), "GITHUB_EVENT_NAME": event_name, "GITHUB_OUTPUT": str(outputs_file),
               "RUNNER_TEMP": context["runner.temp"], "PATH": f"{KEYSWEEP_BIN.parent}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(PROJECT)}
        result = subprocess.run(["bash", "-c", expand(step["run"], context)], cwd=repo, env=env, capture_output=True,
                                text=True, timeout=300)
        statuses.append((step.get("name", step.get("id", "")), result.returncode))
        logs[step.get("name", step.get("id", ""))] = (result.stdout, result.stderr)
        if "id" in step:
            steps[step["id"]] = dict(line.split("=", 1) for line in outputs_file.read_text().splitlines() if "=" in line)
    findings = Path(context["runner.temp"]) / "keysweep" / "findings.json"  # the action's `--format json`
    if findings.is_file():
        validate_findings_output(["scan", "git", "--format", "json"], findings.read_text(encoding="utf-8"))
    outputs = {name: expand(spec["value"], {**context, **{f"steps.{sid}.outputs.{k}": v for sid, o in steps.items()
                                                           for k, v in o.items()}})
               for name, spec in ACTION["outputs"].items()}
    return {"outputs": outputs, "statuses": statuses, "logs": logs}


@pytest.fixture
def pull_request(make_repo, keys):
    repo = make_repo()
    old = keys.github()
    base = repo.commit("Initial", {"README.md": "# app\n", "old.sh": f"export GH={old}\n"})
    repo.git("checkout", "-q", "-b", "feature")
    new = keys.anthropic()
    head = repo.commit("Add the agent", {"agent/config.py": f"KEY = '{new}'\n"})
    return dict(repo=repo, base=base, head=head, old=old, new=new)


def sarif_places(path: str) -> set[str]:
    sarif = json.loads(Path(path).read_text())
    assert sarif["version"] == "2.1.0"
    return {result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for result in sarif["runs"][0]["results"]}


def test_a_pull_request_with_a_new_key_fails_with_its_sarif(pull_request, tmp_path):
    p = pull_request
    ran = run_action(p["repo"].path, tmp_path, "pull_request",
                     {"pull_request.base.sha": p["base"], "pull_request.head.sha": p["head"]})
    assert ran["outputs"]["findings-count"] == "1" and ran["outputs"]["exit-code"] == "1"
    assert sarif_places(ran["outputs"]["sarif-file"]) == {"agent/config.py"}  # the range only: not old.sh
    assert ran["statuses"] == [("Scan", 0), ("Fail on findings", 1)]


def test_fail_on_findings_false_reports_without_failing(pull_request, tmp_path):
    p = pull_request
    ran = run_action(p["repo"].path, tmp_path, "pull_request",
                     {"pull_request.base.sha": p["base"], "pull_request.head.sha": p["head"]}, fail_on_findings="false")
    assert ran["outputs"]["findings-count"] == "1"
    assert ran["statuses"] == [("Scan", 0), ("Fail on findings", 0)]


def test_a_baselined_key_does_not_fail_the_check(pull_request, tmp_path, run):
    p = pull_request
    scan = run("scan", "git", p["repo"].path, "--no-store", "--format", "json")
    (tmp_path / "scan.json").write_text(scan.stdout)
    baseline = tmp_path / "baseline.json"
    assert run("baseline", "create", "--from", tmp_path / "scan.json", "-o", baseline).code == 0
    ran = run_action(p["repo"].path, tmp_path, "pull_request",
                     {"pull_request.base.sha": p["base"], "pull_request.head.sha": p["head"]}, baseline=str(baseline))
    assert ran["outputs"]["findings-count"] == "0" and ran["outputs"]["exit-code"] == "0"
    assert ran["statuses"] == [("Scan", 0), ("Fail on findings", 0)]


def test_a_schedule_scans_the_whole_history(pull_request, tmp_path):
    ran = run_action(pull_request["repo"].path, tmp_path, "schedule", {})
    assert ran["outputs"]["findings-count"] == "2"
    assert sarif_places(ran["outputs"]["sarif-file"]) == {"agent/config.py", "old.sh"}


def test_a_push_of_a_new_branch_and_a_deleted_branch(pull_request, tmp_path):
    p = pull_request
    new_branch = run_action(p["repo"].path, tmp_path / "a", "push", {"before": ZERO, "after": p["head"]})
    assert new_branch["outputs"]["findings-count"] == "2"
    deleted = run_action(p["repo"].path, tmp_path / "b", "push", {"before": p["head"], "after": ZERO})
    assert deleted["outputs"] == {"findings-count": "0", "sarif-file": "", "exit-code": "0"}
    assert deleted["statuses"][-1] == ("Fail on findings", 0)


def test_a_scan_that_fails_fails_the_check(make_repo, tmp_path):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    ran = run_action(repo.path, tmp_path, "pull_request", {"pull_request.base.sha": "nosuch", "pull_request.head.sha": "HEAD"})
    assert ran["outputs"]["exit-code"] == "2"
    assert ran["statuses"] == [("Scan", 0), ("Fail on findings", 1)]


# -- a repository whose names are workflow commands ------------------------------------------------
# Submodule paths keysweep names in a warning ("… is a separate repository and was not scanned"):
# the runner reads `##[…]` anywhere in a line of the job's log, `::…::` at a line's start.
HOSTILE_SUBMODULES = ("vendor/##[add-mask]keysweep", "vendor/##[set-output name=findings-count]0",
                      "vendor/##[error file=README.md]forged annotation", "::warning::forged")


def test_names_in_the_scanned_repository_are_no_workflow_commands(make_repo, keys, tmp_path):
    """A scheduled scan of a repository whose submodules are named as workflow commands. Was: the
    Scan step's log carried `keysweep: warning: submodule vendor/##[add-mask]keysweep …` on standard
    error, which the runner obeys (a mask hiding every later "keysweep" in the log, a forged output
    and annotation)."""
    from tests.fakes.actions_runner import commands

    repo = make_repo()
    base = repo.commit("Initial", {"README.md": "# app\n"})
    repo.write("agent/config.py", f"KEY = '{keys.anthropic()}'\n")
    repo.git("add", "-A")
    for path in HOSTILE_SUBMODULES:
        repo.git("update-index", "--add", "--cacheinfo", f"160000,{base},{path}")
    repo.clock += 3600
    repo.git("commit", "-q", "-m", "Add the agent")
    ran = run_action(repo.path, tmp_path, "schedule", {})
    assert ran["outputs"]["findings-count"] == "1" and ran["outputs"]["exit-code"] == "1"
    assert ran["statuses"] == [("Scan", 0), ("Fail on findings", 1)]
    stdout, stderr = ran["logs"]["Scan"]
    assert "submodule vendor/##\\x5badd-mask]keysweep" in stdout, stdout  # named, as text
    assert "submodule ::warning::forged (commit" in stdout, stdout  # not at a line's start: no command
    assert stderr == ""  # one stream: nothing keysweep prints can overtake the stop
    obeyed = commands(stdout.splitlines() + stderr.splitlines())
    assert [name for name, _props, _data in obeyed] == ["stop-commands", obeyed[0][2]], obeyed
    assert re.fullmatch(r"[0-9a-f]{32}", obeyed[0][2])
    verdict = commands("\n".join(ran["logs"]["Fail on findings"]).splitlines())
    assert verdict == [("error", {"title": "keysweep"},
                        "1 leaked credential(s) found: see code scanning or this job's log")]


def test_the_fake_runner_obeys_what_github_documents():
    """The fake the test above relies on: it obeys each form of command, and stops when asked."""
    from tests.fakes.actions_runner import commands

    assert commands(["::error file=a%2Cb.py,line=1::x%0Ay", "  ::add-mask::s", "text ##[set-output name=n]v",
                     "::stop-commands::t0k", "::error::muted", "##[add-mask]muted", "::t0k::", "::debug::on"]) == [
        ("error", {"file": "a,b.py", "line": "1"}, "x\ny"), ("add-mask", {}, "s"), ("set-output", {"name": "n"}, "v"),
        ("stop-commands", {}, "t0k"), ("t0k", {}, ""), ("debug", {}, "on")]
    assert commands(["::nosuch::x", "a ::error::x", "##[nosuch]x"]) == []


def test_no_workflow_pastes_an_expression_into_a_script():
    """GitHub's hardening guide: an expression in `run:` is pasted into the script's text before it
    runs, so an output or event field holding `"; curl … #` would run. The action and the example
    workflows pass such values through `env:`."""
    for path in (PROJECT / "action.yml", *sorted((PROJECT / "examples" / "ci").glob("*.yml"))):
        document = yaml.safe_load(path.read_text())
        if "runs" in document:
            steps = document["runs"]["steps"]
        elif "jobs" in document:
            steps = [step for job in document["jobs"].values() for step in job.get("steps", [])]
        else:
            continue  # the GitLab CI template
        for step in steps:
            assert "${{" not in step.get("run", ""), (path.name, step)


@pytest.mark.parametrize("exit_code, count, said", [
    ("1", "2", "2 leaked credential(s) found: see code scanning or this job's log"),
    ("1", "1%0A::add-mask::keysweep", "? leaked credential(s) found: see code scanning or this job's log"),
    ("2\n::add-mask::keysweep", "", "the scan did not complete (keysweep exit status ?)"),
])
def test_the_verdict_puts_only_numbers_in_its_annotation(exit_code, count, said):
    """The verdict's `::error` carries the step's outputs: a count or status that is not a number
    (an output a log line set, a hand-run KS_* variable) is shown as `?`, never as command text."""
    from tests.fakes.actions_runner import commands

    result = subprocess.run(["bash", str(PROJECT / "scripts" / "action-scan.sh"), "--verdict"], capture_output=True,
                            text=True, env={**os.environ, "KS_EXIT": exit_code, "KS_COUNT": count}, timeout=60)
    assert result.returncode == 1
    assert commands(result.stdout.splitlines()) == [("error", {"title": "keysweep"}, said)], result.stdout
