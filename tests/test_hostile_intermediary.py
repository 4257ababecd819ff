"""A proxy, WAF or gateway answering for the provider is never the provider's word: it cannot make
a live key dead (so `revoke --resume` cannot "confirm" a key that was never revoked), cannot
confirm a revocation, and its reply to a destructive call is not believed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3

import pytest

from keysweep.context import Context
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Jobs
from keysweep.remediation.orchestrator import finish_run, start_run
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers
from keysweep.revokers._common import make_plan, verify_status
from keysweep.settings import Settings
from keysweep.store import Store
from tests.fakes.providers import INTERMEDIARY_REPLIES, FakeGitHub, FakeProviders
from tests.revoke_helpers import env_for, set_env, write_config
from tests.test_revoke_gcp import gcp_context, iam_holding, leaked_key_file
from tests.test_revoke_rotate import (  # noqa: F401  (aws, kv, k8s, gsm, akv: fixtures)
    akv,
    aws,
    aws_finding,
    aws_settings,
    azure_settings,
    gcp_payloads,
    gcp_settings,
    gcp_states,
    gitlab,
    gitlab_settings,
    gitlab_value,
    gsm,
    in_gcp_secret,
    in_gitlab_variable,
    in_k8s_secret,
    in_key_vault,
    in_parameter,
    in_secret,
    in_vault,
    k8s,
    keys_of,
    killed_at,
    kv,
    leaked_key,
    retiring,
    rotate,
    rotated_key,
    rotation_store,
)
from tests.test_revokers import Harness, fast_http

KINDS = ["github", "github-installation", "gitlab", "slack", "openrouter", "openai", "anthropic"]
MODES = ["generic_401", "generic_403", "html_401", "html_403", "html_200", "truncated_200", "empty_list_200",
         "empty_object_200", "introspection_200"]
# Replies a proxy may give a destructive call; a 2xx among them is "not believed", never success.
DESTRUCTIVE_MODES = ["generic_401", "html_401", "html_403", "html_200", "truncated_200", "empty_list_200",
                     "empty_object_200", "introspection_200"]
# Google answers keys.disable, keys.delete and an empty keys.list with `{}` (an empty message): a
# proxy's `{}` cannot be told from it there, and only the confirmation that follows can.
GCP_DESTRUCTIVE_MODES = [mode for mode in DESTRUCTIVE_MODES if mode != "empty_object_200"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_confirmation_needs_the_providers_documented_dead_answer_after_the_call(tmp_path, keys, kind, mode):
    h = Harness(tmp_path, kind, keys, n=1)
    revoker = available_revokers()[h.provider]
    finding = h.findings[0]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            h.fake.intermediary = mode
            assert await revoker.confirm(finding, ctx) is False, "a live key behind a proxy is not dead"
            h.fake.intermediary = None
            result = await revoker.revoke(await revoker.plan(finding, ctx), ctx)
            assert result.ok, result
            h.fake.intermediary = mode
            assert await revoker.confirm(finding, ctx) is False, "only the provider's word confirms"
            h.fake.intermediary = None
            assert await revoker.confirm(finding, ctx) is True

    with h.servers:
        asyncio.run(scenario())
        assert h.fake.effective[h.values[0]] == 1


# Perplexity documents no check, so nothing confirms its keys (not in the matrix above:
# test_undocumented_answers.py); it documents its 200 with no body, which `{}` may stand for, so a
# proxy's `{}` cannot be told from it there.
DESTRUCTIVE_CASES = [(kind, mode) for kind in [*KINDS, "perplexity"] for mode in DESTRUCTIVE_MODES
                     if (kind, mode) != ("perplexity", "empty_object_200")]


@pytest.mark.parametrize("kind,mode", DESTRUCTIVE_CASES)
def test_a_destructive_call_answered_by_an_intermediary_is_not_believed(tmp_path, keys, kind, mode):
    h = Harness(tmp_path, kind, keys, n=1)
    revoker = available_revokers()[h.provider]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            h.fake.intermediary, h.fake.intermediary_on = mode, "revoke"
            result = await revoker.revoke(plan, ctx)
            assert not result.ok, (mode, result)
            if INTERMEDIARY_REPLIES[mode][0] == 200:
                assert result.retryable and "not believed" in result.detail, result

    with h.servers:
        asyncio.run(scenario())
        assert h.values[0] in h.fake.active


def test_resume_after_a_kill_does_not_confirm_a_never_revoked_key_behind_a_proxy(run, tmp_path, keys, monkeypatch):
    token = keys.github()
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "ci.env").write_text(f"GH_TOKEN={token}\n")
    db = tmp_path / "s.db"
    assert run("scan", "dir", folder, "--db", db).code == 1

    # A run claimed the job and was killed before its call went out.
    store = Store(db)
    finding = store.findings()[0]
    run_id = start_run(store, "killed-run", "revoke --all --execute", "2025-01-01T00:00:00Z")
    jobs = Jobs(store, "killed-run", run_id, lambda: "2025-01-01T00:00:00Z")
    plan = make_plan("github", finding, [("POST", "https://api.github.com/credentials/revoke", "revoke")], mode="list")
    job, _ = jobs.create(finding, "github", plan, approve=True)
    assert jobs.claim(job.id) is not None
    finish_run(store, run_id, "2025-01-01T00:00:01Z", {})
    store.conn.close()

    fake = FakeGitHub([token])
    fake.intermediary = "generic_401"  # GET /user answers {"detail": "nope"} with 401
    config = write_config(tmp_path / "k.toml", providers=("github",))
    with FakeProviders(github=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        resumed = run("revoke", "--resume", "--config", config, "--confirm-delay", "0", "--confirm-attempts", "1",
                      "--format", "json")
        states = {j["state"] for j in resumed.json()["jobs"]}
        assert J.CONFIRMED not in states, "confirmed on a proxy's 401 without revoking"
        assert fake.effective[token] == 1, "the resumed run must make the revoke call"
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM events WHERE kind = 'confirmed_dead'").fetchone()[0] == 0

        fake.intermediary = None
        again = run("revoke", "--resume", "--config", config, "--confirm-delay", "0", "--format", "json")
        assert {j["state"] for j in again.json()["jobs"]} == {J.CONFIRMED}, again
        assert fake.revoke_calls[token] == 1


# -- GCP service-account keys: keys.get proves the key, then :disable and DELETE ---------------------
class GcpHarness:
    """One leaked service-account key IAM holds, its finding (account in the metadata), and a context
    with keysweep's own token."""

    def __init__(self, tmp_path, keys) -> None:
        self.sa = keys.gcp_service_account()
        self.fake = iam_holding(self.sa)
        self.finding = leaked_key_file(tmp_path, self.sa)
        self.servers = FakeProviders(gcp=self.fake)

    def context(self, http) -> Context:
        return gcp_context(http, self.fake, self.finding)


