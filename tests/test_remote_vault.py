"""`keysweep scan vault` with hvac against a fake Vault on 127.0.0.1 (tests/fakes/vault.py: sys/mounts,
sys/internal/ui/mounts, KV v1 and v2 with LIST, metadata and versions, policies' 403s): what is
read, the locator, owner hints from custom metadata, incremental reads by version, --versions, a
denied folder or mount reported while the rest is swept, re-reads for verify, and one finding for
one key in a repository, a Kubernetes Secret and a Vault path."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.vault import FakeVault

from .conftest import find_secret
from .test_remote_kubernetes import cluster  # noqa: F401  (fixture)

pytest.importorskip("hvac")

TOKEN = "hvs.reader-token-for-tests-only"


@pytest.fixture
def vault(monkeypatch):
    server = FakeVault(token=TOKEN).start()
    monkeypatch.setenv("VAULT_ADDR", server.url)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    yield server
    server.stop()


@pytest.fixture
def seeded(vault, keys):
    planted = {"v2": keys.openai_project(), "nested": keys.anthropic(), "v1": keys.huggingface(),
               "old": keys.groq(), "denied": keys.xai(), "aws_id": keys.aws_access_key_id(),
               "aws_secret": keys.aws_secret_access_key()}
    vault.mount("secret", version=2)
    vault.mount("legacy", version=1)
    vault.put("secret", "ml/openai", {"api_key": planted["old"]})
    vault.put("secret", "ml/openai", {"api_key": planted["v2"], "org": "acme"},
              custom_metadata={"owner": "jane@acme.io", "team": "ml"})
    vault.put("secret", "agents/deep/claude", {"ANTHROPIC_API_KEY": planted["nested"]})
    vault.put("secret", "ci/aws", {"AWS_ACCESS_KEY_ID": planted["aws_id"], "AWS_SECRET_ACCESS_KEY": planted["aws_secret"]})
    vault.put("secret", "restricted/xai", {"key": planted["denied"]})
    vault.put("legacy", "hf", {"token": planted["v1"], "retries": 3})
    vault.deny("secret/restricted/")
    vault.deny_sys_mounts = True  # most tokens may not read sys/mounts: the UI listing is used
    return planted


def scan(run, tmp_path, *extra):
    return run("scan", "vault", "--format", "json", "--db", tmp_path / "store.db", "--no-progress", *extra)


def test_kv_v1_and_v2_secrets_are_found(run, tmp_path, seeded, vault):
    result = scan(run, tmp_path)
    assert result.code == 1, result
    findings = result.json()

    current = find_secret(findings, seeded["v2"])
    (place,) = current["occurrences"]
    assert place["source"] == "vault"
    assert place["locator"] == {"source": "vault", "addr": vault.url, "mount": "secret", "kv_version": 2,
                                "path": "ml/openai", "key": "api_key", "version": 2,
                                "resource": "vault secret/ml/openai api_key (v2)"}
    assert place["metadata"]["tags"] == {"owner": "jane@acme.io", "team": "ml"}
    assert place["metadata"]["version"] == 2 and place["metadata"]["current_version"] == 2
    # Only the current version by default.
    assert not [f for f in findings if f["secret_sha256"] == hashlib.sha256(seeded["old"].encode()).hexdigest()]

    assert find_secret(findings, seeded["nested"])["occurrences"][0]["locator"]["path"] == "agents/deep/claude"
    paired = find_secret(findings, seeded["aws_secret"])
    assert paired["key_id"] == seeded["aws_id"]  # two keys of one secret are matched together
    legacy = find_secret(findings, seeded["v1"])["occurrences"][0]["locator"]
    assert (legacy["mount"], legacy["kv_version"], legacy["path"], legacy["version"]) == ("legacy", 1, "hf", None)
    assert legacy["resource"] == "vault legacy/hf token"

    # The denied folder is one line; everything else was read.
    assert not [f for f in findings if f["secret_sha256"] == hashlib.sha256(seeded["denied"].encode()).hexdigest()]
    lines = [line for line in result.stderr.splitlines() if "permission denied" in line]
    assert len(lines) == 1, result.stderr
    assert "secret/restricted/: cannot list (403" in lines[0]
    assert "GET /v1/sys/internal/ui/mounts" in vault.seen()
    assert {r.method for r in vault.requests} <= {"GET", "LIST"}  # read-only

    store = b"".join(path.read_bytes() for path in tmp_path.glob("store.db*"))  # the store and its write-ahead log
    for name, value in seeded.items():
        if name != "aws_id":  # an access key id is an identifier, kept in clear as the finding's key_id
            assert value.encode() not in store, name
    assert seeded["aws_id"].encode() in store
    assert TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_versions_already_read_are_not_read_again(run, tmp_path, seeded, vault, keys):
    assert scan(run, tmp_path, "--mount", "secret").code == 1
    vault.requests.clear()
    second = scan(run, tmp_path, "--mount", "secret", "--new-only")
    assert second.code == 0 and second.json() == [], second
    assert not vault.seen("GET", "/v1/secret/data/"), "a version matched before was read again"
    assert vault.seen("GET", "/v1/secret/metadata/")

    rotated = keys.openai_project()
    vault.put("secret", "ml/openai", {"api_key": rotated})
    vault.requests.clear()
    third = scan(run, tmp_path, "--mount", "secret", "--new-only")
    (new,) = third.json()
    assert new["secret_sha256"] == hashlib.sha256(rotated.encode()).hexdigest()
    assert vault.seen("GET", "/v1/secret/data/") == ["GET /v1/secret/data/ml/openai"]


def test_older_versions_with_versions_but_never_deleted_ones(run, tmp_path, seeded, vault, keys):
    gone = keys.openai_project()
    vault.put("secret", "ml/openai", {"api_key": gone})
    vault.delete_current("secret", "ml/openai")
    result = scan(run, tmp_path, "--mount", "secret", "--versions")
    findings = result.json()
    assert find_secret(findings, seeded["old"])["occurrences"][0]["locator"]["version"] == 1
    assert find_secret(findings, seeded["v2"])["occurrences"][0]["locator"]["version"] == 2
    assert not [f for f in findings if f["secret_sha256"] == hashlib.sha256(gone.encode()).hexdigest()]
    assert "GET /v1/secret/data/ml/openai" in vault.seen()


def test_a_denied_mount_is_one_line_and_the_others_are_read(run, tmp_path, seeded, vault):
    vault.deny("legacy/")
    result = scan(run, tmp_path, "--fail-on-error")
    assert result.code == 3, result
    find_secret(result.json(), seeded["v2"])
    (line,) = [line for line in result.stderr.splitlines() if "legacy" in line]
    assert "legacy/: cannot list (403 1 error occurred: * permission denied)" in line


def test_verify_rereads_the_version_that_was_seen(run, tmp_path, seeded, vault, openai_api, keys):
    assert scan(run, tmp_path, "--mount", "secret").code == 1
    vault.put("secret", "ml/openai", {"api_key": keys.openai_project()})  # a newer version since
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), seeded["v2"])["verification"]["status"] == "live", checked
    assert "GET /v1/secret/data/ml/openai" in vault.seen()
    assert seeded["v2"] not in checked.stdout + checked.stderr


def test_one_key_in_a_repository_a_kubernetes_secret_and_vault_is_one_finding(run, tmp_path, seeded, cluster,
                                                                               make_repo):
    repo = make_repo("svc")
    repo.commit("config", {".env": f"OPENAI_API_KEY={seeded['v2']}\n"})
    cluster.secret("apps", "openai", {"OPENAI_API_KEY": seeded["v2"]})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--format", "json", "--db", db).code == 1
    assert run("scan", "kubernetes", "--format", "json", "--db", db, "--namespace", "apps").code == 1
    result = scan(run, tmp_path, "--mount", "secret")
    finding = find_secret(result.json(), seeded["v2"])
    assert sorted(o["source"] for o in finding["occurrences"]) == ["git", "kubernetes", "vault"]


def test_hostile_paths_are_printed_as_data(run, tmp_path, vault, keys):
    vault.mount("secret", version=2)
    vault.put("secret", "evil\x1b]0;owned\x07[bold red]x", {"KEY\x1b[2J[link=http://x]": keys.openai_project()})
    result = run("scan", "vault", "--db", tmp_path / "store.db", "--no-progress")
    assert result.code == 1, result
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
    assert "vault secret/evil\\x1b]0;owned\\x07[bold red]x KEY\\x1b[2J[link=http://x] (v1)" in result.stdout


def test_no_address_or_no_token_is_one_line(run, tmp_path, vault, monkeypatch):
    monkeypatch.delenv("VAULT_TOKEN")
    no_token = run("scan", "vault", "--db", tmp_path / "s.db")
    assert no_token.code == 2 and no_token.stderr.strip() == "keysweep: error: no Vault token: set VAULT_TOKEN", no_token
    monkeypatch.delenv("VAULT_ADDR")
    no_addr = run("scan", "vault", "--db", tmp_path / "s.db")
    assert no_addr.code == 2 and "no Vault address: pass --addr or set VAULT_ADDR" in no_addr.stderr, no_addr


def test_sweep_reads_the_vault_table(run, tmp_path, seeded, vault, monkeypatch):
    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.delenv("VAULT_ADDR")
    monkeypatch.setenv("ACME_VAULT_TOKEN", TOKEN)
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[[sources.vault]]\naddr = "{vault.url}"\ntoken_env = "ACME_VAULT_TOKEN"\nmounts = ["legacy"]\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "store.db", "--format", "json", "--no-progress")
    assert result.code == 1, result
    place = find_secret(result.json(), seeded["v1"])["occurrences"][0]
    assert place["locator"]["access"] == {"token_env": "ACME_VAULT_TOKEN"}  # the variable's name, never the token
    assert not [f for f in result.json() if f["occurrences"][0]["locator"].get("mount") == "secret"]


def test_owners_from_custom_metadata_and_from_the_owners_file(run, tmp_path, seeded):
    assert scan(run, tmp_path).code == 1
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text('[[owner]]\nname = "Platform"\n[owner.match]\nsecret_store = "vault:legacy/*"\n')
    result = run("owners", "--db", tmp_path / "store.db", "--format", "json", "--offline", "--owners-file", owners_file)
    assert result.code == 0, result
    findings = result.json()
    owned = find_secret(findings, seeded["v2"])["owner"]
    assert (owned["name"], owned["team"]) == ("jane@acme.io", "ml")  # the secret's custom metadata
    assert find_secret(findings, seeded["v1"])["owner"]["name"] == "Platform"


def test_approle_and_jwt_logins(run, tmp_path, seeded, vault, monkeypatch, openai_api):
    monkeypatch.delenv("VAULT_TOKEN")
    vault.approle("role-123", "secret-456")
    monkeypatch.setenv("VAULT_ROLE_ID", "role-123")
    monkeypatch.setenv("VAULT_SECRET_ID", "secret-456")
    result = scan(run, tmp_path, "--auth", "approle", "--mount", "secret")
    assert result.code == 1, result
    place = find_secret(result.json(), seeded["v2"])["occurrences"][0]
    assert place["locator"]["access"] == {"auth": "approle"}  # how to log in again, never the ids
    assert any(r.method == "POST" and r.path == "/v1/auth/approle/login" for r in vault.requests)
    # verify logs in the same way to read the value again
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), seeded["v2"])["verification"]["status"] == "live", checked

    jwt = tmp_path / "sa-token"
    jwt.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n")
    vault.jwt_role("keysweep", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", path="k8s-jwt")
    by_jwt = scan(run, tmp_path, "--auth", "jwt", "--role", "keysweep", "--auth-path", "k8s-jwt", "--jwt-file", jwt,
                  "--mount", "legacy", "--full")
    assert by_jwt.code == 1, by_jwt
    place = find_secret(by_jwt.json(), seeded["v1"])["occurrences"][0]
    assert place["locator"]["access"] == {"auth": "jwt", "auth_path": "k8s-jwt", "role": "keysweep",
                                          "jwt_file": str(jwt)}


def test_a_refused_login_is_one_line(run, tmp_path, seeded, vault, monkeypatch):
    monkeypatch.setenv("VAULT_ROLE_ID", "role-123")
    monkeypatch.setenv("VAULT_SECRET_ID", "wrong")
    result = scan(run, tmp_path, "--auth", "approle", "--fail-on-error")
    assert result.code == 3, result
    (line,) = [line for line in result.stderr.splitlines() if "warning" in line]
    assert "400 invalid role or secret ID" in line and "wrong" not in line
    missing = run("scan", "vault", "--auth", "jwt", "--db", tmp_path / "s.db")
    assert missing.code == 2 and missing.stderr.strip() == "keysweep: error: JWT login needs a role (--role)", missing


# -- a listing is data: whatever a server lists, the walk ends ----------------------------------------
def warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("keysweep: warning:")]


def test_a_folder_listing_itself_or_its_parent_is_one_line_a_name_and_the_rest_is_read(run_process, tmp_path, vault,
                                                                                        keys):
    """The walk that hung: a folder listed with a name holding an empty segment ('a//', what Vault's
    storage lists under a/ for a key a//b) is a request for a/ again (hvac folds '//' into '/'), so
    the folder listed itself forever. Such names, and '.', '..' and multi-segment ones, are one line
    each naming the path; the other names are read. Run as a process: a hang is its timeout."""
    top, inside = keys.openai_project(), keys.anthropic()
    vault.mount("secret", version=2)
    vault.put("secret", "top", {"OPENAI_API_KEY": top})
    vault.put("secret", "a/real", {"ANTHROPIC_API_KEY": inside})
    hostile = ["/", "//", "./", "../", ".", "..", "b/c/", "x/../", "real", "real", "\x1b[2J/"]
    vault.listing = lambda mount, folder: hostile if folder == "a" else None

    result = run_process("scan", "vault", "--format", "json", "--no-progress", "--db", tmp_path / "store.db")

    assert result.code == 1, result
    find_secret(result.json(), top)
    assert find_secret(result.json(), inside)["occurrences"][0]["locator"]["path"] == "a/real"  # listed twice, once
    host = vault.url.split("//", 1)[1]
    empty = dots = "an empty, '.' or '..' path segment"
    more = "more than one path segment in one name"
    expected = [f"vault {host} secret/a//: not read: listed with {empty}",
                f"vault {host} secret/a///: not read: listed with {empty}",
                f"vault {host} secret/a/./: not read: listed with {dots}",
                f"vault {host} secret/a/../: not read: listed with {dots}",
                f"vault {host} secret/a/.: not read: listed with {dots}",
                f"vault {host} secret/a/..: not read: listed with {dots}",
                f"vault {host} secret/a/b/c/: not read: listed with {more}",
                f"vault {host} secret/a/x/../: not read: listed with {dots}"]
    assert warnings(result) == [f"keysweep: warning: {line}, which Vault's API cannot be asked for as it is"
                                for line in expected]
    assert "Traceback" not in result.stderr
    lists = [r.path for r in vault.requests if r.query.get("list") == "true"]
    # each folder listed once; a name with an escape sequence is data (that folder: 404, empty)
    assert lists == ["/v1/secret/metadata", "/v1/secret/metadata/a", "/v1/secret/metadata/a/\x1b[2J"]


def test_folders_within_folders_without_end_stop_at_the_depth_bound(run, tmp_path, vault, keys):
    """A server answering every folder with a folder inside it: the walk stops MAX_DEPTH folders
    deep, one line naming the path; what is above is read. (The fake stops after 1,000 levels, so
    a walk without the bound ends too, and the test fails instead of hanging.)"""
    from keysweep.scanner.sources.vault import MAX_DEPTH

    top = keys.openai_project()
    vault.mount("secret", version=2)
    vault.put("secret", "top", {"OPENAI_API_KEY": top})
    vault.put("secret", "deeper/s", {"k": "v"})
    vault.listing = lambda mount, folder: ["deeper/"] if folder and folder.count("/") < 1000 else None

    result = run("scan", "vault", "--format", "json", "--no-progress", "--db", tmp_path / "store.db")

    assert result.code == 1, result
    find_secret(result.json(), top)
    (line,) = warnings(result)
    assert line == (f"keysweep: warning: vault {vault.url.split('//', 1)[1]} secret/{'deeper/' * (MAX_DEPTH + 1)}: "
                    f"not read: more than {MAX_DEPTH} folders deep")
    assert len([r for r in vault.requests if r.query.get("list") == "true"]) == MAX_DEPTH + 1  # the root, 64 deep


def test_a_listing_that_branches_without_end_stops_at_the_folder_bound(run, tmp_path, vault, keys, monkeypatch):
    """Two new folders in every folder: a walk bounded only in depth would list 2**64 of them. It
    stops at MAX_FOLDERS folders a mount, one line; what it met before is read."""
    from keysweep.scanner.sources import vault as vault_source

    monkeypatch.setattr(vault_source, "MAX_FOLDERS", 30)
    top = keys.openai_project()
    vault.mount("secret", version=2)
    vault.put("secret", "top", {"OPENAI_API_KEY": top})
    vault.put("secret", "f0/s", {"k": "v"})
    calls = []
    vault.listing = lambda mount, folder: (calls.append(folder) or ["f0/", "f1/"]) if folder and len(calls) < 5000 else None

    result = run("scan", "vault", "--format", "json", "--no-progress", "--db", tmp_path / "store.db")

    assert result.code == 1, result
    find_secret(result.json(), top)
    (line,) = warnings(result)
    assert line.endswith(" secret: more than 30 folders, the rest not read"), line
    assert len([r for r in vault.requests if r.query.get("list") == "true"]) == 30


@pytest.fixture
def short_timeout(monkeypatch):
    """Half a second for every request (30 s by default). The fake stalls for 60 s, then answers 504:
    a request sent without the timeout ends, and the test fails on that answer."""
    from keysweep.scanner.sources import vault as vault_source

    monkeypatch.setattr(vault_source, "TIMEOUT", 0.5)


def test_a_folder_never_answered_is_one_line_and_the_rest_is_read(run, tmp_path, vault, keys, short_timeout):
    top = keys.openai_project()
    vault.mount("secret", version=2)
    vault.put("secret", "top", {"OPENAI_API_KEY": top})
    vault.put("secret", "slow/s", {"OPENAI_API_KEY": keys.openai_project()})
    vault.stalled.add("/v1/secret/metadata/slow")

    result = run("scan", "vault", "--format", "json", "--no-progress", "--db", tmp_path / "store.db",
                 "--fail-on-error")

    assert result.code == 3, result
    find_secret(result.json(), top)
    (line,) = warnings(result)
    assert line == (f"keysweep: warning: vault {vault.url.split('//', 1)[1]} secret/slow/: cannot list "
                    "(no answer within 0.5 s (ReadTimeout))")


def test_a_vault_that_never_answers_is_one_line_and_a_failed_scan(run, tmp_path, vault, short_timeout):
    vault.mount("secret", version=2)
    vault.stalled.add("/v1/")

    result = run("scan", "vault", "--no-progress", "--db", tmp_path / "store.db")

    assert result.code not in (0, 1), result
    (line,) = [line for line in result.stderr.splitlines() if "vault" in line]
    assert "no answer within 0.5 s (ReadTimeout)" in line and "Traceback" not in result.stderr


def test_names_with_url_characters_are_read_and_reread_as_they_are_listed(run, tmp_path, vault, keys, openai_api):
    """'?', '#', '%2F', '%', spaces and non-ASCII in a name are data: each secret is read at its own
    path (the locator's, exact), and verify reads it again there."""
    names = ["q?x=1", "h#frag", "p%2Fq", "100%", "sp ace", "ünï/cödé", "a;b", "+plus"]
    planted = {name: keys.openai_project() for name in names}
    vault.mount("secret", version=2)
    for name, key in planted.items():
        vault.put("secret", name, {"OPENAI_API_KEY": key})

    result = run("scan", "vault", "--format", "json", "--no-progress", "--db", tmp_path / "store.db")

    assert result.code == 1 and not warnings(result), result
    for name, key in planted.items():
        assert find_secret(result.json(), key)["occurrences"][0]["locator"]["path"] == name
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    for key in planted.values():
        assert find_secret(checked.json(), key)["verification"]["status"] == "live", checked


def test_a_mount_listed_with_a_dot_dot_segment_is_one_line_not_another_mount_read_again(run, tmp_path, vault, keys):
    """sys/mounts naming 'x/../secret/': asked for as it is, the request is resolved to secret/ (the
    HTTP stack removes dot segments), so secret's keys would be reported at a mount that is not
    theirs. One line naming it; the mount itself is read once."""
    key = keys.openai_project()
    vault.mount("secret", version=2)
    vault.mount("x/../secret", version=2)
    vault.put("secret", "ml/openai", {"OPENAI_API_KEY": key})

    result = run("scan", "vault", "--format", "json", "--no-progress", "--db", tmp_path / "store.db")

    assert result.code == 1, result
    (place,) = find_secret(result.json(), key)["occurrences"]
    assert place["locator"]["mount"] == "secret"
    assert warnings(result) == [f"keysweep: warning: vault {vault.url.split('//', 1)[1]} x/../secret/: not read: a mount "
                                "listed with an empty, '.' or '..' path segment, which Vault's API cannot be asked for "
                                "as it is"]


def test_an_answer_that_is_not_json_is_one_line_per_secret(run, tmp_path, vault, keys):
    """A redirect (followed by no Vault client of keysweep's) or an empty 204 where a secret's JSON
    should be: one line naming the secret and the status, not an error of keysweep's own."""
    vault.mount("secret", version=2)
    vault.put("secret", "moved", {"OPENAI_API_KEY": keys.openai_project()})
    vault.intermediary["read"] = (301, "text/plain", b"")

    result = run("scan", "vault", "--no-progress", "--db", tmp_path / "store.db")

    assert warnings(result) == [f"keysweep: warning: vault {vault.url.split('//', 1)[1]} secret/moved: "
                                "HTTP 301: not a JSON answer"], result
