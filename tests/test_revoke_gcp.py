"""GCP service-account keys: disabled then deleted through the IAM REST API (a local aiohttp fake),
with the account found in the finding's metadata or, for a finding read back from the store, in
the key file where it was seen."""

from __future__ import annotations

import asyncio
import json

from keysweep.context import Context
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.http import HttpClient, RetryPolicy
from keysweep.models import Finding, Occurrence
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers
from keysweep.revokers._common import verify_status
from keysweep.settings import Settings
from tests.fakes import providers as F


def gcp_finding(sa, path, metadata=True) -> Finding:
    digest = secret_sha256(sa.private_key)
    return Finding(id=finding_id("gcp", digest), rule_id="gcp.service-account-key", provider="gcp",
                   secret_sha256=digest, redacted=redact(sa.private_key), long_lived=True, key_id=sa.private_key_id,
                   occurrences=[Occurrence(source="dir", path=path.name, line=1,
                                           locator={"root": str(path.parent), "path": path.name})],
                   metadata={"client_email": sa.client_email, "project_id": sa.project_id} if metadata else None)


def iam_holding(*accounts, **options) -> F.FakeGcpIam:
    """IAM holding each generated service account's key under its id: the account, its project and
    the key's public half."""
    return F.FakeGcpIam({sa.private_key_id: (sa.client_email, sa.project_id) for sa in accounts},
                        private_keys={sa.private_key_id: sa.private_key for sa in accounts}, **options)


def leaked_key_file(tmp_path, sa, metadata=True) -> Finding:
    """The service account's key file, leaked at tmp_path/sa.json: its finding."""
    path = tmp_path / "sa.json"
    path.write_text(sa.json_text)
    return gcp_finding(sa, path, metadata)


def known(finding: Finding) -> dict:
    """A context's run-loaded findings (what `revoke` loads), so plans re-read their values."""
    return {"_findings": {finding.id: finding}}


def gcp_context(http, fake, finding: Finding) -> Context:
    """What `revoke` gives the GCP revoker: keysweep's token for the fake IAM, the finding loaded."""
    return for_revocation(Context(http=http, settings=Settings(env=fake.env()), extra=known(finding)))


def fast_http() -> HttpClient:
    return HttpClient(policy=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05), default_rate=1000)


def test_disable_then_delete_idempotent_and_confirmed(tmp_path, keys):
    sa, other = keys.gcp_service_account(), keys.gcp_service_account()
    fake = iam_holding(sa, other)
    finding = leaked_key_file(tmp_path, sa)
    revoker = available_revokers()["gcp"]
    assert revoker.supports(finding)

    async def scenario():
        async with fast_http() as http:
            ctx = gcp_context(http, fake, finding)
            plan = await revoker.plan(finding, ctx)
            assert servers.call(lambda: len(fake.requests)) == 0, "plan() sent a request"
            assert [c.method for c in plan.calls] == ["POST", "DELETE"]
            assert plan.calls[0].target.endswith(
                f"/v1/projects/{sa.project_id}/serviceAccounts/{sa.client_email}/keys/{sa.private_key_id}:disable")
            assert await revoker.confirm(finding, ctx) is False
            first = await revoker.revoke(plan, ctx)
            # IAM's key under the id is first proven to be the leaked one (its public half), then acted on.
            assert first.ok and [c[:1] + c[2:] for c in first.calls] == [
                ("GET", "200"), ("POST", "200"), ("DELETE", "200")], first
            second = await revoker.revoke(plan, ctx)
            assert second.ok and "already" in second.detail, second
            assert await revoker.confirm(finding, ctx) is True
            text = json.dumps([first.calls, second.calls, first.detail])
            assert sa.private_key not in text and fake.admin_key not in text

    with F.FakeProviders(gcp=fake) as servers:
        asyncio.run(scenario())
        assert fake.revoke_calls[sa.private_key_id] == 2  # one disable, one delete, never again
        assert fake.effective[sa.private_key_id] == 1
        assert other.private_key_id not in fake.disabled and other.private_key_id in fake.active


