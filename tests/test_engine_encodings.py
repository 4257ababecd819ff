"""Keys in UTF-16/UTF-32 text and keys glued to escapes (percent-encoding, JSON `\\/`, HTML entities,
ANSI colour codes): found by both engines alike, at the right place, with a boundary that takes
nothing of the escape."""

from __future__ import annotations

import json

import pytest

from keysweep.scanner.engine import Engine, hyperscan_available
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources import looks_binary
from keysweep.scanner.unescape import escapes, unescaped_view
from keysweep.scanner.wide import decode_wide, sniff


def found(engine: Engine, content: bytes) -> list[tuple[str, str, int, bytes]]:
    return [(m.rule_id, m.secret, m.line, content[m.start:m.end]) for m in engine.scan(content)]


# -- UTF-16 / UTF-32 ----------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_wide_text_is_scanned_and_placed(engine, keys, encoding):
    key = keys.openai_project()
    text = f"# caf\u00e9 \U0001F600 settings\r\nDEBUG=1\r\nOPENAI_API_KEY={key}\r\n"
    content = text.encode(encoding)
    assert not looks_binary(content)

    [(rule_id, secret, line, span)] = found(engine, content)
    assert (rule_id, secret, line) == ("openai.project-key", key, 3)
    plain = encoding.replace("utf-16", "utf-16-le").replace("utf-32", "utf-32-le") if encoding in ("utf-16", "utf-32") \
        else encoding
    assert span.decode(plain) == key  # the offsets are the original bytes' (past the BOM, past the emoji)
    [match] = engine.scan(content)
    assert match.decoded_from == sniff(content)[0]


def test_binary_with_nuls_stays_binary():
    assert looks_binary(bytes(range(256)) * 40)
    assert looks_binary(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(4000))
    assert sniff(b"plain ascii text") is None


def test_wide_text_that_does_not_decode_is_binary():
    assert decode_wide(b"\xff\xfe" + b"\x00\xd8" * 8) is None  # lone surrogates


def test_placeholder_in_wide_text_is_not_reported(engine):
    assert found(engine, 'OPENAI_API_KEY = "sk-proj-your-api-key-here"\n'.encode("utf-16")) == []


# -- escapes around the key ---------------------------------------------------------------------
def test_percent_encoded_separator_is_not_part_of_the_key(engine, keys):
    key = keys.google_api_key()
    content = f"https://x.example/login?next=%2Fmaps%3Fkey%3D{key}%26z%3D3\n".encode()
    assert found(engine, content) == [("google.api-key", key, 1, key.encode())]


@pytest.mark.parametrize("code", ["\x1b[1;32m", "\\x1b[1;32m", "\\u001b[1;32m", "\\033[32m"])
def test_colour_code_glued_to_a_key(engine, keys, code):
    key = keys.google_api_key()
    content = f'print("{code}{key}{code[:-5]}[0m")\n'.encode()
    assert found(engine, content) == [("google.api-key", key, 1, key.encode())]


def test_notebook_output_with_colour_codes(engine, keys):
    key = keys.huggingface()
    notebook = {"cells": [{"outputs": [{"text": [f"\x1b[1;32mtoken: {key}\x1b[0m\n"]}]}]}
    content = json.dumps(notebook, indent=1).encode()  # ESC becomes \u001b in the JSON
    assert [(r, s) for r, s, _, _ in found(engine, content)] == [("huggingface.user-token", key)]


def test_aws_secret_with_json_slash_escapes(engine, keys):
    key_id, secret = keys.aws_access_key_id(), "ab/" + keys.chars(34) + "/+x"
    content = json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret}).replace("/", "\\/").encode()
    [match] = engine.scan(content)
    assert (match.rule_id, match.secret, match.key_id, match.decoded_from) == \
        ("aws.secret-access-key", secret, key_id, "json-escape")
    assert content[match.start:match.end] == secret.replace("/", "\\/").encode()


def test_html_entities_around_a_key(engine, keys):
    key = keys.mistral()
    content = f'<div data-config="{{&quot;mistral_api_key&quot;: &quot;{key}&quot;}}"></div>\n'.encode()
    assert found(engine, content) == [("mistral.api-key", key, 1, key.encode())]


def test_airflow_uri_gives_the_pair_with_the_secret_decoded(engine, keys):
    key_id = keys.aws_access_key_id()
    secret = "Ab/" + keys.chars(34) + "+Z1"
    quoted = secret.replace("/", "%2F").replace("+", "%2B")
    content = f"x=1\nAIRFLOW_CONN_AWS_DEFAULT=aws://{key_id}:{quoted}@/?region_name=eu-west-1\n".encode()
    [match] = engine.scan(content)
    assert (match.rule_id, match.secret, match.key_id, match.line, match.decoded_from) == \
        ("aws.access-key-pair-uri", secret, key_id, 2, "percent-encoding")
    assert content[match.start:match.end] == quoted.encode()


