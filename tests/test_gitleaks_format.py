"""`--rules` accepts gitleaks / Betterleaks TOML: secretGroup, keywords, entropy, allowlists."""

from __future__ import annotations

import textwrap

import pytest

from keysweep.errors import RuleError
from keysweep.scanner import gitleaks_format
from keysweep.scanner.engine import Engine
from keysweep.scanner.rules import load_rule_file, load_rules

CONFIG = textwrap.dedent(r"""
    title = "acme secrets"

    [extend]
    useDefault = true

    [[rules]]
    id = "acme_internal_token"
    description = "Acme internal API token. Grants access to the billing API."
    regex = '''(?i)(acme[_-]?token)\s*[:=]\s*["']?(acm_[a-z0-9]{32})'''
    secretGroup = 2
    keywords = ["ACM_"]
    entropy = 3.0
    tags = ["internal"]

      [[rules.allowlists]]
      description = "test fixtures"
      regexes = ['''acm_0{32}''']
      stopwords = ["testtesttest"]

    [[rules]]
    id = "acme-session"
    description = "Acme session id"
    regex = '''sess-[A-F0-9]{24}\z'''
    keywords = ["sess-"]

    [[rules]]
    id = "acme-grouped"
    regex = '''(?:key|tok)=(ak_[a-z]{10})'''
    keywords = ["ak_"]

    [[rules]]
    id = "acme-paths-only"
    path = '''(?i)\.pem$'''

    [allowlist]
    description = "global"
    regexTarget = "line"
    regexes = ['''# example only''']
""")


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "gitleaks.toml"
    path.write_text(CONFIG)
    return path


def test_detected_and_converted(config):
    rules = {rule.id: rule for rule in load_rule_file(config)}
    assert set(rules) == {"acme-internal-token", "acme-session", "acme-grouped"}  # path-only rule skipped
    token = rules["acme-internal-token"]
    assert token.provider == "custom" and token.keywords == ("acm_",) and token.entropy == 3.0
    assert token.name == "Acme internal API token" and token.source_format == "gitleaks"
    assert "(?P<secret>acm_" in token.regex
    assert len(token.allowlists) == 2  # its own + the global one


def test_secret_group_whole_match_and_first_group(config):
    rules = load_rules([config], include_default=False)
    engine = Engine(rules, backend="regex")
    content = (b"ACME_TOKEN = 'acm_k3j9x0q2m5n8b1v4c7z6l2p0o9i8u7y6'\n"
               b"url?key=ak_qwertyuiop\n"
               b"id: sess-9F3A61C0D7E24B58A0C1F9E2")  # \z: only at the very end
    found = {(m.rule_id, m.secret) for m in engine.scan(content)}
    assert found == {("acme-internal-token", "acm_k3j9x0q2m5n8b1v4c7z6l2p0o9i8u7y6"),
                     ("acme-session", "sess-9F3A61C0D7E24B58A0C1F9E2"),
                     ("acme-grouped", "ak_qwertyuiop")}


def test_allowlists_stopwords_and_entropy(config):
    engine = Engine(load_rules([config], include_default=False), backend="regex")
    assert engine.scan(b"acme_token = acm_" + b"0" * 32 + b"\n") == []                 # rule allowlist regex
    assert engine.scan(b"acme_token = acm_testtesttesttesttesttesttesttestte\n") == []  # stopword
    assert engine.scan(b"acme_token = acm_k3j9x0q2m5n8b1v4c7z6l2p0o9i8u7y6 # example only\n") == []  # global, line
    assert engine.scan(b"acme_token = acm_abababababababababababababababab\n") == []  # entropy < 3