def test_store_finding_account_is_read_from_the_key_file_and_cli_revokes(tmp_path, keys, run, monkeypatch):
    sa = keys.gcp_service_account()
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "deploy-sa.json").write_text(sa.json_text)
    db = tmp_path / "k.db"
    fake = iam_holding(sa)
    with F.FakeProviders(gcp=fake):
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("KEYSWEEP_DB", str(db))
        scan = run("scan", "dir", str(leak))
        assert scan.code == 1, scan  # a key was found
        dry = run("revoke", "--provider", "gcp")
        assert dry.code == 0, dry
        assert f"serviceAccounts/{sa.client_email}/keys/{sa.private_key_id}:disable" in dry.stdout
        assert fake.requests == []
        done = run("revoke", "--provider", "gcp", "--execute", "--confirm-delay", "0.01", "--format", "json")
        assert done.code == 0, done
        assert [j["state"] for j in done.json()["jobs"]] == ["confirmed"]
        assert sa.private_key_id in fake.deleted and fake.effective[sa.private_key_id] == 1
        for out in (dry, done, scan):
            text = out.stdout + out.stderr
            assert sa.private_key.splitlines()[1] not in text and fake.admin_key not in text


def test_needs_the_admin_token_and_reports_server_errors(tmp_path, keys):
    sa = keys.gcp_service_account()
    finding = leaked_key_file(tmp_path, sa)
    fake = iam_holding(sa, fail_first=10)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = for_revocation(Context(http=http, settings=Settings(env={"KEYSWEEP_GCP_BASE_URL": fake.base_url}),
                                         extra=known(finding)))
            plan = await revoker.plan(finding, ctx)
            assert any("KEYSWEEP_GCP_ADMIN_KEY" in need for need in plan.needs)
            missing = await revoker.revoke(plan, ctx)
            assert not missing.ok and "KEYSWEEP_GCP_ADMIN_KEY" in missing.detail and not missing.retryable
            ctx = gcp_context(http, fake, finding)
            failed = await revoker.revoke(await revoker.plan(finding, ctx), ctx)
            assert not failed.ok and failed.retryable and "503" in failed.detail, failed
            assert "\n" not in failed.detail

    with F.FakeProviders(gcp=fake):
        asyncio.run(scenario())
        assert fake.requests and sa.private_key_id in fake.active


def test_the_iam_endpoint_is_the_providers_own_setting_with_googles_default():
    from keysweep.providers.gcp import IAM, iam_url
    from keysweep.settings import base_url_env

    assert IAM.env == base_url_env("gcp") == "KEYSWEEP_GCP_BASE_URL"
    assert iam_url(Settings(env={})) == "https://iam.googleapis.com"
    assert iam_url(Settings(env={"KEYSWEEP_GCP_BASE_URL": "http://127.0.0.1:9/iam/"})) == "http://127.0.0.1:9/iam"


def test_a_404_is_googles_only_in_googles_error_body():
    from keysweep.http import Response
    from keysweep.revokers.gcp import google_not_found

    def answer(status, body):
        return Response(status, {}, body.encode(), "https://iam.googleapis.com/v1/x")

    assert google_not_found(answer(404, '{"error": {"code": 404, "message": "x", "status": "NOT_FOUND"}}'))
    assert not google_not_found(answer(404, "<html>Not Found</html>"))
    assert not google_not_found(answer(403, '{"error": {"code": 403, "message": "x", "status": "PERMISSION_DENIED"}}'))


def edited_key_file(keys, tmp_path):
    """A leaked private key whose key file names the id of another, live key of the same account
    (an edited file, or a hostile one planted to make a responder disable a production key)."""
    leaked, production = keys.gcp_service_account(), keys.gcp_service_account()
    document = json.loads(leaked.json_text)
    document.update(client_email=production.client_email, project_id=production.project_id,
                    private_key_id=production.private_key_id)
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(document, indent=2))
    finding = gcp_finding(leaked, path)
    finding.key_id = production.private_key_id
    finding.metadata = {"client_email": production.client_email, "project_id": production.project_id}
    return leaked, production, finding


