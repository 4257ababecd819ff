"""The pure-`regex` engine's keyword prefilter (keysweep/scanner/keywords.py) answers exactly what
asking `keyword in content` for every keyword answers, and the engine selects the same rules as a
per-rule keyword check: overlapping keywords, one inside another, at either edge, regex
metacharacters, a keyword seen more often than the hit budget, and rules without keywords."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keysweep.scanner import keywords
from keysweep.scanner.engine import FULL, Engine
from keysweep.scanner.keywords import KeywordIndex
from keysweep.scanner.rules import load_rules
from tests.test_engines import build_corpus, hex_value, keywordless_rules


def naive(words, lowered: bytes) -> set[bytes]:
    return {k for k in words if k in lowered}


def naive_selection(engine: Engine, content: bytes) -> dict[int, None]:
    lowered = content.lower()
    return {i: FULL for i, c in enumerate(engine.rules) if not c.keywords or any(k in lowered for k in c.keywords)}


@pytest.fixture(scope="module")
def shipped():
    rules = load_rules()
    return rules, sorted({k for r in Engine(rules, backend="regex").rules for k in r.keywords})


def test_shipped_keywords_on_the_engines_corpus(shipped):
    rules, words = shipped
    index = KeywordIndex(words)
    corpus = build_corpus(rules)
    found = 0
    for content in corpus:
        lowered = content.lower()
        expected = naive(words, lowered)
        assert index.present(lowered) == expected, content[:200]
        found += len(expected)
    assert found > 300  # the corpus holds keywords: the comparison is not between two empty sets


def test_regex_engine_selects_what_a_per_rule_keyword_check_selects(shipped):
    rules, _ = shipped
    engine = Engine(rules, backend="regex")
    selected = 0
    for content in build_corpus(rules):
        expected = naive_selection(engine, content)
        assert engine.candidates(content) == expected
        selected += len(expected)
    assert selected > 300


EDGE_WORDS = [b"fal.ai", b"aiza", b"sk_", b"sk_live_", b"pcsk_", b"together(", b"x-api-key", b"a", b"zz",
              b"private key-----", b"\xc3\xa9t\xc3\xa9", b"ab", b"bab"]
EDGE_CONTENTS = [
    b"", b"fal.aiza", b"sk_live_", b"xsk_live_x", b"pcsk_", b"zzz", b"together(1)", b"together",
    b"begin private key-----", b"x-api-keyfal.ai", b"\xc3\xa9t\xc3\xa9", b"bab", b"abab", b"ba",
    b"aiz", b"fal.a", b"ai" * 50 + b"za", b"sk" * 10 + b"_",
]


@pytest.mark.parametrize("content", EDGE_CONTENTS)
def test_overlapping_nested_and_edge_keywords(content):
    assert KeywordIndex(EDGE_WORDS).present(content) == naive(EDGE_WORDS, content)


def test_a_keyword_seen_more_often_than_the_hit_budget_leaves_none_out():
    words = [b"sk_", b"zebra", b"q9x", b"hf_"]
    content = b"task_ " * (keywords.MAX_HITS * 3) + b"zebra hf_ q9x"
    assert KeywordIndex(words).present(content) == {b"sk_", b"zebra", b"q9x", b"hf_"}
    assert KeywordIndex(words).present(b"task_ " * (keywords.MAX_HITS * 3) + b"zebr") == {b"sk_"}


def test_no_keywords_finds_nothing():
    assert KeywordIndex([]).present(b"anything at all") == set()


PIECES = st.sampled_from([b"a", b"b", b"k", b"_", b"-", b".", b"(", b"8", b"z", b"q", b"\x00", b"\xff", b" "])


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.lists(PIECES, min_size=1, max_size=6).map(b"".join), min_size=1, max_size=12),
       content=st.lists(PIECES, max_size=80).map(b"".join))
def test_any_keywords_any_content(words, content):
    assert KeywordIndex(words).present(content) == naive(words, content)


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.lists(PIECES, min_size=1, max_size=6).map(b"".join), min_size=1, max_size=12),
       seed=st.integers(0, 2**32))
def test_contents_made_of_the_keywords(words, seed):
    rng = random.Random(seed)
    content = b"".join(rng.choice(words + [b" ", b"k"]) for _ in range(rng.randint(0, 40)))
    assert KeywordIndex(words).present(content) == naive(words, content)


def test_a_rule_without_keywords_is_always_confirmed():
    engine = Engine(keywordless_rules(), backend="regex", decode_base64=False)
    content = b"nothing = 'zq" + hex_value(30, 1) + b"'\n"
    assert engine.candidates(content) == {1: FULL}
    assert [m.rule_id for m in engine.scan(content)] == ["custom.bare"]
    both = content + b"TAG" + hex_value(24, 2) + b"\n"
    assert engine.candidates(both) == {0: FULL, 1: FULL}
    assert [m.rule_id for m in engine.scan(both)] == ["custom.bare", "custom.tagged"]
