"""AWS access-key rotation against moto's server: the new key goes into the Secrets Manager secret
or SSM parameter that held the old one, the old key is deactivated, a kill between CreateAccessKey
and the write is resumed without a second new key, IAM's two-key limit is reported before anything
is created, and the new secret reaches no DB row, call record or output."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from keysweep.context import Context
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.http import HttpClient, RetryPolicy
from keysweep.models import ACCESS, Finding, Occurrence
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Jobs
from keysweep.remediation.orchestrator import Orchestrator, start_run
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers
from keysweep.revokers.aws_rotate import parse_target, rewrite
from keysweep.settings import Settings
from keysweep.store import Store

from .conftest import admin_client, find_secret, two_profiles_secret_first


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in keysweep catches it."""


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    clients = {name: boto3.client(name, endpoint_url=moto_endpoint, region_name="us-east-1")
               for name in ("iam", "secretsmanager", "ssm")}
    clients["endpoint"] = moto_endpoint
    return clients


def leaked_key(aws, extra_key: bool = False):
    user = f"ci-{uuid.uuid4().hex[:8]}"
    aws["iam"].create_user(UserName=user)
    key = aws["iam"].create_access_key(UserName=user)["AccessKey"]
    if extra_key:
        aws["iam"].create_access_key(UserName=user)
    return user, key["AccessKeyId"], key["SecretAccessKey"]


def aws_finding(key_id: str, secret: str, source: str, locator: dict) -> Finding:
    digest = secret_sha256(secret)
    return Finding(id=finding_id("aws", digest), rule_id="aws.secret-access-key", provider="aws",
                   secret_sha256=digest, redacted=redact(secret), long_lived=True, key_id=key_id,
                   occurrences=[Occurrence(source=source, path=locator.get("resource"), line=1, locator=locator)])


def in_secret(aws, key_id, secret):
    name = f"ci/{uuid.uuid4().hex[:8]}"
    value = json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret, "note": "ci deploy"})
    arn = aws["secretsmanager"].create_secret(Name=name, SecretString=value)["ARN"]
    return arn, aws_finding(key_id, secret, "aws-secretsmanager",
                            {"arn": arn, "region": "us-east-1", "resource": f"secretsmanager us-east-1 {name}",
                             ACCESS: {"endpoint_url": aws["endpoint"]}})  # as `scan aws --endpoint-url` records it


def in_parameter(aws, key_id, secret):
    name = f"/ci/{uuid.uuid4().hex[:8]}"
    value = f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    aws["ssm"].put_parameter(Name=name, Value=value, Type="SecureString")
    return name, aws_finding(key_id, secret, "aws-ssm", {"name": name, "version": 1, "region": "us-east-1",
                                                         "resource": f"ssm us-east-1 {name} (v1)",
                                                         ACCESS: {"endpoint_url": aws["endpoint"]}})


def keys_of(aws, user) -> dict[str, str]:
    return {m["AccessKeyId"]: m["Status"] for m in aws["iam"].list_access_keys(UserName=user)["AccessKeyMetadata"]}


async def rotate(store, findings, settings, extra=None, resume=False):
    revokers = available_revokers()
    async with HttpClient(policy=RetryPolicy(attempts=2, base_delay=0.01), default_rate=1000) as http:
        ctx = for_revocation(Context(http=http, settings=settings, store=store, extra=dict(extra or {}),
                                     actor="tester"))
        run_id = start_run(store, "tester", "test", ctx.now())
        jobs = Jobs(store, "tester", run_id, ctx.now)
        if resume:
            todo = jobs.find(states=J.OPEN_STATES)
        else:
            todo = [jobs.create(f, "aws-rotate", await revokers["aws-rotate"].plan(f, ctx), approve=True)[0]
                    for f in findings]
        orchestrator = Orchestrator(ctx, jobs, revokers, confirm_attempts=1, confirm_delay=0.01, retry_base=0.01,
                                    max_attempts=2)
        return await orchestrator.run(todo), jobs


def dump(store) -> str:
    return "\n".join(store.conn.iterdump())


def rotation_store(tmp_path, finding) -> Store:
    """The store at tmp_path/k.db, holding the finding."""
    store = Store(tmp_path / "k.db")
    store.record([finding], "scope", "2025-01-02T00:00:00Z")
    return store


def aws_settings(aws, delete_after_days: int | None = None, **env: str) -> Settings:
    """Settings pointing AWS at moto (and `env`), with the grace period before the old key's delete."""
    config = {} if delete_after_days is None else {"providers": {"aws": {"delete_after_days": delete_after_days}}}
    return Settings(env={"AWS_ENDPOINT_URL": aws["endpoint"], **env}, config=config)


def rotated_key(aws, user, old_id) -> str:
    """The id of the user's one new key: active, beside the old one, now inactive."""
    keys = keys_of(aws, user)
    assert keys.pop(old_id) == "Inactive"
    (new_id, status), = keys.items()
    assert status == "Active"
    return new_id


def refused_before_any_key(store, finding, settings) -> str:
    """The rotation failed for good: its one error."""
    summary, _jobs = asyncio.run(rotate(store, [finding], settings))
    assert summary.states == {"failed_permanent": 1}
    (_fid, error), = summary.errors
    return error


def refused_after_a_key(store, finding, settings, aws, user, old_id, extra=None) -> tuple[str, str]:
    """The rotation failed for good after creating a key, the old key still active beside it: its
    one error and the id of the key made."""
    summary, _jobs = asyncio.run(rotate(store, [finding], settings, extra=extra))
    assert summary.states == {"failed_permanent": 1}, summary
    (_fid, error), = summary.errors
    keys = keys_of(aws, user)
    assert keys.pop(old_id) == "Active", "the old key was deactivated"
    (new_id, _status), = keys.items()
    return error, new_id


def killed_at(store, finding, settings, where: str) -> J.Job:
    """A rotation run killed (as by SIGKILL) at the step `where`: its job as the kill left it. The
    killed run is marked finished, as `revoke --resume` finds a dead process's run."""
    def fault(step):
        if step == where:
            raise Killed()
    with pytest.raises(Killed):
        asyncio.run(rotate(store, [finding], settings, extra={"_rotate_fault": fault}))
    job = Jobs(store, "t", "x", lambda: "2025-01-03T00:00:00Z").find()[0]
    store.conn.execute("UPDATE remediation_runs SET finished_at = '2025-01-03T00:00:00Z'")  # the killed run
    store.conn.commit()
    return job


def resumed_after_a_kill(store, finding, settings, where: str, aws, user, old_id) -> str:
    """A rotation killed at `where` (both keys then active), then `revoke --resume`: confirmed, the old
    key inactive beside one new key, which is the one the killed run made when it had written it
    (`after_write`) and a replacement of it otherwise. Returns the new key's id."""
    first_new = killed_at(store, finding, settings, where).plan["data"]["new_key_id"]
    assert keys_of(aws, user) == {old_id: "Active", first_new: "Active"}
    summary, _jobs = asyncio.run(rotate(store, [], settings, resume=True))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    assert (new_id == first_new) == (where == "after_write")
    return new_id


async def delete_due(store, finding, settings, moment, create: bool):
    """One `revoke --resume` at moment[0]: the old key's delayed delete, if due (after revoking it first
    when `create`). Returns delete_due's outcome and the jobs."""
    revokers = available_revokers()
    async with HttpClient() as http:
        ctx = for_revocation(Context(http=http, settings=settings, store=store, clock=lambda: moment[0],
                                     actor="tester"))
        jobs = Jobs(store, "tester", start_run(store, "tester", "test", ctx.now()), ctx.now)
        orchestrator = Orchestrator(ctx, jobs, revokers, confirm_attempts=1, confirm_delay=0.01)
        if create:
            job, _ = jobs.create(finding, "aws", await revokers["aws"].plan(finding, ctx), approve=True)
            await orchestrator.run([job])
        return await orchestrator.delete_due(jobs.find(states=[J.CONFIRMED])), jobs


