"""`keysweep revoke` end to end against local fakes: dry run sends nothing, execute revokes and
confirms every key once, the audit chain holds, and the threshold asks before mass action."""

from __future__ import annotations

import json
import re

from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeGitLab, FakeOpenAI, FakePerplexity, FakeProviders
from tests.revoke_helpers import env_for, plant_keys, set_env, write_config


def scan(run, root, db):
    result = run("scan", "dir", root, "--db", db, "--format", "json")
    assert result.code == 1, result
    return result.json()


def test_dry_run_plans_without_calls_then_execute_revokes_and_confirms(run, tmp_path, keys, monkeypatch):
    planted = plant_keys(tmp_path / "code", keys, {"github": 3, "openai": 3, "anthropic": 2})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    fakes = FakeProviders(github=FakeGitHub(planted["github"]), openai=FakeOpenAI(planted["openai"]),
                          anthropic=FakeAnthropic(planted["anthropic"]))
    config = write_config(tmp_path / "keysweep.toml")
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        dry = run("revoke", "--all", "--config", config, "--format", "json")
        assert dry.code == 0, dry
        plan = dry.json()["plan"]
        assert len(plan) == 8 and {row["revoker"] for row in plan} == {"github", "openai", "anthropic"}
        assert all(row["calls"] for row in plan)
        assert sum(len(p.requests) for p in fakes.providers.values()) == 0, "a dry run sent a request"

        table = run("revoke", "--provider", "openai", "--config", config)
        assert "DELETE" in table.stdout and "Dry run" in table.stdout

        refused = run("revoke", "--all", "--execute", "--threshold", "5", "--config", config)
        assert refused.code == 2 and "--yes" in refused.stderr
        assert sum(len(p.requests) for p in fakes.providers.values()) == 0

        done = run("revoke", "--all", "--execute", "--yes", "--confirm-delay", "0.05", "--config", config,
                   "--format", "json")
        assert done.code == 0, done
        states = {job["state"] for job in done.json()["jobs"]}
        assert states == {"confirmed"}, done
        for name, values in planted.items():
            fake = fakes[name]
            assert all(fake.effective[v] == 1 for v in values), name
            assert not fake.active
        # GitHub's list endpoint got one batch for all three tokens.
        assert fakes["github"].revoke_requests == 1

        again = run("revoke", "--all", "--execute", "--yes", "--config", config, "--format", "json")
        assert again.code == 0
        assert sum(f.revoke_requests for f in fakes.providers.values()) == 1 + 3 + 2

    verify = run("audit", "verify", "--db", db)
    assert verify.code == 0, verify
    assert "chain intact" in verify.stdout

    report = run("report", "--db", db, "--format", "json")
    assert report.code == 0, report
    data = report.json()
    assert data["totals"]["confirmed_dead"] == 8
    for row in data["credentials"]:
        assert row["detected_at"] and row["revoked_at"] and row["confirmed_dead_at"]


def test_a_dry_run_after_a_run_counts_only_what_execute_would_still_send(run, tmp_path, keys, monkeypatch):
    """After a run confirmed one of two keys dead, the dry run of the same selection plans a call only
    for the other: the confirmed one is shown done, and `--execute` indeed sends nothing for it."""
    planted = plant_keys(tmp_path / "code", keys, {"openai": 2})
    db = tmp_path / "store.db"
    found = {f["redacted"][-4:]: f["id"] for f in scan(run, tmp_path / "code", db)}
    done_id, open_id = (found[value[-4:]] for value in planted["openai"])
    fake = FakeOpenAI(planted["openai"])
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        first = run("revoke", done_id, "--execute", "--confirm-delay", "0.05", "--config", config)
        assert first.code == 0 and fake.revoked == {planted["openai"][0]}, first

        plan = run("revoke", "--provider", "openai", "--config", config)
        assert plan.code == 0, plan
        blocks = {block.split()[0]: block for block in re.split(r"\n(?=f_)", plan.stdout.split("\n\n")[0])}
        assert "job: confirmed" in blocks[done_id] and "DELETE" not in blocks[done_id], plan.stdout
        assert "    done:    confirmed dead by an earlier run: nothing will be sent" in blocks[done_id]
        assert "DELETE" in blocks[open_id] and "job:" not in blocks[open_id]
        assert plan.stdout.rstrip().endswith("Dry run: 1 credential would be acted on. Add --execute to act.\n"
                                             "  1 already confirmed dead: nothing to send."), plan.stdout

        deletes = fake.revoke_requests
        second = run("revoke", "--provider", "openai", "--execute", "--confirm-delay", "0.05", "--config", config)
        assert second.code == 0, second
        assert fake.revoke_requests == deletes + 1 and not fake.active
        assert fake.effective[planted["openai"][0]] == 1 and fake.effective[planted["openai"][1]] == 1
        assert open_id in second.stderr


