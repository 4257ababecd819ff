"""Configuration errors (issue 9): every invalid value in keysweep.toml, the owners file and the
policy file is a one-line error naming the file, the key and what is expected, exit 2, before any
network call. No value may hang a run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYSWEEP_BIN

# (file content, the key the error must name)
BAD_CONFIGS = [
    ("[providers.openai]\nrate_limit = 0\n", "rate_limit"),
    ("[providers.openai]\nrate_limit = -1\n", "rate_limit"),
    ("[providers.openai]\nrate_limit = 1e-12\n", "rate_limit"),
    ("[providers.openai]\nrate_limit = nan\n", "rate_limit"),
    ("[providers.openai]\nrate_limit = inf\n", "rate_limit"),
    ("[providers.openai]\nrate_limit = \"fast\"\n", "rate_limit"),
    ("[providers.openai]\nconcurrency = 0\n", "concurrency"),
    ("[providers.openai]\nconcurrency = -4\n", "concurrency"),
    ("[providers.openai]\nconcurrency = 2.5\n", "concurrency"),
    ("[providers.openai]\nconcurrency = true\n", "concurrency"),
    ("[providers.openai]\nconfirm_concurrency = 0\n", "confirm_concurrency"),
    ("[providers.openai]\nrevoke_rate = 0\n", "revoke_rate"),
    ("[providers.openai]\nrevoke_burst = 0\n", "revoke_burst"),
    ("[providers.openai]\nbase_url = \"ftp://example.com\"\n", "base_url"),
    ("[providers.openai]\nbase_url = 5\n", "base_url"),
    ("[providers.openai]\nadmin_key_env = \"sk-proj-not-a-variable-name\"\n", "admin_key_env"),
    ("[providers.openai]\nrate_limt = 5\n", "rate_limt"),
    ("[providers.aws]\ndelete_after_days = \"x\"\n", "delete_after_days"),
    ("[providers.aws]\ndelete_after_days = -1\n", "delete_after_days"),
    ("[providers.openai]\ndelete_after_days = 3\n", "delete_after_days"),
    ("providers = 3\n", "providers"),
    ("[providers]\nopenai = \"x\"\n", "providers.openai"),
    ("[verify]\ntimeout = 0\n", "timeout"),
    ("[verify]\ntimeout = 1e9\n", "timeout"),
    ("[verify]\nattempts = 0\n", "attempts"),
    ("[verify]\nmax_retry_after = -5\n", "max_retry_after"),
    ("[verify]\nretries = 3\n", "retries"),
    ("[owners]\nfile = 3\n", "file"),
    ("[owners]\ntimeout = \"slow\"\n", "timeout"),
    ("[notify]\nwebhook = \"not a url\"\n", "webhook"),
    ("[notify]\nformat = \"xml\"\n", "format"),
    ("[notify.teams.ml]\nwebhook_env = \"\"\n", "webhook_env"),
    ("[notify]\nteams = 3\n", "teams"),
    ("[sources]\nmax_age_days = -1\n", "max_age_days"),
    ("[sources]\nmax_age_days = \"x\"\n", "max_age_days"),
    ("[sources]\ngit = \"repo\"\n", "git"),
    ("[[sources.github]]\norgs = [\"acme\"]\nforks = \"false\"\n", "forks"),
    ("[sources.gitlab]\ngroups = [1]\n", "groups"),
    ("[[sources.aws]]\nendpoint_url = \"localhost\"\n", "endpoint_url"),
    ("[policy]\ndefault = \"yes\"\n", "default"),
    ("[policy]\napply_after_sweep = \"yes\"\n", "apply_after_sweep"),
    ("[[policy.rules]]\naction = \"auto\"\nrevoker = \"nuke\"\n", "revoker"),
    ("[[policy.rules]]\naction = \"sometimes\"\n", "action"),
    ("[colours]\nred = 1\n", "colours"),
    ("rate_limit = 5\n", "rate_limit"),
    ("[providers.openai\nrate_limit = 5\n", "malformed TOML"),
    ("[providers.openai]\nrate_limit = 5\nrate_limit = 6\n", "malformed TOML"),
]

BAD_OWNERS = [
    ("owner = 3\n", "owner"),
    ("[[owner]]\nteam = \"x\"\n[owner.match]\nrepo = \"a\"\n", "name"),
    ("[[owner]]\nname = 5\n[owner.match]\nrepo = \"a\"\n", "name"),
    ("[[owner]]\nname = \"A\"\nconfidence = 2\n[owner.match]\nrepo = \"a\"\n", "confidence"),
    ("[[owner]]\nname = \"A\"\nconfidence = -0.1\n[owner.match]\nrepo = \"a\"\n", "confidence"),
    ("[[owner]]\nname = \"A\"\nconfidence = \"high\"\n[owner.match]\nrepo = \"a\"\n", "confidence"),
    ("[[owner]]\nname = \"A\"\nconfidence = true\n[owner.match]\nrepo = \"a\"\n", "confidence"),
    ("[[owner]]\nname = \"A\"\nteam = 5\n[owner.match]\nrepo = \"a\"\n", "team"),
    ("[[owner]]\nname = \"A\"\ncontact = [\"a@b\"]\n[owner.match]\nrepo = \"a\"\n", "contact"),
    ("[[owner]]\nname = \"A\"\nnickname = \"x\"\n[owner.match]\nrepo = \"a\"\n", "nickname"),
    ("[[owner]]\nname = \"A\"\n", "match"),
    ("[[owner]]\nname = \"A\"\n[owner.match]\ncolour = \"blue\"\n", "colour"),
    ("[[owner]]\nname = \"A\"\n[owner.match]\nrepo = 5\n", "match.repo"),
    ("[[owner]]\nname = \"A\"\n[owner.match]\nrepo = []\n", "match.repo"),
    ("[[owner]]\nname = \"A\"\n[owner.match]\nprovider = [\"openai\", 3]\n", "match.provider"),
    ("[teams]\nx = 1\n", "teams"),
    ("[[owner]\nname = \"A\"\n", "malformed TOML"),
]

BAD_POLICIES = [
    ("default = \"maybe\"\n", "default"),
    ("default = 1\n", "default"),
    ("deafult = \"auto\"\n", "deafult"),
    ("rules = 3\n", "rules"),
    ("[[rules]]\naction = \"delete\"\n", "action"),
    ("[[rules]]\nname = \"no action\"\n", "action"),
    ("[[rules]]\naction = \"auto\"\nrevoker = \"nuke\"\n", "revoker"),
    ("[[rules]]\naction = \"auto\"\nrevoker = 3\n", "revoker"),
    ("[[rules]]\naction = \"auto\"\nproviders = 3\n", "providers"),
    ("[[rules]]\naction = \"auto\"\nproviders = []\n", "providers"),
    ("[[rules]]\naction = \"auto\"\npaths = [1]\n", "paths"),
    ("[[rules]]\naction = \"auto\"\nlong_lived = \"yes\"\n", "long_lived"),
    ("[[rules]]\naction = \"auto\"\nname = 5\n", "name"),
    ("[[rules]]\naction = \"auto\"\nrevoker = \"aws-rotate\"\nrotate_to = 5\n", "rotate_to"),
    ("[[rules]]\naction = \"auto\"\nrevoker = \"aws-rotate\"\nrotate_to = \"s3:bucket\"\n", "rotate_to"),
    ("[[rules]]\naction = \"auto\"\ncolour = \"red\"\n", "colour"),
    ("[[rules]\naction = \"auto\"\n", "malformed TOML"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store holding one OpenAI key (made once: the commands below fail before writing)."""
    from keysweep.testing.keygen import KeyGen

    root = tmp_path_factory.mktemp("config-errors")
    (root / "code").mkdir()
    (root / "code" / ".env").write_text(f"OPENAI_API_KEY={KeyGen(9).openai_project()}\n")
    db = root / "store.db"
    scanned = subprocess.run([str(KEYSWEEP_BIN), "scan", "dir", str(root / "code"), "--db", str(db)],
                             capture_output=True, timeout=120)
    assert scanned.returncode == 1, scanned.stderr
    return db


