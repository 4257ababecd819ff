"""`keysweep verify` of findings from remote sources: the value is re-read from the secret store or
the CI variable it was seen in (moto on 127.0.0.1, the fake forges), checked against a local
provider API, and never printed or stored."""

from __future__ import annotations

import json
import sqlite3

from tests.fakes.forge import FakeGitHub, FakeGitLab, ForgeBehaviour, GhRepo, GlProject

from .conftest import find_secret
from .test_remote_aws import aws, zipped  # noqa: F401  (fixture)

GH_TOKEN = "ghp_faketesttoken_not_a_real_token_000000"
GL_TOKEN = "glpat-faketesttoken-000000000"


def assert_nowhere(result, tmp_path, values):
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    for value in values:
        assert value not in result.stdout and value not in result.stderr
        assert value.encode() not in db_bytes


def test_aws_secret_parameter_and_lambda_values_are_reread_and_verified(run, tmp_path, aws, keys,  # noqa: F811
                                                                        openai_api, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", openai_api.url + "/github")
    openai_api.add("GET", "/github/user", status=401, json={"message": "Bad credentials"})
    planted = {"sm": keys.openai_project(), "ssm": keys.github(), "lambda": keys.openai_project(),
               "gone": keys.github()}
    aws("secretsmanager").create_secret(Name="prod/ai", SecretString=json.dumps({"OPENAI_API_KEY": planted["sm"]}))
    ssm = aws("ssm")
    ssm.put_parameter(Name="/prod/gh/token", Value=planted["ssm"], Type="SecureString")
    ssm.put_parameter(Name="/prod/gh/old", Value=planted["gone"], Type="SecureString")
    role = aws("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = aws("lambda")
    lam.create_function(FunctionName="summarizer", Runtime="python3.12", Role=role, Handler="handler.handle",
                        Code={"ZipFile": zipped()},
                        Environment={"Variables": {"OPENAI_API_KEY": planted["lambda"], "LOG_LEVEL": "info"}})
    lam.publish_version(FunctionName="summarizer")

    db = tmp_path / "store.db"
    scanned = run("scan", "aws", "--region", "eu-west-1", "--format", "json", "--db", db)
    assert scanned.code == 1, scanned
    places = {o["source"] for f in scanned.json() for o in f["occurrences"]}
    assert {"aws-secretsmanager", "aws-ssm", "aws-lambda-env"} <= places
    ssm.delete_parameter(Name="/prod/gh/old")  # no longer there: cannot be re-read

    result = run("verify", "--db", db, "--format", "json", "--ttl", "0")
    assert result.code == 1, result
    findings = result.json()
    status = {name: find_secret(findings, planted[name])["verification"] for name in planted}
    assert status["sm"]["status"] == "live" and status["sm"]["identity"]["org"] == "org-acme"
    assert status["ssm"]["status"] == "dead"
    assert status["lambda"]["status"] == "live"
    assert status["gone"]["status"] == "unknown" and "re-read" in status["gone"]["error"]
    lambda_sources = {o["source"] for o in find_secret(findings, planted["lambda"])["occurrences"]}
    assert lambda_sources == {"aws-lambda-env"}
    assert_nowhere(result, tmp_path, planted.values())
    assert "Traceback" not in result.stderr


def test_lambda_version_is_read_with_its_qualifier(aws, keys):  # noqa: F811
    from keysweep.scanner.sources.readers import read_lambda_env

    first, second = keys.openai_project(), keys.openai_project()
    role = aws("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = aws("lambda")
    lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="handler.handle",
                        Code={"ZipFile": zipped()}, Environment={"Variables": {"KEY": first}})
    arn = lam.publish_version(FunctionName="fn")["FunctionArn"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    lam.update_function_configuration(FunctionName="fn", Environment={"Variables": {"KEY": second}})
    base = {"function": "fn", "variable": "KEY", "region": "eu-west-1"}
    assert read_lambda_env({**base, "function_arn": arn, "version": "1"}) == f"KEY={first}".encode()
    assert read_lambda_env({**base, "function_arn": arn.rsplit(":", 1)[0], "version": "$LATEST"}) \
        == f"KEY={second}".encode()
    assert read_lambda_env({**base, "function_arn": arn, "version": "1", "variable": "MISSING"}) is None
    assert read_lambda_env({**base, "function_arn": arn + "x", "version": "9"}) is None


def test_github_actions_variables_are_reread_and_verified(run, tmp_path, keys, openai_api, monkeypatch):
    planted = {"repo": keys.openai_project(), "org": keys.openai_project(), "env": keys.openai_project()}
    github = FakeGitHub(ForgeBehaviour(token=GH_TOKEN)).start()
    try:
        monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        stamp = "2025-01-01T00:00:00Z"
        github.add_org("acme", variables=[{"name": "ORG_OPENAI", "value": planted["org"], "created_at": stamp,
                                           "updated_at": stamp, "visibility": "all"}])
        github.add_repo(GhRepo("acme", "api", "file:///nonexistent", variables=[
            {"name": "OPENAI_API_KEY", "value": planted["repo"], "created_at": stamp, "updated_at": stamp}],
            environments={"prod": {"variables": [{"name": "PROD_OPENAI", "value": planted["env"],
                                                  "created_at": stamp, "updated_at": stamp}]}}))
        db = tmp_path / "store.db"
        scanned = run("scan", "github", "--org", "acme", "--no-clone", "--format", "json", "--db", db)
        assert scanned.code == 1, scanned

        result = run("verify", "--db", db, "--format", "json", "--ttl", "0")
        assert result.code == 1, result
        findings = result.json()
        for name, value in planted.items():
            finding = find_secret(findings, value)
            assert finding["occurrences"][0]["source"] == "github-actions-variable"
            assert finding["verification"]["status"] == "live", (name, finding["verification"])
        assert_nowhere(result, tmp_path, planted.values())

        # The scan's API URL is kept with each occurrence and wins over a later GITHUB_API_URL.
        monkeypatch.setenv("GITHUB_API_URL", openai_api.url + "/github")
        again = run("verify", "--db", db, "--format", "json", "--ttl", "0")
        assert {f["verification"]["status"] for f in again.json()} == {"live"}, again
        # Without it (a store written before it was kept), another API host than the one the
        # variables were seen on is not sent the token: nothing can be re-read.
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE occurrences SET locator = json_remove(locator, '$.access')")
        other = run("verify", "--db", db, "--format", "json", "--ttl", "0")
        assert {f["verification"]["status"] for f in other.json()} == {"unknown"}
        assert not [r for r in openai_api.requests if r.path.startswith("/github") and r.header("Authorization")], \
            "the token went to another host"
    finally:
        github.stop()


def test_gitlab_ci_variables_are_reread_by_environment_scope(run, tmp_path, keys, openai_api, monkeypatch):
    planted = {"prod": keys.openai_project(), "any": keys.openai_project(), "group": keys.openai_project()}
    gitlab = FakeGitLab(ForgeBehaviour(token=GL_TOKEN)).start()
    try:
        monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
        monkeypatch.setenv("GITLAB_URL", gitlab.url)
        gitlab.add_group("acme", variables=[{"key": "GROUP_OPENAI", "value": planted["group"],
                                             "environment_scope": "*"}])
        gitlab.add_project(GlProject(7, "acme/api", "file:///nonexistent", variables=[
            {"key": "OPENAI_API_KEY", "value": planted["prod"], "environment_scope": "production"},
            {"key": "OPENAI_API_KEY", "value": planted["any"], "environment_scope": "*"}]))
        db = tmp_path / "store.db"
        scanned = run("scan", "gitlab", "--group", "acme", "--no-clone", "--format", "json", "--db", db)
        assert scanned.code == 1, scanned

        result = run("verify", "--db", db, "--format", "json", "--ttl", "0")
        findings = result.json()
        for name, value in planted.items():
            finding = find_secret(findings, value)
            assert finding["occurrences"][0]["source"] == "gitlab-ci-variable"
            assert finding["verification"]["status"] == "live", (name, finding["verification"])
        assert_nowhere(result, tmp_path, planted.values())
    finally:
        gitlab.stop()