def test_rotation_into_secrets_manager_then_idempotent(tmp_path, aws):
    user, old_id, old_secret = leaked_key(aws)
    arn, finding = in_secret(aws, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = aws_settings(aws)
    summary, jobs = asyncio.run(rotate(store, [finding], settings))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    stored = json.loads(aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"])
    assert stored["aws_access_key_id"] == new_id and stored["note"] == "ci deploy"
    new_secret = stored["aws_secret_access_key"]
    assert len(new_secret) == 40 and new_secret != old_secret
    job = jobs.find()[0]
    assert job.plan["data"]["new_key_id"] == new_id
    everything = dump(store)
    assert new_secret not in everything and old_secret not in everything
    assert new_id in everything  # the audit rows and calls name the new key id
    # Run the revoke step again: the write is seen, no third key is created.
    async def again():
        async with HttpClient() as http:
            ctx = for_revocation(Context(http=http, settings=settings, store=store, actor="tester"))
            from keysweep.remediation.jobs import plan_from_json

            return await available_revokers()["aws-rotate"].revoke(plan_from_json(jobs.find()[0].plan), ctx)
    result = asyncio.run(again())
    assert result.ok, result.detail
    assert set(keys_of(aws, user)) == {old_id, new_id}
    assert new_secret not in result.detail and new_secret not in json.dumps(result.calls)


def test_rotation_into_ssm_parameter_deletes_old_key_when_no_grace(tmp_path, aws):
    user, old_id, old_secret = leaked_key(aws)
    name, finding = in_parameter(aws, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    summary, _jobs = asyncio.run(rotate(store, [finding], aws_settings(aws, delete_after_days=0)))
    assert summary.states == {"confirmed": 1}, summary.errors
    keys = keys_of(aws, user)
    assert old_id not in keys and len(keys) == 1
    parameter = aws["ssm"].get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert f"aws_access_key_id = {next(iter(keys))}\n" in parameter["Value"]
    assert old_secret not in parameter["Value"] and parameter["Value"].startswith("[default]\n")


@pytest.mark.parametrize("where", ["after_create", "after_write"])
def test_killed_rotation_resumes_without_a_second_new_key(tmp_path, aws, where):
    user, old_id, old_secret = leaked_key(aws)
    arn, finding = in_secret(aws, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = aws_settings(aws)
    job = killed_at(store, finding, settings, where)
    assert job.state == J.REVOKING
    first_new = job.plan["data"]["new_key_id"]  # recorded before the value was written
    assert keys_of(aws, user) == {old_id: "Active", first_new: "Active"}
    summary, jobs = asyncio.run(rotate(store, [], settings, resume=True))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    stored = json.loads(aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"])
    assert stored["aws_access_key_id"] == new_id
    if where == "after_write":
        assert new_id == first_new  # written before the kill: kept, nothing created
    else:
        assert new_id != first_new  # never written: its secret died with the process; deleted, replaced
        outcomes = [c["outcome"] for c in jobs.calls(job.id)]
        assert any(first_new in o and "never written" in o for o in outcomes)
    assert stored["aws_secret_access_key"] not in dump(store)


def test_two_key_limit_reported_before_creating_anything(tmp_path, aws):
    user, old_id, old_secret = leaked_key(aws, extra_key=True)
    _arn, finding = in_secret(aws, old_id, old_secret)
    before = keys_of(aws, user)
    error = refused_before_any_key(rotation_store(tmp_path, finding), finding, aws_settings(aws))
    other = next(k for k in before if k != old_id)
    assert "LimitExceeded" in error and other in error and user in error
    assert keys_of(aws, user) == before  # nothing created, old key untouched


def test_rotate_dry_run_and_policy_target(tmp_path, aws, run, monkeypatch):
    user, old_id, old_secret = leaked_key(aws)
    _arn, from_sm = in_secret(aws, old_id, old_secret)
    from keysweep.testing.keygen import KeyGen

    git_secret = KeyGen(7).aws_secret_access_key()
    git_finding = Finding(id=finding_id("aws", secret_sha256(git_secret)), rule_id="aws.secret-access-key",
                          provider="aws", secret_sha256=secret_sha256(git_secret), redacted=redact(git_secret),
                          long_lived=True, key_id="AKIA" + "B" * 16,
                          occurrences=[Occurrence(source="git", path="deploy/ci.env", line=2, repo="acme/web",
                                                  locator={"repo": "r", "blob": "b"})])
    db = tmp_path / "k.db"
    store = Store(db)
    store.record([from_sm, git_finding], "scope", "2025-01-02T00:00:00Z")
    store.close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws["endpoint"])
    monkeypatch.chdir(tmp_path)
    result = run("revoke", "--rotate", "--provider", "aws", "--db", str(db))
    assert result.code == 0, result
    assert "iam:CreateAccessKey" in result.stdout and "secretsmanager:PutSecretValue" in result.stdout
    assert "needs:   a rotation target" in result.stdout  # the key found in git has none
    assert old_secret not in result.stdout and git_secret not in result.stdout
    assert keys_of(aws, user) == {old_id: "Active"}  # dry run: nothing sent
    (tmp_path / "keysweep-policy.toml").write_text(
        '[[rules]]\nname = "rotate ci keys"\naction = "auto"\nproviders = ["aws"]\nrevoker = "aws-rotate"\n'
        'rotate_to = "ssm:/ci/deploy"\n')
    result = run("revoke", "--policy", "--db", str(db))
    assert result.code == 0, result
    assert result.stdout.count("ssm:PutParameter") == 2 and "aws-rotate" in result.stdout
    (tmp_path / "keysweep-policy.toml").write_text('[[rules]]\naction = "auto"\nrotate_to = "vault:x"\n')
    result = run("revoke", "--policy", "--db", str(db))
    assert result.code == 2 and "rotate_to" in result.stderr and "Traceback" not in str(result)


def test_rewrite_keeps_layout_and_refuses_ambiguity():
    old_id, new_id = "AKIA" + "A" * 16, "AKIA" + "N" * 16
    old, new = "o" * 39 + "1", "n" * 39 + "2"
    assert rewrite(f"id={old_id}\nsecret={old}\n", old_id, new_id, new, None) == f"id={new_id}\nsecret={new}\n"
    with pytest.raises(Exception, match="candidates"):
        rewrite(f"{old_id} {old} {'p' * 40}", old_id, new_id, new, None)
    assert rewrite(f"{old_id} {old} {'p' * 40}", old_id, new_id, new, secret_sha256(old)).endswith("p" * 40)
    with pytest.raises(Exception, match="does not hold"):
        rewrite(f"secret={old}", old_id, new_id, new, None)
    assert parse_target("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci-AbCdEf")["region"] == "eu-west-1"
    assert parse_target("ssm:/ci/key") == {"service": "ssm", "id": "/ci/key", "region": None}


# -- a stored value holding two profiles: the key id rotated must be proven the secret's own ----------
@pytest.fixture
def two_profiles_in_a_secret(signed_moto, tmp_path, run, monkeypatch):
    """A Secrets Manager secret holding a credentials file that lists each profile's secret before its
    key id, as the file allows: the scan joins the billing secret to the default profile's key id, the
    nearer. Both keys real and active in moto, signatures checked; keysweep's own credentials an
    admin's. Scanned (`scan aws`) into a store."""
    moto = signed_moto()
    admin, a, b, value = two_profiles_secret_first(moto, monkeypatch)
    arn = moto.client("secretsmanager").create_secret(Name="ci/profiles", SecretString=value)["ARN"]
    moto.sign_in(admin)
    clients = {name: admin_client(moto, admin, name, monkeypatch) for name in ("iam", "secretsmanager")}
    db = tmp_path / "k.db"
    scanned = run("scan", "aws", "--service", "secretsmanager", "--region", moto.region, "--no-progress",
                  "--format", "json", "--db", db)
    assert scanned.code == 1, scanned
    billing, default = (find_secret(scanned.json(), key["SecretAccessKey"]) for key in (b, a))
    assert billing["key_id"] == a["AccessKeyId"], "the scan joins the billing secret to the default key id"
    assert billing["metadata"]["key_id_candidates"] == "2" and default["key_id"] == a["AccessKeyId"]
    return {"a": a, "b": b, "arn": arn, "value": value, "db": db, "billing": billing["id"], "default": default["id"],
            "endpoint": moto.endpoint, **clients}


def iam_keys(p) -> dict[str, dict[str, str]]:
    """Each user's access keys and their Status, as IAM lists them."""
    return {user: {meta["AccessKeyId"]: meta["Status"] for meta in
                   p["iam"].list_access_keys(UserName=user)["AccessKeyMetadata"]} for user in ("deploy", "billing")}


def stored_value(p) -> str:
    return p["secretsmanager"].get_secret_value(SecretId=p["arn"])["SecretString"]


def unproven(p) -> dict[str, dict[str, str]]:
    """Nothing done: each user has its one key, active; no key was created."""
    return {"deploy": {p["a"]["AccessKeyId"]: "Active"}, "billing": {p["b"]["AccessKeyId"]: "Active"}}


def test_a_secret_joined_to_another_profiles_key_id_is_not_rotated(run, two_profiles_in_a_secret):
    """The billing secret sits nearer the default profile's key id: rotating "its" key would create
    a key for the deploy user, write it over the billing secret and deactivate the deploy key, the
    billing key still active. Before anything is created, STS signed with that id and the re-read
    secret says SignatureDoesNotMatch: the job is left to a person, saying why and what to check, and
    IAM holds the same two active keys and no new one. Was: rotated (a third key made, the deploy key
    deactivated)."""
    p = two_profiles_in_a_secret
    done = run("revoke", "--rotate", p["billing"], "--execute", "--confirm-delay", "0.01", "--db", p["db"],
               "--format", "json")
    (job,) = done.json()["jobs"]
    assert job["state"] == "failed_permanent", job
    error = job["last_error"]
    assert f"{p['a']['AccessKeyId']}, the access key id found next to the secret, is not proven to be its key" in error
    assert "SignatureDoesNotMatch" in error and "no key created, nothing deactivated" in error, error
    assert f"check which access key id in secretsmanager secret {p['arn']} is this secret's" in error, error
    assert iam_keys(p) == unproven(p)
    assert stored_value(p) == p["value"]
    assert p["b"]["SecretAccessKey"] not in done.stdout + done.stderr + dump(Store(p["db"]))
    plan = run("revoke", "--rotate", p["billing"], "--db", p["db"])  # what a dry run says of it
    assert "joined to the secret as the nearest of 2 access key ids" in plan.stdout, plan


def test_a_secret_sts_proves_the_pair_of_its_nearest_key_id_is_rotated_beside_the_other_profile(
        run, two_profiles_in_a_secret):
    """The default secret is joined to its own id, the nearest of two: STS signed with the pair
    answers as the deploy user, so the rotation goes on, and the rewrite replaces that profile's
    secret and id, the billing profile kept as it was. The new pair works."""
    p = two_profiles_in_a_secret
    done = run("revoke", "--rotate", p["default"], "--execute", "--confirm-delay", "0.01", "--db", p["db"],
               "--format", "json")
    assert [job["state"] for job in done.json()["jobs"]] == ["confirmed"], done
    keys = iam_keys(p)
    assert keys["billing"] == {p["b"]["AccessKeyId"]: "Active"}
    assert keys["deploy"].pop(p["a"]["AccessKeyId"]) == "Inactive"
    (new_id, status), = keys["deploy"].items()
    assert status == "Active"
    default, billing = stored_value(p).split("[billing]\n")
    assert billing == p["value"].split("[billing]\n")[1]
    new_secret = default.split("aws_secret_access_key = ")[1].split("\n")[0]
    assert default == f"[default]\naws_secret_access_key = {new_secret}\naws_access_key_id = {new_id}\n"
    import boto3

    sts = boto3.client("sts", endpoint_url=p["endpoint"], region_name="us-east-1", aws_access_key_id=new_id,
                       aws_secret_access_key=new_secret)
    assert sts.get_caller_identity()["Arn"].endswith(":user/deploy")
    store = Store(p["db"])
    jobs = Jobs(store, "t", "x", lambda: "2026-01-01T00:00:00Z")
    outcomes = [(c["target"], c["outcome"]) for c in jobs.calls(jobs.find()[0].id)]
    assert ("sts:GetCallerIdentity", "pair proven (user deploy)") in outcomes, outcomes
    assert outcomes.index(("sts:GetCallerIdentity", "pair proven (user deploy)")) < \
        next(i for i, (target, _o) in enumerate(outcomes) if target == "iam:CreateAccessKey")
    assert new_secret not in done.stdout + done.stderr + dump(store)


def test_a_rotation_killed_after_its_write_resumes_on_the_proof_it_recorded(two_profiles_in_a_secret):
    """Killed once the new key is written: the stored value no longer holds the leaked secret, so it
    cannot be re-read to sign STS again; the proof the first run made (recorded as a live check)
    lets the resumed run deactivate the old key, and the plan said the proof was due."""
    p = two_profiles_in_a_secret
    store = Store(p["db"])
    (finding,) = store.findings(ids=[p["default"]])
    settings = Settings(env={"AWS_ENDPOINT_URL": p["endpoint"]})
    job = killed_at(store, finding, settings, "after_write")
    assert any("nearest of 2 access key ids" in note for note in job.plan["notes"]), job.plan["notes"]
    first_new = job.plan["data"]["new_key_id"]
    assert first_new in stored_value(p) and p["a"]["SecretAccessKey"] not in stored_value(p)
    summary, _jobs = asyncio.run(rotate(store, [], settings, resume=True))
    assert summary.states == {"confirmed": 1}, summary.errors
    assert iam_keys(p) == {"deploy": {p["a"]["AccessKeyId"]: "Inactive", first_new: "Active"},
                           "billing": {p["b"]["AccessKeyId"]: "Active"}}


def test_a_resumed_rotation_with_a_recorded_key_is_still_refused_without_proof(two_profiles_in_a_secret,
                                                                               monkeypatch):
    """A job for the billing secret killed after CreateAccessKey by a keysweep that did not ask for
    the proof (its new key id recorded, never written): resumed, the rotation still proves the pair
    first, and leaves it to a person — the deploy key active, the key made then named, no other key
    created, the value unchanged. Was: that key deleted, another created and written over the billing
    secret, the deploy key deactivated."""
    from keysweep.revokers.aws_rotate import AwsRotateRevoker

    p = two_profiles_in_a_secret
    store = Store(p["db"])
    (finding,) = store.findings(ids=[p["billing"]])
    settings = Settings(env={"AWS_ENDPOINT_URL": p["endpoint"]})

    async def no_proof(*_args):
        return None
    with monkeypatch.context() as before_the_fix:
        before_the_fix.setattr(AwsRotateRevoker, "_unproven_key", no_proof, raising=False)
        job = killed_at(store, finding, settings, "after_create")
    orphan = job.plan["data"]["new_key_id"]
    assert iam_keys(p)["deploy"] == {p["a"]["AccessKeyId"]: "Active", orphan: "Active"}
    summary, _jobs = asyncio.run(rotate(store, [], settings, resume=True))
    assert summary.states == {"failed_permanent": 1}, summary
    (_fid, error), = summary.errors
    assert "is not proven to be its key" in error and "SignatureDoesNotMatch" in error, error
    assert f"{p['a']['AccessKeyId']} not deactivated, and {orphan}, made by an earlier run and never written" in error
    assert iam_keys(p) == {"deploy": {p["a"]["AccessKeyId"]: "Active", orphan: "Active"},
                           "billing": {p["b"]["AccessKeyId"]: "Active"}}
    assert stored_value(p) == p["value"]


def test_a_value_holding_other_key_ids_asks_for_the_proof_when_the_scan_did_not_count_them(tmp_path, aws):
    """A finding recorded before the scan counted the key ids in reach (no key_id_candidates): the
    value read at rotation holds another profile's id, so the pair is proven with STS before any key
    is created, and only that profile's id and secret are rewritten."""
    user, old_id, old_secret = leaked_key(aws)
    _other_user, other_id, other_secret = leaked_key(aws)
    profiles = {"default": {"aws_access_key_id": old_id, "aws_secret_access_key": old_secret},
                "billing": {"aws_access_key_id": other_id, "aws_secret_access_key": other_secret}}
    arn, finding = in_secret(aws, old_id, old_secret)
    aws["secretsmanager"].put_secret_value(SecretId=arn, SecretString=json.dumps(profiles))
    assert not finding.metadata
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], aws_settings(aws)))
    assert summary.states == {"confirmed": 1}, summary.errors
    outcomes = [(c["target"], c["outcome"]) for c in jobs.calls(jobs.find()[0].id)]
    assert ("sts:GetCallerIdentity", f"pair proven (user {user})") in outcomes, outcomes
    new_id = rotated_key(aws, user, old_id)
    stored = json.loads(aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"])
    assert stored["billing"] == profiles["billing"] and stored["default"]["aws_access_key_id"] == new_id
    assert stored["default"]["aws_secret_access_key"] not in (old_secret, other_secret)


def test_delayed_delete_after_the_grace_period_by_the_clock(tmp_path, aws):
    from datetime import datetime, timedelta, timezone

    user, old_id, old_secret = leaked_key(aws)
    _name, finding = in_parameter(aws, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = aws_settings(aws, delete_after_days=7)
    moment = [datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)]

    def go(create: bool):
        return asyncio.run(delete_due(store, finding, settings, moment, create))

    outcome, jobs = go(True)
    assert keys_of(aws, user) == {old_id: "Inactive"}
    (job, due), = outcome["waiting"]
    assert due == datetime(2025, 3, 8, 12, 0, tzinfo=timezone.utc) and not outcome["deleted"]
    moment[0] += timedelta(days=6, hours=23)
    outcome, _ = go(False)
    assert len(outcome["waiting"]) == 1 and keys_of(aws, user) == {old_id: "Inactive"}
    moment[0] += timedelta(hours=2)
    outcome, jobs = go(False)
    assert [j.finding_id for j in outcome["deleted"]] == [finding.id]
    assert keys_of(aws, user) == {}
    job = jobs.find()[0]
    assert job.state == J.CONFIRMED and job.plan["data"]["deleted_at"] == "2025-03-08T13:00:00Z"
    assert any(c["target"] == "iam:DeleteAccessKey" for c in jobs.calls(job.id))
    kinds = [r[0] for r in store.conn.execute("SELECT kind FROM events WHERE finding_id = ?", [finding.id])]
    assert "deleted" in kinds
    # Once deleted, nothing more to do.
    outcome, _ = go(False)
    assert outcome == {"deleted": [], "waiting": [], "failed": []}


def test_delayed_delete_leaves_a_reactivated_key_alone(tmp_path, aws):
    from datetime import datetime, timedelta, timezone

    user, old_id, old_secret = leaked_key(aws)
    _name, finding = in_parameter(aws, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = aws_settings(aws, delete_after_days=1)
    moment = [datetime(2025, 3, 1, tzinfo=timezone.utc)]

    asyncio.run(delete_due(store, finding, settings, moment, create=True))
    aws["iam"].update_access_key(UserName=user, AccessKeyId=old_id, Status="Active")  # a person undid it
    moment[0] += timedelta(days=2)
    outcome, _ = asyncio.run(delete_due(store, finding, settings, moment, create=False))
    (_job, detail), = outcome["failed"]
    assert "Active again" in detail and keys_of(aws, user) == {old_id: "Active"}


def test_resume_reports_keys_still_in_their_grace_period(tmp_path, aws, run, monkeypatch):
    user, old_id, old_secret = leaked_key(aws)
    _name, finding = in_parameter(aws, old_id, old_secret)
    db = tmp_path / "k.db"
    rotation_store(tmp_path, finding).close()
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[providers.aws]\ndelete_after_days = 3\nbase_url = "{aws["endpoint"]}"\n')
    result = run("revoke", finding.id, "--execute", "--db", str(db), "--config", str(config))
    assert result.code == 0, result
    assert keys_of(aws, user) == {old_id: "Inactive"}
    result = run("revoke", "--resume", "--db", str(db), "--config", str(config))
    assert result.code == 0, result
    assert "delayed deletes: 0 deleted, 1 still in their grace period (next due " in result.stdout
    result = run("revoke", "--resume", "--format", "json", "--db", str(db), "--config", str(config))
    assert result.json()["delayed_deletes"]["waiting"][0]["finding"] == finding.id


def test_rotate_execute_from_the_cli(tmp_path, aws, run, monkeypatch):
    user, old_id, old_secret = leaked_key(aws)
    arn, finding = in_secret(aws, old_id, old_secret)
    db = tmp_path / "k.db"
    rotation_store(tmp_path, finding).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws["endpoint"])
    done = run("revoke", "--rotate", finding.id, "--execute", "--confirm-delay", "0.01", "--db", str(db),
               "--format", "json")
    assert done.code == 0, done
    assert [j["state"] for j in done.json()["jobs"]] == ["confirmed"], done
    stored = json.loads(aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"])
    keys = keys_of(aws, user)
    assert keys[old_id] == "Inactive" and keys[stored["aws_access_key_id"]] == "Active"
    assert stored["aws_secret_access_key"] not in done.stdout + done.stderr
    assert stored["aws_secret_access_key"] not in dump(Store(db))


# -- into HashiCorp Vault ---------------------------------------------------------------------------
@pytest.fixture
def kv():
    pytest.importorskip("hvac")
    from tests.fakes.vault import FakeVault

    server = FakeVault(token="hvs.rotator-token-for-tests").start()
    server.mount("secret", version=2)
    yield server
    server.stop()


def in_vault(kv, key_id, secret, path="ci/deploy"):
    kv.put("secret", path, {"aws_access_key_id": key_id, "aws_secret_access_key": secret, "region": "us-east-1"})
    return aws_finding(key_id, secret, "vault", {
        "source": "vault", "addr": kv.url, "mount": "secret", "kv_version": 2, "path": path,
        "key": "aws_secret_access_key", "version": 1, "resource": f"vault secret/{path} aws_secret_access_key (v1)"})


def test_rotation_into_a_vault_kv_secret_with_check_and_set(tmp_path, aws, kv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], aws_settings(aws, VAULT_TOKEN=kv.token)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    versions = kv.mounts["secret"]["secrets"]["ci/deploy"]
    assert len(versions) == 2 and versions[0]["data"]["aws_access_key_id"] == old_id  # history kept by Vault
    stored = versions[-1]["data"]
    assert stored["aws_access_key_id"] == new_id and stored["region"] == "us-east-1"
    assert len(stored["aws_secret_access_key"]) == 40 and stored["aws_secret_access_key"] != old_secret
    (write,) = [r for r in kv.requests if r.method in ("POST", "PUT") and "/data/" in r.path]
    assert write.path == "/v1/secret/data/ci/deploy"
    assert stored["aws_secret_access_key"] not in dump(store) and old_secret not in dump(store)
    outcomes = [c["outcome"] for c in jobs.calls(jobs.find()[0].id)]
    assert any(f"wrote {new_id}" in o for o in outcomes)


def test_a_vault_write_made_meanwhile_is_not_overwritten(tmp_path, aws, kv):
    """Someone writes the secret between keysweep's read and its write: check-and-set refuses
    keysweep's write; the next attempt reads the new version, rotates the key in it, keeps the rest."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = aws_settings(aws, VAULT_TOKEN=kv.token)

    def meanwhile(step):
        if step == "after_create" and len(kv.mounts["secret"]["secrets"]["ci/deploy"]) == 1:
            kv.put("secret", "ci/deploy", {"aws_access_key_id": old_id, "aws_secret_access_key": old_secret,
                                           "region": "eu-west-1", "added": "by a person"})
    summary, jobs = asyncio.run(rotate(store, [finding], settings, extra={"_rotate_fault": meanwhile}))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)  # the first new key, never written, was deleted
    versions = kv.mounts["secret"]["secrets"]["ci/deploy"]
    assert [v["data"].get("added") for v in versions] == [None, "by a person", "by a person"]
    assert versions[-1]["data"]["aws_access_key_id"] == new_id and versions[-1]["data"]["region"] == "eu-west-1"


def test_a_vault_token_that_may_not_write_stops_before_any_key_is_created(tmp_path, aws, kv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    kv.read_only.add("secret/ci/")
    error = refused_before_any_key(rotation_store(tmp_path, finding), finding, aws_settings(aws, VAULT_TOKEN=kv.token))
    assert "may not update it (capabilities: list, read)" in error and "secret/data/ci/deploy" in error
    assert keys_of(aws, user) == {old_id: "Active"}  # nothing created, the old key untouched
    assert not [r for r in kv.requests if r.method in ("POST", "PUT") and "/data/" in r.path]


# -- into a Kubernetes Secret -----------------------------------------------------------------------
@pytest.fixture
def k8s(tmp_path, monkeypatch):
    pytest.importorskip("kubernetes")
    from tests.fakes.kubernetes import FakeKubernetes, kubeconfig

    server = FakeKubernetes(token="k8s-rotator-token").start()
    monkeypatch.setenv("KUBECONFIG", kubeconfig(tmp_path / "kubeconfig", server.url, server.token, {"prod": "ci"},
                                                current="prod"))
    yield server
    server.stop()


def in_k8s_secret(k8s, key_id, secret, name="deploy"):
    import base64

    from tests.fakes.kubernetes import b64

    obj = k8s.secret("ci", name, {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
                                  "credentials": f"[default]\naws_access_key_id = {key_id}\n"
                                                 f"aws_secret_access_key = {secret}\n"})
    obj["data"]["ca.der"] = b64(b"\x30\x82\x00\xff binary")
    assert base64.b64decode(obj["data"]["AWS_SECRET_ACCESS_KEY"]).decode() == secret
    return aws_finding(key_id, secret, "kubernetes", {
        "source": "kubernetes", "context": "prod", "namespace": "ci", "kind": "Secret", "name": name,
        "key": "AWS_SECRET_ACCESS_KEY", "resource": f"k8s prod ci/Secret/{name} AWS_SECRET_ACCESS_KEY"})


def secret_data(k8s, name="deploy") -> dict[str, bytes]:
    import base64

    return {k: base64.b64decode(v) for k, v in k8s.objects[("ci", "secrets")][name]["data"].items()}


def test_rotation_into_a_kubernetes_secret(tmp_path, aws, k8s):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_k8s_secret(k8s, old_id, old_secret)
    before = k8s.objects[("ci", "secrets")]["deploy"]["metadata"]["resourceVersion"]
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], aws_settings(aws)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    data = secret_data(k8s)
    new_secret = data["AWS_SECRET_ACCESS_KEY"].decode()
    assert data["AWS_ACCESS_KEY_ID"].decode() == new_id and len(new_secret) == 40 and new_secret != old_secret
    assert data["credentials"].decode() == f"[default]\naws_access_key_id = {new_id}\naws_secret_access_key = {new_secret}\n"
    assert data["ca.der"] == b"\x30\x82\x00\xff binary"  # a binary value is kept as it was
    assert k8s.objects[("ci", "secrets")]["deploy"]["metadata"]["resourceVersion"] != before
    (write,) = [r for r in k8s.requests if r.method == "PUT"]
    assert write.path == "/api/v1/namespaces/ci/secrets/deploy"
    assert new_secret not in dump(store) and old_secret not in dump(store)
    assert any(f"wrote {new_id}" in c["outcome"] for c in jobs.calls(jobs.find()[0].id))


def test_a_kubernetes_secret_changed_meanwhile_is_not_overwritten(tmp_path, aws, k8s):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_k8s_secret(k8s, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    changed = []

    def meanwhile(step):
        if step == "after_create" and not changed:  # someone applies a new label and a new key
            obj = k8s.objects[("ci", "secrets")]["deploy"]
            from tests.fakes.kubernetes import b64

            changed.append(k8s.put("secrets", "ci", "deploy", {"type": "Opaque", "data": {
                **obj["data"], "EXTRA": b64("added meanwhile")}}))
    summary, _jobs = asyncio.run(rotate(store, [finding], aws_settings(aws), extra={"_rotate_fault": meanwhile}))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)  # the unwritten first new key was deleted
    data = secret_data(k8s)
    assert data["EXTRA"] == b"added meanwhile" and data["AWS_ACCESS_KEY_ID"].decode() == new_id
    assert [r.method for r in k8s.requests].count("PUT") == 2  # 409 once, then the write on the new version


def test_kubernetes_credentials_that_may_not_update_stop_before_any_key_is_created(tmp_path, aws, k8s):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_k8s_secret(k8s, old_id, old_secret)
    k8s.no_update.add("ci")
    error = refused_before_any_key(rotation_store(tmp_path, finding), finding, aws_settings(aws))
    assert "may not update it" in error and "k8s prod ci/Secret/deploy" in error
    assert keys_of(aws, user) == {old_id: "Active"}
    assert not [r for r in k8s.requests if r.method == "PUT"]


# -- into GCP Secret Manager (no check-and-set: latest read again before the write, the version made
# proven to be the one read plus one) -------------------------------------------------------------
GCP_TOKEN = "ya29.rotator-token-for-tests"


@pytest.fixture(params=[None, "europe-west4"], ids=["global", "regional"])
def gsm(request):
    pytest.importorskip("google.cloud.secretmanager")
    from tests.fakes.secretmanager import FakeSecretManager

    server = FakeSecretManager(token=GCP_TOKEN, regional=request.param is not None).start()
    server.location = request.param
    yield server
    server.stop()


def gcp_settings(aws, gsm, **env: str) -> Settings:
    endpoint = {"KEYSWEEP_GCP_SECRETMANAGER_REGIONAL_BASE_URL" if gsm.location else
                "KEYSWEEP_GCP_SECRETMANAGER_BASE_URL": gsm.url}
    return aws_settings(aws, GOOGLE_OAUTH_ACCESS_TOKEN=GCP_TOKEN, **endpoint, **env)


def in_gcp_secret(gsm, key_id, secret, name="ci-deploy"):
    """The key in version 2 of a secret (version 1 an older value), as `scan gcp` reports it."""
    gsm.secret("acme-ci", name, ["AWS_ACCESS_KEY_ID=AKIAOLDOLDOLDOLDOLD0\n",
                                 f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\nREGION=us-east-1\n"],
               location=gsm.location)
    where = f"acme-ci/{gsm.location}/{name}" if gsm.location else f"acme-ci/{name}"
    return aws_finding(key_id, secret, "gcp-secretmanager", {
        "source": "gcp", "project": "acme-ci", **({"location": gsm.location} if gsm.location else {}),
        "secret": name, "version": "2", "resource": f"gcp-secret {where} v2"})


def gcp_payloads(gsm, name="ci-deploy") -> list[str]:
    return gsm.payloads("acme-ci", name, gsm.location)


def test_rotation_into_a_gcp_secret_adds_one_version(tmp_path, aws, gsm):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], gcp_settings(aws, gsm)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    payloads = gcp_payloads(gsm)
    assert len(payloads) == 3 and old_id in payloads[1]  # a new version; the old ones kept by Secret Manager
    lines = payloads[2].splitlines()
    assert lines[0] == f"AWS_ACCESS_KEY_ID={new_id}" and lines[2] == "REGION=us-east-1"
    new_secret = lines[1].removeprefix("AWS_SECRET_ACCESS_KEY=")
    assert len(new_secret) == 40 and new_secret != old_secret
    assert new_secret not in dump(store) and old_secret not in dump(store)
    (added,) = gsm.added()
    assert added.endswith("/secrets/ci-deploy:addVersion") and ("/locations/europe-west4/" in added) == bool(gsm.location)
    outcomes = [c["outcome"] for c in jobs.calls(jobs.find()[0].id)]
    assert f"wrote {new_id}" in outcomes, outcomes


def test_a_gcp_version_added_after_the_read_is_not_overwritten(tmp_path, aws, gsm):
    """Someone adds a version between keysweep's read and its write: the read before the write sees
    it, nothing is added on the stale read; the retry reads the new version and rotates the key in it."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)

    def meanwhile(step):
        if step == "after_create" and len(gcp_payloads(gsm)) == 2:
            gsm.add_version("acme-ci", (gsm.location, "ci-deploy") if gsm.location else "ci-deploy",
                            f"AWS_ACCESS_KEY_ID={old_id}\nAWS_SECRET_ACCESS_KEY={old_secret}\nREGION=eu-west-1\n")
    summary, _jobs = asyncio.run(rotate(store, [finding], gcp_settings(aws, gsm), extra={"_rotate_fault": meanwhile}))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)  # the first new key, never written, was deleted
    payloads = gcp_payloads(gsm)
    assert len(payloads) == 4 and "REGION=eu-west-1" in payloads[3] and f"AWS_ACCESS_KEY_ID={new_id}" in payloads[3]
    assert len(gsm.added()) == 1, "nothing added on the stale read"


def test_a_gcp_version_added_in_the_instant_of_the_write_is_left_to_a_person(tmp_path, aws, gsm):
    """A version added between the read before the write and the write itself: the version Google
    answers is not the one read plus one. The new key is in it (kept, recorded), but it hides the
    other: the old key stays active and the job is left to a person, naming both versions."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    key = (gsm.location, "ci-deploy") if gsm.location else "ci-deploy"

    def someone(secret_id):
        gsm.on_add = None
        gsm.add_version("acme-ci", key, "AWS_ACCESS_KEY_ID=AKIAOTHEROTHEROTHER0\n")
    gsm.on_add = someone
    error, new_id = refused_after_a_key(store, finding, gcp_settings(aws, gsm), aws, user, old_id)
    payloads = gcp_payloads(gsm)
    assert len(payloads) == 4 and f"AWS_ACCESS_KEY_ID={new_id}" in payloads[3] and "AKIAOTHER" in payloads[2]
    assert "version 4" in error and "version 2 was read" in error and "version 3 added meanwhile" in error, error
    assert "not written" not in error, error
    managed = store.conn.execute("SELECT key_id FROM managed_keys").fetchall()
    assert (new_id,) in managed


@pytest.mark.parametrize("where", ["after_create", "after_write"])
def test_killed_rotation_into_gcp_resumes_writing_nothing_twice(tmp_path, aws, gsm, where):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = gcp_settings(aws, gsm)
    new_id = resumed_after_a_kill(store, finding, settings, where, aws, user, old_id)
    payloads = gcp_payloads(gsm)
    assert len(payloads) == 3 and f"AWS_ACCESS_KEY_ID={new_id}" in payloads[2], "one version added, once"
    assert len(gsm.added()) == 1


def test_gcp_credentials_that_may_not_add_a_version_stop_before_any_key_is_created(tmp_path, aws, gsm):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    gsm.read_only.add("acme-ci/ci-deploy")
    error = refused_before_any_key(rotation_store(tmp_path, finding), finding, gcp_settings(aws, gsm))
    assert "lack secretmanager.versions.add" in error and "gcp-secret acme-ci" in error, error
    assert keys_of(aws, user) == {old_id: "Active"}  # nothing created, the old key untouched
    assert not gsm.added() and len(gcp_payloads(gsm)) == 2


def test_an_add_refused_after_the_permission_check_names_the_key_made(tmp_path, aws, gsm):
    """The permission is withdrawn between the check and the write: Google's 403 ends the job, which
    names the key made for it, for a person to delete."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)

    def withdrawn(step):
        if step == "after_create":
            gsm.read_only.add("acme-ci/ci-deploy")
    error, new_id = refused_after_a_key(rotation_store(tmp_path, finding), finding, gcp_settings(aws, gsm), aws,
                                        user, old_id, extra={"_rotate_fault": withdrawn})
    assert "403" in error and "secretmanager.versions.add" in error and new_id in error, error
    assert len(gcp_payloads(gsm)) == 2


# -- into Azure Key Vault (no check-and-set: the current version read again before Set Secret, the
# versions listed after it) -----------------------------------------------------------------------
AZURE_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.rotator-token-for-tests.sig"


@pytest.fixture
def akv(tmp_path_factory, monkeypatch):
    pytest.importorskip("azure.keyvault.secrets")
    from tests.fakes.keyvault import FakeKeyVault, self_signed

    context, cert = self_signed(tmp_path_factory.mktemp("tls"))
    server = FakeKeyVault(context, name="acme-ci", token=AZURE_TOKEN).start()
    server.cert = str(cert)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    monkeypatch.setattr("keysweep.scanner.sources.azure.VERIFY_CHALLENGE_RESOURCE", False)
    yield server
    server.stop()


def azure_settings(aws, akv) -> Settings:
    return aws_settings(aws, KEYSWEEP_AZURE_KEYVAULT_TOKEN=AZURE_TOKEN, REQUESTS_CA_BUNDLE=akv.cert)


def in_key_vault(akv, key_id, secret, name="ci-deploy"):
    """The key in the current version of a secret (an older version holds another value)."""
    stored = akv.secret(name, '{"aws_access_key_id": "AKIAOLDOLDOLDOLDOLD0"}',
                        json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret, "region": "us-east-1"}),
                        tags={"owner": "platform"}, content_type="application/json")
    version = stored.versions[-1].id
    host = akv.url.removeprefix("https://")
    return aws_finding(key_id, secret, "azure-keyvault", {
        "source": "azure", "vault": akv.url, "secret": name, "version": version,
        "resource": f"azure-kv {host}/{name} {version}"})


