"""Every finding can be read back from where it was found: a key in a forge repository's history
is re-read from the sweep's cached clone (cloned again, with the configured token, when the cache
was cleared), its CODEOWNERS is read there, AWS values are re-read with the scan's profile and
endpoint, and what truly cannot be re-read is said once per source and listed by
`findings --unreadable`."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.fakes.forge import FakeGitHub, ForgeBehaviour, plant_acme_api

from .conftest import find_secret
from .test_remote_aws import aws  # noqa: F401  (fixture)

TOKEN = "ghp_faketesttoken_not_a_real_token_000000"


@pytest.fixture
def forge(monkeypatch):
    """A GitHub whose API and git-over-HTTP both want the token; the sweep names it by a variable
    of its own, and nothing in the environment points at the forge by the default names."""
    server = FakeGitHub(ForgeBehaviour(token=TOKEN)).start()
    monkeypatch.setenv("ACME_GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    yield server
    server.stop()


@pytest.fixture
def swept(run, tmp_path, make_repo, keys, forge, openai_api):
    """A sweep of an org whose repository once held an OpenAI key (removed in a later commit),
    plus an Actions variable holding another one."""
    planted = plant_acme_api(forge, make_repo, tmp_path, keys)
    history, variable = planted["history"], planted["variable"]
    config = tmp_path / "keysweep.toml"
    config.write_text(f"""
