"""`keysweep scan github` against a fake GitHub on 127.0.0.1 (PyGithub pointed at it with its base
URL), with clone URLs that are local bare repositories."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.fakes.forge import FakeGitHub, ForgeBehaviour, GhRepo

from .conftest import find_secret

TOKEN = "ghp_faketesttoken_not_a_real_token_000000"


def stamp(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def bare_repo(make_repo, tmp_path: Path, name: str, files: dict[str, str]) -> str:
    builder = make_repo(f"src-{name}")
    builder.commit(f"add {name}", files)
    target = tmp_path / "remote" / f"{name}.git"
    builder.bare_clone(target)
    return f"file://{target}"


@pytest.fixture
def github(monkeypatch):
    server = FakeGitHub(ForgeBehaviour(token=TOKEN)).start()
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def org(github, make_repo, tmp_path, keys):
    """An organization with history, variables at three levels, old and fresh secrets."""
    planted = {
        "history": keys.openai_project(), "org_var": keys.anthropic(), "env_var": keys.google_api_key(),
        "repo_var": keys.huggingface(), "paged_var": keys.github(), "fork": keys.openai_project(),
        "aws_id": keys.aws_access_key_id(), "aws_secret": keys.aws_secret_access_key(),
    }
    github.add_org("acme", variables=[
        {"name": "ANTHROPIC_KEY", "value": planted["org_var"], "created_at": stamp(40), "updated_at": stamp(30),
         "visibility": "all"},
        {"name": "AWS_ACCESS_KEY_ID", "value": planted["aws_id"], "created_at": stamp(5), "updated_at": stamp(5),
         "visibility": "all"},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": planted["aws_secret"], "created_at": stamp(5),
         "updated_at": stamp(5), "visibility": "all"},
    ], secrets=[
        {"name": "ORG_DEPLOY_KEY", "created_at": stamp(400), "updated_at": stamp(365), "visibility": "private"},
        {"name": "ORG_FRESH", "created_at": stamp(10), "updated_at": stamp(10), "visibility": "all"},
    ])
    # 35 variables: two pages of 30 (the endpoint's maximum page size).
    many = [{"name": f"SETTING_{i:02d}", "value": f"value-{i}", "created_at": stamp(3), "updated_at": stamp(3)}
            for i in range(34)]
    many.append({"name": "GH_PAT", "value": planted["paged_var"], "created_at": stamp(2), "updated_at": stamp(2)})
    github.add_repo(GhRepo("acme", "api", bare_repo(make_repo, tmp_path, "api", {".env": f"OPENAI_API_KEY={planted['history']}\n"}),
                           pushed_at=stamp(1), variables=many,
                           secrets=[{"name": "DEPLOY_TOKEN", "created_at": stamp(200), "updated_at": stamp(120)},
                                    {"name": "NEW_TOKEN", "created_at": stamp(1), "updated_at": stamp(1)}],
                           environments={"prod": {"variables": [{"name": "GEMINI", "value": planted["env_var"],
                                                                 "created_at": stamp(9), "updated_at": stamp(9)}],
                                                  "secrets": [{"name": "PROD_DB", "created_at": stamp(100),
                                                               "updated_at": stamp(95)}]}}))
    github.add_repo(GhRepo("acme", "web", bare_repo(make_repo, tmp_path, "web", {"README.md": "nothing here\n"}),
                           archived=True, pushed_at=stamp(50),
                           variables=[{"name": "HF_TOKEN", "value": planted["repo_var"], "created_at": stamp(8),
                                       "updated_at": stamp(8)}]))
    github.add_repo(GhRepo("acme", "fork", bare_repo(make_repo, tmp_path, "fork", {"k.txt": f"key={planted['fork']}\n"}),
                           fork=True, pushed_at=stamp(2)))
    return planted


def scan(run, tmp_path, *extra):
    return run("scan", "github", "--org", "acme", "--format", "json", "--cache-dir", tmp_path / "cache",
               "--db", tmp_path / "store.db", *extra)


def test_org_history_variables_and_stale_secrets(run, tmp_path, github, org):
    github.behaviour.fail_once = {"/orgs/acme/repos": [429], "/repos/acme/api/actions/variables": [500],
                                  "/repos/acme/api/actions/secrets": [403]}  # 403: rate limit exhausted
    result = scan(run, tmp_path)
    assert result.code == 1, result
    findings = result.json()
    assert isinstance(findings, list)
    assert github.behaviour.statuses[429] == 1 and github.behaviour.statuses[500] == 1
    assert github.behaviour.statuses[403] == 1 and "warning" not in result.stderr  # all retried

    history = find_secret(findings, org["history"])
    assert history["occurrences"][0]["source"] == "git"
    assert history["occurrences"][0]["path"] == ".env"
    host = github.url.split("//")[1]
    assert history["occurrences"][0]["repo"] == f"{host}/acme/api"

    org_var = find_secret(findings, org["org_var"])
    (place,) = org_var["occurrences"]
    assert place["source"] == "github-actions-variable"
    assert place["locator"]["org"] == "acme" and place["locator"]["variable"] == "ANTHROPIC_KEY"
    assert place["locator"]["level"] == "org"
    assert place["metadata"]["visibility"] == "all"
    assert place["committed_at"] is not None  # when the value was put there

    aws = find_secret(findings, org["aws_secret"])
    assert aws["key_id"] == org["aws_id"]  # id and secret in two variables of one scope pair up

    paged = find_secret(findings, org["paged_var"])  # on the second page
    assert paged["occurrences"][0]["locator"]["variable"] == "GH_PAT"
    env = find_secret(findings, org["env_var"])
    assert env["occurrences"][0]["locator"]["environment"] == "prod"
    archived = find_secret(findings, org["repo_var"])
    assert archived["occurrences"][0]["repo"] == f"{host}/acme/web"

    digests = {f["secret_sha256"] for f in findings}
    import hashlib
    assert hashlib.sha256(org["fork"].encode()).hexdigest() not in digests  # forks are skipped by default

    stale = [f for f in findings if f["rule_id"] == "github.actions-stale-secret"]
    names = {f["occurrences"][0]["locator"]["secret"]: f for f in stale}
    assert set(names) == {"ORG_DEPLOY_KEY", "DEPLOY_TOKEN", "PROD_DB"}
    deploy = names["DEPLOY_TOKEN"]
    assert deploy["long_lived"] is True and deploy["provider"] == "github-actions"
    assert deploy["occurrences"][0]["metadata"]["age_days"] >= 119
    assert deploy["occurrences"][0]["locator"]["repo"] == "acme/api"
    assert names["PROD_DB"]["occurrences"][0]["locator"]["environment"] == "prod"
    for finding in findings:  # the whole contract is there
        for field in ("id", "rule_id", "rule_name", "provider", "secret_sha256", "redacted", "long_lived",
                      "key_id", "occurrences", "verification", "owner", "remediation"):
            assert field in finding
        assert finding["rule_name"]

    # Nothing secret in the store or the output, in clear.
    store_bytes = (tmp_path / "store.db").read_bytes()
    for value in (org["org_var"], org["env_var"], org["repo_var"], org["paged_var"], org["aws_secret"]):
        assert value.encode() not in store_bytes
        assert value not in result.stdout and value not in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    for config in (tmp_path / "cache").rglob("config"):
        assert TOKEN not in config.read_text()


def test_second_sweep_reads_nothing_new(run, tmp_path, github, org):
    first = scan(run, tmp_path)
    assert first.code == 1, first
    logged = len(github.behaviour.log)
    second = scan(run, tmp_path, "--new-only")
    assert second.code == 0, second
    assert second.json() == []  # nothing new
    assert "2 unchanged" in second.stderr and "0 repositories scanned" in second.stderr
    # Every page of every Actions listing, both pages of the 35 variables too, was asked with its
    # ETag and answered 304: no value was read again.
    assert "0 values read" in second.stderr
    actions = [entry for entry in github.behaviour.log[logged:] if "/actions/" in entry[0] or "/environments" in entry[0]]
    assert [path for path, _, _ in actions if path.startswith("/repos/acme/api/actions/variables")] == [
        "/repos/acme/api/actions/variables?per_page=30", "/repos/acme/api/actions/variables?per_page=30&page=2"]
    assert len(actions) == 11
    assert all(conditional and status == 304 for _, conditional, status in actions), actions
    again = scan(run, tmp_path)
    assert {f["id"] for f in again.json()} == {f["id"] for f in first.json()}  # the store still reports them


def test_a_changed_page_of_a_paged_listing_reads_every_page_again(run, tmp_path, github, org, keys):
    first = scan(run, tmp_path)
    assert first.code == 1, first
    # A variable of page 2 gets a new value (the count, on every page, stays: page 1 is unchanged).
    added = keys.openai_project()
    variables = github.repos["acme/api"].variables
    variables[-1] = {"name": "ZZ_OPENAI", "value": added, "created_at": stamp(0), "updated_at": stamp(0)}
    logged = len(github.behaviour.log)
    second = scan(run, tmp_path, "--new-only")
    assert second.code == 1, second
    (new,) = second.json()
    assert new["occurrences"][0]["locator"]["variable"] == "ZZ_OPENAI"
    # Page 1 did not change (304) but its values were not kept: it is read again, without a condition.
    pages = [(path, conditional, status) for path, conditional, status in github.behaviour.log[logged:]
             if path.startswith("/repos/acme/api/actions/variables")]
    assert pages == [("/repos/acme/api/actions/variables?per_page=30", True, 304),
                     ("/repos/acme/api/actions/variables?per_page=30&page=2", True, 200),
                     ("/repos/acme/api/actions/variables?per_page=30", False, 200)]
    assert "35 values read" in second.stderr
    third = scan(run, tmp_path, "--new-only")  # recorded: all unchanged again
    assert third.code == 0 and third.json() == [], third
    assert "0 values read" in third.stderr


def test_one_failing_repo_never_aborts(run, tmp_path, github, org):
    github.behaviour.forbidden = {"/repos/acme/api/actions/secrets"}
    github.repos["acme/web"].clone_url = f"file://{tmp_path}/missing.git"
    errors_file = tmp_path / "errors.json"
    result = scan(run, tmp_path, "--errors-json", errors_file)
    assert result.code == 1, result
    findings = result.json()
    find_secret(findings, org["history"])  # the rest completed
    find_secret(findings, org["repo_var"])
    lines = [line for line in result.stderr.splitlines() if line.startswith("keysweep: warning:")]
    assert any("acme/api" in line and "403" in line for line in lines), result.stderr
    assert any("git clone" in line and "acme/web" not in line or "missing.git" in line for line in lines), result.stderr
    errors = json.loads(errors_file.read_text())["errors"]
    assert len(errors) == len(lines) == 2

    strict = scan(run, tmp_path, "--fail-on-error")
    assert strict.code == 3, strict

    table = scan(run, tmp_path, "--format", "table")
    assert "403" in table.stdout  # errors in the table footer


def test_unknown_org_and_bad_usage(run, tmp_path, github):
    result = run("scan", "github", "--org", "nope", "--format", "json", "--db", tmp_path / "s.db",
                 "--cache-dir", tmp_path / "c")
    assert result.code == 0, result
    assert result.json() == []
    assert "github org nope: HTTP 404" in result.stderr
    assert "Traceback" not in result.stderr
    usage = run("scan", "github")
    assert usage.code == 2 and "needs --org" in usage.stderr
    assert run("scan", "github", "--repo", "justone").code == 2


def test_single_repo_no_clone_and_sarif(run, tmp_path, github, org):
    result = run("scan", "github", "--repo", "acme/api", "--no-clone", "--format", "sarif", "--no-store",
                 "--cache-dir", tmp_path / "cache")
    assert result.code == 1, result
    sarif = json.loads(result.stdout)
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert not (tmp_path / "cache").exists()

    by_user = run("scan", "github", "--user", "acme", "--no-actions", "--format", "json", "--no-store",
                  "--cache-dir", tmp_path / "cache")
    assert by_user.code == 1, by_user
    assert {o["source"] for f in by_user.json() for o in f["occurrences"]} == {"git"}
    find_secret(by_user.json(), org["history"])


def test_clone_auth_header_only_for_the_forge_host():
    from keysweep.scanner.sources.github import GitHubSource

    source = GitHubSource(orgs=("acme",), api_url="https://api.github.com", token="t0ken")
    assert source._auth_header("https://github.com/acme/api.git").startswith("Authorization: Basic ")
    assert source._auth_header("https://evil.example/acme/api.git") is None
    assert source._auth_header("file:///tmp/x.git") is None
    ghe = GitHubSource(orgs=("acme",), api_url="https://ghe.example.com/api/v3", token="t0ken")
    assert ghe.host == "ghe.example.com"
    assert ghe._auth_header("https://ghe.example.com/acme/api.git")


def test_the_no_internet_guard_refuses_non_loopback_addresses():
    import socket

    with pytest.raises(AssertionError, match="network"):
        socket.create_connection(("192.0.2.1", 443), timeout=0.2)  # TEST-NET-1: never routed
    with pytest.raises(AssertionError, match="network"):
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).connect(("2001:db8::1", 443, 0, 0))


def test_the_public_apis_web_host_is_githubs_and_an_appliance_keeps_its_own():
    from keysweep.scanner.sources.github import web_host

    assert web_host("https://api.github.com") == "github.com"
    assert web_host("https://github.example.com:8443/api/v3") == "github.example.com:8443"