def test_the_audit_log_credits_the_deletion_to_the_delete_not_to_the_listings_before_it(run, tmp_path, keys,
                                                                                          monkeypatch):
    """The OpenAI revoker lists projects and their keys, then deletes: only the DELETE's audit row
    says "key deleted"; a GET that listed keys deleted nothing and its row says nothing of the kind."""
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    db = tmp_path / "store.db"
    (finding,) = scan(run, tmp_path / "code", db)
    fake = FakeOpenAI(planted["openai"])
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        done = run("revoke", finding["id"], "--execute", "--confirm-delay", "0.05",
                   "--config", write_config(tmp_path / "keysweep.toml", providers=("openai",)))
        assert done.code == 0 and fake.revoked == set(planted["openai"]), done
    rows = run("audit", "log", "--action", "revoke.call", "--format", "json", "--db", db).json()
    calls = [(json.loads(r["target"])["method"], json.loads(r["result"])) for r in rows]
    assert [method for method, _result in calls] == ["GET", "GET", "GET", "DELETE"], calls
    assert [result.get("detail") for _method, result in calls] == [None, None, None, "key deleted"], calls
    assert all(result["ok"] and result["outcome"] == "200" for _method, result in calls)


def test_the_plan_marks_an_owner_below_the_owned_threshold_as_unowned(run, make_repo, keys, tmp_path):
    """A commit's author is a guess (0.3), not an owner: `keysweep owners` counts such a key unowned,
    and the plan shows the guess marked `[unowned]` (JSON `unowned: true`) instead of as its owner."""
    guessed, owned = keys.openai_project(), keys.openai_project()
    repo = make_repo("svc")
    repo.commit("keys", {"app/.env": f"OPENAI_API_KEY={guessed}\n", "ml/.env": f"OPENAI_API_KEY={owned}\n"},
                author=("Sam Ops", "sam@example.com"))
    (tmp_path / "owners.toml").write_text('[[owner]]\nname = "Jane ML"\nteam = "ml"\n[owner.match]\npath = "ml/**"\n')
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db).code == 1
    owners = run("owners", "--offline", "--owners-file", tmp_path / "owners.toml", "--db", db, "--format", "json")
    assert {f["redacted"][-4:]: f["unowned"] for f in owners.json()} == {guessed[-4:]: True, owned[-4:]: False}

    plan = run("revoke", "--provider", "openai", "--db", db)
    assert plan.code == 0, plan
    owner_lines = sorted(line.split("    verified:")[0].strip() for line in plan.stdout.splitlines()
                         if line.strip().startswith("owner:"))
    assert owner_lines == ["owner:   Jane ML (ml)", "owner:   Sam Ops [unowned]"], plan.stdout
    rows = run("revoke", "--provider", "openai", "--db", db, "--format", "json").json()["plan"]
    assert {row["redacted"][-4:]: (row["owner"], row["unowned"]) for row in rows} == {
        guessed[-4:]: ("Sam Ops", True), owned[-4:]: ("Jane ML", False)}


