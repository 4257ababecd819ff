"""`keysweep schema findings|config|owners|policy`: JSON Schema draft 2020-12 documents that agree
with keysweep itself — every findings output the suite produces is validated against the findings
schema (tests/conftest.py, on the `run` helper), and each configuration schema accepts what the
loaders accept and refuses what they refuse, shipped examples included."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from keysweep.errors import KeysweepError
from keysweep.owners.ownersfile import MATCH_KEYS, OWNER_KEYS, owner_rules_from
from keysweep.remediation.policy import POLICY_KEYS, RULE_KEYS
from keysweep.remediation.policy import parse as parse_policy
from keysweep.schemas import NAMES, config_schema, findings_schema, owners_schema, policy_schema, schema
from keysweep.settings import SECTION_KEYS, SOURCE_TABLE_KEYS, TOP_LEVEL, validate_config
from tests import conftest
from tests.conftest import PROJECT

DRAFT = "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_2020_12_schema_and_the_command_prints_it(run, name):
    result = run("schema", name)
    assert result.code == 0, result
    printed = json.loads(result.stdout)
    assert printed == schema(name)
    assert printed["$schema"] == DRAFT
    jsonschema.Draft202012Validator.check_schema(printed)


def test_an_unknown_schema_name_is_a_usage_error(run):
    result = run("schema", "nosuch")
    assert result.code == 2 and "nosuch" in result.stderr and result.stdout == ""


def test_the_config_schemas_name_exactly_the_keys_the_loaders_read():
    config = config_schema()
    assert set(config["properties"]) == set(TOP_LEVEL)
    for section, checks in SECTION_KEYS.items():
        assert set(config["properties"][section]["properties"]) == set(checks)
    sources = config["properties"]["sources"]["properties"]
    for name, checks in SOURCE_TABLE_KEYS.items():
        assert set(sources[name]["anyOf"][0]["properties"]) == set(checks)
    policy = policy_schema()
    assert set(policy["properties"]) == set(POLICY_KEYS)
    assert set(policy["properties"]["rules"]["items"]["properties"]) == set(RULE_KEYS)
    owners = owners_schema()["properties"]["owner"]["items"]
    assert set(owners["properties"]) == set(OWNER_KEYS)
    assert set(owners["properties"]["match"]["properties"]) == set(MATCH_KEYS)


def valid(schema_doc: dict, document) -> bool:
    return jsonschema.Draft202012Validator(schema_doc).is_valid(document)


def config_loads(document) -> bool:
    try:
        validate_config(document, "test.toml")
        return True
    except KeysweepError:
        return False


CONFIGS = [
    {},
    {"sources": {"git": ["."], "max_age_days": 30, "github": [{"orgs": ["acme"], "forks": False}],
                 "gitlab": {"groups": ["g"], "url": "https://gitlab.example.com"},
                 "aws": [{"regions": ["us-east-1"], "services": ["ssm"]}]}},
    # api_url is the GitLab table's first name (docs/sweep.md); url is still read.
    {"sources": {"gitlab": [{"api_url": "https://gitlab.example.com", "groups": ["g"]}]}},
    {"providers": {"openai": {"rate_limit": 5, "admin_key_env": "OPENAI_ADMIN_KEY", "base_url": "http://127.0.0.1:9"},
                   "aws": {"delete_after_days": 7}}},
    {"verify": {"timeout": 10, "attempts": 3, "max_retry_after": 0}, "owners": {"file": "owners.toml"}},
    {"notify": {"webhook_env": "HOOK", "format": "slack", "teams": {"pay": {"webhook": "https://hooks.example.com/x"}}}},
    {"policy": {"default": "never", "rules": [{"name": "r", "action": "auto", "providers": "github"}]}},
    # refused by both
    {"nosuch": {}},
    {"sources": {"git": "."}},
    {"providers": {"openai": {"rate_limt": 5}}},
    {"providers": {"openai": {"rate_limit": 0}}},
    {"providers": {"openai": {"concurrency": 2000}}},
    {"providers": {"github": {"delete_after_days": 7}}},
    {"verify": {"timeout": 0}},
    {"verify": {"attempts": 1.5}},
    {"notify": {"format": "xml"}},
    {"notify": {"webhook": "ftp://x"}},
    {"notify": {"webhook_env": "NOT A NAME"}},
    {"notify": {"teams": {"pay": {"bogus": 1}}}},
    {"sources": {"github": [{"orgs": ["a"], "token": "x"}]}},
    {"sources": {"aws": "us-east-1"}},
    {"owners": {"file": ""}},
    {"policy": {"default": "sometimes"}},
    {"policy": {"rules": [{"name": "r"}]}},
    {"policy": {"rules": [{"action": "auto", "paths": []}]}},
]


@pytest.mark.parametrize("document", CONFIGS, ids=[json.dumps(c)[:60] for c in CONFIGS])
def test_the_config_schema_accepts_what_keysweep_accepts(document):
    assert valid(config_schema(), document) == config_loads(document)


OWNERS = [
    {"owner": [{"name": "Jane", "match": {"repo": "*/x"}}]},
    {"owners": [{"name": "Jane", "team": "t", "confidence": 0.5, "match": {"path": ["a/**", "b"]}}]},
    {"owner": [{"name": "Jane"}]},
    {"owner": [{"name": "Jane", "match": {}}]},
    {"owner": [{"name": " ", "match": {"repo": "x"}}]},
    {"owner": [{"name": "Jane", "match": {"branch": "x"}}]},
    {"owner": [{"name": "Jane", "confidence": 2, "match": {"repo": "x"}}]},
    {"owner": [{"name": "Jane", "match": {"repo": []}}]},
    {"team": "x"},
]


@pytest.mark.parametrize("document", OWNERS, ids=[json.dumps(c)[:60] for c in OWNERS])
def test_the_owners_schema_accepts_what_keysweep_accepts(document):
    try:
        owner_rules_from(document, "owners.toml")
        loads = True
    except KeysweepError:
        loads = False
    assert valid(owners_schema(), document) == loads


def toml_blocks(doc: str) -> list[str]:
    text = (PROJECT / "docs" / doc).read_text()
    return re.findall(r"```toml\n(.*?)```", text, re.S)


def test_the_shipped_examples_validate_and_load():
    """The configuration examples the docs ship: each validates against its schema and loads."""
    [sweep] = toml_blocks("sweep.md")
    config = tomllib.loads(sweep)
    jsonschema.validate(config, config_schema())
    validate_config(config, "docs/sweep.md")
    [owners] = toml_blocks("owners.md")
    document = tomllib.loads(owners)
    jsonschema.validate(document, owners_schema())
    assert len(owner_rules_from(document, "docs/owners.md")) == 2
    policy_doc = tomllib.loads(re.search(r'^    default = .*?(?=\n\nThe first)', parse_policy.__globals__["__doc__"],
                                         re.S | re.M).group(0).replace("\n    ", "\n").strip())
    jsonschema.validate(policy_doc, policy_schema())
    assert len(parse_policy(policy_doc, "policy docstring").rules) == 2


def test_the_findings_hook_rejects_an_output_that_breaks_the_contract():
    good = [{"id": "f_0123456789abcdef", "rule_id": "x.y", "rule_name": None, "provider": "x",
             "secret_sha256": "0" * 64, "redacted": "x…abcd", "long_lived": True, "confidence": "high",
             "key_id": None, "first_seen_at": None, "last_seen_at": None, "status": "open", "occurrences": [],
             "verification": None, "owner": None,
             "remediation": {"state": None, "leaked_at": None, "detected_at": None, "confirmed_dead_at": None,
                             "exposure_seconds": None},
             "account_id": None, "metadata": None, "managed": None, "replacement": None, "baselined": None,
             "reach": None}]
    conftest.validate_findings_output(["scan", "dir", "--format", "json"], json.dumps(good))
    renamed = [{**good[0], "secret_hash": good[0]["secret_sha256"]}]
    del renamed[0]["secret_sha256"]
    with pytest.raises(AssertionError, match="secret_sha256"):
        conftest.validate_findings_output(["scan", "dir", "--format", "json"], json.dumps(renamed))
    with pytest.raises(AssertionError, match="baselined"):
        conftest.validate_findings_output(["findings", "--format", "jsonl"],
                                          json.dumps({**good[0], "baselined": "yes"}) + "\n")
    reach = {"identity": "octocat", "permissions": None, "resources": None, "severity": "high",
             "overprivileged": None, "evidence": "GET /user", "checked_at": "2026-01-01T00:00:00Z"}
    conftest.validate_findings_output(["findings", "--format", "json"], json.dumps([{**good[0], "reach": reach}]))
    with pytest.raises(AssertionError, match="severity|reach"):
        conftest.validate_findings_output(["findings", "--format", "json"],
                                          json.dumps([{**good[0], "reach": {**reach, "severity": "severe"}}]))


def test_the_suite_validates_real_outputs(run, make_repo, keys, tmp_path):
    """The hook runs on what the commands print, stdout and -o files, json and jsonl."""
    repo = make_repo()
    repo.commit("k", {"a.env": f"OPENAI_API_KEY={keys.openai_project()}\n"})
    before = conftest.VALIDATED[0]
    assert run("scan", "git", repo.path, "--db", tmp_path / "s.db", "--format", "json").code == 1
    assert run("scan", "git", repo.path, "--no-store", "--format", "jsonl", "-o", tmp_path / "out.jsonl").code == 1
    assert run("findings", "--db", tmp_path / "s.db", "--format=jsonl").code == 1
    assert conftest.VALIDATED[0] == before + 3


def test_findings_schema_root_is_the_json_array_and_a_line_is_a_finding():
    doc = findings_schema()
    assert doc["type"] == "array" and doc["items"] == {"$ref": "#/$defs/finding"}
    assert Path(doc["$id"]).name == "findings.json"
