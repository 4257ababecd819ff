"""An answer keysweep acts on must be the one the provider documents for that case.

A key is `dead`, a revocation `revoked` or "already gone", only on the provider's documented answer
for it. An answer the provider's documentation does not give for that case — even one the
provider itself might send, when a proxy or gateway can send the same — proves nothing: the
verdict is `unknown`, or the job is left to a person, and the key stays as it was. Each test runs
a fake written from the provider's documentation, and the same fake behind a reply that
disagrees with it, and checks the key's state at the fake as well as keysweep's verdict.
"""

from __future__ import annotations

import asyncio

import pytest

from keysweep.context import Context
from keysweep.http import HttpClient, RetryPolicy
from keysweep.providers import verifier_for
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import Jobs
from keysweep.remediation.orchestrator import Orchestrator, start_run
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers
from keysweep.settings import Settings
from keysweep.store import Store
from keysweep.verify.model import Credential
from tests.fakes.providers import FakeCohere, FakeOpenRouter, FakeProviders, FakeWebhook
from tests.test_remediation import make_finding, orchestrate
from tests.test_revokers import Harness

from .conftest import admin_client, find_secret, two_profiles_secret_first


def fast_http() -> HttpClient:
    return HttpClient(policy=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05), default_rate=1000)


def check(provider: str, rule_id: str, value: str, env: dict[str, str]):
    async def run():
        async with fast_http() as http:
            ctx = Context(http=http, settings=Settings(env=env))
            return await verifier_for(provider).verify(Credential(provider=provider, rule_id=rule_id, secret=value), ctx)
    return asyncio.run(run())


# -- Cohere: POST /v1/check-api-key ------------------------------------------------------------------
def test_cohere_is_dead_only_on_its_documented_invalid_token_answer(keys):
    """Cohere documents 401 {"message": "invalid api token"} for a key it does not accept; a 200
    {"valid": false} (a key-checking gateway's answer, which Cohere does not document for any
    case) is unknown, with the reason, never dead."""
    live, deleted = keys.cohere(), keys.cohere()
    fake = FakeCohere([live])
    with FakeProviders(cohere=fake):
        env = fake.env()
        assert check("cohere", "cohere.api-key", live, env).status == "live"
        assert check("cohere", "cohere.api-key", deleted, env).status == "dead"

        fake.intermediary = "key_check_200"
        verdict = check("cohere", "cohere.api-key", live, env)
        assert verdict.status == "unknown", verdict
        assert "valid: false" in verdict.error and "not proof" in verdict.error
        assert live not in verdict.error
    assert live in fake.active, "the key is still live at Cohere"


def test_a_cohere_key_left_to_its_owner_is_not_confirmed_dead_by_a_gateways_valid_false(tmp_path, keys):
    """Cohere has no revocation API: its owner is told (awaiting_owner) and the job is confirmed only
    when Cohere's check says the key is invalid. Was: a gateway's 200 {"valid": false} confirmed
    it while the key still worked."""
    value = keys.cohere()
    finding = make_finding("cohere", "cohere.api-key", value, repo="acme/app")
    store = Store(tmp_path / "cohere.db")
    store.record([finding], "scope", "2025-01-02T00:00:00Z")
    store.replace_owner_candidates(finding.id, [{"name": "alice", "team": "ml", "source": "codeowners",
                                                 "confidence": 0.9, "chosen": True}], "2025-01-02T00:00:00Z")
    cohere, hook = FakeCohere([value]), FakeWebhook()
    with FakeProviders(cohere=cohere, hook=hook):
        settings = Settings(env={**cohere.env(), "ML_HOOK": hook.url},
                            config={"notify": {"teams": {"ml": {"webhook_env": "ML_HOOK", "format": "json"}}}})
        extra = {"secret_reader": lambda f: value}
        summary, _jobs = asyncio.run(orchestrate(store, [finding], settings, extra))
        assert summary.states == {"awaiting_owner": 1}

        async def resume():
            async with fast_http() as http:
                ctx = for_revocation(Context(http=http, settings=settings, store=store, extra=extra))
                again = Jobs(store, "tester", start_run(store, "tester", "resume", ctx.now()), ctx.now)
                return await Orchestrator(ctx, again, available_revokers(), confirm_delay=0.01).run(
                    again.find(states=J.OPEN_STATES))

        cohere.intermediary = "key_check_200"
        assert asyncio.run(resume()).states == {"awaiting_owner": 1}, "a gateway's valid: false confirmed it"
        assert value in cohere.active
        kinds = {row[0] for row in store.conn.execute("SELECT kind FROM events WHERE finding_id = ?", [finding.id])}
        assert "confirmed_dead" not in kinds and "verified_dead" not in kinds

        # The owner deletes the key in Cohere's dashboard: Cohere's own 401 confirms it.
        cohere.intermediary = None
        cohere.active.discard(value)
        assert asyncio.run(resume()).states == {"confirmed": 1}