def test_rotation_into_an_azure_key_vault_secret_sets_one_version(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], azure_settings(aws, akv)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    values = akv.values("ci-deploy")
    assert len(values) == 3 and old_id in values[1]  # a new version; the old ones kept by Key Vault
    stored = json.loads(values[2])
    assert stored["aws_access_key_id"] == new_id and stored["region"] == "us-east-1"
    assert len(stored["aws_secret_access_key"]) == 40 and stored["aws_secret_access_key"] != old_secret
    secret = akv.secrets["ci-deploy"]
    assert secret.tags == {"owner": "platform"} and secret.versions[-1].content_type == "application/json"
    assert akv.sets() == ["/secrets/ci-deploy"]
    assert stored["aws_secret_access_key"] not in dump(store) and old_secret not in dump(store)
    assert f"wrote {new_id}" in [c["outcome"] for c in jobs.calls(jobs.find()[0].id)]


def test_a_key_vault_version_set_after_the_read_is_not_overwritten(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)

    def meanwhile(step):
        if step == "after_create" and len(akv.values("ci-deploy")) == 2:
            akv.new_version("ci-deploy", json.dumps({"aws_access_key_id": old_id, "aws_secret_access_key": old_secret,
                                                     "region": "eu-west-1"}))
    summary, _jobs = asyncio.run(rotate(store, [finding], azure_settings(aws, akv), extra={"_rotate_fault": meanwhile}))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)  # the first new key, never written, was deleted
    values = akv.values("ci-deploy")
    assert len(values) == 4 and json.loads(values[3]) == {**json.loads(values[2]), **json.loads(values[3])}
    assert json.loads(values[3])["region"] == "eu-west-1" and json.loads(values[3])["aws_access_key_id"] == new_id
    assert len(akv.sets()) == 1, "nothing set on the stale read"


