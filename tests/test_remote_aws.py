"""`keysweep scan aws` against moto in server mode on 127.0.0.1, seeded with secrets, parameters,
Lambda functions (created, never invoked: no docker needed) and IAM users with access keys."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
import zipfile

import pytest

from .conftest import find_secret


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    import boto3

    def client(service, region="eu-west-1"):
        return boto3.client(service, region_name=region, endpoint_url=moto_endpoint)
    return client


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return None\n")
    return buffer.getvalue()


@pytest.fixture
def seeded(aws, keys):
    planted = {"sm_json": keys.openai_project(), "sm_plain": keys.anthropic(), "ssm_secure": keys.huggingface(),
               "ssm_other_region": keys.google_api_key(), "lambda_id": keys.aws_access_key_id(),
               "lambda_secret": keys.aws_secret_access_key(), "lambda_key": keys.github()}
    sm = aws("secretsmanager")
    planted["sm_json_arn"] = sm.create_secret(
        Name="prod/ai", SecretString=json.dumps({"OPENAI_API_KEY": planted["sm_json"], "region": "eu"}),
        Tags=[{"Key": "owner", "Value": "ml-team"}])["ARN"]
    sm.create_secret(Name="prod/anthropic", SecretString=planted["sm_plain"])
    sm.create_secret(Name="prod/nothing", SecretString="just-a-password-ish-string")
    ssm = aws("ssm")
    ssm.put_parameter(Name="/prod/hf/token", Value=planted["ssm_secure"], Type="SecureString")
    ssm.put_parameter(Name="/prod/plain", Value="hello", Type="String")
    aws("ssm", "us-east-1").put_parameter(Name="/east/gemini", Value=planted["ssm_other_region"], Type="String")
    iam = aws("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName="summarizer", Runtime="python3.12", Role=role, Handler="handler.handle",
        Code={"ZipFile": zipped()}, Environment={"Variables": {
            "AWS_ACCESS_KEY_ID": planted["lambda_id"], "AWS_SECRET_ACCESS_KEY": planted["lambda_secret"],
            "GH_TOKEN": planted["lambda_key"], "LOG_LEVEL": "info"}})
    iam.create_user(UserName="ci-bot")
    planted["active_key"] = iam.create_access_key(UserName="ci-bot")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="retired")
    inactive = iam.create_access_key(UserName="retired")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="retired", AccessKeyId=inactive, Status="Inactive")
    planted["inactive_key"] = inactive
    return planted


def scan(run, tmp_path, *extra):
    return run("scan", "aws", "--region", "eu-west-1", "--region", "us-east-1", "--format", "json",
               "--db", tmp_path / "store.db", *extra)


def test_secret_stores_lambda_env_and_iam_keys(run, tmp_path, seeded):
    result = scan(run, tmp_path, "--max-age", "0")
    assert result.code == 1, result
    findings = result.json()

    sm = find_secret(findings, seeded["sm_json"])
    (place,) = sm["occurrences"]
    assert place["source"] == "aws-secretsmanager"
    assert place["locator"]["arn"] == seeded["sm_json_arn"] and place["locator"]["version_id"]
    assert place["locator"]["region"] == "eu-west-1"
    assert place["line"] == 1
    meta = place["metadata"]
    assert meta["rotation_enabled"] is False and "last_changed_at" in meta
    assert meta["days_since_rotation"] == 0 and meta["tags"] == {"owner": "ml-team"}
    assert "last_rotated_at" not in meta  # never rotated

    find_secret(findings, seeded["sm_plain"])
    ssm = find_secret(findings, seeded["ssm_secure"])
    assert ssm["occurrences"][0]["source"] == "aws-ssm"
    assert ssm["occurrences"][0]["locator"]["name"] == "/prod/hf/token"
    assert ssm["occurrences"][0]["locator"]["version"] == 1
    assert ssm["occurrences"][0]["metadata"]["type"] == "SecureString"
    # The leak is dated by the store (parameter version date, secret's last change), not by detection:
    # exposure windows start there.
    assert ssm["occurrences"][0]["committed_at"] == ssm["occurrences"][0]["metadata"]["last_modified_at"]
    assert ssm["remediation"]["leaked_at"] == ssm["occurrences"][0]["committed_at"]
    assert place["committed_at"] == meta["last_changed_at"]
    east = find_secret(findings, seeded["ssm_other_region"])
    assert east["occurrences"][0]["locator"]["region"] == "us-east-1"

    lam = find_secret(findings, seeded["lambda_secret"])
    assert lam["key_id"] == seeded["lambda_id"]  # paired across two variables of one function
    places = {o["locator"]["variable"] for o in lam["occurrences"]}
    assert places == {"AWS_SECRET_ACCESS_KEY"}
    assert lam["occurrences"][0]["source"] == "aws-lambda-env"
    assert lam["occurrences"][0]["locator"]["function"] == "summarizer"
    find_secret(findings, seeded["lambda_key"])

    stale = [f for f in findings if f["rule_id"] == "aws.iam-stale-access-key"]
    assert [f["key_id"] for f in stale] == [seeded["active_key"]]  # the inactive key is not reported
    (key,) = stale
    assert key["provider"] == "aws" and key["long_lived"] is True
    assert key["secret_sha256"] != hashlib.sha256(seeded["active_key"].encode()).hexdigest()
    assert key["occurrences"][0]["locator"] == {
        "user": "ci-bot", "access_key_id": seeded["active_key"], "account": "123456789012",
        "resource": f"iam user ci-bot access key {seeded['active_key']}"}
    assert key["occurrences"][0]["metadata"]["age_days"] == 0

    store = (tmp_path / "store.db").read_bytes()
    for name in ("sm_json", "sm_plain", "ssm_secure", "lambda_secret", "lambda_key"):
        assert seeded[name].encode() not in store
    assert "Traceback" not in result.stderr


def test_default_age_limit_and_incremental_reads(run, tmp_path, seeded, aws, keys):
    first = scan(run, tmp_path)
    assert first.code == 1, first
    assert not [f for f in first.json() if f["rule_id"] == "aws.iam-stale-access-key"]  # keys are new
    assert "6 values read" in first.stderr or "values read" in first.stderr

    second = scan(run, tmp_path, "--new-only")
    assert second.code == 0 and second.json() == []
    assert " 0 values read" in second.stderr, second.stderr  # no GetSecretValue, no GetParameters again

    rotated = keys.openai_project()
    aws("secretsmanager").put_secret_value(SecretId="prod/ai", SecretString=json.dumps({"OPENAI_API_KEY": rotated}))
    third = scan(run, tmp_path, "--new-only")
    assert third.code == 1, third
    (new,) = third.json()
    assert new["secret_sha256"] == hashlib.sha256(rotated.encode()).hexdigest()
    assert " 1 value read" in third.stderr


def test_missing_profile_is_one_error_line(run, tmp_path, seeded):
    result = run("scan", "aws", "--profile", "nope", "--format", "json", "--db", tmp_path / "s.db",
                 "--fail-on-error")
    assert result.code == 3, result
    assert result.json() == []
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("keysweep: warning:")]
    assert "aws profile nope" in line and "could not be found" in line
