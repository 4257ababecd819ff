"""`keysweep sweep`: every source of keysweep.toml in one process; exit 1 only when something new."""

from __future__ import annotations

import json

import pytest

from tests.fakes.forge import GhRepo, GlProject

from .conftest import find_secret
from .test_remote_aws import aws, seeded  # noqa: F401  (fixtures)
from .test_remote_github import bare_repo, github, stamp  # noqa: F401
from .test_remote_gitlab import gitlab  # noqa: F401


@pytest.fixture
def world(tmp_path, make_repo, github, gitlab, seeded, keys):  # noqa: F811
    local = make_repo("local")
    local_key = keys.openai_service_account()
    local.commit("config", {"settings.py": f"OPENAI = '{local_key}'\n"})
    gh_key = keys.anthropic()
    github.add_org("acme", variables=[{"name": "CLAUDE", "value": gh_key, "created_at": stamp(3),
                                       "updated_at": stamp(3)}])
    github.add_repo(GhRepo("acme", "svc", bare_repo(make_repo, tmp_path, "svc", {"a.txt": "no keys\n"}),
                           pushed_at=stamp(1)))
    gl_key = keys.huggingface()
    gitlab.add_group("team", variables=[{"key": "HF_TOKEN", "value": gl_key, "environment_scope": "*"}])
    gitlab.add_project(GlProject(21, "team/app", bare_repo(make_repo, tmp_path, "app", {"b.txt": "none\n"})))
    config = tmp_path / "keysweep.toml"
    config.write_text(f"""
[sources]
git = ["local"]
max_age_days = 90
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]

[sources.gitlab]
groups = ["team"]

[[sources.aws]]
regions = ["eu-west-1"]
services = ["secretsmanager", "ssm"]
""")
    return {"config": config, "local": local_key, "github": gh_key, "gitlab": gl_key, **seeded}


def sweep(run, tmp_path, *extra):
    return run("sweep", "--config", tmp_path / "keysweep.toml", "--db", tmp_path / "store.db",
               "--format", "json", *extra)


def test_first_sweep_alerts_second_is_quiet_then_only_the_new(run, tmp_path, world, github, keys):
    first = sweep(run, tmp_path)
    assert first.code == 1, first
    findings = first.json()
    for name in ("local", "github", "gitlab", "sm_json", "ssm_secure"):
        find_secret(findings, world[name])
    sources = {o["source"] for f in findings for o in f["occurrences"]}
    assert {"git", "github-actions-variable", "gitlab-ci-variable", "aws-secretsmanager", "aws-ssm"} <= sources
    assert not any("lambda" in s for s in sources)  # services limited by the configuration

    second = sweep(run, tmp_path)
    assert second.code == 0, second  # nothing new: quiet
    assert {f["id"] for f in second.json()} == {f["id"] for f in findings}  # but still reported
    assert "0 new findings" in second.stderr

    newer = keys.openai_project()
    github.orgs["acme"]["variables"].append({"name": "LEAKED", "value": newer, "created_at": stamp(0),
                                             "updated_at": stamp(0)})
    third = sweep(run, tmp_path, "--new-only")
    assert third.code == 1, third
    (only,) = third.json()
    assert only["occurrences"][0]["locator"]["variable"] == "LEAKED"


def test_a_broken_source_is_reported_and_the_rest_completes(run, tmp_path, world):
    config = world["config"]
    config.write_text(config.read_text().replace('groups = ["team"]', 'groups = ["missing"]'))
    result = sweep(run, tmp_path, "--fail-on-error", "--errors-json", tmp_path / "errors.json")
    assert result.code == 3, result
    find_secret(result.json(), world["github"])
    errors = json.loads((tmp_path / "errors.json").read_text())["errors"]
    assert len(errors) == 1 and "gitlab group missing" in errors[0]["message"] and "404" in errors[0]["message"]


def test_bad_configuration_is_a_usage_error(run, tmp_path):
    config = tmp_path / "keysweep.toml"
    config.write_text("[sources]\ngithub = { orgz = ['x'] }\n")
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db")
    assert result.code == 2, result
    assert "unknown key(s) orgz" in result.stderr and "Traceback" not in result.stderr
    config.write_text("[sources]\n")
    assert run("sweep", "--config", config, "--db", tmp_path / "s.db").code == 2
    assert run("sweep", "--config", tmp_path / "absent.toml").code == 2
