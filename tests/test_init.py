"""`keysweep init`: commented starter files that keysweep's own loaders read, every key each file
can hold written out and explained, and never a file overwritten."""

from __future__ import annotations

import os
import re
import tomllib

import jsonschema
import pytest

from keysweep.owners.ownersfile import MATCH_KEYS, OWNER_KEYS, TAG_KINDS, owner_rules_from
from keysweep.remediation.policy import POLICY_KEYS, RULE_KEYS
from keysweep.remediation.policy import load as load_policy
from keysweep.schemas import config_schema, owners_schema, policy_schema
from keysweep.settings import (
    NOTIFY_TARGET_KEYS,
    PROVIDER_KEYS,
    PROVIDER_ONLY_KEYS,
    SECTION_KEYS,
    SOURCE_KEYS,
    SOURCE_TABLE_KEYS,
    TOP_LEVEL,
    load_settings,
    read_toml,
)
from keysweep.suppress import parse_ignore

FILES = ("keysweep.toml", "keysweep-owners.toml", "keysweep-policy.toml", ".keysweepignore")


@pytest.fixture
def started(run, tmp_path):
    result = run("init", tmp_path)
    assert result.code == 0, result
    return tmp_path


def test_init_writes_the_four_files(started):
    assert sorted(p.name for p in started.iterdir()) == sorted(FILES)


def test_the_written_files_load_with_keysweeps_own_loaders(started, run):
    settings = load_settings(started / "keysweep.toml")
    assert settings.section("sources") == {"git": ["."]}
    jsonschema.validate(settings.config, config_schema())
    owners = read_toml(started / "keysweep-owners.toml", "owners file")
    assert owner_rules_from(owners, "keysweep-owners.toml") == []
    jsonschema.validate(owners, owners_schema())
    policy = load_policy(started / "keysweep-policy.toml")
    assert (policy.default, policy.rules) == ("approve", [])
    jsonschema.validate(read_toml(started / "keysweep-policy.toml", "policy"), policy_schema())
    assert len(parse_ignore((started / ".keysweepignore").read_text(), ".keysweepignore")) == 0
    # And through the CLI: the sweep reads the config (a dry listing of its sources works).
    scanned = run("scan", "dir", started, "--no-store", "--format", "json")
    assert scanned.code == 0, scanned


def uncommented(text: str) -> str:
    """The file with every example key and table turned on (`# key = …`, `# [table]`)."""
    return "\n".join(re.sub(r"^# (?=\[|[a-z_]+ = )", "", line) for line in text.splitlines())


def test_every_example_in_the_files_is_valid_when_turned_on(started):
    config = tomllib.loads(uncommented((started / "keysweep.toml").read_text()))
    jsonschema.validate(config, config_schema())
    (started / "all.toml").write_text(uncommented((started / "keysweep.toml").read_text()))
    load_settings(started / "all.toml")
    owners = tomllib.loads(uncommented((started / "keysweep-owners.toml").read_text()))
    jsonschema.validate(owners, owners_schema())
    [rule] = owner_rules_from(owners, "owners")
    assert set(rule.match) == set(MATCH_KEYS)
    (started / "policy-all.toml").write_text(uncommented((started / "keysweep-policy.toml").read_text()))
    policy = load_policy(started / "policy-all.toml")
    assert [r.action for r in policy.rules] == ["auto", "never"]
    jsonschema.validate(read_toml(started / "policy-all.toml", "policy"), policy_schema())


def keys_in(text: str) -> set[str]:
    """Keys written (set or commented) in a starter file, and the last part of each table header."""
    keys = set(re.findall(r"^(?:# )?([a-z_]+) = ", text, re.M))
    for header in re.findall(r"^(?:# )?\[\[?([a-z_.\"A-Z ]+)\]\]?", text, re.M):
        keys.update(header.split("."))
    return keys


def test_every_key_keysweep_reads_is_written_out(started):
    config = keys_in((started / "keysweep.toml").read_text())
    expected = set(TOP_LEVEL) - {"policy"} | set(SOURCE_KEYS) | set(SOURCE_TABLE_KEYS) | set(PROVIDER_KEYS) \
        | set(NOTIFY_TARGET_KEYS) | {"teams", "owners"}
    for checks in [*SECTION_KEYS.values(), *SOURCE_TABLE_KEYS.values(), *PROVIDER_ONLY_KEYS.values()]:
        expected |= set(checks)
    assert expected - config == set()
    assert "[policy]" in (started / "keysweep.toml").read_text()  # said to live in the policy file
    assert set(OWNER_KEYS) | set(MATCH_KEYS) | set(TAG_KINDS) | {"tags"} <= keys_in((started / "keysweep-owners.toml").read_text())
    assert set(POLICY_KEYS) | set(RULE_KEYS) <= keys_in((started / "keysweep-policy.toml").read_text())


def test_every_key_line_is_explained(started):
    """Each `key = value` line carries a comment, or the comment line above it explains it."""
    for name in FILES[:3]:
        lines = (started / name).read_text().splitlines()
        for index, line in enumerate(lines):
            if re.match(r"^(?:# )?[a-z_]+ = ", line):
                value_comment = " # " in line.split(" = ", 1)[1]
                assert value_comment or lines[index - 1].startswith("#"), f"{name}: {line}"


@pytest.mark.parametrize("present", FILES)
def test_init_never_overwrites(run, tmp_path, present):
    (tmp_path / present).write_text("mine\n")
    result = run("init", tmp_path)
    assert result.code == 2, result
    assert present in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [present]
    assert (tmp_path / present).read_text() == "mine\n"


def test_a_dangling_link_is_not_written_through(run, tmp_path):
    os.symlink(tmp_path / "elsewhere", tmp_path / "keysweep.toml")
    result = run("init", tmp_path)
    assert result.code == 2 and "keysweep.toml" in result.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_a_missing_directory(run, tmp_path):
    result = run("init", tmp_path / "nope")
    assert result.code == 2 and "no such directory" in result.stderr


def test_the_default_directory_is_here(run, tmp_path):
    assert run("init", cwd=tmp_path).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
