"""Values that are not keys, as data: every filter that tells a visibly fake value from a key is a
global allowlist of rules/placeholders.toml with examples (`rules check` runs them), vendors'
documentation keys included; none is written in code."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest

from keysweep.scanner.engine import Engine
from keysweep.scanner.rules import Rule, default_rules_dir, load_rules, self_test
from keysweep.testing.keygen import KeyGen

RULES = load_rules()
PLACEHOLDERS = default_rules_dir() / "placeholders.toml"


def global_allowlists():
    return [a for a in RULES[0].allowlists if a.examples]


def documentation_keys():
    [table] = [a for a in global_allowlists() if a.description.startswith("vendors' published documentation")]
    return table


def test_every_shipped_filter_is_a_global_allowlist_with_examples():
    assert self_test(RULES) == []
    descriptions = [a.description for a in global_allowlists()]
    for kind in ("run of one character", "EXAMPLE", "variable's name or a template", "placeholder, redacted",
                 "keyboard sequence", "ellipsis", "documentation example keys", "placeholder word",
                 "short period repeated"):
        assert any(kind in d for d in descriptions), kind
    with PLACEHOLDERS.open("rb") as file:
        assert [t["description"] for t in tomllib.load(file)["global_allowlists"]] == descriptions


def test_every_listed_documentation_key_has_an_example_a_rule_would_report():
    table = documentation_keys()
    bare = Engine([replace(r, allowlists=()) for r in RULES], backend="regex")
    for key in table.stopwords:
        lines = [line for line in table.examples if key in line.lower()]
        assert lines, key
        for line in lines:
            assert bare.scan(line.encode()), line


@pytest.mark.parametrize("line", [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    "AIRFLOW_CONN_AWS_DEFAULT=aws://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY@\n",
    '{"ok": true, "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", "token_type": "bot"}\n',
])
def test_documentation_keys_are_never_reported(engine, line):
    for encoding in ("utf-8", "utf-16"):
        assert engine.scan(line.encode(encoding)) == [], encoding


def test_a_random_secret_beside_a_documentation_key_id_is_documentation(engine):
    """`credential` target: the key id a match carries is searched too."""
    secret = KeyGen(7).aws_secret_access_key()
    assert engine.scan(f"AKIAIOSFODNN7EXAMPLE,{secret}\n".encode()) == []
    key_id = KeyGen(8).aws_access_key_id()
    [match] = engine.scan(f"{key_id},{secret}\n".encode())
    assert (match.key_id, match.secret) == (key_id, secret)


def test_a_random_key_in_an_env_example_is_still_reported(engine):
    key = KeyGen(11).anthropic()
    [match] = engine.scan(f"# .env.example: copy to .env\nANTHROPIC_API_KEY={key}\n".encode())
    assert match.secret == key


@pytest.mark.parametrize("value", ["${API_KEY}", "<your-api-key>", "{{api_key}}", "%(api_key)s"])
def test_template_syntax_is_no_key_for_an_imported_rule_that_admits_it(value):
    """No shipped rule's value holds template characters; an imported (gitleaks) rule's may."""
    loose = Rule(id="imported.loose", name="loose", provider="generic", description="any value after TOKEN=",
                 regex=r"TOKEN=(?P<secret>\S{8,60})", keywords=("token=",), examples=("x",),
                 negative_examples=("y",))
    [rule] = [replace(loose, allowlists=RULES[0].allowlists)]
    engine = Engine([rule], backend="regex")
    assert engine.scan(f"TOKEN={value}".encode()) == []
    assert Engine([loose], backend="regex").scan(f"TOKEN={value}".encode())
    random_value = KeyGen(3).chars(32)
    assert [m.secret for m in engine.scan(f"TOKEN={random_value}".encode())] == [random_value]


def test_no_fake_value_knowledge_is_left_in_code():
    """The engine applies allowlists only: without them, a documentation key is a finding."""
    bare = Engine([replace(r, allowlists=()) for r in RULES], backend="regex")
    assert bare.scan(b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    assert bare.scan(b"AWS Access Key ID [None]: AKIAIOSFODNN7EXAMPLE\n")


def test_an_example_another_allowlist_drops_fails_the_self_test():
    [words] = [a for a in global_allowlists() if a.description.startswith("a placeholder word")]
    [redacted] = [a for a in global_allowlists() if a.description.startswith("placeholder, redacted")]
    borrowed = replace(words, examples=redacted.examples[:1], negative_examples=())
    rules = [replace(r, allowlists=tuple(borrowed if a == words else a for a in r.allowlists)) for r in RULES
             if r.provider == "xai"]
    assert any("dropped by another allowlist, not by this one" in failure for failure in self_test(rules))