def test_a_key_file_naming_another_keys_id_disables_nothing_and_verifies_unknown(tmp_path, keys):
    leaked, production, finding = edited_key_file(keys, tmp_path)
    fake = iam_holding(production)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = gcp_context(http, fake, finding)
            result = await revoker.revoke(await revoker.plan(finding, ctx), ctx)
            assert not result.ok and not result.retryable and result.detail.startswith("needs a person: "), result
            assert "not the leaked key" in result.detail and [c[0] for c in result.calls] == ["GET"]
            servers.call(lambda: fake.disabled.add(production.private_key_id))  # disabled or not: not its word
            return await verify_status(finding, ctx)

    with F.FakeProviders(gcp=fake) as servers:
        assert asyncio.run(scenario()) == "unknown"
        assert fake.revoke_calls[production.private_key_id] == 0
        assert production.private_key_id not in fake.deleted


def test_a_key_held_under_another_id_than_its_files_is_left_to_a_person(tmp_path, keys):
    """IAM holds no key under the file's id, but the account holds the leaked key's public half
    under another one: the key is not gone, and which id to disable is a person's call."""
    leaked, production, finding = edited_key_file(keys, tmp_path)
    real_id = "f" * 40
    fake = F.FakeGcpIam({real_id: (production.client_email, production.project_id)},
                        private_keys={real_id: leaked.private_key})
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = gcp_context(http, fake, finding)
            # IAM's NOT_FOUND for the file's id is not the leaked key's death: it lives under another.
            assert await verify_status(finding, ctx) == "unknown"
            return await revoker.revoke(await revoker.plan(finding, ctx), ctx)

    with F.FakeProviders(gcp=fake):
        result = asyncio.run(scenario())
    assert not result.ok and result.detail.startswith("needs a person: ") and real_id in result.detail, result
    assert fake.revoke_calls[real_id] == 0 and real_id not in fake.disabled


def test_a_deleted_key_whose_account_lists_no_key_is_dead_to_the_verifier_and_gone_to_the_revoker(tmp_path, keys):
    """IAM's NOT_FOUND for the key's id, and keys.list answering `{}` (Google omits an empty list):
    no key of the account holds the leaked key's public half. The verifier and the revoker read this
    the same way (one search of the account's keys): dead, and nothing left to disable."""
    sa = keys.gcp_service_account()
    finding = leaked_key_file(tmp_path, sa)
    fake = iam_holding(sa)
    fake.deleted.add(sa.private_key_id)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = gcp_context(http, fake, finding)
            assert await verify_status(finding, ctx) == "dead"
            return await revoker.revoke(await revoker.plan(finding, ctx), ctx)

    with F.FakeProviders(gcp=fake):
        result = asyncio.run(scenario())
    assert result.ok and "already deleted" in result.detail, result
    assert [c[:1] + c[2:] for c in result.calls] == [("GET", "404"), ("GET", "200")], result
    assert result.calls[1][1].endswith(f"/serviceAccounts/{sa.client_email}/keys")
    assert fake.revoke_calls[sa.private_key_id] == 0


def test_another_keys_disabled_flag_under_the_files_id_confirms_nothing(tmp_path, keys):
    """A resumed job asks confirm() before acting: IAM's key under the file's id being disabled is
    that key's state, not the leaked key's, unless it holds the leaked key's public half."""
    leaked, production, finding = edited_key_file(keys, tmp_path)
    fake = iam_holding(production)
    fake.disabled.add(production.private_key_id)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = gcp_context(http, fake, finding)
            return await revoker.confirm(finding, ctx)

    with F.FakeProviders(gcp=fake):
        assert asyncio.run(scenario()) is False


def test_a_finding_without_its_account_is_confirmed_through_its_key_file(tmp_path, keys):
    """A finding read back from the store may lack the account: confirm() reads it from the key
    file and asks the verifier with it, so a live key is not dead and a deleted one is."""
    sa = keys.gcp_service_account()
    fake = iam_holding(sa)
    finding = leaked_key_file(tmp_path, sa, metadata=False)
    revoker = available_revokers()["gcp"]

    async def scenario():
        async with fast_http() as http:
            ctx = gcp_context(http, fake, finding)
            before = await revoker.confirm(finding, ctx)
            assert (await revoker.revoke(await revoker.plan(finding, ctx), ctx)).ok
            return before, await revoker.confirm(finding, ctx)

    with F.FakeProviders(gcp=fake):
        assert asyncio.run(scenario()) == (False, True)
        assert sa.private_key_id in fake.deleted