def test_session_credentials_are_one_short_lived_finding(engine, keys):
    key_id, secret = "ASIA" + keys.chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), keys.aws_secret_access_key()
    content = (f"[tmp]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
               f"aws_session_token = IQoJb3JpZ2luX2VjE{keys.chars(300)}\n").encode()
    [match] = engine.scan(content)
    assert (match.rule_id, match.secret, match.key_id) == ("aws.session-credentials", secret, key_id)
    assert not engine.by_id[match.rule_id].rule.long_lived


def test_long_term_pair_after_a_session_id_stays_long_term(engine, keys):
    session_id = "ASIA" + keys.chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    key_id, secret = keys.aws_access_key_id(), keys.aws_secret_access_key()
    content = (f"# old: {session_id}\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n").encode()
    [match] = engine.scan(content)
    assert (match.rule_id, match.key_id) == ("aws.secret-access-key", key_id)


def test_ordinary_percent_and_backslashes_change_nothing(engine):
    content = b'printf("%s %d%%\\n", name, 42);\nre = r"\\d+\\s"\nif a && b: pass\n'
    assert escapes(content) == [] and unescaped_view(content) is None


def test_view_maps_offsets_back():
    content = b"first line\nkey%3Dvalue%2Fx \x1b[1mbold\x1b[0m\nlast\n"
    view = unescaped_view(content)
    assert view.text == b"key=value/x bold"
    start = view.text.index(b"value")
    assert content[view.original_start(start):view.original_end(view.text.index(b"x"))] == b"value%2F"
    bold = view.text.index(b"bold")
    assert content[view.original_start(bold):view.original_end(bold + 4)] == b"bold"


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")
def test_hyperscan_escape_ends_give_the_same_escapes_as_looking():
    from keysweep.scanner.engine import ESCAPE_GATE
    from keysweep.scanner.unescape import escapes_ending_at

    engine = Engine(load_rules(), backend="hyperscan")
    content = (b"a%3Db%2F%7F%zz\\/x\\u002Fy\\u001b[1;32mz\\x1B[0m\x1b[m&#43;&#x2F;&amp;&quot;&#999;&bogus;"
               b"\\033[31m%%41 \\\\/ &&#61;\n" * 3)
    ends = engine._hs.scan(content).get(ESCAPE_GATE, [])
    assert escapes_ending_at(content, ends) == escapes(content) != []


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")
def test_escaped_lines_are_the_view_text(keys):
    """The text matched first (lines decoded from Hyperscan's ends, each line once per run) is the
    text of the view matches are placed from: asking it first never loses a match."""
    from keysweep.scanner.engine import ESCAPE_GATE
    from keysweep.scanner.unescape import EscapedLines

    engine = Engine(load_rules(), backend="hyperscan")
    content = (b"plain line\nurl=/a%2Fb%3Fc=1&amp;d=2\nno escape here\n"
               + f'msg="\\u001b[1;32m{keys.google_api_key()}\\u001b[0m" \\/x\n'.encode()
               + b"last %41%42 &#x2F; \x1b[mend")
    ends = engine._hs.scan(content)[ESCAPE_GATE]
    lines = EscapedLines()
    assert lines.text(content, ends) == unescaped_view(content).text
    assert lines.text(content, ends) == unescaped_view(content).text  # from the lines remembered


def test_remembered_quiet_lines_hide_no_key(engine, keys):
    """Escaped lines that showed nothing are not matched again; a key on a new line beside them is
    still found, every time."""
    quiet = b"see https://x.example/a%2Fb%2Fc?d%3De and &lt;div&gt;\n"
    key = keys.google_api_key()
    with_key = quiet + f"next=%2Fmaps%3Fkey%3D{key}\n".encode()
    for _ in range(2):
        assert found(engine, quiet) == []
        assert [(r, s) for r, s, _, _ in found(engine, with_key)] == [("google.api-key", key)]


def test_a_rule_reading_escapes_itself_keeps_its_match_as_written(engine, keys):
    """Slack's xoxd- cookie is URL-encoded and its rule matches it so: the unescaped view, which
    finds the same bytes decoded, neither replaces nor doubles that match."""
    cookie = "xoxd-" + "%2F".join(keys.chars(12) for _ in range(5)) + "%3D"
    content = f"SLACK_COOKIE={cookie}\n".encode()
    assert [(r, s, d) for r, s, _, d in found(engine, content)] == [("slack.session-cookie", cookie, cookie.encode())]
    [match] = engine.scan(content)
    assert match.decoded_from is None