# -- Perplexity: POST /revoke_auth_token ----------------------------------------------------------
def test_perplexity_revokes_on_its_documented_200_and_never_calls_a_401_already_revoked(tmp_path, keys):
    """Perplexity documents one answer, a 200 with no body: revoked. It documents no "already
    revoked" answer and no free check, so a second call's 401 (what its fake answers for a revoked
    key) leaves the job to a person, and nothing confirms the key dead: it stays `revoked`."""
    h = Harness(tmp_path, "perplexity", keys, n=1)
    revoker = available_revokers()["perplexity"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            first = await revoker.revoke(plan, ctx)
            assert first.ok and first.detail == "key revoked", first
            second = await revoker.revoke(plan, ctx)
            assert not second.ok and not second.retryable and second.detail.startswith("needs a person: "), second
            assert "401" in second.detail and h.values[0] not in second.detail
            assert await revoker.confirm(h.findings[0], ctx) is False

    with h.servers:
        asyncio.run(scenario())
        assert h.fake.effective[h.values[0]] == 1 and h.values[0] in h.fake.revoked
        assert h.fake.revoke_requests == 2, "confirm() must not repeat the revocation call"


def test_a_401_in_an_error_envelope_is_not_a_perplexity_key_already_revoked(tmp_path, keys):
    """Was: any 401 whose body held an `error` object — a gateway's {"error": {"message":
    "Unauthorized", "code": 401}} — was "already revoked" (success), and the same reply to the
    repeated call confirmed the key dead, while it still worked."""
    h = Harness(tmp_path, "perplexity", keys, n=1)
    revoker = available_revokers()["perplexity"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            h.fake.intermediary, h.fake.intermediary_on = "error_envelope_401", "revoke"
            result = await revoker.revoke(plan, ctx)
            assert not result.ok and not result.retryable and result.detail.startswith("needs a person: "), result
            assert await revoker.confirm(h.findings[0], ctx) is False

    with h.servers:
        asyncio.run(scenario())
        assert h.values[0] in h.fake.active and not h.fake.effective, "the key is still live at Perplexity"


def test_a_perplexity_job_behind_a_gateways_401_is_left_to_a_person(tmp_path, keys):
    """The whole run: the job ends failed_permanent (a person), with no revoked or confirmed_dead
    event, and the key still works at Perplexity."""
    h = Harness(tmp_path, "perplexity", keys, n=1)
    finding = h.findings[0]
    with h.servers:
        h.fake.intermediary, h.fake.intermediary_on = "error_envelope_401", "revoke"
        summary, jobs = asyncio.run(orchestrate(h.store, [finding], Settings(env=h.fake.env()),
                                                {"secret_reader": lambda f: h.by_sha.get(f.secret_sha256)}))
        assert summary.states == {"failed_permanent": 1}, summary.states
        assert h.values[0] in h.fake.active
    (job,) = jobs.find(finding_ids=[finding.id])
    assert job.last_error.startswith("needs a person: ") and "401" in job.last_error
    kinds = {row[0] for row in h.store.conn.execute("SELECT kind FROM events WHERE finding_id = ?", [finding.id])}
    assert not kinds & {"revoked", "confirmed_dead", "verified_dead"}, kinds


# -- OpenRouter: GET /api/v1/key --------------------------------------------------------------------
def test_openrouter_is_dead_only_when_it_does_not_know_the_key(keys):
    """OpenRouter's envelope {"error": {"code": 401, …}} is anyone's, and its own "No auth credentials
    found" says no key arrived (a proxy stripped the header): both unknown. Was: dead, both."""
    live, deleted = keys.openrouter(), keys.openrouter()
    fake = FakeOpenRouter([live])
    with FakeProviders(openrouter=fake):
        env = fake.env()
        assert check("openrouter", "openrouter.api-key", live, env).status == "live"
        assert check("openrouter", "openrouter.api-key", deleted, env).status == "dead"
        for reply in ("no_credentials_401", "error_envelope_401"):
            fake.intermediary = reply
            verdict = check("openrouter", "openrouter.api-key", live, env)
            assert verdict.status == "unknown", (reply, verdict)
    assert live in fake.active


def test_an_openrouter_key_whose_header_a_proxy_stripped_is_not_already_revoked(tmp_path, keys):
    """The revoker reads the leaked key's label with the key itself; OpenRouter's "No auth credentials
    found" there was taken as "already revoked" (success) and nothing was deleted. Now the job needs a
    person, and the key is still live at OpenRouter."""
    h = Harness(tmp_path, "openrouter", keys, n=1)
    revoker = available_revokers()["openrouter"]

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            plan = await revoker.plan(h.findings[0], ctx)
            h.fake.intermediary, h.fake.intermediary_on = "no_credentials_401", "verify"
            result = await revoker.revoke(plan, ctx)
            assert not result.ok and not result.retryable, result
            assert await revoker.confirm(h.findings[0], ctx) is False

    with h.servers:
        asyncio.run(scenario())
        assert h.values[0] in h.fake.active and not h.fake.effective


# -- Anthropic: GET /v1/models -----------------------------------------------------------------------
def test_anthropics_answer_that_no_key_arrived_is_not_the_keys_death(tmp_path, keys):
    """Anthropic answers 401 authentication_error "x-api-key header is required" when no key arrived
    (a proxy stripped the header): that is not its word about the key. Was: dead, and a revocation
    resumed behind such a proxy was confirmed without a call."""
    h = Harness(tmp_path, "anthropic", keys, n=1)
    revoker = available_revokers()["anthropic"]
    deleted = keys.anthropic()

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            h.fake.intermediary, h.fake.intermediary_on = "no_api_key_401", "verify"
            assert await revoker.confirm(h.findings[0], ctx) is False

    with h.servers:
        env = h.fake.env()
        assert check("anthropic", "anthropic.api-key", h.values[0], env).status == "live"
        assert check("anthropic", "anthropic.api-key", deleted, env).status == "dead"
        asyncio.run(scenario())
        assert check("anthropic", "anthropic.api-key", h.values[0], env).status == "unknown"
        assert h.values[0] in h.fake.active and not h.fake.effective


def test_anthropic_is_dead_only_on_its_own_answer_for_an_invalid_key_not_a_gateways_envelope(tmp_path, keys):
    """Anthropic answers a key it does not accept with 401 authentication_error "invalid x-api-key":
    dead. A gateway in front of it answering Anthropic's envelope and type with a message of its own
    ("Authentication failed") says nothing of the key: unknown, confirm() does not take it as revoked,
    and a key the inventory does not list is left to a person, never "already deleted". The key is
    still live at the fake. Was: dead, confirmed, "already deleted"."""
    h = Harness(tmp_path, "anthropic", keys, n=1)
    revoker = available_revokers()["anthropic"]
    deleted, live = keys.anthropic(), h.values[0]
    # A key of another organisation (not in this one's inventory), live at the fake.
    h.fake.ids = {key_id: value for key_id, value in h.fake.ids.items() if value != live}

    async def scenario():
        async with fast_http() as http:
            ctx = h.context(http)
            h.fake.intermediary, h.fake.intermediary_on = "anthropic_envelope_401", "verify"
            confirmed = await revoker.confirm(h.findings[0], ctx)
            result = await revoker.revoke(await revoker.plan(h.findings[0], ctx), ctx)
            return confirmed, result

    with h.servers:
        env = h.fake.env()
        assert check("anthropic", "anthropic.api-key", live, env).status == "live"
        assert check("anthropic", "anthropic.api-key", deleted, env).status == "dead"
        confirmed, result = asyncio.run(scenario())
        assert confirmed is False
        assert not result.ok and "already" not in result.detail and "not proven dead (verification: unknown)" \
            in result.detail, result
        verdict = check("anthropic", "anthropic.api-key", live, env)
        assert verdict.status == "unknown", verdict
        assert live in h.fake.active and not h.fake.effective


# -- AWS: sts:GetCallerIdentity, iam:UpdateAccessKey ----------------------------------------------------
@pytest.fixture
def two_profiles(signed_moto, tmp_path, run, monkeypatch):
    """A credentials file listing each profile's secret before its key id, as the file allows: the
    second secret sits nearer the first profile's key id than its own. Both keys real and active in
    moto (signatures checked); keysweep's own IAM credentials are an admin's. Scanned into a store."""
    moto = signed_moto()
    admin, a, b, credentials = two_profiles_secret_first(moto, monkeypatch)
    moto.sign_in(admin)
    iam = admin_client(moto, admin, "iam", monkeypatch)
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "credentials").write_text(credentials)
    db = tmp_path / "s.db"
    assert run("scan", "dir", folder, "--db", db).code == 1
    findings = run("findings", "--db", db, "--format", "json").json()
    secret_b = find_secret(findings, b["SecretAccessKey"])
    assert secret_b["key_id"] == a["AccessKeyId"], "the scan joins the billing secret to the default key id"
    return {"iam": iam, "a": a, "b": b, "db": db, "secret_b": secret_b}


def statuses(iam) -> dict[str, str]:
    return {meta["AccessKeyId"]: meta["Status"] for user in ("deploy", "billing")
            for meta in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_a_secret_that_is_not_its_neighbouring_key_ids_is_not_dead(run, two_profiles):
    """STS's SignatureDoesNotMatch says the secret is not the secret of the key id joined to it, not
    that the secret is dead (here it is another key's, live). Was: dead."""
    p = two_profiles
    verified = run("verify", "--db", p["db"], "--format", "json", "--ttl", "0")
    verdict = find_secret(verified.json(), p["b"]["SecretAccessKey"])["verification"]
    assert verdict["status"] == "unknown" and "SignatureDoesNotMatch" in verdict["error"], verdict
    assert find_secret(verified.json(), p["a"]["SecretAccessKey"])["verification"]["status"] == "live"
    assert p["b"]["SecretAccessKey"] not in verified.stdout + verified.stderr


def test_a_secret_joined_to_the_nearest_of_several_key_ids_does_not_die_with_it(run, two_profiles):
    """The default profile's key is deleted: STS answers InvalidClientTokenId for it, which is
    that key's death — not the billing secret's, joined to it as the nearest of two ids (it is the
    billing key's, live). Was: dead. A secret joined to the only id in reach still dies with it."""
    p = two_profiles
    p["iam"].delete_access_key(UserName="deploy", AccessKeyId=p["a"]["AccessKeyId"])
    verified = run("verify", "--db", p["db"], "--format", "json", "--ttl", "0").json()
    billing = find_secret(verified, p["b"]["SecretAccessKey"])["verification"]
    assert billing["status"] == "unknown" and "nearest of 2" in billing["error"], billing
    assert find_secret(verified, p["b"]["SecretAccessKey"])["metadata"]["key_id_candidates"] == "2"
    assert statuses(p["iam"])[p["b"]["AccessKeyId"]] == "Active"


def test_aws_deactivates_a_key_id_joined_to_a_secret_only_once_sts_proves_them_a_pair(run, two_profiles):
    """Revoking the secrets: the default profile's pair is proven by STS and deactivated; the billing
    secret's joined key id is not its key, so its job is left to a person. Was: the default key
    deactivated for it too, the job confirmed (STS then refused the pair), the billing key still
    active and reported revoked."""
    p = two_profiles
    done = run("revoke", "--rule", "aws.secret-access-key", "--execute", "--yes", "--confirm-delay", "0.05",
               "--db", p["db"], "--format", "json")
    jobs = {job["finding"]: job for job in done.json()["jobs"]}
    billing = jobs[p["secret_b"]["id"]]
    assert billing["state"] == "failed_permanent", billing
    assert "not proven to be its key" in billing["last_error"] and "nothing deactivated" in billing["last_error"]
    default = jobs[find_secret(run("findings", "--db", p["db"], "--format", "json").json(),
                               p["a"]["SecretAccessKey"])["id"]]
    assert default["state"] == "confirmed", default["last_error"]
    assert statuses(p["iam"]) == {p["a"]["AccessKeyId"]: "Inactive", p["b"]["AccessKeyId"]: "Active"}


def test_every_aws_rule_that_joins_a_key_id_by_proximity_is_proven_before_any_iam_call():
    from keysweep.revokers.aws import PAIRED_BY_PROXIMITY, RULES
    from keysweep.scanner.rules import load_rules

    assert {rule.id for rule in load_rules() if rule.id in RULES and rule.key_id_rule} == PAIRED_BY_PROXIMITY


def test_a_deactivated_key_id_confirms_only_the_secret_sts_accepted_with_it(run, two_profiles):
    """Confirmation reads IAM's listing of the key id; for a secret joined to the nearest of several
    ids that confirms it only once STS accepted the pair (a live check recorded): the default secret
    was checked live with its id, the billing secret never was. Was: the billing job confirmed by the
    default key's Inactive — as a run resumed after a kill asks before repeating a call."""
    p = two_profiles
    assert run("verify", "--db", p["db"], "--format", "json", "--ttl", "0").code == 1
    p["iam"].update_access_key(UserName="deploy", AccessKeyId=p["a"]["AccessKeyId"], Status="Inactive")
    store = Store(p["db"])
    by_secret = {f.secret_sha256: f for f in store.findings()}
    default = next(f for f in by_secret.values() if f.id == find_secret(
        run("findings", "--db", p["db"], "--format", "json").json(), p["a"]["SecretAccessKey"])["id"])
    billing = next(f for f in by_secret.values() if f.id == p["secret_b"]["id"])
    secrets = {default.id: p["a"]["SecretAccessKey"], billing.id: p["b"]["SecretAccessKey"]}
    revoker = available_revokers()["aws"]

    async def confirmations():
        async with fast_http() as http:
            ctx = for_revocation(Context(http=http, settings=Settings(env={}), store=store,
                                         extra={"secret_reader": lambda f: secrets.get(f.id)}))
            return await revoker.confirm(default, ctx), await revoker.confirm(billing, ctx)

    assert asyncio.run(confirmations()) == (True, False)
    assert statuses(p["iam"])[p["b"]["AccessKeyId"]] == "Active"


def test_a_proven_pair_deactivated_by_an_attempt_whose_answer_was_lost_is_deactivated_again(run, two_profiles):
    """Revocation is idempotent: an attempt that deactivated the key but whose answer was lost (a
    proxy's page, a dropped connection: failed_retryable) is tried again. STS then refuses the pair
    (InvalidClientTokenId: the key is inactive), but the pair was proven by the earlier attempt (its
    live check is recorded), so the retry deactivates it again, as IAM allows. A secret never proven
    with that id is still refused. Was: the retry left the job to a person ("not proven to be its
    key; nothing deactivated") while the key was inactive."""
    p = two_profiles  # signed moto refuses the inactive key on STS as AWS does (InvalidClientTokenId)
    store = Store(p["db"])
    findings = run("findings", "--db", p["db"], "--format", "json").json()
    default_id = find_secret(findings, p["a"]["SecretAccessKey"])["id"]
    by_id = {f.id: f for f in store.findings()}
    secrets = {default_id: p["a"]["SecretAccessKey"], p["secret_b"]["id"]: p["b"]["SecretAccessKey"]}
    revoker = available_revokers()["aws"]

    async def attempts():
        async with fast_http() as http:
            ctx = for_revocation(Context(http=http, settings=Settings(env={}), store=store,
                                         extra={"secret_reader": lambda f: secrets.get(f.id)}))
            plan = await revoker.plan(by_id[default_id], ctx)
            first = await revoker.revoke(plan, ctx)  # its answer lost: the job is tried again
            again = await revoker.revoke(plan, ctx)
            billing = await revoker.revoke(await revoker.plan(by_id[p["secret_b"]["id"]], ctx), ctx)
            return first, again, billing

    first, again, billing = asyncio.run(attempts())
    assert first.ok, first
    assert again.ok and again.detail == "deactivated", again
    assert ("POST", "iam:UpdateAccessKey", "Inactive") in again.calls
    assert not billing.ok and "not proven to be its key" in billing.detail, billing
    assert statuses(p["iam"]) == {p["a"]["AccessKeyId"]: "Inactive", p["b"]["AccessKeyId"]: "Active"}


def test_a_revocation_whose_deactivation_answer_was_lost_ends_deactivated_on_its_retry(run, two_profiles,
                                                                                      monkeypatch):
    """The whole run, against moto as AWS answers: the first UpdateAccessKey is made but its answer
    lost (a proxy's page in its place: not AWS's answer, the job waits to be retried). The retry's
    pair proof is refused by STS as AWS refuses an inactive key (InvalidClientTokenId, nothing
    patched in keysweep); the pair was proven by the first attempt, so the key is deactivated again and
    the job confirmed: no person needed. The billing key, never proven the pair of any secret, stays
    Active."""
    from moto.iam.responses import IamResponse

    p = two_profiles
    update, lost = IamResponse.update_access_key, []

    def answer_lost(self):
        done = update(self)
        if lost:
            return done
        lost.append(self._get_param("AccessKeyId"))
        return "<html><body><h1>502 Bad Gateway</h1></body></html>"  # the change made, AWS's answer lost

    monkeypatch.setattr(IamResponse, "update_access_key", answer_lost)
    default_id = find_secret(run("findings", "--db", p["db"], "--format", "json").json(), p["a"]["SecretAccessKey"])["id"]

    def jobs(*args):
        done = run("revoke", *args, "--confirm-delay", "0.05", "--max-wait", "0", "--db", p["db"], "--format", "json")
        return {job["finding"]: job for job in done.json()["jobs"]}

    first = jobs(default_id, "--execute", "--yes")[default_id]
    assert lost == [p["a"]["AccessKeyId"]] and first["state"] == "failed_retryable", first
    assert statuses(p["iam"])[p["a"]["AccessKeyId"]] == "Inactive", "the lost answer's change was made"

    again = jobs("--resume", "--yes")[default_id]
    assert again["state"] == "confirmed" and again["last_error"] is None, again
    jobs_of = Jobs(Store(p["db"]), "reader", 0, lambda: "2026-12-03T00:00:00Z")
    outcomes = [(c["target"], c["outcome"]) for c in jobs_of.calls(again["id"])]
    assert ("sts:GetCallerIdentity", "InvalidClientTokenId (inactive; the pair was proven by an earlier check)") \
        in outcomes, outcomes  # STS refused the inactive key, as AWS does
    assert outcomes.count(("iam:UpdateAccessKey", "Inactive")) == 1, outcomes  # the retry's; the first was lost
    assert statuses(p["iam"]) == {p["a"]["AccessKeyId"]: "Inactive", p["b"]["AccessKeyId"]: "Active"}


def test_a_pair_proof_refused_for_this_machines_clock_says_so_and_deactivates_nothing(run, two_profiles, monkeypatch):
    """STS answers SignatureDoesNotMatch "Signature expired: … is now earlier than …" when the local
    clock is off (as the verifier treats it: unknown). That says nothing of the pair: the job is left
    to a person with the clock named, not with "the secret is not that key's" (which sends them to
    look for another key). Nothing is deactivated."""
    from botocore.exceptions import ClientError

    import keysweep.revokers.aws as aws_revoker

    p = two_profiles

    def caller_identity(key_id, secret, endpoint):
        raise ClientError({"Error": {"Type": "Sender", "Code": "SignatureDoesNotMatch",
                                     "Message": "Signature expired: 20250101T000000Z is now earlier than "
                                                "20250101T010000Z (20250101T011500Z - 15 min.)"},
                           "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetCallerIdentity")

    monkeypatch.setattr(aws_revoker, "_caller_identity", caller_identity)
    store = Store(p["db"])
    findings = run("findings", "--db", p["db"], "--format", "json").json()
    default = next(f for f in store.findings() if f.id == find_secret(findings, p["a"]["SecretAccessKey"])["id"])
    revoker = available_revokers()["aws"]

    async def attempt():
        async with fast_http() as http:
            ctx = for_revocation(Context(http=http, settings=Settings(env={}), store=store,
                                         extra={"secret_reader": lambda f: p["a"]["SecretAccessKey"]}))
            return await revoker.revoke(await revoker.plan(default, ctx), ctx)

    result = asyncio.run(attempt())
    assert not result.ok and not result.retryable and result.detail.startswith("needs a person: "), result
    assert "clock" in result.detail and "not that key's" not in result.detail, result.detail
    assert statuses(p["iam"]) == {p["a"]["AccessKeyId"]: "Active", p["b"]["AccessKeyId"]: "Active"}


# -- Mistral: GET /v1/models ---------------------------------------------------------------------------
def test_mistral_never_says_dead(fake_api, keys):
    """Mistral's 401 {"message": "Unauthorized", "request_id": …} is its gateway's stock answer, which
    api.mistral.ai also gives a live Codestral key (found by the mistral.api-key-config rule beside
    "codestral"), and Mistral documents no 401 body: unknown. Was: dead."""
    from tests.test_verify_providers import run_verify

    codestral_key = keys.chars(32)
    fake_api.add("GET", "/mistral/v1/models", status=401,
                 json={"message": "Unauthorized", "request_id": "c61f2f15feca71626a990e3740f99245"})
    verdict, _ = run_verify(fake_api, "mistral", "mistral.api-key-config", codestral_key)
    assert verdict.status == "unknown" and "401" in verdict.error and codestral_key not in verdict.error