def assert_config_error(result, path: Path, key: str) -> None:
    assert result.code == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("keysweep: error: "), result
    assert str(path) in lines[0] and key in lines[0], result
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("text,key", BAD_CONFIGS, ids=[f"{i}-{key}" for i, (_, key) in enumerate(BAD_CONFIGS)])
def test_bad_keysweep_toml_is_a_one_line_error(run, tmp_path, store, text, key):
    config = tmp_path / "keysweep.toml"
    config.write_text(text)
    assert_config_error(run("verify", "--config", config, "--db", store), config, key)


@pytest.mark.parametrize("text,key", BAD_OWNERS, ids=[f"{i}-{key}" for i, (_, key) in enumerate(BAD_OWNERS)])
def test_bad_owners_file_is_a_one_line_error(run, tmp_path, store, text, key):
    owners = tmp_path / "keysweep-owners.toml"
    owners.write_text(text)
    assert_config_error(run("owners", "--offline", "--owners-file", owners, "--db", store), owners, key)


@pytest.mark.parametrize("text,key", BAD_POLICIES, ids=[f"{i}-{key}" for i, (_, key) in enumerate(BAD_POLICIES)])
def test_bad_policy_file_is_a_one_line_error(run, tmp_path, store, text, key):
    policy = tmp_path / "keysweep-policy.toml"
    policy.write_text(text)
    assert_config_error(run("revoke", "--all", "--policy", "--policy-file", policy, "--db", store), policy, key)


