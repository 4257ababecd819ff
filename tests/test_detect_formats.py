"""Formats added for issue 12: the Azure 84-character key's Marvin32 checksum, and the Slack token
family beyond xoxb/xoxp/xapp (refresh, expiring, browser-session tokens) with honest verification
and revocation support."""

from __future__ import annotations

import asyncio

import pytest

from keysweep.providers.azure import cask_checksum, marvin32, valid_cask
from keysweep.providers.slack import VERIFIER
from keysweep.revokers.slack import SlackRevoker
from keysweep.scanner.engine import Engine
from keysweep.scanner.rules import load_rules
from keysweep.testing.keygen import KeyGen
from keysweep.verify.model import Credential
from tests.conftest import BACKENDS


def test_generated_azure_keys_carry_a_valid_checksum_and_any_changed_character_breaks_it():
    keys = KeyGen(84)
    for _ in range(50):
        key = keys.azure_openai_cask()
        assert valid_cask(key)
        for index in (0, 30, 57, 79, 80, 83):
            changed = key[:index] + ("A" if key[index] != "A" else "B") + key[index + 1:]
            assert not valid_cask(changed), index
    assert not valid_cask(keys.azure_openai_cask_bad_checksum())
    assert not valid_cask(key[:-1]) and not valid_cask(key + "A")


def test_marvin32_differs_with_seed_input_and_tail_length():
    """The tail (0-3 bytes after the last whole block) is hashed, not dropped."""
    seeds = {marvin32(b"abcd", seed) for seed in (0, 1, 2**32, 2**64 - 1)}
    tails = {marvin32(b"abcdefg"[:n], 7) for n in range(8)}
    assert len(seeds) == 4 and len(tails) == 8
    assert len(cask_checksum("A" * 80)) == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_azure_rule_reports_only_keys_whose_checksum_holds(backend, session_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    keys = KeyGen(5)
    good, bad = keys.azure_openai_cask(), keys.azure_openai_cask_bad_checksum()
    engine = Engine([r for r in load_rules() if r.provider == "azure"], backend=backend)
    found = {m.secret for m in engine.scan(f"AZURE_OPENAI_API_KEY={good}\nAZURE_OPENAI_API_KEY={bad}\n".encode())}
    assert found == {good}


def _verify(rule_id: str, secret: str):
    return asyncio.run(VERIFIER.verify(Credential("slack", rule_id, secret), ctx=None))


@pytest.mark.parametrize("rule_id, maker", [
    ("slack.refresh-token", "slack_refresh"), ("slack.client-token", "slack_client"),
    ("slack.session-cookie", "slack_cookie")])
def test_slack_credentials_that_auth_test_cannot_take_alone_verify_unknown_without_a_call(rule_id, maker):
    """ctx=None: any network call would fail; a NoFreeCheck answers `unknown` with the reason."""
    result = _verify(rule_id, getattr(KeyGen(3), maker)())
    assert result.status == "unknown" and "not checked" in result.error


def test_slack_revoker_supports_bearer_tokens_only():
    class Finding:
        provider = "slack"

        def __init__(self, rule_id):
            self.rule_id = rule_id

    revoker = SlackRevoker()
    for rule_id in ("slack.bot-token", "slack.rotating-bot-token", "slack.rotating-user-token"):
        assert revoker.supports(Finding(rule_id)), rule_id
    for rule_id in ("slack.refresh-token", "slack.client-token", "slack.session-cookie", "slack.webhook-url"):
        assert not revoker.supports(Finding(rule_id)), rule_id


def test_slack_expiring_tokens_go_to_auth_test():
    from keysweep.providers import slack

    assert VERIFIER._check_for(Credential("slack", "slack.rotating-bot-token", "xoxe.xoxb-1-x")) is slack._AUTH_TEST
    assert VERIFIER._check_for(Credential("slack", "slack.bot-token", "xoxb-1")) is slack._AUTH_TEST


# -- values that are not keys: the global allowlists (rules/placeholders.toml) ---------------------
def _global_allowlists():
    rules = load_rules()
    shared = [a for a in rules[0].allowlists if a.examples]
    assert shared and all(set(shared) <= set(r.allowlists) for r in rules if not r.allow_placeholders)
    return rules, shared


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_allowlists_drop_their_examples_and_keep_their_negatives_on_both_engines(
        backend, session_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    rules, shared = _global_allowlists()
    engine = Engine(rules, backend=backend)
    for allowlist in shared:
        for line in allowlist.examples:
            assert engine.scan(line.encode()) == [], line[:40]
        for line in allowlist.negative_examples:
            assert engine.scan(line.encode()), line[:40]


def test_an_allowlist_example_that_no_rule_would_find_fails_the_self_test():
    from dataclasses import replace

    from keysweep.scanner.rules import self_test

    rules, shared = _global_allowlists()
    useless = replace(shared[0], examples=("nothing to see here",), negative_examples=())
    rules = [replace(r, allowlists=(*r.allowlists, useless)) for r in rules if r.provider == "xai"]
    assert any("found by no rule" in failure for failure in self_test(rules))


def test_placeholder_words_inside_a_longer_word_are_kept():
    """`latest`, `contest`: a random key may hold them; only a word standing apart is a placeholder."""
    keys = KeyGen(9)
    engine = Engine(load_rules(), backend="regex")
    for word in ("latest", "Contest", "attestation", "protest"):
        key = f"xai-{keys.chars(30)}{word}{keys.chars(50 - len(word))}"
        assert [m.secret for m in engine.scan(f"XAI_API_KEY={key}".encode())] == [key], word
    for word in ("9test9", "Fake", "9EXAMPLE9", "Dummy"):
        key = f"xai-{keys.chars(30, 'abcdefghijkmnopqrstuvwxyz')}{word}{keys.chars(50 - len(word))}"
        assert engine.scan(f"XAI_API_KEY={key}".encode()) == [], word
