"""One HTTP stack: every remote call keysweep makes goes through keysweep/http.py's HttpClient (one
retry loop, one throttle per host, a body cap, no redirects followed); GitHub's 403 rate-limit
answers are waited out by that same loop; the forge readers that re-read CI variables use the
run's client when the caller has one, and a client of their own otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keysweep.http import HttpClient, Response, RetryPolicy, Throttle, rate_limited
from keysweep.settings import Settings
from tests.fakes.api import Reply
from tests.fakes.keyvault import self_signed
from tests.fakes.serving import ThreadedApp

TOKEN = "ghp_faketesttoken_not_a_real_token_000000"
VALUE = "sk-proj-" + "a1B2c3D4" * 6
VARIABLE_PATH = "/repos/acme/api/actions/variables/OPENAI_API_KEY"


def client(**kwargs) -> HttpClient:
    async def no_sleep(delay: float) -> None:
        pass

    return HttpClient(timeout=5.0, policy=RetryPolicy(attempts=3, base_delay=0.0), sleep=no_sleep, **kwargs)


def answers(*replies: Reply):
    """A route answering each reply once, in order, then the last one for ever."""
    queue = list(replies)

    def route(_seen):
        return queue.pop(0) if len(queue) > 1 else queue[0]
    return route


RATE_LIMITED = Reply(status=403, json={"message": "API rate limit exceeded"},
                     headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"})
REFUSED = Reply(status=403, json={"message": "Resource not accessible by integration"})


def test_rate_limited_says_which_403s_and_429s_are_rate_limits():
    def response(status, **headers):
        from multidict import CIMultiDict
        return Response(status, CIMultiDict(headers), b"", "http://x")

    assert rate_limited(response(403, **{"x-ratelimit-remaining": "0"}))
    assert rate_limited(response(403, **{"Retry-After": "1"}))          # GitHub's secondary limits
    assert rate_limited(response(429, **{"RateLimit-Remaining": "0"}))  # GitLab
    assert not rate_limited(response(403))
    assert not rate_limited(response(403, **{"X-RateLimit-Remaining": "12"}))
    assert not rate_limited(response(401, **{"X-RateLimit-Remaining": "0"}))


@pytest.mark.parametrize("opt_in, first, expected_status, expected_requests", [
    (True, RATE_LIMITED, 200, 2),   # a forge listing waits the limit out in the one loop
    (False, RATE_LIMITED, 403, 1),  # elsewhere (verifiers, revokers) a 403 is an answer
    (True, REFUSED, 403, 1),        # a plain refusal is never retried
])
def test_the_one_retry_loop_waits_out_a_rate_limit_403_only_when_asked(fake_api, opt_in, first, expected_status,
                                                                        expected_requests):
    fake_api.add("GET", "/limited", answers(first, Reply(json={"ok": True})))

    async def main():
        async with client() as http:
            return await http.request("GET", fake_api.url + "/limited", retry_rate_limited=opt_in)

    assert asyncio.run(main()).status == expected_status
    assert len(fake_api.seen("/limited")) == expected_requests


# -- the forge readers ----------------------------------------------------------------------------
def forge_settings(fake_api) -> Settings:
    return Settings(env={"GITHUB_API_URL": fake_api.url, "GITHUB_TOKEN": TOKEN})


def locator(fake_api) -> dict:
    return {"host": fake_api.url.split("//")[1], "repo": "acme/api", "variable": "OPENAI_API_KEY"}


def test_a_github_variable_is_reread_through_the_runs_client_and_its_retry_loop(fake_api):
    from keysweep.scanner.sources.readers import read_github_variable

    fake_api.add("GET", VARIABLE_PATH, answers(Reply(status=503, body="busy"), RATE_LIMITED,
                                               Reply(json={"name": "OPENAI_API_KEY", "value": VALUE})))

    async def main():
        async with client() as http:
            value = await read_github_variable(locator(fake_api), forge_settings(fake_api), http=http)
            return value, http.requests_sent

    value, sent = asyncio.run(main())
    assert value == f"OPENAI_API_KEY={VALUE}".encode()
    assert sent == 3  # counted by the run's client: a 503 and a rate-limit 403 retried, then the value
    assert {seen.header("Authorization") for seen in fake_api.seen(VARIABLE_PATH)} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("reply", [
    Reply(status=302, headers={"Location": "/elsewhere"}),       # a redirect is not followed
    Reply(json={"name": "OPENAI_API_KEY", "value": "x" * (2 * 1024 * 1024)}),  # over the readers' 1 MiB
    Reply(status=200, body="<html>proxy</html>"),                 # not JSON
    REFUSED,
])
def test_a_forge_read_that_is_not_the_documented_answer_is_none(fake_api, reply):
    from keysweep.scanner.sources.readers import read_github_variable

    fake_api.add("GET", VARIABLE_PATH, reply)
    fake_api.add("GET", "/elsewhere", json={"name": "OPENAI_API_KEY", "value": VALUE})

    async def main():
        async with client() as http:
            return await read_github_variable(locator(fake_api), forge_settings(fake_api), http=http)

    assert asyncio.run(main()) is None
    assert fake_api.seen("/elsewhere") == []


def github_variable_finding(fake_api, value: str):
    from keysweep.fingerprint import secret_sha256
    from keysweep.models import ACCESS, Finding, Occurrence

    access = {"forge": "github", "api_url": fake_api.url, "token_env": "GITHUB_TOKEN"}
    occurrence = Occurrence(source="github-actions-variable", path=None, line=1,
                            locator={**locator(fake_api), ACCESS: access})
    return Finding(id="f_test", rule_id="openai.project-key", provider="openai", secret_sha256=secret_sha256(value),
                   redacted="sk-proj-…", long_lived=True, key_id=None, occurrences=[occurrence])


def test_rereader_fetch_uses_the_callers_client_and_read_works_with_or_without_a_loop(fake_api, keys):
    from keysweep.scanner.reread import Rereader

    value = keys.openai_project()
    fake_api.add("GET", VARIABLE_PATH, json={"name": "OPENAI_API_KEY", "value": value})
    finding = github_variable_finding(fake_api, value)
    settings = forge_settings(fake_api)

    async def fetched():
        async with client() as http:
            hit = await Rereader(settings=settings).fetch(finding, http)
            return hit, http.requests_sent

    hit, sent = asyncio.run(fetched())
    assert hit is not None and hit.secret == value and sent == 1

    assert Rereader(settings=settings).read(finding).secret == value  # no event loop here: one of its own

    async def read_inside_a_loop():  # a synchronous caller inside a running loop (a plugin, a revoker)
        return Rereader(settings=settings).read(finding)

    assert asyncio.run(read_inside_a_loop()).secret == value
    assert len(fake_api.seen(VARIABLE_PATH)) == 3


def test_no_second_http_stack_in_the_package():
    """urllib.request (or requests) in keysweep itself would be a second stack with its own retries,
    redirects and proxies (GitHub's repository listings go through keysweep.http too)."""
    package = Path(__file__).resolve().parent.parent / "keysweep"
    pattern = re.compile(r"^\s*(import|from)\s+(urllib\.request|urllib3|requests|httpx)\b", re.MULTILINE)
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


def test_a_revokers_secret_is_reread_through_the_contexts_client(fake_api, keys):
    """secret_for (what ctx.secrets answers revokers with) re-reads a CI variable through ctx.http."""
    from keysweep.context import Context
    from keysweep.remediation.secrets import secret_for

    value = keys.openai_project()
    fake_api.add("GET", VARIABLE_PATH, json={"name": "OPENAI_API_KEY", "value": value})
    finding = github_variable_finding(fake_api, value)

    async def main():
        async with client() as http:
            ctx = Context(http=http, settings=forge_settings(fake_api))
            return await secret_for(finding, ctx), http.requests_sent

    assert asyncio.run(main()) == (value, 1)


def _throttle(rate: float) -> tuple[Throttle, list[float]]:
    """A throttle on a clock that only moves when it sleeps; the list of its waits."""
    now, waits = [100.0], []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    return Throttle(rate, clock=lambda: now[0], sleep=sleep), waits


def test_the_throttle_holds_a_request_over_the_rate_until_a_place_frees():
    throttle, waits = _throttle(2)

    async def go():
        for _ in range(3):
            await throttle.acquire()

    asyncio.run(go())
    assert waits == [1.0]  # the third waited for the first's second to pass


def test_a_request_answered_304_gives_its_place_in_the_throttle_back():
    """GitHub does not count a 304 against the rate limit: neither does the per-host throttle."""
    throttle, waits = _throttle(2)

    async def go():
        await throttle.acquire()
        not_modified = await throttle.acquire()
        throttle.release(not_modified)
        await throttle.acquire()  # takes the 304's place at once
        assert waits == []
        await throttle.acquire()  # the window is full again: this one waits
        assert waits == [1.0]

    asyncio.run(go())


def test_a_rate_under_one_request_a_second_spaces_requests():
    throttle, waits = _throttle(0.5)

    async def go():
        await throttle.acquire()
        await throttle.acquire()

    asyncio.run(go())
    assert waits == [2.0]


class Hello(ThreadedApp):
    """Any path answers 200 {"ok": true}: over plain HTTP, or over HTTPS with an `ssl_context`."""

    async def handle(self, request):
        from aiohttp import web

        return web.json_response({"ok": True})


# Run in a fresh interpreter (the test process imported aiohttp long ago): counts every read of the
# system trust store, then GETs each URL in turn with one HttpClient and prints, after each answer,
# the status and how many times the trust store has been read so far.
TRUST_READS = """
import asyncio, json, ssl, sys
reads = []
read = ssl.SSLContext.set_default_verify_paths
def counted(context):
    reads.append(1)
    return read(context)
ssl.SSLContext.set_default_verify_paths = counted
from keysweep.errors import TransportError
from keysweep.http import HttpClient, RetryPolicy

async def main():
    seen = []
    async with HttpClient(timeout=10, policy=RetryPolicy(attempts=1)) as http:
        for url in sys.argv[1:]:
            try:
                seen.append([(await http.request("GET", url)).status, len(reads)])
            except TransportError as exc:
                seen.append(["verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else str(exc), len(reads)])
    return seen

print(json.dumps(asyncio.run(main())))
"""


def test_the_trust_store_is_read_once_at_the_first_https_request_and_never_for_plain_http(tmp_path):
    """aiohttp reads the CA bundle twice when imported (two default contexts); keysweep's client
    reads it once, just before its first TLS handshake, and a process that speaks only plain HTTP
    (a second sweep against a local forge) never reads it. Verification stays on: the bundle
    named by SSL_CERT_FILE is what is trusted, and a server it does not vouch for is refused."""

    server_context, cert = self_signed(tmp_path / "tls")
    plain, tls = Hello().start(), Hello(server_context).start()
    try:
        def reads(*urls, **env):
            done = subprocess.run([sys.executable, "-c", TRUST_READS, *urls], capture_output=True, text=True,
                                  timeout=60, env={**os.environ, **env})
            assert done.returncode == 0, done.stderr
            return [tuple(step) for step in json.loads(done.stdout)]

        assert reads(plain.url, plain.url, SSL_CERT_FILE=str(cert)) == [(200, 0), (200, 0)]
        assert reads(plain.url, tls.url, tls.url, plain.url, tls.url, SSL_CERT_FILE=str(cert)) == [
            (200, 0), (200, 1), (200, 1), (200, 1), (200, 1)]
        other = tmp_path / "other"
        _, stranger = self_signed(other)  # a bundle that does not hold the server's certificate
        assert reads(tls.url, tls.url, SSL_CERT_FILE=str(stranger)) == [("verify failed", 1), ("verify failed", 1)]
    finally:
        plain.stop()
        tls.stop()