def test_a_key_vault_version_set_in_the_instant_of_the_write_is_left_to_a_person(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)

    def someone(name):
        akv.on_set = None
        other = akv.new_version(name, '{"aws_access_key_id": "AKIAOTHEROTHEROTHER0"}')
        someone.version = other.id
    akv.on_set = someone
    error, new_id = refused_after_a_key(store, finding, azure_settings(aws, akv), aws, user, old_id)
    values = akv.values("ci-deploy")
    assert len(values) == 4 and json.loads(values[3])["aws_access_key_id"] == new_id
    assert someone.version in error and finding.occurrences[0].locator["version"] in error, error
    assert "not written" not in error, error
    assert (new_id,) in store.conn.execute("SELECT key_id FROM managed_keys").fetchall()


@pytest.mark.parametrize("where", ["after_create", "after_write"])
def test_killed_rotation_into_key_vault_resumes_setting_nothing_twice(tmp_path, aws, akv, where):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = azure_settings(aws, akv)
    new_id = resumed_after_a_kill(store, finding, settings, where, aws, user, old_id)
    values = akv.values("ci-deploy")
    assert len(values) == 3 and json.loads(values[2])["aws_access_key_id"] == new_id, "one version set, once"
    assert len(akv.sets()) == 1


def test_key_vault_credentials_that_may_not_set_name_the_key_made(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    akv.deny_set.add("ci-deploy")
    error, new_id = refused_after_a_key(rotation_store(tmp_path, finding), finding, azure_settings(aws, akv), aws,
                                        user, old_id)
    assert "403" in error and "set permission" in error and new_id in error, error
    assert len(akv.values("ci-deploy")) == 2


# -- disable_replaced_version: the version the new one replaced is disabled once the new key works --
def gcp_states(gsm, name="ci-deploy") -> list[str]:
    return gsm.states("acme-ci", name, gsm.location)


def retiring(aws, gsm) -> Settings:
    settings = gcp_settings(aws, gsm)
    settings.config.setdefault("providers", {}).setdefault("aws", {})["disable_replaced_version"] = True
    return settings


def test_the_replaced_gcp_version_is_disabled_once_the_new_key_is_proven_to_work(tmp_path, aws, gsm):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], retiring(aws, gsm)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    assert gcp_states(gsm) == ["ENABLED", "DISABLED", "ENABLED"]  # v2 held the old key; v1 is not keysweep's
    job = jobs.find()[0]
    outcomes = [(c["target"], c["outcome"]) for c in jobs.calls(job.id)]
    assert ("secretmanager.versions.disable",
            f"version 2 disabled (the new key in version 3 proven to work: STS answered for {user})") in outcomes
    order = [c["target"] for c in jobs.calls(job.id)]
    assert order.index("iam:UpdateAccessKey") < order.index("secretmanager.versions.disable")  # the old key first
    (disable,) = [r for r in gsm.requests if r.path.endswith(":disable")]
    assert disable.path.endswith("/secrets/ci-deploy/versions/2:disable")
    new_secret = gcp_payloads(gsm)[2].splitlines()[1].removeprefix("AWS_SECRET_ACCESS_KEY=")
    assert new_secret not in dump(store) and new_id in dump(store)