def test_cli_accepts_a_gitleaks_config_beside_the_shipped_rules(run, config, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.cfg").write_text("acme_token = acm_k3j9x0q2m5n8b1v4c7z6l2p0o9i8u7y6\n")
    result = run("scan", "dir", project, "--no-store", "--format", "json", "--rules", config, "--engine", "regex")
    assert result.code == 1, result
    assert [f["rule_id"] for f in result.json()] == ["acme-internal-token"]
    assert run("rules", "check", config).code == 0


def test_our_own_format_is_not_mistaken_for_gitleaks(tmp_path):
    import tomllib

    from keysweep.scanner.rules import default_rules_dir

    for path in default_rules_dir().glob("*.toml"):
        assert not gitleaks_format.is_gitleaks_config(tomllib.loads(path.read_text())), path.name


def test_leading_flags_stay_in_front_when_the_whole_match_is_the_secret():
    pattern = gitleaks_format.secret_group_pattern("(?i)tok_[a-z]{8}", None, "here")
    assert pattern == "(?i)(?P<secret>tok_[a-z]{8})"


def test_groups_in_classes_and_lookarounds_are_not_counted():
    pattern = gitleaks_format.secret_group_pattern(r"[(](?:x)(?<=a)(?P<first>b)(c)", 2, "here")
    assert pattern == r"[(](?:x)(?<=a)(?P<first>b)(?P<secret>c)"


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\n[[rules]]\nid = "broken"\nregex = \'\'\'(unclosed\'\'\'\n')
    with pytest.raises(RuleError, match="bad.toml"):
        load_rule_file(bad)
    bad.write_text('title = "x"\n[[rules]]\nid = "two"\nregex = \'\'\'(a)\'\'\'\nsecretGroup = 3\n')
    with pytest.raises(RuleError, match="secretGroup 3"):
        load_rule_file(bad)


NATIVE_WITH_ALLOWLISTS = textwrap.dedent(r"""
    [[rules]]
    id = "acme.deploy-token"
    name = "Acme deploy token"
    provider = "acme"
    description = "Acme deploy token."
    regex = '''\b(?P<secret>acmd_[a-z0-9]{24})\b'''
    keywords = ["acmd_"]
    examples = ["ACME_DEPLOY=acmd_k3j9x0q2m5n8b1v4c7z6l2p0"]
    negative_examples = ["ACME_DEPLOY=acmd_short"]

      [[rules.allowlists]]
      description = "fixtures"
      stopwords = ["fixturefixture"]
      regexes = ['''# sample''']
      regex_target = "line"
""")


def test_a_native_rule_with_the_documented_allowlists_field_loads_as_ours(tmp_path):
    """docs/rules.md documents `[[rules.allowlists]]` for our format; gitleaks spells it the same,
    so that field alone must not make a native file a gitleaks one."""
    import tomllib

    path = tmp_path / "acme.toml"
    path.write_text(NATIVE_WITH_ALLOWLISTS)
    assert not gitleaks_format.is_gitleaks_config(tomllib.loads(NATIVE_WITH_ALLOWLISTS))
    [rule] = load_rules([path], include_default=False)
    assert (rule.id, rule.name, rule.provider, rule.source_format) == (
        "acme.deploy-token", "Acme deploy token", "acme", "keysweep")
    assert [(a.stopwords, a.regexes, a.regex_target) for a in rule.allowlists] == [
        (("fixturefixture",), ("# sample",), "line")]
    engine = Engine([rule], backend="regex")
    assert [m.secret for m in engine.scan(b"ACME_DEPLOY=acmd_k3j9x0q2m5n8b1v4c7z6l2p0\n")] == [
        "acmd_k3j9x0q2m5n8b1v4c7z6l2p0"]
    assert engine.scan(b"ACME_DEPLOY=acmd_fixturefixturefixturefix\n") == []       # stopword
    assert engine.scan(b"ACME_DEPLOY=acmd_k3j9x0q2m5n8b1v4c7z6l2p0 # sample\n") == []  # line regex


def test_a_rule_with_allowlists_but_none_of_our_fields_is_still_gitleaks():
    data = {"rules": [{"description": "x", "regex": "tok_[a-z]{8}", "allowlists": [{"stopwords": ["a"]}]}]}
    assert gitleaks_format.is_gitleaks_config(data)