[sources]
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]
api_url = "{forge.url}"
token_env = "ACME_GH_TOKEN"
""")
    db = tmp_path / "store.db"
    result = run("sweep", "--config", config, "--db", db, "--format", "json")
    assert result.code == 1, result
    assert forge.git_requests, "the repository was not cloned over HTTP"
    return {"config": config, "db": db, "history": history, "variable": variable, "cache": tmp_path / "cache",
            "findings": result.json()}


def verify(run, swept, *extra):
    return run("verify", "--db", swept["db"], "--config", swept["config"], "--format", "json", "--ttl", "0", *extra)


def test_a_key_in_forge_history_is_reread_from_the_cache_then_from_a_fresh_clone(run, swept, forge, openai_api):
    place = find_secret(swept["findings"], swept["history"])["occurrences"][0]
    assert place["source"] == "git" and place["repo"].endswith("/acme/api")
    assert TOKEN not in json.dumps(swept["findings"])  # the variable's name is kept, never the token

    result = verify(run, swept)
    assert result.code == 1, result
    for name in ("history", "variable"):
        assert find_secret(result.json(), swept[name])["verification"]["status"] == "live", (name, result)
    assert "cannot re-read" not in result.stderr

    shutil.rmtree(swept["cache"])
    before = forge.git_requests
    again = verify(run, swept)
    assert find_secret(again.json(), swept["history"])["verification"]["status"] == "live", again
    assert forge.git_requests > before, "the cleared cache was not cloned again"
    # The provider's own word, read through the re-read value: the key is now revoked.
    openai_api.add("GET", "/openai/v1/models", status=401, json={"error": {
        "message": "Incorrect API key provided", "type": "invalid_request_error", "param": None,
        "code": "invalid_api_key"}})
    dead = verify(run, swept, "--id", find_secret(again.json(), swept["history"])["id"])
    assert find_secret(dead.json(), swept["history"])["verification"]["status"] == "dead", dead
    for output in (result, again, dead):
        assert swept["history"] not in output.stdout + output.stderr


def test_a_cleared_cache_cannot_be_cloned_again_without_the_token(run, swept, monkeypatch):
    shutil.rmtree(swept["cache"])
    monkeypatch.delenv("ACME_GH_TOKEN")
    result = verify(run, swept)
    assert find_secret(result.json(), swept["history"])["verification"]["status"] == "unknown"
    assert result.stderr.count("cannot re-read") == 2, result  # the repository, and its variables
    assert "git " in result.stderr and "/acme/api" in result.stderr


def test_codeowners_of_a_forge_history_finding_come_from_the_cached_clone(run, swept):
    shutil.rmtree(swept["cache"])  # and from a fresh clone when the cache is gone
    result = run("owners", "--db", swept["db"], "--config", swept["config"], "--format", "json")
    finding = find_secret(result.json(), swept["history"])
    assert finding["owner"]["source"] == "codeowners", finding["owner"]
    assert finding["owner"]["name"] == "@alice" and finding["owner"]["team"] == "@acme/platform"
    assert "commit " in finding["owner"]["evidence"]


def test_offline_owners_read_codeowners_from_the_cache_and_never_clone(run, swept, forge):
    result = run("owners", "--offline", "--db", swept["db"], "--config", swept["config"], "--format", "json")
    assert find_secret(result.json(), swept["history"])["owner"]["source"] == "codeowners"
    shutil.rmtree(swept["cache"])
    before = forge.git_requests
    offline = run("owners", "--offline", "--db", swept["db"], "--config", swept["config"], "--format", "json")
    assert offline.code == 0, offline  # every finding still has its CODEOWNERS owner
    assert forge.git_requests == before, "--offline cloned a repository"


def test_aws_values_are_reread_with_the_scans_profile_region_and_endpoint(run, tmp_path, aws, keys,  # noqa: F811
                                                                          moto_endpoint, openai_api, monkeypatch):
    value = keys.openai_project()
    aws("ssm", "eu-central-1").put_parameter(Name="/prod/openai", Value=value, Type="SecureString")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[moto]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "store.db"
    scanned = run("scan", "aws", "--endpoint-url", moto_endpoint, "--region", "eu-central-1", "--profile", "moto",
                  "--service", "ssm", "--db", db, "--format", "json")
    assert scanned.code == 1, scanned
    locator = find_secret(scanned.json(), value)["occurrences"][0]["locator"]
    assert locator["access"] == {"profile": "moto", "endpoint_url": moto_endpoint}

    result = run("verify", "--db", db, "--format", "json", "--ttl", "0")
    assert find_secret(result.json(), value)["verification"]["status"] == "live", result
    assert "cannot re-read" not in result.stderr


def test_values_that_vanished_are_listed_and_said_once_per_source(run, tmp_path, keys, openai_api):
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    gone.mkdir(), kept.mkdir()
    lost = [keys.openai_project(), keys.openai_project()]
    (gone / "a.env").write_text(f"OPENAI_API_KEY={lost[0]}\n")
    (gone / "b.env").write_text(f"OPENAI_API_KEY={lost[1]}\n")
    still = keys.openai_project()
    (kept / "c.env").write_text(f"OPENAI_API_KEY={still}\n")
    db = tmp_path / "store.db"
    assert run("scan", "dir", gone, "--db", db).code == 1
    assert run("scan", "dir", kept, "--db", db).code == 1

    nothing = run("findings", "--unreadable", "--db", db, "--format", "json")
    assert nothing.code == 0 and nothing.json() == [], nothing

    shutil.rmtree(gone)
    listed = run("findings", "--unreadable", "--db", db, "--format", "json")
    assert listed.code == 1, listed
    assert sorted(f["redacted"] for f in listed.json()) == sorted(
        f["redacted"] for f in run("findings", "--db", db, "--format", "json").json()
        if f["occurrences"][0]["locator"]["root"] == str(gone))
    assert len(listed.json()) == 2

    result = run("verify", "--db", db, "--format", "json", "--ttl", "0")
    assert result.stderr.count("cannot re-read") == 1, result.stderr
    assert f"cannot re-read 2 value(s) from dir {gone}" in result.stderr
    assert "could not be re-read" in result.stderr  # in the summary line too
    assert find_secret(result.json(), still)["verification"]["status"] == "live"


def test_how_a_place_is_reached_is_refreshed_in_place_not_a_new_occurrence(run, swept, tmp_path):
    config = swept["config"]
    config.write_text(config.read_text().replace(str(tmp_path / "cache"), str(tmp_path / "elsewhere")))
    again = run("sweep", "--config", config, "--db", swept["db"], "--format", "json", "--full")
    assert again.code == 0, again  # the same keys: nothing new
    stored = run("findings", "--db", swept["db"], "--format", "json").json()
    (place,) = find_secret(stored, swept["history"])["occurrences"]
    assert place["locator"]["access"]["cache"].startswith(str(tmp_path / "elsewhere"))


def test_a_store_written_before_access_was_kept_reads_the_configured_cache(run, swept):
    import sqlite3

    with sqlite3.connect(swept["db"]) as conn:
        conn.execute("UPDATE occurrences SET locator = json_remove(locator, '$.access')")
    result = verify(run, swept)
    assert find_secret(result.json(), swept["history"])["verification"]["status"] == "live", result


def test_a_revoker_never_reads_a_value_through_a_symlink_swapped_in_after_the_scan(run, tmp_path, keys):
    """ctx.secrets re-reads only through the re-reader: a scanned file later replaced by a symlink
    (to anything: here a file outside the scanned tree holding the same key) is not followed."""
    import asyncio

    from keysweep.context import Context
    from keysweep.errors import SecretUnavailable
    from keysweep.remediation.secrets import secret_for
    from keysweep.store import Store

    value = keys.openai_project()
    tree, outside = tmp_path / "tree", tmp_path / "outside.env"
    tree.mkdir()
    (tree / "app.env").write_text(f"OPENAI_API_KEY={value}\n")
    outside.write_text(f"OPENAI_API_KEY={value}\n")
    db = tmp_path / "store.db"
    assert run("scan", "dir", tree, "--db", db).code == 1

    def read() -> str:
        store = Store(db)
        (finding,) = store.findings()
        return asyncio.run(secret_for(finding, Context(http=None, store=store)))

    assert read() == value  # the scanned file itself is read
    (tree / "app.env").unlink()
    (tree / "app.env").symlink_to(outside)
    with pytest.raises(SecretUnavailable):
        read()


def test_a_key_under_a_path_not_in_utf8_is_read_back_for_verify_and_revoke(run, tmp_path, make_repo, keys,
                                                                             monkeypatch):
    """A repository, a directory and a file named with bytes that are not UTF-8 (0xff, 0xe9, 0xef)
    are stored with each such byte written `\\xNN`; re-reading gives the byte back (the stored form
    first: a name may hold those four characters), so the keys there are verified and revoked like
    any other. Was: 'cannot re-read', verify unknown, revocation left to a person."""
    from tests.fakes.providers import FakeOpenAI, FakeProviders
    from tests.revoke_helpers import env_for, set_env, write_config

    in_repo, in_dir = keys.openai_project(), keys.openai_project()
    repo = make_repo("caf\udcff")
    repo.commit("key", {"a.env": f"OPENAI_API_KEY={in_repo}\n"})
    folder = tmp_path / "r\udce9sum\udcff"
    folder.mkdir()
    (folder / "na\udcefve.env").write_text(f"OPENAI_API_KEY={in_dir}\n")
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db).code == 1
    assert run("scan", "dir", folder, "--db", db).code == 1
    places = {o["repo"] or "" for f in run("findings", "--db", db, "--format", "json").json() for o in f["occurrences"]}
    assert str(tmp_path) + "/caf\\xff" in places, places  # as the store names it

    unreadable = run("findings", "--unreadable", "--db", db, "--format", "json")
    assert unreadable.code == 0 and unreadable.json() == [], unreadable

    fakes = FakeProviders(openai=FakeOpenAI([in_repo, in_dir]))
    config = write_config(tmp_path / "keysweep.toml", providers=("openai",))
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        checked = run("verify", "--db", db, "--config", config, "--format", "json", "--ttl", "0")
        assert "cannot re-read" not in checked.stderr, checked
        for value in (in_repo, in_dir):
            assert find_secret(checked.json(), value)["verification"]["status"] == "live", checked
        done = run("revoke", "--all", "--execute", "--yes", "--confirm-delay", "0.05", "--config", config,
                   "--db", db, "--format", "json")
        assert done.code == 0 and {job["state"] for job in done.json()["jobs"]} == {"confirmed"}, done
        assert fakes["openai"].effective[in_repo] == 1 and fakes["openai"].effective[in_dir] == 1
        for output in (checked, done):
            assert in_repo not in output.stdout + output.stderr and in_dir not in output.stdout + output.stderr


def test_a_path_really_named_with_backslash_x_is_still_read_and_the_hash_decides(run, tmp_path, make_repo, keys):
    """`caf\\xff` stored may be a directory whose name holds the byte 0xff or one really named with
    the four characters: both exist here, each a repository holding its own key in `a.env`. Each
    key is read back from the repository that holds it, never the other's."""
    literal, real = keys.openai_project(), keys.openai_project()
    make_repo("caf\\xff").commit("key", {"a.env": f"OPENAI_API_KEY={literal}\n"})
    make_repo("caf\udcff").commit("key", {"a.env": f"OPENAI_API_KEY={real}\n"})
    db = tmp_path / "store.db"
    for name in ("caf\\xff", "caf\udcff"):
        assert run("scan", "git", tmp_path / name, "--db", db).code == 1
    unreadable = run("findings", "--unreadable", "--db", db, "--format", "json")
    assert unreadable.code == 0 and unreadable.json() == [], unreadable
