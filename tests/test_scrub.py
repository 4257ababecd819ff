"""Secrets in error text: one scrubber takes every 8+ character run of a secret's body out of any
error, reason or evidence string, and provider hints are cut to what the redacted form shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keysweep.fingerprint import ECHO_RUN, ELLIPSIS, clip_hint, redact, redaction_prefix, scrub_secret, secret_body
from keysweep.scanner.rules import load_rules

PREFIXES = sorted({rule.display_prefix for rule in load_rules() if rule.display_prefix})
BODY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-_/+="


def runs(body: str) -> set[str]:
    return {body[i:i + ECHO_RUN] for i in range(len(body) - ECHO_RUN + 1)}


def leaked_runs(text: str, body: str) -> set[str]:
    return {run for run in runs(body) if run in text}


@st.composite
def secret_and_echo(draw):
    prefix = draw(st.one_of(st.just(""), st.sampled_from(PREFIXES)))
    body = draw(st.text(alphabet=BODY_ALPHABET, min_size=ECHO_RUN, max_size=80))
    secret = prefix + body
    pieces = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=len(body) - ECHO_RUN))
        end = draw(st.integers(min_value=start + ECHO_RUN, max_value=len(body)))
        pieces.append(draw(st.text(max_size=30)))  # any text around it, the marker's characters too
        pieces.append(body[start:end])
    pieces.append(draw(st.text(max_size=30)))
    return prefix, secret, "".join(pieces)


@settings(max_examples=400)
@given(case=secret_and_echo())
@example(case=("sk-proj-", "sk-proj-ABCDEFGHijklmnop", "key sk-proj-ABCDEFGH... is invalid"))
@example(case=("ghp_", "ghp_abcdefgh[…]12345678", "x abcdefgh[…]1234 y"))
def test_no_run_of_the_body_survives_scrubbing(case):
    prefix, secret, text = case
    body = secret_body(secret, prefix)
    assert leaked_runs(text, body)  # the generator did embed a piece of the key
    scrubbed = scrub_secret(text, secret, prefix)
    assert not leaked_runs(scrubbed, body)


@settings(max_examples=200)
@given(case=secret_and_echo())
def test_without_a_known_prefix_the_whole_value_is_the_body(case):
    _, secret, text = case
    assert not leaked_runs(scrub_secret(text, secret), secret)


@settings(max_examples=50, deadline=None)
@given(cases=st.lists(secret_and_echo(), min_size=1, max_size=6, unique_by=lambda case: case[1]),
       other=st.text(max_size=60))
def test_a_runs_scrub_is_scrubbing_with_each_value_read_in_turn(cases, other):
    """A revocation run scrubs every text with every value it has read (remediation.secrets.scrub,
    which keeps each value's runs and tests a text against all of them at once): the same text as
    scrub_secret with each value, in the order they were read; for the echo of the value just read
    (scrubbed first), of any other, of all of them and of none."""
    import asyncio
    from types import SimpleNamespace

    from keysweep.fingerprint import finding_id, redact, secret_sha256
    from keysweep.models import Finding
    from keysweep.remediation.secrets import scrub, secret_for

    values = {secret: prefix for prefix, secret, _ in cases}
    ctx = SimpleNamespace(extra={"secret_reader": lambda finding: next(
        v for v in values if secret_sha256(v) == finding.secret_sha256)}, store=None)
    for count, (prefix, secret, echo) in enumerate(cases, start=1):
        finding = Finding(id=finding_id("x", secret_sha256(secret)), rule_id="x", provider="x",
                          secret_sha256=secret_sha256(secret), redacted=redact(secret, prefix), long_lived=True)
        assert asyncio.run(secret_for(finding, ctx)) == secret
        for text in [echo, *(text for _, _, text in cases), "".join(text for _, _, text in cases), other]:
            expected = text
            for _prefix, read, _echo in cases[:count]:
                expected = scrub_secret(expected, read, redaction_prefix(redact(read, _prefix)))
            assert scrub(text, ctx) == expected


def test_prefix_and_suffix_echoes_are_removed_and_the_prefix_stays_readable():
    secret = "sk-proj-" + "Q7vT2mXk9LpR4sWd8NcB6yHf3JgZ1aEu"
    said = (f"Incorrect API key provided: {secret[:16]}***{secret[-8:]}. "
            f"You can find your API key at https://platform.openai.com/account/api-keys.")
    scrubbed = scrub_secret(said, secret, "sk-proj-")
    assert "Q7vT2mXk" not in scrubbed and secret[-8:] not in scrubbed
    assert scrubbed.startswith("Incorrect API key provided: sk-proj-[…]***[…].")
    assert "platform.openai.com/account/api-keys" in scrubbed


def test_a_short_echo_is_kept_and_text_without_the_key_is_unchanged():
    secret = "ghp_" + "aB3dE5gH7jK9mN1pQ3rS5tU7vW9xY1zA2bC4"
    assert scrub_secret("token ends in zA2bC4? no: 401 Bad credentials", secret, "ghp_") \
        == "token ends in zA2bC4? no: 401 Bad credentials"
    assert scrub_secret("", secret) == "" and scrub_secret("x", None) == "x"


def test_pem_body_echoed_on_one_line_is_removed_and_the_armour_kept():
    lines = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7Vf3pq9ZxYk2M", "Lr8sT4uWx1yZ0aB3cD5eF7gH9iJ2kL4m"]
    secret = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"
    said = "could not parse -----BEGIN PRIVATE KEY----- " + "".join(lines)[20:60] + " at offset 3"
    scrubbed = scrub_secret(said, secret)
    assert not leaked_runs(scrubbed, "".join(lines))
    assert "-----BEGIN PRIVATE KEY-----" in scrubbed


def test_redaction_prefix_is_the_shown_literal_prefix():
    assert redaction_prefix(redact("sk-proj-" + "x" * 40, "sk-proj-")) == "sk-proj-"
    assert redaction_prefix("…abcd") == "" and redaction_prefix(None) == ""


@given(hint=st.text(max_size=60), prefix=st.sampled_from(PREFIXES))
def test_a_clipped_hint_shows_no_more_than_the_redacted_form(hint, prefix):
    clipped = clip_hint(hint, prefix)
    if not hint:
        assert clipped == hint
        return
    shown, _, tail = clipped.partition(ELLIPSIS)
    assert shown in ("", prefix) and len(tail) <= 4


def test_provider_hints_are_cut_to_prefix_and_last_four():
    assert clip_hint("sk-ant-api03-R2D...igAA", "sk-ant-api03-") == f"sk-ant-api03-{ELLIPSIS}igAA"
    assert clip_hint("sk-proj-abcdEFGH********************wxYZ", "sk-proj-") == f"sk-proj-{ELLIPSIS}wxYZ"
    assert clip_hint("sk-abc...****", "sk-proj-") == ELLIPSIS


# -- a provider that echoes part of the key ---------------------------------------------------------
def echo_of(secret: str, prefix: str) -> str:
    """What careless providers and proxies say: the key's start and end (each shorter than the
    32-character runs the old scrubber removed)."""
    return f"starting {secret[:len(prefix) + 12]} and ending {secret[-10:]}"


def assert_no_run(text: str, secret: str, prefix: str) -> None:
    body = secret_body(secret, prefix)
    assert not leaked_runs(text, body), f"an 8+ character run of the key survived in: {text[:200]!r}"


def stored_text(db: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(db)
    rows = []
    for table in ("verifications", "revocations", "events", "audit_log", "owner_candidates"):
        try:
            rows.extend(conn.execute(f"SELECT * FROM {table}").fetchall())
        except sqlite3.OperationalError:
            continue
    return "\n".join(repr(row) for row in rows)


def test_a_verification_error_echoing_part_of_the_key_is_stored_and_printed_without_it(run, fake_api, monkeypatch,
                                                                                     tmp_path, keys):
    secret = keys.openai_project()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={secret}\n")
    db = tmp_path / "store.db"
    assert run("scan", "dir", tmp_path / "code", "--db", db).code == 1
    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    # An intermediary refusing the call, quoting the key it was given.
    fake_api.add("GET", "/openai/v1/models", status=403,
                 json={"message": f"key {echo_of(secret, 'sk-proj-')} is not allowed from this network"})

    result = run("verify", "--db", db, "--format", "json", "--ttl", "0")
    table = run("verify", "--db", db, "--ttl", "0")
    (finding,) = result.json()
    assert finding["verification"]["status"] == "unknown" and finding["verification"]["error"]
    for text in (result.stdout, result.stderr, table.stdout, table.stderr, stored_text(db)):
        assert_no_run(text, secret, "sk-proj-")


def test_a_revocation_refusal_echoing_part_of_the_key_is_stored_and_printed_without_it(run, fake_api, monkeypatch,
                                                                                     tmp_path, keys):
    secret = f"xoxb-{keys.chars(12, '0123456789')}-{keys.chars(12, '0123456789')}-{keys.chars(24)}"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "slack.env").write_text(f"SLACK_BOT_TOKEN={secret}\n")
    db = tmp_path / "store.db"
    assert run("scan", "dir", tmp_path / "code", "--db", db).code == 1
    monkeypatch.setenv("KEYSWEEP_SLACK_BASE_URL", fake_api.url + "/slack/api")
    refusal = {"ok": False, "error": f"token {echo_of(secret, 'xoxb-')} is not revocable"}
    fake_api.add("POST", "/slack/api/auth.revoke", json=refusal)
    fake_api.add("POST", "/slack/api/auth.test", json=refusal)

    result = run("revoke", "--all", "--execute", "--yes", "--db", db, "--format", "json", "--confirm-delay", "0")
    table = run("revoke", "--all", "--db", db)
    assert fake_api.seen("/slack/api/auth.revoke"), result
    assert "not revocable" in stored_text(db) or "refused" in stored_text(db), result
    for text in (result.stdout, result.stderr, table.stdout, table.stderr, stored_text(db)):
        assert_no_run(text, secret, "xoxb-")


@pytest.mark.parametrize("body", [
    lambda admin: {"detail": f"admin key {admin} is not valid here"},
    lambda admin: {"message": f"Invalid API key: {admin[:30]}"},
    lambda admin: {"error": f"bad bearer {echo_of(admin, 'sk-admin-')}"},
], ids=["detail", "message", "error-text"])
def test_a_refusal_quoting_the_admin_key_is_stored_and_printed_without_it(run, tmp_path, keys, monkeypatch, body):
    """A gateway in front of OpenAI refuses the delete with a 401 whose text quotes the admin key
    keysweep sent. The leaked key's own runs are scrubbed; the admin key is no value read in the run,
    so the refusal's text is not carried at all: only its status, and an error code when the answer
    has one. Was: up to 80 characters of the gateway's text, admin key included, in the job's error,
    the store, the summary and the owner's notification."""
    import json

    from tests.fakes import providers as fakes_module
    from tests.fakes.providers import FakeOpenAI, FakeProviders
    from tests.revoke_helpers import env_for, set_env, write_config

    value = keys.openai_project()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={value}\n")
    db = tmp_path / "store.db"
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    openai = FakeOpenAI([value])
    admin = openai.admin_key
    monkeypatch.setitem(fakes_module.INTERMEDIARY_REPLIES, "echo_401",
                        (401, "application/json", json.dumps(body(admin)).encode()))
    with FakeProviders(openai=openai) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        assert run("scan", "dir", tmp_path / "code", "--db", db).code == 1
        openai.intermediary, openai.intermediary_on = "echo_401", "revoke"
        done = run("revoke", "--all", "--execute", "--yes", "--db", db, "--config", config, "--confirm-delay", "0")
        json_run = run("revoke", "--all", "--db", db, "--config", config, "--format", "json")
    assert value in openai.active, "the gateway's 401 deleted nothing"
    assert "failed_permanent" in done.stdout and "credential rejected (HTTP 401)" in done.stdout, done
    for text in (done.stdout, done.stderr, json_run.stdout, stored_text(db)):
        assert_no_run(text, admin, "sk-admin-")
        assert_no_run(text, value, "sk-proj-")