@pytest.mark.parametrize("mode", MODES)
def test_gcp_confirmation_needs_iams_own_answer(tmp_path, keys, mode):
    h = GcpHarness(tmp_path, keys)
    revoker = available_revokers()["gcp"]
    key_id = h.sa.private_key_id

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            h.fake.intermediary = mode
            assert await verify_status(h.finding, ctx) == "unknown", "a proxy's answer says nothing of the key"
            assert await revoker.confirm(h.finding, ctx) is False, "a live key behind a proxy is not dead"
            h.fake.intermediary = None
            result = await revoker.revoke(await revoker.plan(h.finding, ctx), ctx)
            assert result.ok, result
            h.fake.intermediary = mode
            assert await revoker.confirm(h.finding, ctx) is False, "only IAM's word confirms"
            h.fake.intermediary = None
            assert await revoker.confirm(h.finding, ctx) is True

    with h.servers:
        asyncio.run(scenario())
        assert key_id in h.fake.deleted and h.fake.effective[key_id] == 1


@pytest.mark.parametrize("step", ["disable", "delete"])
@pytest.mark.parametrize("mode", GCP_DESTRUCTIVE_MODES)
def test_gcp_disable_or_delete_answered_by_an_intermediary_is_not_believed(tmp_path, keys, mode, step):
    h = GcpHarness(tmp_path, keys)
    revoker = available_revokers()["gcp"]
    key_id = h.sa.private_key_id

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.finding, ctx)
            h.fake.intermediary, h.fake.intermediary_on = mode, "revoke"
            if step == "delete":  # the disable reaches IAM; the proxy answers the DELETE only
                h.fake.hostile_only = "DELETE"
            result = await revoker.revoke(plan, ctx)
            assert not result.ok, (mode, result)
            if INTERMEDIARY_REPLIES[mode][0] == 200:
                assert result.retryable and "not believed" in result.detail, result
            else:
                assert not result.busy, result

    with h.servers:
        asyncio.run(scenario())
        assert key_id not in h.fake.deleted and h.fake.effective[key_id] == 0, "nothing deleted"
        assert (key_id in h.fake.disabled) is (step == "delete"), "disabled only by IAM itself"


def test_gcp_a_disabled_flag_without_the_keys_resource_is_not_its_death(tmp_path, keys):
    """keys.get's `"disabled": true` is IAM's word about a key only in the key's own resource (its
    name, its public half): a bare `{"disabled": true}` from a gateway is unknown."""
    h = GcpHarness(tmp_path, keys)
    h.fake.bare_disabled = True

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            return await verify_status(h.finding, ctx), await available_revokers()["gcp"].confirm(h.finding, ctx)

    with h.servers:
        assert asyncio.run(scenario()) == ("unknown", False)
        assert h.sa.private_key_id not in h.fake.disabled


def test_gcp_revoke_run_behind_a_sign_in_page_revokes_nothing_and_logs_no_revocation(run, tmp_path, keys, monkeypatch):
    """The whole run: every disable answered by a proxy's 200 sign-in page. The job is not revoked
    nor confirmed, the audit log and the events say so, and IAM's key is untouched."""
    sa = keys.gcp_service_account()
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "deploy-sa.json").write_text(sa.json_text)
    db = tmp_path / "k.db"
    fake = iam_holding(sa)
    fake.intermediary, fake.intermediary_on = "html_200", "revoke"
    config = write_config(tmp_path / "k.toml", providers=("gcp",))
    with FakeProviders(gcp=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        assert run("scan", "dir", leak).code == 1
        done = run("revoke", "--provider", "gcp", "--execute", "--config", config, "--confirm-delay", "0",
                   "--max-wait", "1s", "--format", "json")
        states = {j["state"] for j in done.json()["jobs"]}
        assert states <= {J.FAILED_RETRYABLE, J.FAILED_PERMANENT}, done
        assert "not believed" in done.stdout
        assert fake.revoke_calls[sa.private_key_id] == 0 and not fake.disabled and not fake.deleted
    with sqlite3.connect(db) as conn:
        kinds = {row[0] for row in conn.execute("SELECT kind FROM events")}
        assert not kinds & {"revoked", "confirmed_dead"}, kinds
        states = [json.loads(result) for action, result in conn.execute(
            "SELECT action, result FROM audit_log WHERE action = 'revoke.state' ORDER BY seq")]
        assert states and all("not believed" in s["error"] for s in states), states
        assert {s["state"] for s in states} <= {J.FAILED_RETRYABLE, J.FAILED_PERMANENT}, states
    audit = run("audit", "verify", "--db", db)
    assert audit.code == 0, audit


# -- rotation writers: the replacement written into Vault (check-and-set) or a Kubernetes Secret ----
# (resourceVersion). A write is done only in the store's documented success shape; until then the
# old key stays active, and nothing records the rotation as made.

WRITE_REPLIES = {name: INTERMEDIARY_REPLIES[name] for name in ("html_401", "html_403", "html_200", "truncated_200")}
WRITE_REPLIES["empty_object_200"] = (200, "application/json", b"{}")
# Vault's KV v2 write answers the version it made (`data.version`); this gateway's answer has none.
VAULT_WRITE_REPLIES = {**WRITE_REPLIES, "no_version_200": (200, "application/json", json.dumps(
    {"request_id": "r", "data": {"created_time": "2025-05-01T00:02:00Z", "deletion_time": "", "destroyed": False}}
).encode())}
# The apiserver answers a replace with the Secret as stored, a new metadata.resourceVersion in it.
K8S_WRITE_REPLIES = {**WRITE_REPLIES, "no_resource_version_200": (200, "application/json", json.dumps(
    {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "deploy", "namespace": "ci"}, "type": "Opaque"}
).encode())}


