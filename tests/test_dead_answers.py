"""`dead` only on the provider's own word: every verifier pins its provider's documented answer for
an invalid key as data, each documented example is judged dead, no generic error body (a proxy's,
a WAF's, an API gateway's) is any provider's dead answer, and docs/verify.md is generated from the
same data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keysweep.http import Response
from keysweep.verify import dead_answers_doc
from keysweep.verify.http_verifier import HttpVerifier, checks_of, judge

ANSWERS = list(dead_answers_doc.answers())
GENERIC_BODIES = [{"detail": "nope"}, {"error": "unauthorized"}, {"message": "Unauthorized"},
                  {"error": {"message": "Unauthorized", "type": "error"}}, {"errors": [{"message": "Unauthorized"}]},
                  {"title": "Unauthorized", "status": 401}, {"error": {"code": "unauthorized"}},
                  {"message": "401 Unauthorized: missing token"}, {"ok": False}, [], {},
                  # An OAuth gateway's token introspection (RFC 7662) for a token it does not know.
                  {"active": False}, {"active": False, "revoked": True},
                  # A key-checking gateway or middleware's answer for a key it does not know.
                  {"valid": False}, {"valid": False, "organization_id": None, "owner_id": None},
                  # An error envelope with the status as a number (OpenRouter's, Google's, a gateway's).
                  {"error": {"code": 401, "message": "Unauthorized"}},
                  # OpenRouter's own answer when no key arrived (a proxy stripped the header).
                  {"error": {"code": 401, "message": "No auth credentials found"}},
                  # Anthropic's own answer when no key arrived (a proxy stripped the header).
                  {"type": "error", "error": {"type": "authentication_error", "message": "x-api-key header is required"}},
                  # An Anthropic-compatible gateway's own authentication failure, in Anthropic's envelope.
                  {"type": "error", "error": {"type": "authentication_error", "message": "Authentication failed"}},
                  {"type": "error", "error": {"type": "authentication_error", "message": "Invalid bearer token"}},
                  # DeepSeek's own answer when no key arrived in its header (a proxy stripped it).
                  {"error": {"message": "Authentication Fails (auth header format should be Bearer sk-...)",
                             "type": "authentication_error", "param": None, "code": "invalid_request_error"}},
                  # An OpenAI-compatible gateway that got no key.
                  {"error": {"message": "API key required", "type": "authentication_error", "param": None,
                             "code": None}},
                  # An API gateway's stock answer (Kong's key-auth, a request id added).
                  {"message": "Unauthorized", "request_id": "c61f2f15feca71626a990e3740f99245"},
                  # Replicate's own answer when no token arrived (a proxy stripped the header).
                  {"title": "Unauthenticated", "detail": "You did not pass an authentication token", "status": 401},
                  # W&B's GraphQL 401 for a key that did not arrive or went to another host.
                  {"errors": [{"message": "user is not logged in"}]}]


def reply(status: int, body) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(body).encode(), "http://127.0.0.1/x")


@pytest.mark.parametrize("provider,check,answer", ANSWERS, ids=[f"{p}-{a.reason}-{a.status}" for p, _c, a in ANSWERS])
def test_each_documented_dead_answer_is_judged_dead(provider, check, answer):
    assert answer.matches(answer.status, answer.example), (provider, answer)
    assert answer.source.startswith("https://")
    if isinstance(check, HttpVerifier):
        verdict = judge(reply(answer.status, answer.example), "s" * 40, live=check.live, dead=check.dead,
                        restricted=check.restricted)
        assert verdict.status == "dead" and verdict.identity["dead_reason"], (provider, verdict)


@pytest.mark.parametrize("body", GENERIC_BODIES, ids=[json.dumps(b)[:30] for b in GENERIC_BODIES])
def test_no_generic_error_body_is_any_providers_dead_answer(body):
    for provider, check, answer in ANSWERS:
        for status in {answer.status, 400, 401, 403}:
            assert not answer.matches(status, body), (provider, answer, status)
            if isinstance(check, HttpVerifier):
                verdict = judge(reply(status, body), "s" * 40, live=check.live, dead=check.dead,
                                restricted=check.restricted)
                assert verdict.status == "unknown", (provider, status, body, verdict)


# Providers whose answers prove no key dead (each says why, in docs/verify.md): Mistral documents no
# 401 body, and its gateway's answer also comes for a live Codestral key (providers/mistral.py); W&B
# documents none, and its "user is not logged in" also means a key that never arrived (wandb.py).
NO_DOCUMENTED_DEAD_ANSWER = {"mistral", "wandb"}


def test_every_http_check_pins_a_dead_answer():
    for provider, verifier in dead_answers_doc.verifiers():
        for check in checks_of(verifier):
            if isinstance(check, HttpVerifier):
                if provider in NO_DOCUMENTED_DEAD_ANSWER:
                    assert not check.dead and check.reason, f"{provider} {check.path}: say why nothing is dead"
                else:
                    assert check.dead, f"{provider} {check.path}: no documented dead answer"


def test_a_status_alone_is_not_enough():
    """The documented status with someone else's body, or the documented body with another status."""
    for _provider, check, answer in ANSWERS:
        if isinstance(check, HttpVerifier) and answer.status != 200:
            assert not answer.matches(answer.status + 2, answer.example)


def test_docs_verify_md_lists_every_providers_dead_answer_and_is_not_stale():
    page = (Path(__file__).resolve().parents[1] / "docs" / "verify.md").read_text(encoding="utf-8")
    assert dead_answers_doc.START in page and dead_answers_doc.END in page
    assert dead_answers_doc.replace_section(page) == page, \
        "docs/verify.md is stale: run python -m keysweep.verify.dead_answers_doc"
