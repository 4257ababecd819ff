"""`keysweep verify` and `scan … --verify` on real repositories against a local provider API:
values re-read from git blobs and files, answers recorded with their time, cached within a TTL,
key ids learned, and the secret never printed or stored."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import find_secret


@pytest.fixture
def providers(openai_api, monkeypatch):
    """OpenAI takes the key (openai_api); GitHub refuses its token; Hugging Face sits behind a WAF."""
    fake_api = openai_api
    monkeypatch.setenv("GITHUB_API_URL", fake_api.url + "/github")
    monkeypatch.setenv("HF_ENDPOINT", fake_api.url + "/hf")
    monkeypatch.setenv("GITLAB_URL", fake_api.url + "/gitlab")
    fake_api.add("GET", "/github/user", status=401, json={"message": "Bad credentials"})
    fake_api.add("GET", "/hf/api/whoami-v2", status=401, body="<html><body>Blocked by WAF</body></html>")
    return fake_api


@pytest.fixture
def leaky_repo(make_repo, keys):
    repo = make_repo("app")
    secrets = {"openai": keys.openai_project(), "github": keys.github("ghp_"), "hf": keys.huggingface()}
    repo.commit("config", {".env": f"OPENAI_API_KEY={secrets['openai']}\nGITHUB_TOKEN={secrets['github']}\n",
                           "ml/settings.py": f'HF_TOKEN = "{secrets["hf"]}"\n'},
                author=("Bob Builder", "bob@acme.io"))
    return repo, secrets


def scan(run, repo, db):
    result = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert result.code == 1, result
    return result.json()


def test_verify_records_each_answer_with_its_time_and_prints_no_secret(run, providers, leaky_repo, tmp_path):
    repo, secrets = leaky_repo
    db = tmp_path / "store.db"
    scan(run, repo, db)

    result = run("verify", "--db", db, "--format", "json")
    assert result.code == 1, result  # a live key
    findings = result.json()
    openai, github, hf = (find_secret(findings, secrets[k]) for k in ("openai", "github", "hf"))
    assert openai["verification"]["status"] == "live"
    assert openai["verification"]["identity"]["org"] == "org-acme"
    assert openai["verification"]["checked_at"].endswith("Z")
    assert github["verification"]["status"] == "dead" and github["verification"]["error"] is None
    assert hf["verification"]["status"] == "unknown" and "HTML" in hf["verification"]["error"]
    assert set(openai["verification"]) >= {"status", "checked_at", "identity"}
    assert "3 findings: 1 live, 1 dead, 1 unknown" in result.stderr

    for value in secrets.values():
        assert value not in result.stdout and value not in result.stderr
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert not any(value.encode() in db_bytes for value in secrets.values())

    conn = sqlite3.connect(db)
    events = {(f, k) for f, k in conn.execute("SELECT finding_id, kind FROM events WHERE kind LIKE 'verified_%'")}
    assert events == {(openai["id"], "verified_live"), (github["id"], "verified_dead")}
    assert conn.execute("SELECT count(*) FROM verifications").fetchone()[0] == 3

    table = run("verify", "--db", db, "--ttl", "0")
    assert "live" in table.stdout and "dead" in table.stdout and "unknown" in table.stdout
    for value in secrets.values():
        assert value not in table.stdout


def test_determinate_answers_are_cached_for_the_ttl_unknown_ones_are_not(run, providers, leaky_repo, tmp_path):
    repo, _ = leaky_repo
    db = tmp_path / "store.db"
    scan(run, repo, db)
    run("verify", "--db", db)
    calls = {path: len(providers.seen(path)) for path in ("/openai/v1/models", "/github/user", "/hf/api/whoami-v2")}

    result = run("verify", "--db", db, "--format", "json")
    assert "(2 from cache)" in result.stderr
    assert len(providers.seen("/openai/v1/models")) == calls["/openai/v1/models"]
    assert len(providers.seen("/github/user")) == calls["/github/user"]
    assert len(providers.seen("/hf/api/whoami-v2")) > calls["/hf/api/whoami-v2"]  # unknown: asked again

    run("verify", "--db", db, "--ttl", "0")
    assert len(providers.seen("/openai/v1/models")) == calls["/openai/v1/models"] + 1


def test_filters_and_bad_input(run, providers, leaky_repo, tmp_path):
    repo, secrets = leaky_repo
    db = tmp_path / "store.db"
    found = scan(run, repo, db)
    github = find_secret(found, secrets["github"])

    only = run("verify", "--db", db, "--provider", "openai", "--format", "json")
    assert [f["provider"] for f in only.json()] == ["openai"]
    assert not providers.seen("/github/user")

    by_id = run("verify", "--db", db, "--id", github["id"], "--format", "json")
    assert by_id.code == 0 and [f["id"] for f in by_id.json()] == [github["id"]]

    missing = run("verify", "--db", db, "--id", "f_0000000000000000")
    assert missing.code == 2 and missing.stderr.strip().startswith("keysweep: error:") and "f_0000" in missing.stderr
    assert "Traceback" not in missing.stderr

    no_store = run("verify", "--db", tmp_path / "absent.db")
    assert no_store.code == 2 and "no store" in no_store.stderr


def test_a_value_that_can_no_longer_be_reread_is_unknown(run, providers, keys, tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    secret = keys.openai_project()
    (folder / "config.env").write_text(f"OPENAI_API_KEY={secret}\n")
    db = tmp_path / "store.db"
    assert run("scan", "dir", folder, "--db", db).code == 1
    (folder / "config.env").write_text("OPENAI_API_KEY=${OPENAI_API_KEY}\n")

    result = run("verify", "--db", db, "--format", "json")
    verification = result.json()[0]["verification"]
    assert verification["status"] == "unknown" and "re-read" in verification["error"]
    assert not providers.seen("/openai/v1/models")


def test_scan_verify_checks_the_findings_of_that_scan(run, providers, leaky_repo, tmp_path):
    repo, secrets = leaky_repo
    result = run("scan", "git", repo.path, "--db", tmp_path / "s.db", "--format", "json", "--verify")
    assert result.code == 1
    findings = result.json()
    assert find_secret(findings, secrets["openai"])["verification"]["status"] == "live"
    assert find_secret(findings, secrets["github"])["verification"]["status"] == "dead"
    assert "verified 3 findings" in result.stderr

    one_shot = run("scan", "dir", repo.path, "--no-store", "--format", "json", "--verify")
    assert find_secret(one_shot.json(), secrets["openai"])["verification"]["status"] == "live"
    for value in secrets.values():
        assert value not in result.stdout + result.stderr + one_shot.stdout + one_shot.stderr


def test_key_ids_learned_by_verification_are_stored_on_the_finding(run, fake_api, monkeypatch, keys, make_repo,
                                                                    tmp_path):
    monkeypatch.setenv("GITLAB_URL", fake_api.url + "/gitlab")
    token = keys.gitlab_routable()
    fake_api.add("GET", "/gitlab/api/v4/personal_access_tokens/self", json={
        "id": 4242, "name": "ci", "revoked": False, "active": True, "scopes": ["api"], "user_id": 7,
        "created_at": "2025-01-01T00:00:00Z", "expires_at": None, "last_used_at": None})
    fake_api.add("GET", "/gitlab/api/v4/user", json={"id": 7, "username": "jdoe", "email": "jdoe@acme.io"})
    repo = make_repo()
    repo.commit("ci", {"ci.yml": f"GITLAB_TOKEN: {token}\n"})
    db = tmp_path / "s.db"
    scan(run, repo, db)
    result = run("verify", "--db", db, "--format", "json")
    finding = find_secret(result.json(), token)
    assert finding["key_id"] == "4242"
    assert finding["verification"]["identity"]["username"] == "jdoe"
    assert fake_api.seen("/gitlab/api/v4/user")[0].header("PRIVATE-TOKEN") == token


def test_reread_module_finds_values_in_git_blobs_and_files(make_repo, keys, tmp_path):
    from keysweep.scanner.reread import Rereader, reread_secret
    from keysweep.store import Store

    repo = make_repo()
    key_id, secret_key = keys.aws_access_key_id(), keys.aws_secret_access_key()
    repo.commit("aws", {"creds": f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n"})
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.pipeline import scan_git
    from keysweep.scanner.rules import load_rules
    from keysweep.scanner.sources.git import GitRepo

    result = scan_git(GitRepo(repo.path), Engine(load_rules()))
    store = Store(tmp_path / "s.db")
    store.record(result.findings, result.scope, "2025-01-01T00:00:00Z")
    finding = [f for f in store.findings() if f.rule_id == "aws.secret-access-key"][0]
    hit = Rereader().read(finding)
    assert hit is not None and hit.secret == secret_key and hit.key_id == key_id
    assert secret_key not in repr(hit)
    assert reread_secret(finding) == secret_key
    finding.occurrences[0].locator = {"repo": str(repo.path), "blob": "0" * 40}
    assert Rereader().read(finding) is None
