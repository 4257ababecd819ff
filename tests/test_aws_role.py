"""keysweep eats its own cooking on AWS: `scan aws --role-arn` reads as an IAM role (sts:AssumeRole,
temporary credentials) whose base identity may do nothing else, and a later re-read (verify)
assumes the same role again. In moto with signatures and IAM policies enforced."""

from __future__ import annotations

import json

import pytest

from .conftest import allow, find_secret

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                 "Action": "sts:AssumeRole"}]}


@pytest.fixture
def role_only(signed_moto, monkeypatch, keys):
    """A `scanner` user allowed sts:AssumeRole only, a `keysweep-audit` role that may read Secrets
    Manager and SSM, and an OpenAI key in a secret and a parameter."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    moto = signed_moto("eu-west-1")
    iam = moto.client("iam")
    iam.create_user(UserName="scanner")
    iam.put_user_policy(UserName="scanner", PolicyName="assume-only", PolicyDocument=allow("sts:AssumeRole"))
    base = iam.create_access_key(UserName="scanner")["AccessKey"]
    role = iam.create_role(RoleName="keysweep-audit", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName="keysweep-audit", PolicyName="read-stores", PolicyDocument=allow([
        "secretsmanager:ListSecrets", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue", "ssm:DescribeParameters", "ssm:GetParameters",
        "ssm:GetParameter", "kms:Decrypt"]))
    planted = {"secret": keys.openai_project(), "parameter": keys.openai_project()}
    moto.client("secretsmanager").create_secret(Name="prod/openai", SecretString=planted["secret"])
    moto.client("ssm").put_parameter(Name="/prod/openai", Value=planted["parameter"], Type="SecureString")
    moto.sign_in(base)
    return {"role": role, "base": base, **planted}


def scan(run, tmp_path, *extra):
    return run("scan", "aws", "--region", "eu-west-1", "--service", "secretsmanager", "--service", "ssm",
               "--format", "json", "--db", tmp_path / "store.db", *extra)


def test_without_the_role_the_base_identity_reads_nothing(run, tmp_path, role_only):
    result = scan(run, tmp_path)
    assert result.code == 3, result  # every scope denied
    assert "AccessDenied" in result.stderr or "not authorized" in result.stderr, result.stderr


def test_scan_aws_as_a_role_reads_the_stores_and_rereads_through_the_role(run, tmp_path, role_only, fake_api,
                                                                          monkeypatch):
    result = scan(run, tmp_path, "--role-arn", role_only["role"])
    assert result.code == 1, result
    findings = result.json()
    for name in ("secret", "parameter"):
        place = find_secret(findings, role_only[name])["occurrences"][0]
        assert place["locator"]["access"]["role_arn"] == role_only["role"]  # the role's ARN, never a credential
    assert role_only["base"]["SecretAccessKey"] not in result.stdout + result.stderr

    # verify re-reads both values from AWS (the base identity alone may not), then checks them.
    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    fake_api.add("GET", "/openai/v1/models", json={"object": "list", "data": []})
    fake_api.add("GET", "/openai/v1/me", json={"object": "user", "id": "user-1"})
    verified = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert "cannot re-read" not in verified.stderr, verified.stderr
    for name in ("secret", "parameter"):
        assert find_secret(verified.json(), role_only[name])["verification"]["status"] == "live", verified


def test_a_role_the_base_identity_may_not_assume_is_one_error_line(run, tmp_path, role_only):
    result = scan(run, tmp_path, "--role-arn", "arn:aws:iam::123456789012:role/nobody-may")
    assert result.code == 3, result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["keysweep-audit", "arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/bob"])
def test_a_malformed_role_arn_is_exit_2(run, tmp_path, value):
    result = run("scan", "aws", "--role-arn", value, "--db", tmp_path / "s.db")
    assert result.code == 2 and "expected an IAM role ARN" in result.stderr, result
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[[sources.aws]]\nregions = ["eu-west-1"]\nrole_arn = "{value}"\n')
    swept = run("sweep", "--config", config, "--db", tmp_path / "s.db")
    assert swept.code == 2 and "[sources.aws] role_arn" in swept.stderr, swept


def test_a_sweep_table_names_the_role(run, tmp_path, role_only):
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[[sources.aws]]\nregions = ["eu-west-1"]\nservices = ["ssm"]\nrole_arn = "{role_only["role"]}"\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--format", "json")
    assert result.code == 1, result
    find_secret(result.json(), role_only["parameter"])
