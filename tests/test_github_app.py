"""keysweep eats its own cooking: it reads GitHub as a GitHub App installation (a JWT signed with
the app's private key buys a 1-hour installation token, asked again before it expires), never with
a standing personal token, and never shows the key or a token. The fake GitHub checks the JWT's
signature against the app's public key and refuses an expired one as GitHub does."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.fakes.forge import JWT_EXPIRED, JWT_TOO_LONG, JWT_UNDECODABLE, FakeGitHub, ForgeBehaviour, GhRepo, plant_acme_api

from .conftest import find_secret

CLASSIC = "ghp_classic_token_nobody_gave_keysweep_0000"
APP_ID = "424242"
INSTALLATION = 7001


def rsa_pem() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture(scope="module")
def app_keys():
    return rsa_pem()


@pytest.fixture
def key_file(tmp_path, app_keys):
    path = tmp_path / "app.pem"
    path.write_text(app_keys[0])
    path.chmod(0o600)
    return path


@pytest.fixture
def forge(monkeypatch, app_keys):
    """A GitHub where the app is installed on `acme` only; its classic token is given to nobody."""
    server = FakeGitHub(ForgeBehaviour(token=CLASSIC)).start()
    server.add_app(APP_ID, app_keys[1], {INSTALLATION: "acme"})
    for name in ("GITHUB_TOKEN", "KEYSWEEP_GITHUB_APP_ID", "KEYSWEEP_GITHUB_APP_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def acme(forge, make_repo, tmp_path, keys):
    """acme/api: an OpenAI key in its history (served over git's HTTP protocol) and an Actions
    variable holding another one."""
    return plant_acme_api(forge, make_repo, tmp_path, keys)


def non_app_auth(forge: FakeGitHub) -> set[str]:
    """Every Authorization header sent outside the app endpoints."""
    return set(forge.behaviour.auth_seen) - app_jwts(forge)


def app_jwts(forge: FakeGitHub) -> set[str]:
    return {auth for auth in forge.behaviour.auth_seen if auth.startswith("Bearer ") and auth.count(".") == 2}


def assert_only_installation_tokens(forge: FakeGitHub) -> None:
    """Outside the app endpoints, every request carried an installation token the fake issued
    (Bearer for the API, Basic x-access-token for git); never the JWT, never the classic token."""
    issued = set(forge.issued)
    assert issued, "no installation token was asked for"
    for auth in non_app_auth(forge):
        scheme, _, value = auth.partition(" ")
        if scheme == "Basic":
            user, _, value = base64.b64decode(value).decode().partition(":")
            assert user == "x-access-token"
        assert value in issued, f"a request was authenticated with something else ({scheme})"
    assert CLASSIC not in " ".join(forge.behaviour.auth_seen)


def assert_nothing_in_clear(texts: list[str], forge: FakeGitHub, private_pem: str) -> None:
    body = "".join(private_pem.strip().splitlines()[1:-1])
    secrets = [*forge.issued, *(jwt.partition(" ")[2] for jwt in app_jwts(forge))]
    for text in texts:
        for secret in secrets:
            assert secret not in text and secret[4:20] not in text
        for line in private_pem.strip().splitlines()[1:-1]:
            assert line[:16] not in text
        assert body[:32] not in text


def test_scan_github_as_an_app_reads_with_installation_tokens_only(run, tmp_path, forge, acme, key_file, app_keys):
    db = tmp_path / "store.db"
    result = run("scan", "github", "--org", "acme", "--app-id", APP_ID, "--app-key-file", key_file,
                 "--cache-dir", tmp_path / "cache", "--db", db, "--format", "json")
    assert result.code == 1, result
    findings = result.json()
    history = find_secret(findings, acme["history"])
    variable = find_secret(findings, acme["variable"])
    assert forge.git_requests, "the repository was not cloned over HTTP"

    # JWT-authenticated calls: the org's installation, then one token for the whole scan.
    assert [(m, p, app, s) for m, p, app, s in forge.app_calls] == [
        ("GET", "/orgs/acme/installation", APP_ID, 200),
        ("POST", f"/app/installations/{INSTALLATION}/access_tokens", APP_ID, 201)]
    assert_only_installation_tokens(forge)

    # A place keeps how it was reached: the app id, the key file's path, the installation.
    for finding in (history, variable):
        access = finding["occurrences"][0]["locator"]["access"]
        assert access["app_id"] == APP_ID and access["installation_id"] == INSTALLATION
        assert access["app_key_file"] == str(key_file.resolve())
    assert_nothing_in_clear([result.stdout, result.stderr, db.read_bytes().decode("latin-1")], forge, app_keys[0])


def test_env_names_the_app_and_a_second_org_without_the_app_is_one_error(run, tmp_path, forge, acme, key_file,
                                                                        monkeypatch):
    monkeypatch.setenv("KEYSWEEP_GITHUB_APP_ID", APP_ID)
    monkeypatch.setenv("KEYSWEEP_GITHUB_APP_KEY_FILE", str(key_file))
    forge.add_org("elsewhere")
    result = run("scan", "github", "--org", "acme", "--org", "elsewhere", "--no-clone", "--db", tmp_path / "s.db",
                 "--format", "json")
    assert result.code == 1, result  # acme was read
    find_secret(result.json(), acme["variable"])
    assert f"github org elsewhere: GitHub App {APP_ID} is not installed there" in result.stderr
    assert result.stderr.count("elsewhere") == 1, result.stderr
    assert_only_installation_tokens(forge)


def test_a_key_the_app_does_not_hold_is_refused_and_said_in_one_line(run, tmp_path, forge, acme):
    other = tmp_path / "other.pem"
    other.write_text(rsa_pem()[0])
    result = run("scan", "github", "--org", "acme", "--app-id", APP_ID, "--app-key-file", other, "--no-clone",
                 "--db", tmp_path / "s.db", "--format", "json")
    assert result.code == 3, result  # nothing could be read
    assert f"HTTP 401 {JWT_UNDECODABLE}" in result.stderr
    assert "Traceback" not in result.stderr
    assert forge.issued == {}
    assert forge.app_calls[0][2:] == (None, 401)


@pytest.mark.parametrize("args, message", [
    (["--app-id", APP_ID], "needs both an app id"),
    (["--app-key-file", "KEY"], "needs both an app id"),
    (["--app-id", APP_ID, "--app-key-file", "NOTPEM"], "not a PEM private key"),
    (["--app-id", APP_ID, "--app-key-file", "MISSING"], "GitHub App key file"),
])
def test_bad_app_settings_are_one_line_exit_2(run, tmp_path, forge, key_file, args, message):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXktYXQtYWxs\n-----END PRIVATE KEY-----\n")
    files = {"KEY": str(key_file), "NOTPEM": str(not_pem), "MISSING": str(tmp_path / "absent.pem")}
    result = run("scan", "github", "--org", "acme", "--no-clone", "--db", tmp_path / "s.db",
                 *[files.get(a, a) for a in args])
    assert result.code == 2, result
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "c2VjcmV0LWJ1dC1ub3Qt" not in result.stderr
    assert forge.behaviour.total == 0  # refused before any call


def test_the_installation_token_is_asked_again_before_it_expires(forge, key_file):
    from keysweep.scanner.sources.github_app import GitHubApp, app_config

    now = [datetime.now(timezone.utc)]
    app = GitHubApp(app_config(APP_ID, key_file), forge.url, clock=lambda: now[0])
    installation = app.installation("org", "acme")
    assert installation == INSTALLATION
    first = app.token(installation)
    assert app.token(installation) == first and app.minted == 1  # held while it has time left
    now[0] += timedelta(minutes=49)
    assert app.token(installation) == first
    now[0] += timedelta(minutes=2)  # under 10 minutes left of its hour: a new one
    second = app.token(installation)
    assert second != first and app.minted == 2
    assert [p for m, p, _, _ in forge.app_calls if m == "POST"] == [f"/app/installations/{INSTALLATION}/access_tokens"] * 2
    assert first not in repr(app) and second not in repr(app)


def test_a_token_shorter_lived_than_the_margin_is_kept_for_half_its_life(forge, key_file):
    from keysweep.scanner.sources.github_app import GitHubApp, app_config

    forge.apps[APP_ID].token_lifetime = 600  # ten minutes, as an appliance might be set
    now = [datetime.now(timezone.utc)]
    app = GitHubApp(app_config(APP_ID, key_file), forge.url, clock=lambda: now[0])
    first = app.token(INSTALLATION)
    now[0] += timedelta(minutes=4)
    assert app.token(INSTALLATION) == first and app.minted == 1
    now[0] += timedelta(minutes=2)
    assert app.token(INSTALLATION) != first and app.minted == 2


def test_the_fake_github_refuses_jwts_as_github_does(forge, app_keys):
    """The fake's own spec: RS256 signature against the app's public key, `exp` in the future and
    at most 10 minutes ahead; a JWT is for the app endpoints only, an installation token is not."""
    import jwt
    import requests

    def call(method, path, token):
        return requests.request(method, forge.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def signed(key=app_keys[0], iat=-60, exp=300, iss=APP_ID):
        now = int(time.time())
        return jwt.encode({"iat": now + iat, "exp": now + exp, "iss": iss}, key, algorithm="RS256")

    forge.add_org("acme")
    expired = call("GET", "/app/installations", signed(iat=-900, exp=-300))
    assert expired.status_code == 401
    assert expired.json() == {"message": JWT_EXPIRED, "documentation_url": "https://docs.github.com/rest"}
    assert call("GET", "/app/installations", signed(exp=1200)).json()["message"] == JWT_TOO_LONG
    assert call("GET", "/app/installations", signed(key=rsa_pem()[0])).json()["message"] == JWT_UNDECODABLE
    assert call("GET", "/app/installations", signed(iss="999")).status_code == 401

    good = signed()
    listed = call("GET", "/app/installations", good)
    assert listed.status_code == 200 and [i["id"] for i in listed.json()] == [INSTALLATION]
    minted = call("POST", f"/app/installations/{INSTALLATION}/access_tokens", good)
    assert minted.status_code == 201
    body = minted.json()
    token = body["token"]
    assert token.startswith("ghs_")
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert timedelta(minutes=59) < expires - datetime.now(timezone.utc) <= timedelta(hours=1)

    assert call("GET", "/orgs/acme/repos", good).status_code == 401        # a JWT is no API token
    assert call("GET", "/app/installations", token).status_code == 401     # nor a token a JWT
    assert call("GET", "/orgs/acme/repos", token).status_code == 200
    forge.add_org("other")
    assert call("GET", "/orgs/other/repos", token).status_code == 404      # its own account only


def test_a_sweep_as_an_app_and_its_rereads_use_the_app_never_a_token(run, tmp_path, forge, acme, key_file, app_keys,
                                                                     openai_api):
    """[[sources.github]] app_id/app_key_file; verify re-reads the variable through the API and the
    history from a fresh clone (cache cleared) with new installation tokens of the same app."""
    config = tmp_path / "keysweep.toml"
    config.write_text(f"""
[sources]
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]
api_url = "{forge.url}"
app_id = {APP_ID}
app_key_file = "app.pem"
""")
    db = tmp_path / "store.db"
    swept = run("sweep", "--config", config, "--db", db, "--format", "json")
    assert swept.code == 1, swept
    find_secret(swept.json(), acme["history"])

    shutil.rmtree(tmp_path / "cache")
    before = (forge.git_requests, len(forge.issued))
    verified = run("verify", "--db", db, "--config", config, "--format", "json", "--ttl", "0")
    for name in ("history", "variable"):
        assert find_secret(verified.json(), acme[name])["verification"]["status"] == "live", (name, verified)
    assert "cannot re-read" not in verified.stderr
    assert forge.git_requests > before[0], "the cleared cache was not cloned again"
    assert len(forge.issued) > before[1], "the re-read did not use a new installation token"
    assert_only_installation_tokens(forge)
    assert_nothing_in_clear([swept.stdout, swept.stderr, verified.stdout, verified.stderr,
                             db.read_bytes().decode("latin-1")], forge, app_keys[0])


def test_a_sweep_table_with_half_an_app_is_exit_2(run, tmp_path, forge):
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[[sources.github]]\norgs = ["acme"]\napi_url = "{forge.url}"\napp_id = {APP_ID}\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db")
    assert result.code == 2 and "needs both an app id" in result.stderr, result
    config.write_text('[[sources.github]]\norgs = ["acme"]\napp_id = true\napp_key_file = "k.pem"\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db")
    assert result.code == 2 and "app_id" in result.stderr, result


def test_pygithub_is_loaded_only_on_the_app_path():
    code = ("import sys; from keysweep.commands import scan_github, sweep; "
            "from keysweep.scanner.sources import readers; print('github' in sys.modules)")
    out = subprocess.run([sys_executable(), "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def sys_executable() -> str:
    import sys

    return sys.executable


def test_the_key_file_path_only_is_kept(tmp_path, key_file):
    from keysweep.scanner.sources.github_app import app_config

    config = app_config(APP_ID, key_file)
    assert json.dumps(config.access()) == json.dumps({"app_id": APP_ID, "app_key_file": str(Path(key_file).resolve())})


def test_a_repository_and_a_user_are_read_through_their_own_installations(run, tmp_path, forge, acme, key_file):
    """`--repo` asks GET /repos/{o}/{r}/installation, `--user` GET /users/{u}/installation; each
    target gets its installation's token (two installations, two tokens)."""
    forge.apps[APP_ID].installations[7002] = "octocat"
    forge.add_repo(GhRepo("octocat", "dotfiles", "file:///nonexistent", variables=[
        {"name": "NOTE", "value": "nothing secret", "created_at": "2025-01-01T00:00:00Z",
         "updated_at": "2025-01-01T00:00:00Z"}]))
    result = run("scan", "github", "--repo", "acme/api", "--user", "octocat", "--no-clone", "--app-id", APP_ID,
                 "--app-key-file", key_file, "--db", tmp_path / "s.db", "--format", "json")
    assert result.code == 1, result
    find_secret(result.json(), acme["variable"])
    calls = [(m, p) for m, p, _, _ in forge.app_calls]
    assert ("GET", "/users/octocat/installation") in calls and ("GET", "/repos/acme/api/installation") in calls
    assert sorted(p for m, p in calls if m == "POST") == [f"/app/installations/{INSTALLATION}/access_tokens",
                                                          "/app/installations/7002/access_tokens"]
    assert {iid for iid, _, _ in forge.issued.values()} == {INSTALLATION, 7002}
    assert_only_installation_tokens(forge)
