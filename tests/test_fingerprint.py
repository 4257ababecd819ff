"""Identity without the secret: SHA-256 fingerprint, stable finding id, redaction that never shows
the value."""

from __future__ import annotations

import hashlib
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from keysweep.fingerprint import ELLIPSIS, finding_id, redact, secret_sha256
from keysweep.scanner.rules import load_rules
from keysweep.testing.keygen import KeyGen

PREFIXES = sorted({rule.display_prefix for rule in load_rules() if rule.display_prefix})


def shown(redacted: str) -> int:
    return len(redacted.replace(ELLIPSIS, "", 1))


# Secrets are what a rule's `secret` group captured: never empty, never a redaction themselves
# (the placeholder filter rejects values containing an ellipsis).
secrets = st.text(min_size=1).filter(lambda s: ELLIPSIS not in s)
prefixes = st.one_of(st.text(max_size=20), st.sampled_from(PREFIXES))


@settings(max_examples=500)
@given(secret=secrets, prefix=prefixes)
@example(secret="sk-proj-abc", prefix="sk-proj-")
@example(secret="sk-", prefix="sk-")
@example(secret="AKIA", prefix="AKIA")
@example(secret="x" * 12, prefix="x" * 12)
def test_redaction_never_contains_the_secret(secret, prefix):
    redacted = redact(secret, prefix)
    assert secret not in redacted
    assert ELLIPSIS in redacted
    assert shown(redacted) <= len(secret) // 3


@given(prefix=st.sampled_from(PREFIXES), data=st.data())
def test_redaction_of_a_prefixed_secret_is_prefix_and_last_four(prefix, data):
    body = data.draw(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
                             min_size=4 * len(prefix) + 12, max_size=200))
    secret = prefix + body
    assert redact(secret, prefix) == f"{prefix}{ELLIPSIS}{secret[-4:]}"


@given(secret=secrets, prefix=st.text(max_size=10))
def test_a_prefix_the_secret_does_not_start_with_is_not_shown(secret, prefix):
    if prefix and not secret.startswith(prefix):
        assert redact(secret, prefix).startswith(ELLIPSIS)


def test_generated_keys_redact_to_prefix_and_tail():
    keys = KeyGen(7)
    for make, prefix in ((keys.openai_project, "sk-proj-"), (keys.anthropic, "sk-ant-api03-"),
                         (keys.github, "ghp_"), (keys.huggingface, "hf_")):
        secret = make()
        assert redact(secret, prefix) == prefix + ELLIPSIS + secret[-4:]


def test_pem_private_key_redaction_hides_the_key():
    keys = KeyGen(11)
    if not hasattr(keys, "private_key_pem"):
        return
    pem = keys.private_key_pem()
    redacted = redact(pem)
    assert pem not in redacted
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    # No run of 12 body characters survives.
    assert not any(body[i:i + 12] in redacted for i in range(0, len(body) - 12))


@given(secret=st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_secret_sha256_is_sha256_of_utf8(secret):
    assert secret_sha256(secret) == hashlib.sha256(secret.encode("utf-8")).hexdigest()


@given(provider=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20), secret=st.text(min_size=1))
def test_finding_id_is_stable_and_well_formed(provider, secret):
    digest = secret_sha256(secret)
    first = finding_id(provider, digest)
    assert re.fullmatch(r"f_[0-9a-f]{16}", first)
    assert finding_id(provider, digest) == first
    assert finding_id(provider + "x", digest) != first


def test_finding_id_is_the_same_across_versions():
    """Ids live in stores and .keysweepignore files: the formula must never change."""
    digest = hashlib.sha256(b"sk-proj-example").hexdigest()
    assert finding_id("openai", digest) == "f_" + hashlib.sha256(f"openai\0{digest}".encode()).hexdigest()[:16]
    assert finding_id("openai", "0" * 64) == "f_5a0a8062df67d1dc"
