"""Google API keys (Gemini) end to end: owner by the API Keys API's lookupKey, revocation by deleting
the key (a long-running operation), confirmation by the Gemini verifier — against a local fake of
Google's documented API (tests/fakes/google_apikeys.py). What was deleted is asserted at the fake."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest

from keysweep.context import Context
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.http import HttpClient, RetryPolicy
from keysweep.models import Finding, Occurrence
from keysweep.providers import google as G
from keysweep.providers.admin_api import AdminApiError
from keysweep.remediation.services import for_revocation
from keysweep.revokers import available_revokers, revoker_for
from keysweep.settings import Settings
from tests.fakes.google_apikeys import FakeGoogleApiKeys
from tests.fakes.providers import FakeProviders

from .conftest import KEYSWEEP_BIN


def google_finding(value: str, rule_id: str = "google.api-key", key_id: str | None = None) -> Finding:
    digest = secret_sha256(value)
    return Finding(id=finding_id("google", digest), rule_id=rule_id, provider="google", secret_sha256=digest,
                   redacted=redact(value, value[:4]), long_lived=True, key_id=key_id,
                   occurrences=[Occurrence(source="dir", path="app.env", line=1,
                                           locator={"root": "/x", "path": "app.env"})])


async def no_wait(_seconds: float) -> None:
    return None


class Scenario:
    """A fake holding `keys`, findings for them, and a context whose re-reader knows the values."""

    def __init__(self, keys: list[str], **fake_kw) -> None:
        self.values = keys
        self.fake = FakeGoogleApiKeys(keys, **fake_kw)
        self.servers = FakeProviders(google=self.fake)
        self.findings = [google_finding(value) for value in keys]
        self.readable = {secret_sha256(value): value for value in keys}
        self.revoker = available_revokers()["google"]

    def context(self, http, env: dict[str, str] | None = None) -> Context:
        return for_revocation(Context(
            http=http, settings=Settings(env=self.fake.env() if env is None else env), sleep=no_wait,
            extra={"secret_reader": lambda finding: self.readable.get(finding.secret_sha256),
                   "_findings": {f.id: f for f in self.findings}}))

    def at_fake(self, read):
        return self.servers.call(read)

    def run(self, scenario) -> None:
        async def main():
            async with HttpClient(policy=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05),
                                  default_rate=1000) as http:
                await scenario(http)

        with self.servers:
            asyncio.run(main())


def outcomes(result) -> list[tuple[str, str]]:
    """(method, path after /v2/ or the host) of each recorded call, with its outcome."""
    return [(method, outcome) for method, _target, outcome in result.calls]


# -- owner: lookupKey ---------------------------------------------------------------------------------
def test_lookup_maps_the_full_key_to_its_project_and_name_and_owner_facts(keys):
    value, other = keys.google_api_key(), keys.google_api_key()
    s = Scenario([value, other], display_names={value: "checkout-service gemini"})

    async def scenario(http):
        ctx = s.context(http)
        entry = await G.lookup_key(value, ctx)
        name = s.fake.name_of(value)
        assert entry["name"] == entry["id"] == name and entry["parent"] == "projects/123456789012"
        assert "keyString" not in entry
        facts = G.owner_facts(entry)
        assert facts["team"] == "projects/123456789012" and facts["purpose"] == "checkout-service gemini"
        assert facts["details"]["key_name"] == name
        assert facts["details"]["api_targets"] == ["generativelanguage.googleapis.com"]
        assert name in facts["evidence"] and value not in json.dumps(facts)
        # A key Google does not know, and a purged one (lookupKey then sets no name): no owner entry.
        assert await G.lookup_key(keys.google_api_key(), ctx) is None
        s.at_fake(lambda: s.fake.purge(other))
        assert await G.lookup_key(other, ctx) is None

    s.run(scenario)
    assert s.fake.lookups[value] == 1, "the full key string is what Google looks up"
    assert not any(value in path for _method, path in s.fake.requests), "the key never appears in a logged path"


@pytest.mark.parametrize("odd", ["403", "html_401", "no_token"])
def test_lookup_failures_are_one_line_errors_without_the_key(keys, odd):
    value = keys.google_api_key()
    s = Scenario([value])

    async def scenario(http):
        env = s.fake.env()
        if odd == "403":
            s.at_fake(lambda: s.fake.fail("lookup", 403))
        elif odd == "html_401":
            s.fake.intermediary, s.fake.intermediary_on = "html_401", "revoke"
        else:
            env.pop("KEYSWEEP_GCP_ADMIN_KEY")
        with pytest.raises(AdminApiError) as raised:
            await G.lookup_key(value, s.context(http, env))
        message = str(raised.value)
        expected = {"403": "PERMISSION_DENIED", "html_401": "not Google's error body",
                    "no_token": "KEYSWEEP_GCP_ADMIN_KEY"}
        assert expected[odd] in message and "\n" not in message and value not in message

    s.run(scenario)


# -- revocation --------------------------------------------------------------------------------------
def test_plan_is_silent_delete_waits_for_the_operation_and_confirm_verifies(keys):
    value, other = keys.google_api_key(), keys.google_api_key()
    s = Scenario([value, other], pending_polls=1)  # not done on the DELETE answer nor on the first poll
    finding = s.findings[0]
    assert s.revoker.supports(finding)
    assert revoker_for(finding, available_revokers()).name == "google", "chosen before the notify fallback"
    assert revoker_for(google_finding(keys.google_aq(), "google.api-key-aq"), available_revokers()).name == "google"

    async def scenario(http):
        ctx = s.context(http)
        plan = await s.revoker.plan(finding, ctx)
        assert s.at_fake(lambda: len(s.fake.requests)) == 0, "plan() sent a request"
        assert [c.method for c in plan.calls] == ["GET", "DELETE", "GET"]
        assert "30 days" in plan.calls[1].description and not plan.needs
        assert await s.revoker.confirm(finding, ctx) is False  # live before
        first = await s.revoker.revoke(plan, ctx)
        assert first.ok, first
        assert outcomes(first) == [("GET", "200"), ("DELETE", "200"), ("GET", "200"), ("GET", "200")]
        assert "30 days" in first.detail
        assert await s.revoker.confirm(finding, ctx) is True
        again = await s.revoker.revoke(plan, ctx)
        assert again.ok and "already deleted" in again.detail, again
        assert [m for m, _ in outcomes(again)] == ["GET", "GET"], "a second attempt reads, it does not delete"
        text = json.dumps([first.calls, again.calls, first.detail, again.detail])
        assert value not in text and s.fake.admin_key not in text

    s.run(scenario)
    name = s.fake.name_of(value)
    assert name in s.fake.deleted and s.fake.delete_requests[name] == 1 and s.fake.effective[value] == 1
    assert other in s.fake.active and s.fake.name_of(other) not in s.fake.deleted, "only the planned key"


def test_a_deletion_still_running_is_polled_again_never_deleted_twice(keys):
    value = keys.google_api_key()
    s = Scenario([value], pending_polls=1000)

    async def scenario(http):
        ctx = s.context(http)
        plan = await s.revoker.plan(s.findings[0], ctx)
        running = await s.revoker.revoke(plan, ctx)
        assert not running.ok and running.busy and running.retry_after and "still deleting" in running.detail
        assert value in s.at_fake(lambda: set(s.fake.active))
        s.at_fake(lambda: [op.update(_polls=0) for op in s.fake.operations.values()])
        done = await s.revoker.revoke(plan, ctx)
        assert done.ok, done
        assert "DELETE" not in [m for m, _ in outcomes(done)], "the recorded operation is polled instead"

    s.run(scenario)
    assert s.fake.delete_requests[s.fake.name_of(value)] == 1 and s.fake.effective[value] == 1


@pytest.mark.parametrize("odd, expect", [
    ("lookup_403", "needs a person"),
    ("delete_403", "needs a person"),
    ("html_401", "not Google's error body"),
    ("operation_permission_denied", "needs a person"),
])
def test_refusals_need_a_person_and_delete_nothing(keys, odd, expect):
    value = keys.google_api_key()
    s = Scenario([value])

    async def scenario(http):
        if odd == "lookup_403":
            s.at_fake(lambda: s.fake.fail("lookup", 403))
        elif odd == "delete_403":
            s.at_fake(lambda: s.fake.fail("delete", 403))
        elif odd == "html_401":
            s.fake.intermediary, s.fake.intermediary_on = "html_401", "revoke"
        else:
            s.at_fake(lambda: s.fake.operation_errors.append({"code": 7, "message": "Permission denied."}))
        ctx = s.context(http)
        result = await s.revoker.revoke(await s.revoker.plan(s.findings[0], ctx), ctx)
        assert not result.ok and not result.retryable and not result.busy, result
        assert expect in result.detail and value not in result.detail

    s.run(scenario)
    assert value in s.fake.active and not s.fake.deleted


@pytest.mark.parametrize("odd", ["delete_429", "delete_503", "operation_unavailable"])
def test_busy_answers_are_retried_then_the_key_is_deleted_once(keys, odd):
    value = keys.google_api_key()
    s = Scenario([value])

    async def scenario(http):
        if odd == "operation_unavailable":
            s.at_fake(lambda: s.fake.operation_errors.append({"code": 14, "message": "The service is unavailable."}))
        else:  # more than the client's own attempts, so the revoker sees it
            s.at_fake(lambda: s.fake.fail("delete", *[int(odd[-3:])] * 2))
        ctx = s.context(http)
        plan = await s.revoker.plan(s.findings[0], ctx)
        busy = await s.revoker.revoke(plan, ctx)
        assert not busy.ok and busy.busy and busy.retryable, busy
        if odd == "delete_429":
            assert busy.retry_after == pytest.approx(0.05), "Google's Retry-After is kept"
        assert value in s.at_fake(lambda: set(s.fake.active))
        done = await s.revoker.revoke(plan, ctx)
        assert done.ok, done

    s.run(scenario)
    assert s.fake.effective[value] == 1
    # A failed operation deleted nothing, so deleting again is the only way; otherwise one DELETE got through.
    accepted = sum(1 for op in s.fake.operations.values() if "response" in op)
    assert accepted == 1


def test_unproven_bindings_delete_nothing(keys):
    value, foreign, stale = keys.google_api_key(), keys.google_api_key(), keys.google_api_key()
    s = Scenario([value, stale])
    s.fake.active.add(foreign)  # works at Gemini, unknown to this organisation's API Keys API
    foreign_finding = google_finding(foreign)
    s.findings.append(foreign_finding)
    s.readable[foreign_finding.secret_sha256] = foreign

    async def scenario(http):
        ctx = s.context(http)
        # Another organisation's key: lookupKey says NOT_FOUND and the key is live: a person decides.
        result = await s.revoker.revoke(await s.revoker.plan(foreign_finding, ctx), ctx)
        assert not result.ok and "another organisation" in result.detail, result
        # A stored key name that is not the one Google maps the value to.
        wrong = google_finding(value, key_id=s.fake.name_of(stale))
        s.findings.append(wrong)
        result = await s.revoker.revoke(await s.revoker.plan(wrong, ctx), ctx)
        assert not result.ok and "stored key name" in result.detail, result
        # A value that can no longer be re-read (a new run: values are remembered per run): nothing is looked up.
        s.readable.pop(s.findings[0].secret_sha256)
        ctx = s.context(http)
        before = s.at_fake(lambda: sum(s.fake.lookups.values()))
        result = await s.revoker.revoke(await s.revoker.plan(s.findings[0], ctx), ctx)
        assert not result.ok and "can no longer be re-read" in result.detail
        assert s.at_fake(lambda: sum(s.fake.lookups.values())) == before
        # No credential: nothing is sent.
        env = {k: v for k, v in s.fake.env().items() if k != "KEYSWEEP_GCP_ADMIN_KEY"}
        plan = await s.revoker.plan(s.findings[1], s.context(http, env))
        assert plan.needs and "KEYSWEEP_GCP_ADMIN_KEY" in plan.needs[0]
        result = await s.revoker.revoke(plan, s.context(http, env))
        assert not result.ok and not result.calls and "KEYSWEEP_GCP_ADMIN_KEY" in result.detail

    s.run(scenario)
    assert not s.fake.deleted and not sum(s.fake.delete_requests.values())


def test_a_restored_key_is_deleted_again(keys):
    """keys.undelete within 30 days brings a key back: a later attempt sees it (GET 200) and deletes it."""
    value = keys.google_api_key()
    s = Scenario([value])

    async def scenario(http):
        ctx = s.context(http)
        plan = await s.revoker.plan(s.findings[0], ctx)
        assert (await s.revoker.revoke(plan, ctx)).ok
        s.at_fake(lambda: s.fake.undelete(value))
        assert await s.revoker.confirm(s.findings[0], ctx) is False
        again = await s.revoker.revoke(plan, ctx)
        assert again.ok and "DELETE" in [m for m, _ in outcomes(again)], again
        assert await s.revoker.confirm(s.findings[0], ctx) is True

    s.run(scenario)
    assert s.fake.delete_requests[s.fake.name_of(value)] == 2


def test_the_apikeys_endpoint_is_its_own_setting():
    record = G.PROVIDER
    assert record.endpoints["apikeys"].env == "KEYSWEEP_GCP_APIKEYS_BASE_URL"
    assert G.apikeys_url(Settings(env={})) == "https://apikeys.googleapis.com"
    assert G.apikeys_url(Settings(env={"KEYSWEEP_GCP_APIKEYS_BASE_URL": "http://127.0.0.1:9/"})) == "http://127.0.0.1:9"
    assert record.admin_key_env == "KEYSWEEP_GCP_ADMIN_KEY"
    assert G.admin_token(Settings(env={"KEYSWEEP_GCP_ADMIN_KEY": "ya29.t"})) == "ya29.t"
    assert "google" in record.revokers


# -- the whole loop, as a user runs it --------------------------------------------------------------
@pytest.fixture
def leaked_repo(tmp_path, keys, monkeypatch):
    value, bystander = keys.google_api_key(), keys.google_api_key()
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "gemini.env").write_text(f"GEMINI_API_KEY={value}\n")
    fake = FakeGoogleApiKeys([value, bystander], display_names={value: "checkout gemini"}, pending_polls=1)
    with FakeProviders(google=fake) as servers:
        env = {"KEYSWEEP_DB": str(tmp_path / "k.db"), **fake.env()}
        for name, setting in env.items():
            monkeypatch.setenv(name, setting)
        yield SimpleNamespace(value=value, bystander=bystander, leak=leak, fake=fake, servers=servers, env=env,
                              root=tmp_path)


def _quiet(result, *secrets: str) -> None:
    text = result.stdout + result.stderr
    assert not [s for s in secrets if s in text], "a secret reached the terminal"
    assert "Traceback" not in text, result


def test_scan_dry_run_execute_gone_at_the_fake_and_confirmed(leaked_repo, run):
    r = leaked_repo
    fake, name = r.fake, r.fake.name_of(r.value)
    scan = run("scan", "dir", str(r.leak))
    assert scan.code == 1, scan
    # Owners: lookupKey of the re-read value names the key; its project is the team, its display name
    # the purpose, and its resource name becomes the finding's key id (an exact binding).
    owners = run("owners", "--format", "json")
    _quiet(owners, r.value, fake.admin_key)
    assert owners.code == 0, owners
    (finding,) = run("findings", "--format", "json").json()
    owner = finding["owner"]
    assert (owner["source"], owner["team"], owner["purpose"]) == ("google-admin", "projects/123456789012",
                                                                  "checkout gemini"), owner
    assert finding["key_id"] == name
    # Dry run by default: the plan names the calls, and nothing reaches Google.
    dry = run("revoke", "--provider", "google")
    _quiet(dry, r.value, fake.admin_key)
    assert dry.code == 0, dry
    assert "keys:lookupKey" in dry.stdout and "30 days" in dry.stdout and name in dry.stdout
    lookups = r.servers.call(lambda: list(fake.requests))
    assert lookups == [("GET", "/v2/keys:lookupKey"), ("GET", f"/v2/{name}")], "only the owner lookup so far"
    done = run("revoke", "--provider", "google", "--execute", "--confirm-delay", "0.01", "--format", "json")
    _quiet(done, r.value, fake.admin_key)
    assert done.code == 0, done
    assert [j["state"] for j in done.json()["jobs"]] == ["confirmed"], done
    assert r.servers.call(lambda: fake.requests[len(lookups)][0]) == "GET", "the value is looked up again first"
    state = r.servers.call(lambda: (dict(fake.deleted), dict(fake.delete_requests), set(fake.active)))
    assert name in state[0] and state[1] == {name: 1}, "gone at Google, deleted once"
    assert state[2] == {r.bystander}
    (finding,) = run("findings", "--format", "json").json()
    assert finding["verification"]["status"] == "dead" and finding["remediation"]["state"] == "confirmed"
    # A second run does nothing more at Google.
    again = run("revoke", "--provider", "google", "--execute", "--confirm-delay", "0.01")
    _quiet(again, r.value, fake.admin_key)
    assert r.servers.call(lambda: dict(fake.delete_requests)) == {name: 1}


def test_a_run_killed_while_google_deletes_resumes_without_deleting_twice(leaked_repo, run):
    r = leaked_repo
    fake, name = r.fake, r.fake.name_of(r.value)
    fake.pending_polls = 10_000  # the deletion runs until the test lets it finish
    assert run("scan", "dir", str(r.leak)).code == 1
    process = subprocess.Popen([str(KEYSWEEP_BIN), "revoke", "--provider", "google", "--execute", "--yes",
                                "--confirm-delay", "0.01"], env={**os.environ, **r.env}, cwd=r.root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    polls = lambda: sum(1 for method, path in fake.requests if path.startswith("/v2/operations/"))  # noqa: E731
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and r.servers.call(polls) < 1:
        assert process.poll() is None, "the run ended before Google was polled"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert r.servers.call(lambda: dict(fake.delete_requests)) == {name: 1}
    assert r.value in fake.active, "killed mid-deletion"
    def let_google_finish():
        fake.pending_polls = 0
        for operation in fake.operations.values():
            operation["_polls"] = 0

    r.servers.call(let_google_finish)
    resumed = run("revoke", "--resume", "--confirm-delay", "0.01", "--max-wait", "30s", "--format", "json")
    _quiet(resumed, r.value, fake.admin_key)
    assert resumed.code == 0, resumed
    assert [j["state"] for j in resumed.json()["jobs"]] == ["confirmed"], resumed
    assert r.servers.call(lambda: dict(fake.delete_requests)) == {name: 1}, "the recorded operation was polled"
    assert fake.effective[r.value] == 1 and name in fake.deleted
