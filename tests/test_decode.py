"""Base64-encoded credentials: Kubernetes Secrets, base64 .env blobs, nested encodings. The finding
reports the decoded credential (its SHA-256) at the encoded value's place, `decoded_from="base64"`."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keysweep.scanner import decode
from keysweep.scanner.engine import Engine, hyperscan_available
from keysweep.scanner.rules import load_rules

RULES = load_rules()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- the pure functions ---------------------------------------------------------------------------
def test_runs_find_values_and_skip_short_ones():
    content = b"name: " + b64("a short one").encode() + b"\nvalue: " + b64("x" * 40).encode() + b"\n"
    found = [(content[s:e], enc) for s, e, enc in decode.runs(content)]
    assert found == [(b64("x" * 40).encode(), b64("x" * 40).encode())]


def test_wrapped_lines_are_joined_but_the_next_yaml_key_is_not():
    blob = base64.encodebytes(("KEY=" + "v" * 150 + "\n").encode()).decode()  # wraps at 76 columns
    content = "env: |\n" + "".join(f"  {line}\n" for line in blob.splitlines()) + "  OTHERKEY: plain\n"
    values = list(decode.decoded_values(content.encode()))
    assert len(values) == 1
    assert values[0].text == ("KEY=" + "v" * 150 + "\n").encode()


def test_binary_hex_and_identifiers_do_not_decode_to_text():
    for run in (b"0123456789abcdef" * 4, b"getAttributeNodeNSValueFromDocument", base64.b64encode(bytes(range(64)))):
        assert decode.decode_text(run) is None


def test_missing_padding_is_tolerated():
    encoded = b64("OPENAI_API_KEY=not-a-key-but-text").rstrip("=").encode()
    assert decode.decode_text(encoded) == b"OPENAI_API_KEY=not-a-key-but-text"


# -- through the engine ---------------------------------------------------------------------------
def test_kubernetes_secret_values_are_decoded(engine, keys):
    key = keys.openai_project()
    mistral = keys.mistral()
    content = (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: llm\ntype: Opaque\ndata:\n"
               f"  OPENAI_API_KEY: {b64(key)}\n  MISTRAL_API_KEY: {b64(mistral)}\n").encode()
    matches = {m.rule_id: m for m in engine.scan(content)}
    assert set(matches) == {"openai.project-key", "mistral.api-key"}
    openai = matches["openai.project-key"]
    assert openai.secret == key and openai.decoded_from == "base64" and openai.line == 7
    assert content[openai.start:openai.end] == b64(key).encode()
    assert hashlib.sha256(openai.secret.encode()).hexdigest() == hashlib.sha256(key.encode()).hexdigest()
    assert matches["mistral.api-key"].secret == mistral  # context from the line before the value


def test_aws_pair_in_a_secret_is_one_finding_with_its_account(engine, keys):
    key_id, secret = keys.aws_access_key_id(), keys.aws_secret_access_key()
    content = f"data:\n  aws_access_key_id: {b64(key_id)}\n  aws_secret_access_key: {b64(secret)}\n".encode()
    matches = engine.scan(content)
    assert [(m.rule_id, m.secret, m.key_id) for m in matches] == [("aws.secret-access-key", secret, key_id)]
    assert matches[0].metadata["account_id"].isdigit()


def test_a_base64_env_blob_yields_every_key(engine, keys):
    anthropic, token = keys.anthropic(), keys.github()
    blob = base64.encodebytes(f"ANTHROPIC_API_KEY={anthropic}\nGITHUB_TOKEN={token}\n".encode()).decode()
    content = ("variables:\n  ENV_FILE_B64: |\n" + "".join(f"    {line}\n" for line in blob.splitlines())).encode()
    found = {(m.rule_id, m.secret, m.decoded_from) for m in engine.scan(content)}
    assert found == {("anthropic.api-key", anthropic, "base64"), ("github.classic-pat", token, "base64")}


def test_nested_base64_docker_config(engine, keys):
    token = keys.github()
    auth = b64(f"ci-bot:{token}")
    config = '{"auths": {"ghcr.io": {"auth": "%s"}}}' % auth
    content = f"data:\n  .dockerconfigjson: {b64(config)}\n".encode()
    assert [(m.rule_id, m.secret) for m in engine.scan(content)] == [("github.classic-pat", token)]


def test_allow_marker_on_the_encoded_line_is_honoured(engine, keys):
    content = f"  OPENAI_API_KEY: {b64(keys.openai_project())}  # gitleaks:allow\n".encode()
    assert engine.scan(content) == []


def test_plain_and_encoded_copies_are_two_places_of_one_secret(engine, keys):
    key = keys.groq()
    content = f"GROQ_API_KEY={key}\nGROQ_B64={b64(key)}\n".encode()
    matches = engine.scan(content)
    assert [(m.line, m.decoded_from) for m in matches] == [(1, None), (2, "base64")]
    assert {m.secret for m in matches} == {key}


def test_decoding_can_be_turned_off(keys):
    content = f"OPENAI_API_KEY: {b64(keys.openai_project())}\n".encode()
    assert Engine(RULES, backend="regex", decode_base64=False).scan(content) == []


# -- the decode gate: what is decoded, and that Hyperscan's literal gate never skips such a value ---
def test_only_values_that_can_hold_a_keyword_are_scanned(engine, keys):
    """A decoded value is scanned when it holds a rule keyword (or its base64), or its line holds
    the keyword of a rule that reads context before the value; both backends decide alike."""
    key = keys.mistral()
    unnamed = f"data:\n  LLM_KEY: {b64(key)}\n".encode()               # nothing says Mistral
    named = f"data:\n  MISTRAL_API_KEY: {b64(key)}\n".encode()
    inside = f"blob: {b64('MISTRAL_API_KEY=' + key)}\n".encode()
    assert engine.scan(unnamed) == []
    assert [m.secret for m in engine.scan(named)] == [key]
    assert [m.secret for m in engine.scan(inside)] == [key]


def test_the_hyperscan_gate_opens_for_every_keyword_at_every_alignment():
    if not hyperscan_available():
        pytest.skip("no hyperscan")
    from keysweep.scanner.engine import CONTEXT_GATE, DECODE_GATE

    engine = Engine(RULES, backend="hyperscan")
    wanted = engine._decodable
    for variant in wanted.variants:
        for offset in range(3):
            text = b"#" * offset + variant + b" and some more text"
            assert wanted.wants(b"", text)
            assert DECODE_GATE in engine._hs.scan(base64.b64encode(text)), (variant, offset)
            twice = base64.b64encode(b"auth: " + base64.b64encode(text))
            if any(f in base64.b64encode(text) for f in wanted.nested):
                assert DECODE_GATE in engine._hs.scan(twice), (variant, offset)
    for keyword in wanted.context:
        assert CONTEXT_GATE in engine._hs.scan(b"  " + keyword.upper() + b": value\n")


def test_a_binary_value_before_a_text_one_does_not_hide_it():
    binary = base64.b64encode(bytes(range(200))).decode()
    wrapped = "\n  ".join(binary[i:i + 64] for i in range(0, len(binary), 64))
    text = b64("OPENAI_API_KEY=some text value")
    content = f"cert: |\n  {wrapped}\nVALUES={binary[:40]} {text}\n".encode()
    assert [v.text for v in decode.decoded_values(content)] == [b"OPENAI_API_KEY=some text value"]


def test_a_context_keyword_opens_only_its_lines_and_finds_what_the_whole_scan_finds(keys):
    """`together` is an English word: content holding it is searched for base64 values only on
    the lines holding it (no encoded literal opened the whole content), and finds the same."""
    legacy = keys.together_legacy()
    text = "\n".join([
        "# Put these together before the release.",
        "plain: " + b64("nothing to see here, just some words"),
        f"TOGETHER_API_KEY: {b64(legacy)}",
        "wrapped together: " + b64("api_key = " + legacy + " " * 40)[:76],
        b64("api_key = " + legacy + " " * 40)[76:],
        f"other: {b64(legacy)}",
    ]).encode()
    regex = Engine(RULES, backend="regex").scan(text)
    assert [(m.secret, m.line, m.decoded_from) for m in regex] == [(legacy, 3, "base64"), (legacy, 4, "base64")]
    if hyperscan_available():
        assert Engine(RULES, backend="hyperscan").scan(text) == regex


def test_runs_starting_in_a_span_are_those_of_the_whole_content_there():
    content = b"x = 1\nkey: " + base64.b64encode(b"a" * 60) + b"\nother: " + base64.b64encode(b"b" * 60) + b"\n"
    whole = list(decode.runs(content))
    line_start = content.index(b"key:")
    line_end = content.index(b"\n", line_start)
    assert list(decode.runs(content, line_start, line_end)) == [r for r in whole if line_start <= r[0] < line_end]
