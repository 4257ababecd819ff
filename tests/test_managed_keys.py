"""Keys keysweep itself created or killed (moto server for AWS): a key made by `--rotate` is recorded
as keysweep's own and a later `scan aws` / policy run treats it so; every finding of a key moves
with the job that revoked or rotated it, and its owner is not told to revoke it by hand."""

from __future__ import annotations

import json
import urllib.request

import pytest

from keysweep.models import Finding, Occurrence
from keysweep.store import Store
from tests.fakes.providers import FakeProviders, FakeWebhook

from .test_revoke_rotate import in_secret, keys_of, leaked_key


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    import boto3

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", moto_endpoint)):
        monkeypatch.setenv(name, value)
    clients = {name: boto3.client(name, endpoint_url=moto_endpoint, region_name="us-east-1")
               for name in ("iam", "secretsmanager", "ssm")}
    clients["endpoint"] = moto_endpoint
    return clients


def key_age_record(key_id: str, user: str) -> Finding:
    """What `scan aws --service iam` stores for an old active key (no value)."""
    from keysweep.fingerprint import finding_id, secret_sha256

    digest = secret_sha256("aws-iam-access-key\0" + key_id)
    return Finding(id=finding_id("aws", digest), rule_id="aws.iam-stale-access-key", provider="aws",
                   secret_sha256=digest, redacted=f"{key_id[:4]}…{key_id[-4:]}", long_lived=True, key_id=key_id,
                   occurrences=[Occurrence(source="aws-iam-access-key", path=None, line=None, locator={
                       "user": user, "access_key_id": key_id, "resource": f"iam user {user} access key {key_id}"})])


POLICY = ('[[rules]]\nname = "rotate aws keys"\naction = "auto"\nproviders = ["aws"]\n'
          'rule_ids = ["aws.secret-access-key"]\nrevoker = "aws-rotate"\n'
          '[[rules]]\nname = "everything else"\naction = "auto"\n')


def test_rotated_key_is_managed_not_a_new_leak(tmp_path, aws, run):
    user, old_id, old_secret = leaked_key(aws)
    arn, finding = in_secret(aws, old_id, old_secret)
    db = tmp_path / "k.db"
    store = Store(db)
    store.record([finding], "scope", "2026-01-02T00:00:00Z")
    store.close()
    (tmp_path / "keysweep-policy.toml").write_text(POLICY)
    rotated = run("revoke", "--policy", "--policy-file", str(tmp_path / "keysweep-policy.toml"), "--execute", "--yes", "--db", db)
    assert rotated.code == 0, rotated
    keys = keys_of(aws, user)
    assert keys.pop(old_id) == "Inactive"
    (new_id,) = keys
    # A later scan of the secret store finds the new key where keysweep wrote it.
    scan = run("scan", "aws", "--service", "secretsmanager", "--region", "us-east-1", "--format", "json",
               "--no-progress", "--db", db)
    assert scan.code == 0, scan  # keysweep's own key alone is not a leak
    found = [f for f in scan.json() if f["key_id"] == new_id]
    assert found, scan.json()
    for record in found:
        assert record["managed"]["rotated_from"] == finding.id
        assert record["managed"]["written_to"]["id"] == arn and record["managed"]["written_to"]["service"] == "secretsmanager"
        assert record["managed"]["only_where_written"] is True
    assert all(f["managed"] is None for f in scan.json() if f["key_id"] != new_id)
    table = run("scan", "aws", "--service", "secretsmanager", "--region", "us-east-1", "--no-progress", "--full",
                "--db", db)
    assert "managed by keysweep" in table.stdout and table.code == 0
    # A policy run does not rotate keysweep's own key again because a sweep found it there.
    again = run("revoke", "--policy", "--policy-file", str(tmp_path / "keysweep-policy.toml"), "--execute", "--yes", "--db", db)
    assert again.code == 0, again
    assert set(keys_of(aws, user)) == {old_id, new_id}
    assert json.loads(aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"])["aws_access_key_id"] == new_id


def test_managed_key_found_elsewhere_is_a_leak(tmp_path, aws, run):
    user, old_id, old_secret = leaked_key(aws)
    _arn, finding = in_secret(aws, old_id, old_secret)
    db = tmp_path / "k.db"
    store = Store(db)
    store.record([finding], "scope", "2026-01-02T00:00:00Z")
    store.record_managed_key("AKIA" + "M" * 16, "aws", finding.id,
                             {"service": "secretsmanager", "id": "ci/other", "region": "us-east-1"}, None,
                             "2026-01-03T00:00:00Z")
    leaked_copy = Finding(id="f_0000000000000001", rule_id="aws.secret-access-key", provider="aws",
                          secret_sha256="0" * 64, redacted="…abcd", long_lived=True, key_id="AKIA" + "M" * 16,
                          occurrences=[Occurrence(source="git", path=".env", line=1, repo="acme/web")])
    store.record([leaked_copy], "scope2", "2026-01-04T00:00:00Z")
    (stored,) = store.findings(ids=[leaked_copy.id])
    assert stored.managed["rotated_from"] == finding.id and stored.managed["only_where_written"] is False


def test_every_finding_of_a_rotated_key_moves_with_it(tmp_path, aws, run):
    user, old_id, old_secret = leaked_key(aws)
    _arn, finding = in_secret(aws, old_id, old_secret)
    key_age = key_age_record(old_id, user)
    db = tmp_path / "k.db"
    store = Store(db)
    store.record([finding, key_age], "scope", "2026-01-02T00:00:00Z")
    store.close()
    (tmp_path / "keysweep-policy.toml").write_text(POLICY)
    hook = FakeWebhook()
    with FakeProviders(hook=hook):
        (tmp_path / "keysweep.toml").write_text('[notify]\nwebhook_env = "HOOK"\nformat = "json"\n')
        import os

        os.environ["HOOK"] = hook.url
        try:
            plan = run("revoke", "--policy", "--policy-file", str(tmp_path / "keysweep-policy.toml"), "--format", "json",
                       "--db", db, "--config", tmp_path / "keysweep.toml").json()["plan"]
            rows = {row["finding"]: row for row in plan}
            assert rows[key_age.id]["revoker"] is None and rows[key_age.id]["follows"] == finding.id
            result = run("revoke", "--policy", "--policy-file", str(tmp_path / "keysweep-policy.toml"), "--execute", "--yes",
                         "--db", db, "--config", tmp_path / "keysweep.toml")
        finally:
            del os.environ["HOOK"]
    assert result.code == 0, result
    assert keys_of(aws, user)[old_id] == "Inactive"
    # Nobody was told to revoke by hand the key rotated a minute earlier.
    assert not [b for b in hook.bodies if b.get("event") in ("cannot_revoke", "failed")], hook.bodies
    store = Store(db)
    (age,) = store.findings(ids=[key_age.id])
    assert age.remediation["state"] == "confirmed" and age.remediation["confirmed_dead_at"]
    kinds = {k for (k,) in store.conn.execute("SELECT kind FROM events WHERE finding_id = ?", [key_age.id])}
    assert {"revoked", "confirmed_dead"} <= kinds
    assert not store.conn.execute("SELECT 1 FROM revocations WHERE finding_id = ?", [key_age.id]).fetchone()
    from keysweep.remediation import audit, report

    assert audit.verify_chain(store.conn).ok
    rows = {c["id"]: c for c in report.build(store)["credentials"]}
    assert rows[key_age.id]["status"] == "dead"