def test_a_filter_given_twice_is_refused_not_narrowed_to_its_last_value(run, tmp_path, keys, monkeypatch):
    """`--provider openai --provider anthropic --execute` meant both; click kept only the last and
    revoked the Anthropic key alone. A repeated filter is a usage error (exit 2, one line), before
    any request or job; the same for every command that selects (here `findings`)."""
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1, "anthropic": 1})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    fakes = FakeProviders(openai=FakeOpenAI(planted["openai"]), anthropic=FakeAnthropic(planted["anthropic"]))
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        both = run("revoke", "--provider", "openai", "--provider", "anthropic", "--execute", "--confirm-delay", "0.05",
                   "--config", write_config(tmp_path / "keysweep.toml", providers=("openai", "anthropic")))
        assert both.code == 2 and both.stdout == "", both
        (line,) = both.stderr.splitlines()
        assert line.startswith("keysweep: error: Invalid value for '--provider': given 2 times (openai, anthropic): "
                               "each filter takes one value; run once for each"), line
        assert sum(len(fake.requests) for fake in fakes.providers.values()) == 0
        assert fakes["anthropic"].active == set(planted["anthropic"]) and fakes["openai"].active == set(planted["openai"])
    assert run("audit", "log", "--db", db, "--format", "json").json() == [], "no run was recorded"
    listed = run("findings", "--status", "live", "--status", "unverified", "--db", db)
    assert listed.code == 2 and "given 2 times (live, unverified)" in listed.stderr, listed
    assert len(run("findings", "--provider", "openai", "--db", db, "--format", "json").json()) == 1


def test_the_dry_run_count_says_how_many_would_fail_for_want_of_what_they_need(run, tmp_path, keys, monkeypatch):
    """Without OPENAI_ADMIN_KEY the OpenAI keys' plans say `needs: OPENAI_ADMIN_KEY`, and --execute
    fails them at once (failed_permanent, no call): the dry run's count says so instead of counting
    them among what "would be acted on" as if they would be."""
    planted = plant_keys(tmp_path / "code", keys, {"github": 1, "openai": 2})
    db = tmp_path / "store.db"
    scan(run, tmp_path / "code", db)
    fakes = FakeProviders(github=FakeGitHub(planted["github"]), openai=FakeOpenAI(planted["openai"]))
    config = write_config(tmp_path / "keysweep.toml", providers=("github", "openai"))
    with fakes:
        env = env_for(fakes, db)
        del env["OPENAI_ADMIN_KEY"]
        set_env(monkeypatch, env)
        plan = run("revoke", "--all", "--config", config)
        assert plan.code == 0 and plan.stdout.count("    needs:   OPENAI_ADMIN_KEY\n") == 2, plan.stdout
        assert plan.stdout.rstrip().endswith("Dry run: 3 credentials would be acted on. Add --execute to act.\n"
                                             "  2 of them would fail at once for want of what their `needs:` line "
                                             "names."), plan.stdout
        done = run("revoke", "--all", "--execute", "--config", config, "--confirm-delay", "0.05")
        assert done.stdout.startswith("1 confirmed, 2 failed_permanent in "), done.stdout
        assert done.stdout.count(": no admin credential for openai: set OPENAI_ADMIN_KEY\n") == 2, done.stdout
        assert fakes["openai"].revoke_requests == 0 and fakes["github"].revoke_requests == 1


def test_a_key_a_person_deleted_by_hand_is_recorded_as_already_deleted_not_as_deleted_by_keysweep(
        run, tmp_path, keys, monkeypatch):
    """A proxy answered the delete, so the job was left to a person, who deleted the key in OpenAI's
    console and reran the command the summary gave. The rerun sends no DELETE: the key is no longer
    in the inventory and OpenAI says it is invalid, and the progress line says exactly that instead
    of a bare "revoked" that reads as keysweep's own deletion."""
    planted = plant_keys(tmp_path / "code", keys, {"openai": 1})
    (value,) = planted["openai"]
    db = tmp_path / "store.db"
    (finding,) = scan(run, tmp_path / "code", db)
    fake = FakeOpenAI(planted["openai"])
    fake.intermediary, fake.intermediary_on = "html_401", "revoke"
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        first = run("revoke", finding["id"], "--execute", "--config", config, "--confirm-delay", "0.05")
        assert f"left to a person: {finding['id']} — " in first.stdout, first.stdout
        fakes.call(lambda: fake.active.discard(value))  # the person, in OpenAI's console
        deletes = fake.revoke_requests

        rerun = run("revoke", finding["id"], "--execute", "--config", config, "--confirm-delay", "0.05")
        assert rerun.code == 0 and rerun.stdout.startswith("1 confirmed in "), rerun
        assert (f"revoked {finding['id']} {finding['redacted']}: not in the organisation's key inventory, and the "
                f"provider says the key is invalid: already deleted") in rerun.stderr.splitlines(), rerun.stderr
        assert fake.revoke_requests == deletes, "keysweep sent a DELETE for a key already gone"
        assert fake.effective[value] == 0 and value not in fake.active


