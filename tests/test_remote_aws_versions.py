"""`keysweep scan aws --versions` against moto: a rotated secret's AWSPREVIOUS value (and other staged
versions) and a parameter's older versions (GetParameterHistory) are read too, each version once;
without the flag only the current ones are; re-reads ask for the very version."""

from __future__ import annotations

import hashlib

from .conftest import find_secret
from .test_remote_aws import aws  # noqa: F401  (fixture)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def scan(run, tmp_path, *extra):
    return run("scan", "aws", "--region", "eu-west-1", "--service", "secretsmanager", "--service", "ssm",
               "--format", "json", "--db", tmp_path / "store.db", *extra)


def seed(aws, keys):
    planted = {"sm_first": keys.openai_project(), "sm_previous": keys.openai_project(), "sm_current": keys.openai_project(),
               "sm_custom": keys.anthropic(), "ssm_v1": keys.huggingface(), "ssm_v2": keys.huggingface(),
               "ssm_current": keys.huggingface()}
    sm = aws("secretsmanager")
    arn = sm.create_secret(Name="prod/openai", SecretString=f"OPENAI_API_KEY={planted['sm_first']}")["ARN"]
    sm.put_secret_value(SecretId=arn, SecretString=f"OPENAI_API_KEY={planted['sm_previous']}")
    sm.put_secret_value(SecretId=arn, SecretString=f"OPENAI_API_KEY={planted['sm_current']}")
    # A version kept under a label of its own (e.g. for a canary), next to AWSCURRENT.
    sm.put_secret_value(SecretId=arn, SecretString=f"ANTHROPIC_API_KEY={planted['sm_custom']}", VersionStages=["CANARY"])
    ssm = aws("ssm")
    for value in (planted["ssm_v1"], planted["ssm_v2"], planted["ssm_current"]):
        ssm.put_parameter(Name="/prod/hf/token", Value=value, Type="SecureString", Overwrite=True)
    planted["arn"] = arn
    return planted


def test_only_current_versions_without_the_flag(run, tmp_path, aws, keys):
    planted = seed(aws, keys)
    result = scan(run, tmp_path)
    assert result.code == 1, result
    digests = {f["secret_sha256"] for f in result.json()}
    assert {sha(planted["sm_current"]), sha(planted["ssm_current"])} <= digests
    for older in ("sm_first", "sm_previous", "sm_custom", "ssm_v1", "ssm_v2"):
        assert sha(planted[older]) not in digests, older


def test_staged_versions_and_parameter_history_with_versions(run, tmp_path, aws, keys):
    planted = seed(aws, keys)
    result = scan(run, tmp_path, "--versions")
    assert result.code == 1, result
    findings = result.json()
    find_secret(findings, planted["sm_current"])
    previous = find_secret(findings, planted["sm_previous"])["occurrences"][0]
    assert previous["source"] == "aws-secretsmanager" and previous["metadata"]["stages"] == ["AWSPREVIOUS"]
    assert previous["locator"]["arn"] == planted["arn"] and previous["locator"]["resource"].endswith("(AWSPREVIOUS)")
    current_version = find_secret(findings, planted["sm_current"])["occurrences"][0]["locator"]["version_id"]
    assert previous["locator"]["version_id"] != current_version
    assert find_secret(findings, planted["sm_custom"])["occurrences"][0]["metadata"]["stages"] == ["CANARY"]
    # A version with no label left is Secrets Manager's to delete: not read.
    assert sha(planted["sm_first"]) not in {f["secret_sha256"] for f in findings}
    for version, name in ((1, "ssm_v1"), (2, "ssm_v2"), (3, "ssm_current")):
        (place,) = find_secret(findings, planted[name])["occurrences"]
        assert place["source"] == "aws-ssm" and place["locator"]["version"] == version, place
    older = find_secret(findings, planted["ssm_v1"])["occurrences"][0]
    assert older["metadata"]["current_version"] == 3 and "history" in older["locator"]["resource"]
    store = (tmp_path / "store.db").read_bytes()
    for name, value in planted.items():
        if name == "arn":
            continue
        assert value.encode() not in store
        assert value not in result.stdout + result.stderr


def test_each_older_version_is_read_once(run, tmp_path, aws, keys):
    planted = seed(aws, keys)
    assert scan(run, tmp_path, "--versions").code == 1
    again = scan(run, tmp_path, "--versions", "--new-only")
    assert again.code == 0 and again.json() == [], again
    assert " 0 values read" in again.stderr, again.stderr
    newer = keys.huggingface()
    aws("ssm").put_parameter(Name="/prod/hf/token", Value=newer, Type="SecureString", Overwrite=True)
    aws("secretsmanager").put_secret_value(SecretId=planted["arn"], SecretString=f"OPENAI_API_KEY={keys.openai_project()}")
    third = scan(run, tmp_path, "--versions", "--new-only")
    assert third.code == 1, third
    # The new parameter version is new; version 3, now history, and the secret's new AWSPREVIOUS
    # (the version that was current) were read before: not again, and not new.
    assert sha(newer) in {f["secret_sha256"] for f in third.json()}
    assert sha(planted["ssm_current"]) not in {f["secret_sha256"] for f in third.json()}
    assert sha(planted["sm_current"]) not in {f["secret_sha256"] for f in third.json()}
    assert " 2 values read" in third.stderr, third.stderr  # the new secret version and the new parameter version


def test_verify_rereads_the_previous_version(run, tmp_path, aws, keys, openai_api):
    planted = seed(aws, keys)
    assert scan(run, tmp_path, "--versions").code == 1
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), planted["sm_previous"])["verification"]["status"] == "live", checked
    assert planted["sm_previous"] not in checked.stdout + checked.stderr


def test_the_sweep_table_takes_versions(run, tmp_path, aws, keys):
    planted = seed(aws, keys)
    config = tmp_path / "keysweep.toml"
    config.write_text('[[sources.aws]]\nregions = ["eu-west-1"]\nservices = ["ssm"]\nversions = true\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "store.db", "--format", "json", "--no-progress")
    assert result.code == 1, result
    find_secret(result.json(), planted["ssm_v1"])