def test_without_the_setting_no_version_is_disabled(tmp_path, aws, gsm):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    summary, _jobs = asyncio.run(rotate(rotation_store(tmp_path, finding), [finding], gcp_settings(aws, gsm)))
    assert summary.states == {"confirmed": 1}, summary.errors
    assert gcp_states(gsm) == ["ENABLED", "ENABLED", "ENABLED"]
    assert not [r for r in gsm.requests if r.path.endswith(":disable")]


def test_a_version_read_back_without_the_new_key_leaves_the_replaced_one_enabled(tmp_path, aws, gsm):
    """The version written, read back, does not hold the new key (here a redacting gateway on the
    read): nothing proves the new key works, so the version it replaced stays enabled."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)

    def redact_written(step):
        if step == "after_write":
            gsm.intermediary["read"] = lambda answer: {**answer, "payload": {"data": ""}} \
                if answer.get("name", "").endswith("/versions/3") else answer
    summary, jobs = asyncio.run(rotate(store, [finding], retiring(aws, gsm), extra={"_rotate_fault": redact_written}))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    assert gcp_states(gsm) == ["ENABLED", "ENABLED", "ENABLED"]
    outcomes = [c["outcome"] for c in jobs.calls(jobs.find()[0].id)]
    assert f"version 2 left enabled: version 3 as read back does not hold the new key {new_id}" in outcomes


def test_a_killed_rotation_resumed_disables_the_replaced_version_once(tmp_path, aws, gsm):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = retiring(aws, gsm)
    killed_at(store, finding, settings, "after_write")
    assert gcp_states(gsm) == ["ENABLED", "ENABLED", "ENABLED"] and keys_of(aws, user)[old_id] == "Active"
    summary, _jobs = asyncio.run(rotate(store, [], settings, resume=True))
    assert summary.states == {"confirmed": 1}, summary.errors
    rotated_key(aws, user, old_id)
    assert gcp_states(gsm) == ["ENABLED", "DISABLED", "ENABLED"] and len(gsm.added()) == 1
    assert len([r for r in gsm.requests if r.path.endswith(":disable")]) == 1


# -- into a GitLab project CI/CD variable (no version, no check-and-set: read again before the PUT,
# read back after it) ------------------------------------------------------------------------------
GITLAB_TOKEN = "glpat-rotator-token-for-tests"


@pytest.fixture
def gitlab():
    from tests.fakes.forge import FakeGitLab, ForgeBehaviour, GlProject

    server = FakeGitLab(ForgeBehaviour(token=GITLAB_TOKEN)).start()
    server.project = server.add_project(GlProject(7, "acme/api", f"{server.url}/acme/api.git"))
    yield server
    server.stop()


def gitlab_settings(aws, gitlab) -> Settings:
    return aws_settings(aws, GITLAB_TOKEN=GITLAB_TOKEN)


def in_gitlab_variable(gitlab, key_id, secret, key="AWS_CREDENTIALS"):
    """A file-type project variable holding the credentials file (another scope holds another value)."""
    gitlab.project.variables[:] = [
        {"key": key, "value": f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
         "variable_type": "file", "protected": True, "masked": False, "hidden": False, "raw": True,
         "environment_scope": "production", "description": "deploy"},
        {"key": key, "value": "[default]\naws_access_key_id = AKIASTAGINGSTAGING00\n", "variable_type": "file",
         "protected": False, "masked": False, "hidden": False, "raw": True, "environment_scope": "staging"}]
    host = gitlab.url.removeprefix("http://")
    return aws_finding(key_id, secret, "gitlab-ci-variable", {
        "host": host, "project": "acme/api", "project_id": 7, "level": "project", "variable": key,
        "environment_scope": "production", "resource": f"{host}/acme/api CI variable {key} (environment production)",
        "access": {"forge": "gitlab", "api_url": gitlab.url, "token_env": "GITLAB_TOKEN"}})


def gitlab_value(gitlab, scope="production") -> str:
    return next(v["value"] for v in gitlab.project.variables if v["environment_scope"] == scope)


def test_rotation_into_a_gitlab_project_variable(tmp_path, aws, gitlab):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], gitlab_settings(aws, gitlab)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    lines = gitlab_value(gitlab).splitlines()
    assert lines[:2] == ["[default]", f"aws_access_key_id = {new_id}"]
    new_secret = lines[2].removeprefix("aws_secret_access_key = ")
    assert len(new_secret) == 40 and new_secret != old_secret
    assert "AKIASTAGING" in gitlab_value(gitlab, "staging"), "another environment's variable untouched"
    production = next(v for v in gitlab.project.variables if v["environment_scope"] == "production")
    assert production["protected"] is True and production["variable_type"] == "file"  # the rest kept
    assert gitlab.puts == ["AWS_CREDENTIALS"]
    assert new_secret not in dump(store) and old_secret not in dump(store)
    assert f"wrote {new_id}" in [c["outcome"] for c in jobs.calls(jobs.find()[0].id)]


def test_a_gitlab_variable_changed_after_the_read_is_not_overwritten(tmp_path, aws, gitlab):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    store = rotation_store(tmp_path, finding)

    def meanwhile(step):
        if step == "after_create" and "region" not in gitlab_value(gitlab):
            production = next(v for v in gitlab.project.variables if v["environment_scope"] == "production")
            production["value"] += "region = eu-west-1\n"
    summary, _jobs = asyncio.run(rotate(store, [finding], gitlab_settings(aws, gitlab),
                                        extra={"_rotate_fault": meanwhile}))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)  # the first new key, never written, was deleted
    value = gitlab_value(gitlab)
    assert f"aws_access_key_id = {new_id}" in value and value.endswith("region = eu-west-1\n")
    assert len(gitlab.puts) == 1, "nothing written on the stale read"


@pytest.mark.parametrize("where", ["after_create", "after_write"])
def test_killed_rotation_into_gitlab_resumes_writing_nothing_twice(tmp_path, aws, gitlab, where):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = gitlab_settings(aws, gitlab)
    new_id = resumed_after_a_kill(store, finding, settings, where, aws, user, old_id)
    assert f"aws_access_key_id = {new_id}" in gitlab_value(gitlab) and len(gitlab.puts) == 1


def test_a_gitlab_token_that_may_not_update_names_the_key_made(tmp_path, aws, gitlab):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    gitlab.read_only.add("AWS_CREDENTIALS")
    error, new_id = refused_after_a_key(rotation_store(tmp_path, finding), finding, gitlab_settings(aws, gitlab), aws,
                                        user, old_id)
    assert "403 403 Forbidden" in error and new_id in error, error
    assert old_id in gitlab_value(gitlab)


def test_a_key_found_by_scan_gitlab_is_rotated_in_its_variable_with_a_note_for_ci(tmp_path, aws, gitlab, run,
                                                                                   monkeypatch):
    """From `keysweep scan gitlab` to the rotation: the scan's own occurrence names the variable,
    and the plan notes that a CI job could assume a role instead of holding a standing key."""
    user, old_id, old_secret = leaked_key(aws)
    in_gitlab_variable(gitlab, old_id, old_secret)
    gitlab.add_group("acme")
    monkeypatch.setenv("GITLAB_TOKEN", GITLAB_TOKEN)
    db = tmp_path / "k.db"
    scanned = run("scan", "gitlab", "--project", "acme/api", "--api-url", gitlab.url, "--no-clone", "--db", db)
    assert scanned.code == 1, scanned
    store = Store(db)
    (finding,) = [f for f in store.findings() if f.key_id == old_id]
    assert {o.source for o in finding.occurrences} == {"gitlab-ci-variable"}

    async def planned():
        async with HttpClient() as http:
            ctx = for_revocation(Context(http=http, settings=gitlab_settings(aws, gitlab), store=store, actor="t"))
            return await available_revokers()["aws-rotate"].plan(finding, ctx)
    plan = asyncio.run(planned())
    assert plan.data["rotate_target"]["service"] == "gitlab-ci" and not plan.needs
    assert any("OpenID Connect" in note and "GitLab CI/CD variable" in note for note in plan.notes), plan.notes
    summary, _jobs = asyncio.run(rotate(store, [finding], gitlab_settings(aws, gitlab)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    assert f"aws_access_key_id = {new_id}" in gitlab_value(gitlab)


def test_a_key_found_by_scan_gcp_is_rotated_in_its_secret(tmp_path, aws, gsm, run, monkeypatch):
    """From `keysweep scan gcp` to the rotation, global and regional: the scan's own occurrence
    names the secret (and its location) the new version goes into."""
    user, old_id, old_secret = leaked_key(aws)
    in_gcp_secret(gsm, old_id, old_secret)
    for name, value in gcp_settings(aws, gsm).env.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "k.db"
    scanned = run("scan", "gcp", "--project", "acme-ci", *(["--location", gsm.location] if gsm.location else []),
                  "--db", db)
    assert scanned.code == 1, scanned
    store = Store(db)
    (finding,) = [f for f in store.findings() if f.key_id == old_id]
    assert {o.source for o in finding.occurrences} == {"gcp-secretmanager"}
    summary, _jobs = asyncio.run(rotate(store, [finding], gcp_settings(aws, gsm)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    assert f"AWS_ACCESS_KEY_ID={new_id}" in gcp_payloads(gsm)[-1] and len(gcp_payloads(gsm)) == 3


def test_a_key_found_by_scan_azure_is_rotated_in_its_secret(tmp_path, aws, akv, run, monkeypatch):
    user, old_id, old_secret = leaked_key(aws)
    in_key_vault(akv, old_id, old_secret)
    monkeypatch.setenv("KEYSWEEP_AZURE_KEYVAULT_TOKEN", AZURE_TOKEN)
    db = tmp_path / "k.db"
    scanned = run("scan", "azure", "--vault-url", akv.url, "--db", db)
    assert scanned.code == 1, scanned
    store = Store(db)
    (finding,) = [f for f in store.findings() if f.key_id == old_id]
    assert {o.source for o in finding.occurrences} == {"azure-keyvault"}
    summary, _jobs = asyncio.run(rotate(store, [finding], azure_settings(aws, akv)))
    assert summary.states == {"confirmed": 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    assert json.loads(akv.values("ci-deploy")[-1])["aws_access_key_id"] == new_id


def test_a_ci_variable_that_is_not_the_target_is_named_in_the_plan(tmp_path, aws, kv, gitlab):
    """The key sits in a Vault secret (the target) and in a GitLab project variable: the plan says the
    variable keeps the old key until someone updates it."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    finding.occurrences += in_gitlab_variable(gitlab, old_id, old_secret).occurrences

    async def planned():
        async with HttpClient() as http:
            ctx = for_revocation(Context(http=http, settings=aws_settings(aws, VAULT_TOKEN=kv.token), actor="t"))
            return await available_revokers()["aws-rotate"].plan(finding, ctx)
    plan = asyncio.run(planned())
    assert plan.data["rotate_target"]["service"] == "vault"
    (note,) = [n for n in plan.notes if n.startswith("also holds")]
    assert "acme/api CI variable AWS_CREDENTIALS (environment production)" in note and "not written" in note, note