def assert_not_rotated(summary, jobs, store, aws, user, old_id, reply=None, unread="version") -> None:
    """keysweep's word and the audit log: no rotation made, the old key still active at IAM."""
    assert not set(summary.states) & {J.REVOKED, J.CONFIRMED}, summary.states
    assert keys_of(aws, user)[old_id] == "Active", "the old key was deactivated on an unproven write"
    job = jobs.find()[0]
    assert job.state in (J.FAILED_RETRYABLE, J.FAILED_PERMANENT), job.state
    outcomes = [c["outcome"] for c in jobs.calls(job.id)]
    assert not any(o.startswith("wrote ") or "Inactive" in o for o in outcomes), outcomes
    audit = [json.loads(result) for (result,) in store.conn.execute(
        "SELECT result FROM audit_log WHERE action = 'revoke.rotate'")]
    assert not any(entry.get("rotated_to") for entry in audit), audit
    assert not store.conn.execute("SELECT 1 FROM events WHERE kind IN ('revoked', 'confirmed_dead')").fetchall()
    new_keys = set(keys_of(aws, user)) - {old_id}
    assert len(new_keys) <= 1, "each attempt's unwritten key is deleted before the next is made"
    (_finding, error), = summary.errors
    if reply is None:  # the read was not the store's documented answer: stopped before any key was made
        assert unread in error.lower() and not new_keys, error
    elif reply[0] == 200:  # after its attempts, the job names the key its last attempt made
        assert "not believed" in error and job.state == J.FAILED_PERMANENT, error
        assert new_keys and all(key in error for key in new_keys), error
    else:  # refused: the key made for the write is named, for a person to delete
        assert f"{reply[0]}" in error and all(key in error for key in new_keys), error


@pytest.mark.parametrize("mode", VAULT_WRITE_REPLIES)
def test_a_vault_write_answered_by_an_intermediary_rotates_nothing(tmp_path, aws, kv, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    kv.intermediary["write"] = VAULT_WRITE_REPLIES[mode]
    settings = aws_settings(aws, VAULT_TOKEN=kv.token)
    summary, jobs = asyncio.run(rotate(store, [finding], settings))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, VAULT_WRITE_REPLIES[mode])
    versions = kv.mounts["secret"]["secrets"]["ci/deploy"]
    assert len(versions) == 1 and versions[0]["data"]["aws_access_key_id"] == old_id, "nothing written"


def test_a_vault_kv1_write_answered_with_a_sign_in_page_rotates_nothing(tmp_path, aws, kv):
    """KV v1 answers a write 204 No Content: a 200 page is not Vault's answer."""
    user, old_id, old_secret = leaked_key(aws)
    kv.mount("kv1", version=1)
    kv.put("kv1", "ci/deploy", {"aws_access_key_id": old_id, "aws_secret_access_key": old_secret})
    finding = in_vault(kv, old_id, old_secret)
    finding.occurrences[0].locator.update(mount="kv1", kv_version=1)
    store = rotation_store(tmp_path, finding)
    kv.intermediary["write"] = VAULT_WRITE_REPLIES["html_200"]
    settings = aws_settings(aws, VAULT_TOKEN=kv.token)
    summary, jobs = asyncio.run(rotate(store, [finding], settings))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, VAULT_WRITE_REPLIES["html_200"])
    assert kv.mounts["kv1"]["secrets"]["ci/deploy"][-1]["data"]["aws_access_key_id"] == old_id


def test_a_vault_read_without_its_version_writes_nothing(tmp_path, aws, kv):
    """A gateway drops the version from the read: check-and-set has nothing to hold the write to,
    so nothing is created nor written (a write without it could overwrite someone's)."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    kv.intermediary["read"] = lambda answer: {"data": {"data": (answer.get("data") or {}).get("data")}}
    settings = aws_settings(aws, VAULT_TOKEN=kv.token)
    summary, jobs = asyncio.run(rotate(store, [finding], settings))
    assert_not_rotated(summary, jobs, store, aws, user, old_id)
    assert keys_of(aws, user) == {old_id: "Active"}, "no key created"
    assert not kv.seen("POST", "/v1/secret/data/") and not kv.seen("PUT", "/v1/secret/data/")


def rotated_after_a_lost_answer(store, finding, settings, aws, user, old_id) -> str:
    """A rotation whose write reached the store but whose answer a proxy replaced (the fake forwards
    it, the proxy answers with its page): not believed, retried; the retry reads the target, finds the
    new key already written in it, and only then is the old key deactivated. The new key's id."""
    summary, jobs = asyncio.run(rotate(store, [finding], settings))
    assert summary.states == {J.CONFIRMED: 1}, summary.errors
    new_id = rotated_key(aws, user, old_id)
    outcomes = [c["outcome"] for c in jobs.calls(jobs.find()[0].id)]
    assert f"{new_id} already written" in outcomes, outcomes
    return new_id


