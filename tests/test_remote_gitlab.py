"""`keysweep scan gitlab` against a fake GitLab on 127.0.0.1; clone URLs are local bare repositories."""

from __future__ import annotations

import pytest

from tests.fakes.forge import FakeGitLab, ForgeBehaviour, GlProject

from .conftest import find_secret
from .test_remote_github import bare_repo

TOKEN = "glpat-fake-test-token-not-real"


@pytest.fixture
def gitlab(monkeypatch):
    server = FakeGitLab(ForgeBehaviour(token=TOKEN)).start()
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv("GITLAB_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def group(gitlab, make_repo, tmp_path, keys):
    planted = {"group_var": keys.anthropic(), "sub_var": keys.openai_project(), "project_var": keys.gitlab_routable(),
               "file_var": keys.google_api_key(), "history": keys.huggingface()}
    gitlab.add_group("acme", variables=[
        {"key": "ANTHROPIC_API_KEY", "value": planted["group_var"], "variable_type": "env_var", "protected": True,
         "masked": True, "hidden": False, "raw": False, "environment_scope": "*"},
        {"key": "DEPLOY_SECRET", "value": None, "variable_type": "env_var", "protected": True, "masked": True,
         "hidden": True, "raw": False, "environment_scope": "production"},
    ])
    gitlab.add_group("acme/ml", variables=[
        {"key": "OPENAI_API_KEY", "value": planted["sub_var"], "variable_type": "env_var", "environment_scope": "*"}])
    variables = [{"key": f"VAR_{i}", "value": f"v{i}", "variable_type": "env_var", "environment_scope": "*"}
                 for i in range(24)]
    variables.append({"key": "GL_TOKEN", "value": planted["project_var"], "variable_type": "env_var",
                      "environment_scope": "staging"})
    variables.append({"key": "GCP_CONFIG", "value": f"line one\napi_key: {planted['file_var']}\n",
                      "variable_type": "file", "environment_scope": "*"})
    gitlab.add_project(GlProject(11, "acme/api", bare_repo(make_repo, tmp_path, "gl-api",
                                                           {"config.yml": f"hf: {planted['history']}\n"}),
                                 variables=variables))
    gitlab.add_project(GlProject(12, "acme/ml/model", bare_repo(make_repo, tmp_path, "gl-model", {"a.txt": "x\n"})))
    gitlab.add_project(GlProject(13, "acme/fork", bare_repo(make_repo, tmp_path, "gl-fork", {"a.txt": "y\n"}),
                                 forked=True))
    return planted


def scan(run, tmp_path, *extra):
    return run("scan", "gitlab", "--group", "acme", "--format", "json", "--db", tmp_path / "store.db",
               "--cache-dir", tmp_path / "cache", *extra)


def test_group_variables_projects_and_hidden_inventory(run, tmp_path, gitlab, group):
    gitlab.behaviour.fail_once = {"/api/v4/projects/11/variables": [500, 429]}
    result = scan(run, tmp_path)
    assert result.code == 1, result
    findings = result.json()
    host = gitlab.url.split("//")[1]

    group_var = find_secret(findings, group["group_var"])
    place = group_var["occurrences"][0]
    assert place["source"] == "gitlab-ci-variable" and place["locator"]["group"] == "acme"
    assert place["metadata"]["masked"] is True and place["metadata"]["protected"] is True
    sub = find_secret(findings, group["sub_var"])
    assert sub["occurrences"][0]["locator"]["group"] == "acme/ml"  # descendant groups too

    project_var = find_secret(findings, group["project_var"])  # second page of 20
    assert project_var["occurrences"][0]["locator"]["project"] == "acme/api"
    assert project_var["occurrences"][0]["locator"]["environment_scope"] == "staging"
    assert project_var["occurrences"][0]["repo"] == f"{host}/acme/api"
    file_var = find_secret(findings, group["file_var"])
    assert file_var["occurrences"][0]["line"] == 2  # line within the variable's value
    assert file_var["occurrences"][0]["metadata"]["variable_type"] == "file"

    history = find_secret(findings, group["history"])
    assert history["occurrences"][0]["source"] == "git" and history["occurrences"][0]["path"] == "config.yml"

    hidden = [f for f in findings if f["rule_id"] == "gitlab.ci-hidden-variable"]
    (inventory,) = hidden
    assert inventory["redacted"] == "(hidden)" and inventory["provider"] == "gitlab-ci"
    assert inventory["occurrences"][0]["locator"]["variable"] == "DEPLOY_SECRET"
    assert inventory["occurrences"][0]["locator"]["environment_scope"] == "production"
    assert gitlab.behaviour.statuses[500] == 1 and gitlab.behaviour.statuses[429] == 1
    assert "fork" not in {o["repo"] for f in findings for o in f["occurrences"] if o["repo"]}
    assert TOKEN not in result.stdout + result.stderr
    assert gitlab.behaviour.auth_seen == {TOKEN}


def test_single_project_instance_and_bad_token(run, tmp_path, gitlab, group, monkeypatch, keys):
    result = run("scan", "gitlab", "--project", "acme/api", "--no-clone", "--format", "json", "--no-store")
    assert result.code == 1, result
    assert {o["locator"].get("project") for f in result.json() for o in f["occurrences"]} == {"acme/api"}

    instance_key = keys.openai_admin()
    gitlab.instance_variables.append({"key": "OPENAI_ADMIN_KEY", "value": instance_key, "variable_type": "env_var",
                                      "masked": True, "protected": False, "raw": False})
    instance = run("scan", "gitlab", "--instance", "--format", "json", "--no-store")
    assert instance.code == 1, instance
    (found,) = instance.json()
    assert found["occurrences"][0]["locator"]["level"] == "instance"
    assert found["occurrences"][0]["locator"]["variable"] == "OPENAI_ADMIN_KEY"

    monkeypatch.setenv("GITLAB_TOKEN", "wrong")
    denied = run("scan", "gitlab", "--group", "acme", "--format", "json", "--no-store", "--fail-on-error")
    assert denied.code == 3, denied
    assert "gitlab group acme: GET /groups/acme/descendant_groups: HTTP 401 Bad credentials" in denied.stderr
    assert run("scan", "gitlab").code == 2