def test_owners_file_named_in_keysweep_toml_is_checked_too(run, tmp_path, store):
    (tmp_path / "people.toml").write_text("[[owner]]\nname = \"A\"\nconfidence = 7\n[owner.match]\nrepo = \"a\"\n")
    config = tmp_path / "keysweep.toml"
    config.write_text("[owners]\nfile = \"people.toml\"\n")
    assert_config_error(run("owners", "--offline", "--config", config, "--db", store), tmp_path / "people.toml",
                        "confidence")


def test_a_fifo_as_configuration_is_refused_without_hanging(run, tmp_path, store):
    import os

    fifo = tmp_path / "keysweep.toml"
    os.mkfifo(fifo)
    assert_config_error(run("verify", "--db", store, cwd=tmp_path), fifo, "not a regular file")


def _verify_env(fake_api) -> dict[str, str]:
    from tests.fakes.api import Reply

    fake_api.add("GET", "/v1/models", Reply(200, {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}))
    return {"OPENAI_BASE_URL": f"{fake_api.url}/v1"}


@pytest.mark.parametrize("text,key", [("[providers.openai]\nrate_limit = 0\n", "rate_limit"),
                                      ("[providers.openai]\nconcurrency = 0\n", "concurrency")])
def test_a_bad_value_stops_the_real_cli_before_any_network_call(run_process, tmp_path, store, fake_api, text, key):
    env = _verify_env(fake_api)
    config = tmp_path / "keysweep.toml"
    config.write_text(text)
    result = run_process("verify", "--ttl", "0", "--config", config, "--db", store, env=env)
    assert_config_error(result, config, key)
    assert fake_api.seen() == [], "a request was sent before the configuration was checked"


def test_the_same_run_with_a_good_value_does_reach_the_provider(run_process, tmp_path, store, fake_api):
    """The control for the test above: only the bad value keeps the request from being sent."""
    env = _verify_env(fake_api)
    config = tmp_path / "keysweep.toml"
    config.write_text("[providers.openai]\nrate_limit = 5\nconcurrency = 2\n")
    result = run_process("verify", "--ttl", "0", "--config", config, "--db", store, env=env)
    assert result.code == 1, result
    assert fake_api.seen()


def test_documented_examples_are_valid():
    """Every keysweep.toml example in the docs passes the schema (so the schema is not stricter
    than what the project tells people to write)."""
    import re
    import tomllib

    from keysweep.settings import validate_config

    docs = Path(__file__).resolve().parent.parent / "docs"
    checked = 0
    for name in ("sweep.md",):
        for block in re.findall(r"```toml\n(.*?)```", (docs / name).read_text(), re.S):
            validate_config(tomllib.loads(block), name)
            checked += 1
    assert checked


def test_scan_with_verify_checks_the_configuration_before_scanning(run, tmp_path, keys):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    config = tmp_path / "keysweep.toml"
    config.write_text("[providers.openai]\nconcurrency = 0\n")
    db = tmp_path / "new-store.db"
    result = run("scan", "dir", tmp_path / "code", "--db", db, "--verify", cwd=tmp_path)
    assert_config_error(result, config, "concurrency")
    assert not db.exists(), "the scan ran (and wrote the store) before the configuration was checked"