def resumed_on_a_read_holding_neither_key(store, finding, settings, fake, strip, aws, user, old_id) -> None:
    """A rotation killed after its write, resumed through a proxy that strips the value from the
    store's read (`fake.intermediary["read"] = strip`): a read holding neither key proves nothing, so
    no key is deleted, both stay active, and the job is left to a person, its error naming both keys."""
    new_id = killed_at(store, finding, settings, "after_write").plan["data"]["new_key_id"]
    fake.intermediary["read"] = strip
    summary, _jobs = asyncio.run(rotate(store, [], settings, resume=True))
    assert summary.states == {J.FAILED_PERMANENT: 1}, summary
    assert keys_of(aws, user) == {old_id: "Active", new_id: "Active"}, "a key was deleted on an unproven read"
    (_finding, error), = summary.errors
    assert "holds neither" in error and new_id in error and old_id in error, error


def test_a_vault_write_made_but_its_answer_lost_is_proven_by_reading_it_back(tmp_path, aws, kv):
    """The proxy passed the write on and lost Vault's answer: not believed, retried; the retry reads
    the secret, finds the new key in it, and only then deactivates the old one."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_vault(kv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    kv.intermediary["write"], kv.forwards = VAULT_WRITE_REPLIES["html_200"], True
    settings = aws_settings(aws, VAULT_TOKEN=kv.token)
    new_id = rotated_after_a_lost_answer(store, finding, settings, aws, user, old_id)
    versions = kv.mounts["secret"]["secrets"]["ci/deploy"]
    assert len(versions) == 2 and versions[-1]["data"]["aws_access_key_id"] == new_id, "written once"


@pytest.mark.parametrize("mode", K8S_WRITE_REPLIES)
def test_a_kubernetes_secret_write_answered_by_an_intermediary_rotates_nothing(tmp_path, aws, k8s, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_k8s_secret(k8s, old_id, old_secret)
    before = json.dumps(k8s.objects[("ci", "secrets")]["deploy"], sort_keys=True)
    store = rotation_store(tmp_path, finding)
    k8s.intermediary["write"] = K8S_WRITE_REPLIES[mode]
    summary, jobs = asyncio.run(rotate(store, [finding], aws_settings(aws)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, K8S_WRITE_REPLIES[mode])
    assert json.dumps(k8s.objects[("ci", "secrets")]["deploy"], sort_keys=True) == before, "the Secret was changed"


def test_a_kubernetes_read_without_its_resource_version_writes_nothing(tmp_path, aws, k8s):
    """A gateway drops metadata.resourceVersion from the read: a replace without it is unconditional
    (it would overwrite a change made meanwhile), so nothing is created nor written."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_k8s_secret(k8s, old_id, old_secret)
    before = json.dumps(k8s.objects[("ci", "secrets")]["deploy"], sort_keys=True)
    store = rotation_store(tmp_path, finding)

    def without_version(answer):
        return {**answer, "metadata": {k: v for k, v in answer["metadata"].items() if k != "resourceVersion"}}
    k8s.intermediary["read"] = without_version
    summary, jobs = asyncio.run(rotate(store, [finding], aws_settings(aws)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id)
    assert keys_of(aws, user) == {old_id: "Active"}, "no key created"
    assert json.dumps(k8s.objects[("ci", "secrets")]["deploy"], sort_keys=True) == before


# Secret Manager answers addVersion with the new SecretVersion: its name (…/versions/N) and state ENABLED.
GCP_WRITE_REPLIES = {**WRITE_REPLIES, "no_name_200": (200, "application/json", json.dumps(
    {"createTime": "2025-10-01T00:00:00Z", "state": "ENABLED"}).encode()), "disabled_200": (
    200, "application/json", json.dumps({"name": "projects/100000/secrets/ci-deploy/versions/3", "state": "DISABLED"}
                                        ).encode())}


@pytest.mark.parametrize("mode", GCP_WRITE_REPLIES)
def test_a_gcp_secret_write_answered_by_an_intermediary_rotates_nothing(tmp_path, aws, gsm, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gsm.intermediary["write"] = GCP_WRITE_REPLIES[mode]
    summary, jobs = asyncio.run(rotate(store, [finding], gcp_settings(aws, gsm)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, GCP_WRITE_REPLIES[mode])
    assert len(gcp_payloads(gsm)) == 2, "nothing written"


@pytest.mark.parametrize("mode", GCP_WRITE_REPLIES)
def test_a_gcp_permission_check_answered_by_an_intermediary_creates_no_key(tmp_path, aws, gsm, mode):
    """testIamPermissions answered by a proxy (a page, {}, a stub): the permission is not shown, so
    nothing is created nor written."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gsm.intermediary["permissions"] = GCP_WRITE_REPLIES[mode]
    summary, jobs = asyncio.run(rotate(store, [finding], gcp_settings(aws, gsm)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, None, "permission")
    assert keys_of(aws, user) == {old_id: "Active"}, "no key created"
    assert not gsm.added()


def test_a_gcp_read_without_its_version_name_writes_nothing(tmp_path, aws, gsm):
    """A gateway drops the version's name from the access answer: the write could not be held to
    the version read, so nothing is created nor added."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gsm.intermediary["read"] = lambda answer: {k: v for k, v in answer.items() if k != "name"}
    summary, jobs = asyncio.run(rotate(store, [finding], gcp_settings(aws, gsm)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id)
    assert keys_of(aws, user) == {old_id: "Active"}, "no key created"
    assert not gsm.added() and len(gcp_payloads(gsm)) == 2


def test_a_gcp_write_made_but_its_answer_lost_is_proven_by_reading_it_back(tmp_path, aws, gsm):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gsm.intermediary["write"], gsm.forwards = GCP_WRITE_REPLIES["html_200"], True
    new_id = rotated_after_a_lost_answer(store, finding, gcp_settings(aws, gsm), aws, user, old_id)
    payloads = gcp_payloads(gsm)
    assert len(payloads) == 3 and f"AWS_ACCESS_KEY_ID={new_id}" in payloads[2], "written once"


def test_a_resumed_gcp_rotation_deletes_no_key_on_a_read_that_holds_neither_key(tmp_path, aws, gsm):
    """Killed after adding the version; on resume a redacting gateway empties the payload it reads
    back: neither key in it proves nothing, so no key is deleted and the old one stays active."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = gcp_settings(aws, gsm)
    resumed_on_a_read_holding_neither_key(store, finding, settings, gsm, lambda answer: {**answer, "payload": {"data": ""}},
                                          aws, user, old_id)
    assert len(gcp_payloads(gsm)) == 3


# Key Vault answers Set Secret with the SecretBundle of the version made: its id (…/secrets/NAME/VERSION)
# and the value set. A gateway's stub without the id, or echoing the version read, is not that.
KV_WRITE_REPLIES = {**WRITE_REPLIES, "no_id_200": (200, "application/json", json.dumps(
    {"attributes": {"enabled": True}, "tags": {}}).encode())}


@pytest.mark.parametrize("mode", [*KV_WRITE_REPLIES, "same_version_200"])
def test_a_key_vault_write_answered_by_an_intermediary_rotates_nothing(tmp_path, aws, akv, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    if mode == "same_version_200":  # the version read, answered again (a cache in front of the vault)
        current = akv.secrets["ci-deploy"].versions[-1]
        reply = (200, "application/json", json.dumps({
            "value": current.value, "id": f"{akv.url}/secrets/ci-deploy/{current.id}",
            "attributes": {"enabled": True, "created": current.created, "updated": current.updated}}).encode())
    else:
        reply = KV_WRITE_REPLIES[mode]
    akv.intermediary["write"] = reply
    summary, jobs = asyncio.run(rotate(store, [finding], azure_settings(aws, akv)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, reply)
    assert len(akv.values("ci-deploy")) == 2, "nothing written"


def test_a_key_vault_read_without_its_version_writes_nothing(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    akv.intermediary["read"] = lambda answer: {k: v for k, v in answer.items() if k != "id"}
    summary, jobs = asyncio.run(rotate(store, [finding], azure_settings(aws, akv)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id)
    assert keys_of(aws, user) == {old_id: "Active"}, "no key created"
    assert not akv.sets() and len(akv.values("ci-deploy")) == 2


def test_a_key_vault_write_made_but_its_answer_lost_is_proven_by_reading_it_back(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    akv.intermediary["write"], akv.forwards = KV_WRITE_REPLIES["html_200"], True
    new_id = rotated_after_a_lost_answer(store, finding, azure_settings(aws, akv), aws, user, old_id)
    values = akv.values("ci-deploy")
    assert len(values) == 3 and json.loads(values[2])["aws_access_key_id"] == new_id, "written once"


def test_a_resumed_key_vault_rotation_deletes_no_key_on_a_read_that_holds_neither_key(tmp_path, aws, akv):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_key_vault(akv, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = azure_settings(aws, akv)
    resumed_on_a_read_holding_neither_key(store, finding, settings, akv, lambda answer: {**answer, "value": "<redacted>"},
                                          aws, user, old_id)
    assert len(akv.values("ci-deploy")) == 3


# -- AWS: IAM, STS, Secrets Manager and SSM behind a gateway in front of moto -------------------------
# botocore takes a 200 that is not AWS's answer (a sign-in page, truncated JSON) as an empty success:
# only AWS's RequestId and the operation's documented fields make it AWS's word.

AWS_REPLIES = {name: INTERMEDIARY_REPLIES[name] for name in ("html_401", "html_403", "html_200", "truncated_200")}
AWS_REPLIES["empty_object_200"] = (200, "application/json", b"{}")


@pytest.fixture
def gateway(aws):
    from tests.fakes.aws_gateway import AwsGateway

    server = AwsGateway(aws["endpoint"]).start()
    yield server
    server.stop()


def aws_context(http, gateway, store=None, finding=None, value=None) -> Context:
    return for_revocation(Context(http=http, settings=Settings(env={"AWS_ENDPOINT_URL": gateway.url}), store=store,
                                  extra={"secret_reader": lambda f: value,
                                         "_findings": {finding.id: finding} if finding else {}}))


@pytest.mark.parametrize("mode", AWS_REPLIES)
def test_aws_deactivation_answered_by_an_intermediary_is_not_believed(aws, gateway, mode):
    user, key_id, secret = leaked_key(aws)
    finding = aws_finding(key_id, secret, "dir", {"root": "/x", "path": "a.env"})
    revoker = available_revokers()["aws"]
    gateway.intermediary["iam:UpdateAccessKey"] = AWS_REPLIES[mode]

    async def scenario():
        async with fast_http() as http:
            ctx = aws_context(http, gateway, finding=finding, value=secret)
            result = await revoker.revoke(await revoker.plan(finding, ctx), ctx)
            assert not result.ok, (mode, result)
            if AWS_REPLIES[mode][0] == 200:
                assert result.retryable and "not believed" in result.detail, result
            return await revoker.confirm(finding, ctx)

    assert asyncio.run(scenario()) is False
    assert keys_of(aws, user) == {key_id: "Active"}


@pytest.mark.parametrize("mode", AWS_REPLIES)
def test_aws_confirmation_needs_aws_own_answer(aws, gateway, mode):
    """STS and IAM's listing answered by a proxy: a live key is neither dead nor confirmed (a listing
    without the key in it is a deleted key only when it is AWS's listing)."""
    user, key_id, secret = leaked_key(aws)
    finding = aws_finding(key_id, secret, "dir", {"root": "/x", "path": "a.env"})
    revoker = available_revokers()["aws"]
    hostile = {action: AWS_REPLIES[mode] for action in
               ("sts:GetCallerIdentity", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys")}

    async def scenario():
        async with fast_http() as http:
            ctx = aws_context(http, gateway, finding=finding, value=secret)
            gateway.intermediary.update(hostile)
            assert await verify_status(finding, ctx) == "unknown"
            assert await revoker.confirm(finding, ctx) is False, "a live key behind a proxy is not dead"
            gateway.intermediary.clear()
            assert (await revoker.revoke(await revoker.plan(finding, ctx), ctx)).ok
            gateway.intermediary.update(hostile)
            assert await revoker.confirm(finding, ctx) is False, "only IAM's word confirms"
            gateway.intermediary.clear()
            assert await revoker.confirm(finding, ctx) is True

    asyncio.run(scenario())
    assert keys_of(aws, user) == {key_id: "Inactive"}


@pytest.mark.parametrize("where", ["secretsmanager", "ssm"])
@pytest.mark.parametrize("mode", AWS_REPLIES)
def test_aws_rotation_write_answered_by_an_intermediary_rotates_nothing(tmp_path, aws, gateway, mode, where):
    user, old_id, old_secret = leaked_key(aws)
    if where == "secretsmanager":
        arn, finding = in_secret(aws, old_id, old_secret)
        gateway.intermediary["secretsmanager:PutSecretValue"] = AWS_REPLIES[mode]

        def stored():
            return aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"]
    else:
        name, finding = in_parameter(aws, old_id, old_secret)
        gateway.intermediary["ssm:PutParameter"] = AWS_REPLIES[mode]

        def stored():
            return aws["ssm"].get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    before = stored()
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], Settings(env={"AWS_ENDPOINT_URL": gateway.url})))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, AWS_REPLIES[mode])
    assert stored() == before, "nothing written"


# STS's documented answer, well formed, for another identity than the key id's IAM user.
ANOTHER_IDENTITY = (200, "text/xml", (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    '<Arn>arn:aws:iam::123456789012:user/someone-else</Arn><UserId>AIDAEXAMPLEEXAMPLE1</UserId>'
    '<Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata>'
    '<RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata></GetCallerIdentityResponse>'
).encode())


@pytest.mark.parametrize("mode", [None, *AWS_REPLIES, "another_identity"])
def test_a_rotation_whose_pair_proof_is_answered_by_an_intermediary_creates_no_key(tmp_path, aws, gateway, mode):
    """The secret was joined to its key id as the nearest of two: the rotation first signs
    sts:GetCallerIdentity with the pair. Answered by AWS (moto) as the key id's IAM user, it rotates;
    answered by a proxy (a page, a refusal, or STS's shape naming someone else), no key is created and
    nothing is deactivated. Was: no proof asked, rotated."""
    user, old_id, old_secret = leaked_key(aws)
    arn, finding = in_secret(aws, old_id, old_secret)
    finding = dataclasses.replace(finding, metadata={"key_id_candidates": "2"})
    before = aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"]
    if mode is not None:
        gateway.intermediary["sts:GetCallerIdentity"] = ANOTHER_IDENTITY if mode == "another_identity" \
            else AWS_REPLIES[mode]
    store = rotation_store(tmp_path, finding)
    summary, jobs = asyncio.run(rotate(store, [finding], Settings(env={"AWS_ENDPOINT_URL": gateway.url})))
    outcomes = [(c["target"], c["outcome"]) for c in jobs.calls(jobs.find()[0].id)]
    if mode is None:
        assert summary.states == {"confirmed": 1}, summary.errors
        assert ("sts:GetCallerIdentity", f"pair proven (user {user})") in outcomes, outcomes
        rotated_key(aws, user, old_id)
        return
    assert not set(summary.states) & {J.REVOKED, J.CONFIRMED}, summary.states
    assert keys_of(aws, user) == {old_id: "Active"}, "a key was created or the old one deactivated"
    assert aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"] == before
    assert not any(target == "iam:CreateAccessKey" for target, _outcome in outcomes), outcomes
    (_finding, error), = summary.errors
    if mode == "another_identity":
        assert f"answered for another identity than {old_id}'s IAM user {user}" in error, error
        assert "no key created, nothing deactivated" in error and jobs.find()[0].state == J.FAILED_PERMANENT


# -- Google API keys (Gemini): lookupKey binds the key, DELETE starts an operation, polled until done -
@pytest.mark.parametrize("mode", MODES)
def test_google_api_key_confirmation_needs_googles_own_answer(keys, mode):
    from tests.test_google_apikeys import Scenario

    value = keys.google_api_key()
    s = Scenario([value])

    async def scenario(http):
        ctx = s.context(http)
        finding = s.findings[0]
        s.fake.intermediary = mode
        assert await s.revoker.confirm(finding, ctx) is False, "a live key behind a proxy is not dead"
        s.fake.intermediary = None
        assert (await s.revoker.revoke(await s.revoker.plan(finding, ctx), ctx)).ok
        s.fake.intermediary = mode
        assert await s.revoker.confirm(finding, ctx) is False, "only Google's word confirms"
        s.fake.intermediary = None
        assert await s.revoker.confirm(finding, ctx) is True

    s.run(scenario)
    assert s.fake.effective[value] == 1


@pytest.mark.parametrize("step", ["lookup", "delete", "operation"])
@pytest.mark.parametrize("mode", DESTRUCTIVE_MODES)
def test_google_api_key_deletion_answered_by_an_intermediary_is_not_believed(keys, mode, step):
    """The proxy answers one step: the lookup (nothing bound, nothing deleted), the DELETE (nothing
    deleted), or the operation's poll (Google may be deleting: not reported deleted on the proxy's word)."""
    from tests.test_google_apikeys import Scenario

    value = keys.google_api_key()
    s = Scenario([value])

    async def scenario(http):
        ctx = s.context(http)
        plan = await s.revoker.plan(s.findings[0], ctx)
        s.fake.intermediary, s.fake.intermediary_on, s.fake.hostile_only = mode, "revoke", step
        result = await s.revoker.revoke(plan, ctx)
        assert not result.ok, (mode, step, result)
        assert value not in result.detail

    s.run(scenario)
    assert s.fake.effective[value] == 0 and value in s.fake.active and not s.fake.deleted
    assert sum(s.fake.delete_requests.values()) == (0 if step == "lookup" else 1), "never deleted twice"


# -- admin listings that bind a key to its id, answered by a proxy --------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["openai", "anthropic", "openrouter"])
def test_an_admin_listing_answered_by_an_intermediary_binds_nothing(tmp_path, keys, kind, mode):
    """The listing that proves which key id is the leaked key is a proxy's page: no id is proven, so
    nothing is deleted and nothing is reported revoked."""
    h = Harness(tmp_path, kind, keys, n=1)
    revoker = available_revokers()[h.provider]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            h.fake.intermediary, h.fake.intermediary_on = mode, "list"
            result = await revoker.revoke(plan, ctx)
            assert not result.ok, (mode, result)

    with h.servers:
        asyncio.run(scenario())
        assert h.values[0] in h.fake.active and h.fake.revoke_requests == 0


@pytest.mark.parametrize("mode", GCP_DESTRUCTIVE_MODES)
def test_gcp_a_key_listing_answered_by_an_intermediary_proves_no_key_gone(tmp_path, keys, mode):
    """IAM has no key under the file's id; the account's key listing (which would show the leaked key
    under another id) is a proxy's page: the key is not dead, and nothing is reported deleted."""
    h = GcpHarness(tmp_path, keys)
    real_id = "f" * 40
    h.fake.accounts[real_id] = h.fake.accounts.pop(h.sa.private_key_id)
    h.fake.certificates[real_id] = h.fake.certificates.pop(h.sa.private_key_id)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            h.fake.intermediary, h.fake.intermediary_on = mode, "list"
            assert await verify_status(h.finding, ctx) == "unknown"
            assert await revoker.confirm(h.finding, ctx) is False
            result = await revoker.revoke(await revoker.plan(h.finding, ctx), ctx)
            assert not result.ok, (mode, result)

    with h.servers:
        asyncio.run(scenario())
        assert real_id not in h.fake.disabled and real_id not in h.fake.deleted


def test_a_resumed_rotation_deletes_no_key_on_a_read_that_holds_neither_key(tmp_path, aws, k8s):
    """Killed after writing the new key into the Secret; on resume a redacting gateway answers the
    read with the Secret stripped of its data. The read holds neither the new key nor the old one,
    so it proves nothing about the write: the new key (which the Secret does hold) is not deleted as
    an orphan, the old key stays active, and the job is left to a person."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_k8s_secret(k8s, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = aws_settings(aws)
    resumed_on_a_read_holding_neither_key(store, finding, settings, k8s, lambda answer: {k: v for k, v in answer.items() if k != "data"},
                                          aws, user, old_id)


# -- disable_replaced_version: only STS's own answer for the new key, and Secret Manager's own answer
# to the disable, count; otherwise the replaced version stays enabled and the rotation says so. -----
GCP_DISABLE_REPLIES = {**WRITE_REPLIES, "still_enabled_200": (200, "application/json", json.dumps(
    {"name": "projects/100000/secrets/ci-deploy/versions/2", "state": "ENABLED"}).encode())}


@pytest.mark.parametrize("mode", AWS_REPLIES)
def test_a_new_key_proven_only_by_an_intermediary_disables_no_version(tmp_path, aws, gsm, gateway, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = retiring(aws, gsm)
    settings.env["AWS_ENDPOINT_URL"] = gateway.url
    gateway.intermediary["sts:GetCallerIdentity"] = AWS_REPLIES[mode]
    summary, jobs = asyncio.run(rotate(store, [finding], settings))
    assert summary.states == {J.CONFIRMED: 1}, summary.errors  # the rotation itself is done
    assert keys_of(aws, user)[old_id] == "Inactive"
    assert gcp_states(gsm) == ["ENABLED", "ENABLED", "ENABLED"], "a version disabled on an unproven key"
    assert not [r for r in gsm.requests if r.path.endswith(":disable")]
    (outcome,) = [c["outcome"] for c in jobs.calls(jobs.find()[0].id) if c["target"] == "secretmanager.versions.disable"]
    assert outcome.startswith("version 2 left enabled:"), outcome


@pytest.mark.parametrize("mode", GCP_DISABLE_REPLIES)
def test_a_disable_answered_by_an_intermediary_is_not_believed(tmp_path, aws, gsm, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gcp_secret(gsm, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gsm.intermediary["disable"] = GCP_DISABLE_REPLIES[mode]
    summary, jobs = asyncio.run(rotate(store, [finding], retiring(aws, gsm)))
    assert summary.states == {J.CONFIRMED: 1}, summary.errors
    assert gcp_states(gsm) == ["ENABLED", "ENABLED", "ENABLED"]
    (outcome,) = [c["outcome"] for c in jobs.calls(jobs.find()[0].id) if c["target"] == "secretmanager.versions.disable"]
    assert outcome.startswith("version 2 left enabled:"), outcome
    assert not store.conn.execute("SELECT 1 FROM audit_log WHERE result LIKE '%replaced_version_disabled%'").fetchall()


# -- GitLab project CI/CD variables: the PUT counts only as GitLab's variable object holding the value
# written, and the variable read back must hold it. --------------------------------------------------
GITLAB_WRITE_REPLIES = {**WRITE_REPLIES, "old_value_200": (200, "application/json", json.dumps(
    {"key": "AWS_CREDENTIALS", "value": "[default]\n", "environment_scope": "production"}).encode())}


@pytest.mark.parametrize("mode", GITLAB_WRITE_REPLIES)
def test_a_gitlab_variable_write_answered_by_an_intermediary_rotates_nothing(tmp_path, aws, gitlab, mode):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    before = gitlab_value(gitlab)
    store = rotation_store(tmp_path, finding)
    gitlab.intermediary["write"] = GITLAB_WRITE_REPLIES[mode]
    summary, jobs = asyncio.run(rotate(store, [finding], gitlab_settings(aws, gitlab)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, GITLAB_WRITE_REPLIES[mode])
    assert gitlab_value(gitlab) == before, "nothing written"


def test_a_gitlab_read_without_the_variables_value_writes_nothing(tmp_path, aws, gitlab):
    """A hidden variable (or a gateway dropping the value): nothing to rewrite, nothing created."""
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gitlab.intermediary["read"] = lambda answer: {**answer, "value": None, "hidden": True}
    summary, jobs = asyncio.run(rotate(store, [finding], gitlab_settings(aws, gitlab)))
    assert_not_rotated(summary, jobs, store, aws, user, old_id, None, "hidden variable")
    assert keys_of(aws, user) == {old_id: "Active"}, "no key created"
    assert not gitlab.puts


def test_a_gitlab_write_made_but_its_answer_lost_is_proven_by_reading_it_back(tmp_path, aws, gitlab):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    gitlab.intermediary["write"], gitlab.forwards = GITLAB_WRITE_REPLIES["html_200"], True
    new_id = rotated_after_a_lost_answer(store, finding, gitlab_settings(aws, gitlab), aws, user, old_id)
    assert f"aws_access_key_id = {new_id}" in gitlab_value(gitlab) and len(gitlab.puts) == 1, "written once"


def test_a_resumed_gitlab_rotation_deletes_no_key_on_a_read_that_holds_neither_key(tmp_path, aws, gitlab):
    user, old_id, old_secret = leaked_key(aws)
    finding = in_gitlab_variable(gitlab, old_id, old_secret)
    store = rotation_store(tmp_path, finding)
    settings = gitlab_settings(aws, gitlab)
    resumed_on_a_read_holding_neither_key(store, finding, settings, gitlab, lambda answer: {**answer, "value": "[masked]"},
                                          aws, user, old_id)


def test_rotate_from_the_cli_behind_a_sign_in_page_reports_no_rotation(tmp_path, aws, gateway, run, monkeypatch):
    """`revoke --rotate --execute --fail-on-error` with Secrets Manager's PutSecretValue answered by a
    proxy's 200 sign-in page: the JSON job is not rotated, the run exits 3, the audit chain holds and
    logs no rotation, and the old key is still active at IAM."""
    user, old_id, old_secret = leaked_key(aws)
    arn, finding = in_secret(aws, old_id, old_secret)
    before = aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"]
    db = tmp_path / "k.db"
    rotation_store(tmp_path, finding).close()
    gateway.intermediary["secretsmanager:PutSecretValue"] = AWS_REPLIES["html_200"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", gateway.url)
    done = run("revoke", "--rotate", finding.id, "--execute", "--fail-on-error", "--confirm-delay", "0.01",
               "--max-wait", "1s", "--db", str(db), "--format", "json")
    assert done.code == 3, done
    (job,) = done.json()["jobs"]
    assert job["state"] in (J.FAILED_RETRYABLE, J.FAILED_PERMANENT), job
    assert "not believed" in done.stdout, done.stdout
    assert keys_of(aws, user)[old_id] == "Active"
    assert aws["secretsmanager"].get_secret_value(SecretId=arn)["SecretString"] == before
    with sqlite3.connect(db) as conn:
        rotations = [json.loads(r) for (r,) in conn.execute("SELECT result FROM audit_log WHERE action = 'revoke.rotate'")]
        assert not any(entry.get("rotated_to") for entry in rotations), rotations
        assert not conn.execute("SELECT 1 FROM events WHERE kind IN ('revoked', 'confirmed_dead')").fetchall()
    assert run("audit", "verify", "--db", str(db)).code == 0


def test_gcp_a_listed_key_answered_by_a_stub_proves_nothing_gone(tmp_path, keys):
    """IAM has no key under the file's id; the account lists another key, and its keys.get is a
    gateway's `{}`: that key's public half was never read, so the leaked key is not proven gone (it
    may be that key). Not dead, not confirmed, nothing disabled."""
    h = GcpHarness(tmp_path, keys)
    real_id = "f" * 40
    h.fake.accounts[real_id] = h.fake.accounts.pop(h.sa.private_key_id)
    h.fake.certificates[real_id] = h.fake.certificates.pop(h.sa.private_key_id)
    h.fake.stubbed.add(real_id)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            assert await verify_status(h.finding, ctx) == "unknown"
            assert await revoker.confirm(h.finding, ctx) is False
            result = await revoker.revoke(await revoker.plan(h.finding, ctx), ctx)
            assert not result.ok, result

    with h.servers:
        asyncio.run(scenario())
        assert real_id not in h.fake.disabled and real_id not in h.fake.deleted
