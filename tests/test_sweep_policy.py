"""`keysweep sweep --revoke-policy`: the policy applied to the store after a sweep — a dry run on
stderr unless --execute, and then only what the policy marks auto is revoked."""

from __future__ import annotations

import pytest

from tests.fakes.providers import FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import env_for, set_env, write_config


@pytest.fixture
def leaked(tmp_path, make_repo, keys, monkeypatch):
    """Two GitHub tokens and an OpenAI key in a local repository the sweep's config names; a policy
    that revokes GitHub tokens on its own and leaves the rest to an approver; the fakes that know them.
    Returns (tokens, openai_key, db, config, fakes); the test runs in tmp_path."""
    tokens = [keys.github() for _ in range(2)]
    openai_key = keys.openai_project()
    repo = make_repo("local")
    repo.commit("config", {"ci.env": "".join(f"GH_{i} = \"{t}\"\n" for i, t in enumerate(tokens))
                           + f"OPENAI = \"{openai_key}\"\n"}, author=("Dana Dev", "dana@example.com"))
    config = write_config(tmp_path / "keysweep.toml", providers=("github", "openai"),
                          extra=f'\n[sources]\ngit = ["{repo.path}"]\n')
    (tmp_path / "keysweep-policy.toml").write_text(
        'default = "approve"\n[[rules]]\nname = "github tokens"\naction = "auto"\nproviders = ["github"]\n')
    monkeypatch.chdir(tmp_path)
    fakes = FakeProviders(github=FakeGitHub(tokens), openai=FakeOpenAI([openai_key]))
    return tokens, openai_key, tmp_path / "store.db", config, fakes


def test_sweep_applies_the_policy_dry_run_then_execute(run, leaked, monkeypatch):
    tokens, openai_key, db, config, fakes = leaked
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        dry = run("sweep", "--config", config, "--db", db, "--format", "json", "--revoke-policy")
        assert dry.code == 1, dry  # new findings: the sweep's own exit code stands
        assert len(dry.json()) == 3  # stdout is still the findings, parseable
        assert "applying the revocation policy (dry run)" in dry.stderr and "Dry run: 3" in dry.stderr
        assert "policy:  approve" not in dry.stderr and "auto (github tokens)" in dry.stderr
        assert sum(len(p.requests) for p in fakes.providers.values()) == 0, "a dry run sent a request"
        assert all(t not in dry.stdout + dry.stderr for t in tokens) and openai_key not in dry.stderr

        refused = run("sweep", "--config", config, "--db", db, "--execute")
        assert refused.code == 2 and "--revoke-policy" in refused.stderr

        done = run("sweep", "--config", config, "--db", db, "--format", "json", "--revoke-policy", "--execute",
                   "--full")
        assert done.code == 0, done  # nothing new since the first sweep
        assert "applying the revocation policy (execute)" in done.stderr
        assert all(fakes["github"].effective[t] == 1 for t in tokens), done.stderr
        assert fakes["openai"].revoke_requests == 0 and openai_key in fakes["openai"].active
        assert "awaits an approver: keysweep revoke --approve --execute" in done.stderr
        # [policy] apply_after_sweep in keysweep.toml does the same without the flag; nothing twice.
        config.write_text(config.read_text() + "\n[policy]\napply_after_sweep = true\n")
        again = run("sweep", "--config", config, "--db", db, "--format", "json", "--execute", "--full")
        assert "applying the revocation policy (execute)" in again.stderr, again
        assert fakes["github"].revoke_requests == 1 and all(fakes["github"].effective[t] == 1 for t in tokens)
        assert "Traceback" not in again.stderr


def test_one_nightly_sweep_is_the_whole_loop(run, leaked, monkeypatch):
    """`sweep --verify --owners --revoke-policy --execute`: scan, check each key, attribute it, revoke
    what the policy allows — then `status` shows where things stand. The exit status is the sweep's."""
    tokens, openai_key, db, config, fakes = leaked
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        nightly = run("sweep", "--config", config, "--db", db, "--format", "json", "--verify", "--owners",
                      "--revoke-policy", "--execute", "--no-progress")
        assert nightly.code == 1, nightly  # new findings: the sweep's own exit status
        assert "keysweep: verified 3 findings: 3 live, 0 dead, 0 unknown" in nightly.stderr, nightly
        assert "keysweep: owners: " in nightly.stderr
        steps = [nightly.stderr.index(text) for text in ("verified 3", "owners: ", "applying the revocation policy")]
        assert steps == sorted(steps), "verify, then owners, then the policy"
        assert all(fakes["github"].effective[t] == 1 for t in tokens)
        findings = nightly.json()
        assert len(findings) == 3 and all(f["verification"] and f["owner"] for f in findings)
        assert all(t not in nightly.stdout + nightly.stderr for t in tokens + [openai_key])
        status = run("status", "--format", "json", "--db", db).json()
        assert (status["totals"]["live"], status["totals"]["dead"]) == (1, 2), status["totals"]
        assert [u["provider"] for u in status["urgent"]] == ["openai"]
        # Nothing new the next night: exit 0, and the follow-ups still run.
        again = run("sweep", "--config", config, "--db", db, "--format", "json", "--verify", "--owners",
                    "--no-progress")
        assert again.code == 0, again
        assert "keysweep: verified 3 findings" in again.stderr and "keysweep: owners: " in again.stderr


def test_sweep_follow_up_options_are_checked_first(run, tmp_path, make_repo, monkeypatch):
    repo = make_repo("local")
    repo.commit("init", {"README.md": "# app\n"})
    config = write_config(tmp_path / "keysweep.toml", extra=f'\n[sources]\ngit = ["{repo.path}"]\n')
    monkeypatch.chdir(tmp_path)
    alone = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--owners-file", tmp_path / "o.toml")
    assert alone.code == 2 and "--owners-file: add --owners" in alone.stderr
    (tmp_path / "bad-owners.toml").write_text("[[owner]\n")
    bad = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--owners", "--owners-file",
              tmp_path / "bad-owners.toml")
    assert bad.code == 2 and len(bad.stderr.strip().splitlines()) == 1, bad
    assert not (tmp_path / "s.db").exists(), "a bad owners file must stop the sweep before it reads anything"