def test_a_revoked_key_its_provider_documents_no_check_for_is_not_promised_a_confirmation(run, tmp_path, keys,
                                                                                           monkeypatch):
    """Perplexity revokes a key on its documented 200 but documents no way to check one: the job
    stays `revoked` for good, so the run must not say that `--resume` checks again (it cannot); it
    says so and sends the responder to the provider's console (from the provider's record)."""
    from keysweep.providers import provider

    value = keys.perplexity()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.env").write_text(f"PERPLEXITY_API_KEY={value}\n")
    db = tmp_path / "store.db"
    (finding,) = scan(run, tmp_path / "code", db)
    fake = FakePerplexity([value])
    config = write_config(tmp_path / "keysweep.toml", providers=("perplexity",))
    with FakeProviders(perplexity=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        done = run("revoke", finding["id"], "--execute", "--confirm-attempts", "1", "--config", config)
        assert done.code == 0, done
        assert value not in fake.active  # revoked at Perplexity, once
        again = run("revoke", "--resume", "--confirm-attempts", "1", "--config", config)
    for result in (done, again):
        steps = [line for line in result.stdout.splitlines() if line.startswith("  revoked")]
        assert steps == [f"  revoked, never confirmable: {finding['id']} — Perplexity documents no check of a key, "
                         f"so keysweep revoke --resume cannot confirm it dead; make sure it is gone at "
                         f"{provider('perplexity').console_url}"], result.stdout
        assert "checks again" not in result.stdout and value not in result.stdout + result.stderr
    assert [path for _, path in fake.requests].count("/revoke_auth_token") == 1  # never repeated to "confirm"
    rows = run("revoke", finding["id"], "--db", db, "--format", "json").json()["plan"]
    assert rows[0]["job"]["state"] == "revoked"


def test_a_job_left_to_retry_shows_why_in_the_plan_and_the_run_says_how_to_go_on(run, tmp_path, keys, monkeypatch):
    """GitLab answers 503 to every revoke and the run may not wait (--max-wait 0): the job stays
    failed_retryable. The run's summary says to resume, and the plan shows the error it is waiting
    on (it showed only `job: failed_retryable`); the key is still active at the fake."""
    value = keys.gitlab_pat()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "ci.env").write_text(f"GITLAB_TOKEN={value}\n")
    db = tmp_path / "store.db"
    (finding,) = scan(run, tmp_path / "code", db)
    fake = FakeGitLab([value], fail_first=1000, fail_status=503)
    config = write_config(tmp_path / "keysweep.toml", providers=("gitlab",))
    with FakeProviders(gitlab=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        done = run("revoke", finding["id"], "--execute", "--max-wait", "0", "--config", config)
        assert done.code == 0 and done.stdout.startswith("1 failed_retryable in "), done
        assert (f"  to be retried (the provider was busy or its answer not believed): {finding['id']} — "
                f"keysweep revoke --resume") in done.stdout.splitlines(), done.stdout
        plan = run("revoke", finding["id"], "--config", config)
        retry = [line for line in plan.stdout.splitlines() if line.startswith("    retry:   ")]
        assert len(retry) == 1 and "HTTP 503" in retry[0], plan.stdout
        assert re.search(r"\(--resume or --execute asks again; it was due \d{4}-\d\d-\d\dT[\d:]+Z\)$", retry[0]), retry
        assert value in fake.active
    rows = run("revoke", finding["id"], "--db", db, "--format", "json").json()["plan"]
    assert rows[0]["job"]["state"] == "failed_retryable" and "HTTP 503" in rows[0]["job"]["last_error"]
