"""The shipped rule catalogue passes its own check: every rule compiles, has a `secret` group, and
matches its examples and none of its negative examples, through the real engine."""

from __future__ import annotations

from keysweep.scanner.rules import default_rules_dir, load_rules, self_test


def test_shipped_rules_pass_their_examples():
    rules = load_rules()
    assert rules, "no rules shipped"
    assert self_test(rules) == []


def test_shipped_rules_are_well_formed():
    rules = load_rules()
    ids = [rule.id for rule in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert rule.origin.startswith(str(default_rules_dir())), rule.origin
        assert rule.examples and rule.negative_examples, rule.id
        assert rule.description and rule.name and rule.provider, rule.id


def test_pipeline_rules_of_the_issue_are_there():
    ids = {rule.id for rule in load_rules()}
    assert {"openai.project-key", "openai.service-account-key", "openai.admin-key", "anthropic.api-key",
            "huggingface.user-token", "google.api-key", "aws.access-key-id", "aws.secret-access-key",
            "github.classic-pat"} <= ids


def test_rules_check_command(run):
    result = run("rules", "check")
    assert result.code == 0, result
    assert result.stdout.endswith("examples)\n") and "rules OK" in result.stdout


def test_rules_list_json(run):
    result = run("rules", "list", "--format", "json")
    assert result.code == 0, result
    listed = result.json()
    assert {r["id"] for r in listed} == {r.id for r in load_rules()}
    assert all({"id", "name", "provider", "long_lived", "keywords"} <= set(r) for r in listed)
