"""Signed webhooks: with a signing secret, every notification carries X-Keysweep-Timestamp and
X-Keysweep-Signature-256 = sha256=HMAC(secret, timestamp + "." + body). The receiver here runs
the verification snippet docs/revocation.md gives, and rejects a tampered body, an old timestamp
and a wrong secret."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from keysweep.context import Context
from keysweep.http import HttpClient
from keysweep.models import Finding, Occurrence
from keysweep.remediation import notify
from keysweep.settings import Settings
from tests.conftest import PROJECT

SECRET = "whsec-test-only-0123456789"


def docs_verify():
    """The `verify` function of docs/revocation.md's snippet, as written there."""
    text = (PROJECT / "docs" / "revocation.md").read_text()
    [code] = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify(" in block]
    assert len(code.strip().splitlines()) <= 12  # the promised short snippet
    namespace: dict = {}
    exec(compile(code, "docs/revocation.md", "exec"), namespace)
    return namespace["verify"]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that accepts (204) only what the docs' check accepts (else 401),
    and keeps every request as received."""

    def __init__(self, secret: bytes) -> None:
        verify = docs_verify()
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = verify(secret, self.headers, raw)
                received.append({"headers": dict(self.headers), "body": raw, "accepted": ok})
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver(SECRET.encode())
    yield server
    server.close()


def finding() -> Finding:
    return Finding(id="f_0123456789abcdef", rule_id="huggingface.user-token", provider="huggingface",
                   secret_sha256="0" * 64, redacted="hf_…abcd", long_lived=True,
                   occurrences=[Occurrence(source="git", path="app/.env", line=3, repo="/srv/app", commit="c" * 40)])


def send(config: dict, env: dict) -> list[dict]:
    async def go():
        async with HttpClient() as http:
            return await notify.notify("revoked", finding(), Context(http=http, settings=Settings(config=config, env=env)))
    return asyncio.run(go())


def test_a_signed_notification_is_accepted_by_the_docs_check(receiver):
    before = int(time.time())
    sent = send({"notify": {"webhook_env": "HOOK", "format": "json"}}, {"HOOK": receiver.url,
                                                                          "KEYSWEEP_WEBHOOK_SECRET": SECRET})
    assert sent == [{"target": "default", "host": "127.0.0.1", "status": "204", "ok": True}]
    [request] = receiver.received
    assert request["accepted"] is True
    headers = request["headers"]
    timestamp = headers["X-Keysweep-Timestamp"]
    assert before <= int(timestamp) <= time.time()
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert headers["X-Keysweep-Signature-256"] == f"sha256={expected}"
    assert b'"finding": "f_0123456789abcdef"' in request["body"]
    assert SECRET not in repr(notify.targets_for(finding(), Settings(
        config={"notify": {"webhook_env": "HOOK"}}, env={"HOOK": receiver.url, "KEYSWEEP_WEBHOOK_SECRET": SECRET})))


def test_a_tampered_body_an_old_timestamp_and_a_wrong_secret_are_rejected(receiver):
    send({"notify": {"webhook_env": "HOOK", "format": "json"}}, {"HOOK": receiver.url, "KEYSWEEP_WEBHOOK_SECRET": SECRET})
    [original] = receiver.received
    body, headers = original["body"], {k: v for k, v in original["headers"].items()
                                       if k.startswith("X-Keysweep") or k == "Content-Type"}
    assert receiver.post(body, headers) == 204  # the same request again, still fresh: accepted
    tampered = body.replace(b'"event": "revoked"', b'"event": "found"')
    assert tampered != body
    assert receiver.post(tampered, headers) == 401
    old = str(int(time.time()) - 6 * 60)
    resigned_old = {**headers, "X-Keysweep-Timestamp": old,
                    "X-Keysweep-Signature-256": notify.signature(SECRET.encode(), old, body)}
    assert receiver.post(body, resigned_old) == 401
    wrong_secret = {**headers, "X-Keysweep-Signature-256": notify.signature(b"another secret", headers["X-Keysweep-Timestamp"], body)}
    assert receiver.post(body, wrong_secret) == 401
    unsigned = {"Content-Type": "application/json"}
    assert receiver.post(body, unsigned) == 401


def test_signing_secret_env_names_the_variable_per_target(receiver):
    config = {"notify": {"webhook_env": "HOOK", "signing_secret_env": "ACME_HOOK_SECRET",
                         "teams": {"ml": {"webhook_env": "ML_HOOK", "signing_secret_env": "ML_SECRET"}}}}
    env = {"HOOK": receiver.url, "ACME_HOOK_SECRET": SECRET, "KEYSWEEP_WEBHOOK_SECRET": "not this one"}
    assert send(config, env)[0]["ok"] is True
    assert receiver.received[-1]["accepted"] is True
    team_finding = finding()
    team_finding.owner = {"name": "alice", "team": "ml"}
    [target] = notify.targets_for(team_finding, Settings(config=config, env={"ML_HOOK": receiver.url, "ML_SECRET": "x"}))
    assert (target.name, target.secret) == ("team:ml", b"x")


def test_a_configured_secret_that_is_not_set_sends_nothing(receiver):
    sent = send({"notify": {"webhook_env": "HOOK", "signing_secret_env": "ACME_HOOK_SECRET"}}, {"HOOK": receiver.url})
    assert sent == [{"target": "default", "host": "127.0.0.1", "ok": False,
                     "status": "not sent: $ACME_HOOK_SECRET (signing_secret_env) is not set"}]
    assert receiver.received == []


def test_without_any_secret_notifications_go_unsigned(receiver):
    sent = send({"notify": {"webhook_env": "HOOK"}}, {"HOOK": receiver.url})
    assert sent[0]["status"] == "401"  # this receiver insists on a signature; the request went out unsigned
    [request] = receiver.received
    assert "X-Keysweep-Signature-256" not in request["headers"] and "X-Keysweep-Timestamp" not in request["headers"]


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    assert notify.signature(b"key", "1700000000", b'{"a": 1}') == \
        "sha256=" + hmac.new(b"key", b'1700000000.{"a": 1}', hashlib.sha256).hexdigest()
    assert notify.signed_headers(None, b"{}", 1.0) == {"Content-Type": "application/json"}
    assert notify.signed_headers(b"k", b"{}", 1700000000.9)["X-Keysweep-Timestamp"] == "1700000000"
