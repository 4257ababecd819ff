"""Revocation jobs across runs: what a rerun retries, what `--fail-on-error` reports on every run,
how long a run waits for a busy provider (`--max-wait`), and the policy's approve/never gate.

State is checked at the fake providers (their own records of what was revoked), not only in
keysweep's tables."""

from __future__ import annotations

from keysweep.testing.fakes import FakeGitLab, FakeOpenAI, FakeProviders
from tests.revoke_helpers import env_for, plant_keys, set_env, write_config


def scan(run, root, db) -> list[dict]:
    result = run("scan", "dir", root, "--db", db, "--format", "json")
    assert result.code == 1, result
    return result.json()


def job_states(result) -> dict[str, str]:
    return {job["finding"]: job["state"] for job in result.json()["jobs"]}


def test_failed_permanent_is_retried_when_the_person_reruns_after_fixing_the_cause(run, tmp_path, keys,
                                                                                  monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 2})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    fake = FakeOpenAI(planted["openai"])
    command = ("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.01", "--config", config,
               "--format", "json")
    with FakeProviders(openai=fake) as fakes:
        env = env_for(fakes, db)
        del env["OPENAI_ADMIN_KEY"]  # the cause a person has to fix
        set_env(monkeypatch, env)
        first = run(*command)
        assert set(job_states(first).values()) == {"failed_permanent"}, first
        assert fake.active == set(planted["openai"]) and fake.revoke_requests == 0

        monkeypatch.setenv("OPENAI_ADMIN_KEY", fake.admin_key)  # fixed
        second = run(*command)
        assert set(job_states(second).values()) == {"confirmed"}, second
        assert not fake.active
        assert {fake.effective[v] for v in planted["openai"]} == {1}
        assert {fake.revoke_calls[v] for v in planted["openai"]} == {1}

    log = run("audit", "log", "--db", db, "--format", "json").json()
    retries = [row for row in log if row["action"] == "revoke.retry"]
    assert len(retries) == 2 and all("OPENAI_ADMIN_KEY" in str(row["result"]) for row in retries)


def test_fail_on_error_stays_red_on_every_rerun_until_settled(run, tmp_path, keys, monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    fake = FakeOpenAI(planted["openai"])
    execute = ("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.01", "--config", config)
    with FakeProviders(openai=fake) as fakes:
        env = env_for(fakes, db)
        del env["OPENAI_ADMIN_KEY"]
        set_env(monkeypatch, env)
        assert run(*execute).code == 0  # without --fail-on-error a failure is reported, exit 0
        assert run(*execute, "--fail-on-error").code == 3
        # A scheduled resume retries nothing here (the job needs a person) but must stay red.
        resumed = run("revoke", "--resume", "--fail-on-error", "--config", config)
        assert resumed.code == 3, resumed
        assert "1 failed_permanent" in resumed.stdout
        assert run("revoke", "--resume", "--provider", "openai", "--fail-on-error", "--config", config).code == 3

        monkeypatch.setenv("OPENAI_ADMIN_KEY", fake.admin_key)
        fixed = run(*execute, "--fail-on-error")
        assert fixed.code == 0, fixed
        assert not fake.active
        assert run("revoke", "--resume", "--fail-on-error", "--config", config).code == 0


def test_fail_on_error_counts_jobs_still_waiting_for_their_owner(run, tmp_path, keys, monkeypatch):
    """A notify-only key (no revocation API) is open until verified dead: a nightly run stays red."""
    from keysweep.testing.fakes import FakeWebhook

    value = keys.huggingface()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.env").write_text(f'HF_TOKEN = "{value}"\n')
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    hook = FakeWebhook()
    with FakeProviders(hook=hook):
        config = tmp_path / "keysweep.toml"
        config.write_text(f'[notify]\nwebhook = "{hook.url}"\nformat = "json"\n')
        monkeypatch.setenv("KEYSWEEP_DB", str(db))
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # verification cannot say dead
        command = ("revoke", "--all", "--execute", "--confirm-attempts", "1", "--config", config, "--fail-on-error")
        first = run(*command)
        assert first.code == 3, first
        assert run(*command).code == 3
