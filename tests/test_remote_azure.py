"""`keysweep scan azure` with azure-keyvault-secrets against fake Key Vaults on 127.0.0.1 over HTTPS
(tests/fakes/keyvault.py, a self-signed certificate made here and trusted through
REQUESTS_CA_BUNDLE): the current version of each enabled secret read after Key Vault's 401
challenge, listing pages followed, tags as owner hints, a vault whose access policy denies `list`
reported while the other is swept, a secret read once, re-reads for verify, nothing in clear."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.keyvault import FakeKeyVault, self_signed

from .conftest import find_secret

pytest.importorskip("azure.keyvault.secrets")

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.reader-token-for-tests.sig"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def tls(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def azure(monkeypatch, tls):
    """Two vaults (each its own host, as Key Vaults are); the client trusts the test's certificate,
    and only here is the challenge's resource (vault.azure.net) not compared with 127.0.0.1."""
    context, cert = tls
    vaults = [FakeKeyVault(context, name="acme-ml", token=TOKEN).start(),
              FakeKeyVault(context, name="acme-locked", token=TOKEN).start()]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    monkeypatch.setenv("KEYSWEEP_AZURE_KEYVAULT_TOKEN", TOKEN)
    monkeypatch.delenv("AZURE_KEYVAULT_URL", raising=False)
    monkeypatch.setattr("keysweep.scanner.sources.azure.VERIFY_CHALLENGE_RESOURCE", False)
    yield vaults
    for vault in vaults:
        vault.stop()


@pytest.fixture
def seeded(azure, keys):
    ml, locked = azure
    planted = {"current": keys.openai_project(), "previous": keys.anthropic(), "other": keys.huggingface(),
               "disabled": keys.groq(), "denied": keys.xai(), "locked": keys.deepseek()}
    ml.secret("openai-api-key", planted["previous"], planted["current"], tags={"owner": "ml-team", "purpose": "rag"})
    ml.secret("hf-token", planted["other"])
    ml.secret("groq-key", planted["disabled"], enabled=False)
    ml.secret("xai-key", planted["denied"])
    ml.deny_get.add("xai-key")
    for n in range(3):  # more than a page: the listing's nextLink is followed
        ml.secret(f"plain-{n}", f"not a key {n}")
    ml.page_size = 2
    locked.secret("deepseek", planted["locked"])
    locked.deny_list = True
    return planted


def scan(run, tmp_path, azure, *extra):
    urls = [arg for vault in azure for arg in ("--vault-url", vault.url)]
    return run("scan", "azure", "--format", "json", "--db", tmp_path / "store.db", "--no-progress", *urls, *extra)


def sweep(run, tmp_path, table: str):
    """`keysweep sweep` with a keysweep.toml holding `table` (a [[sources.azure]] table's lines)."""
    config = tmp_path / "keysweep.toml"
    config.write_text(f"[[sources.azure]]\n{table}")
    return run("sweep", "--config", config, "--db", tmp_path / "store.db", "--format", "json", "--no-progress")


def test_current_versions_are_read_and_denials_reported(run, tmp_path, seeded, azure):
    ml, locked = azure
    result = scan(run, tmp_path, azure)
    assert result.code == 1, result
    findings = result.json()
    current = find_secret(findings, seeded["current"])
    (place,) = current["occurrences"]
    version = ml.secrets["openai-api-key"].versions[-1].id
    host = ml.url.removeprefix("https://")
    assert place["source"] == "azure-keyvault"
    assert place["locator"] == {"source": "azure", "vault": ml.url, "secret": "openai-api-key", "version": version,
                                "resource": f"azure-kv {host}/openai-api-key {version}"}
    assert place["metadata"]["tags"] == {"owner": "ml-team", "purpose": "rag"}
    assert place["metadata"]["updated_at"] == "2025-01-02T00:00:00Z"
    find_secret(findings, seeded["other"])
    # Only current versions; a disabled secret is not asked for; a denied one is one line.
    for gone in ("previous", "disabled", "denied", "locked"):
        assert not [f for f in findings if f["secret_sha256"] == sha(seeded[gone])], gone
    errors = [line for line in result.stderr.splitlines() if "403" in line]
    assert len(errors) == 2, result.stderr
    assert any(f"azure {locked.url.removeprefix('https://')}: cannot list secrets (403 Forbidden: The user, group or "
               f"application" in e and "does not have secrets list permission" in e for e in errors), errors
    assert any("azure " + host + " xai-key: cannot get the secret (403 Forbidden:" in e for e in errors), errors
    assert not any("groq-key" in r.path for r in ml.requests)
    # Every page of the listing was read, with the token Key Vault's challenge asked for.
    assert sum(1 for r in ml.requests if r.path == "/secrets" and r.headers.get("Authorization")) == 4
    assert {r.method for vault in azure for r in vault.requests} == {"GET"}
    store = (tmp_path / "store.db").read_bytes()
    for value in seeded.values():
        assert value.encode() not in store and value not in result.stderr
    assert TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_secret_is_read_once_until_it_changes(run, tmp_path, seeded, azure, keys):
    ml, _ = azure
    assert scan(run, tmp_path, azure).code == 1
    first = len(ml.gets())
    assert first == 6  # openai, hf, xai (denied), three plain ones
    again = scan(run, tmp_path, azure, "--new-only")
    assert again.code == 0 and again.json() == [], again
    assert len(ml.gets()) == first + 1  # only the denied one is asked again
    rotated = keys.openai_project()
    ml.new_version("openai-api-key", rotated)
    third = scan(run, tmp_path, azure, "--new-only")
    (new,) = third.json()
    assert new["secret_sha256"] == sha(rotated)
    assert ml.gets()[first + 1:] == ["/secrets/openai-api-key/", "/secrets/xai-key/"]


def test_verify_rereads_the_version(run, tmp_path, seeded, azure, openai_api, keys):
    ml, _ = azure
    assert scan(run, tmp_path, azure).code == 1
    ml.new_version("openai-api-key", keys.openai_project())  # the scanned version is no longer current
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), seeded["current"])["verification"]["status"] == "live", checked
    scanned = ml.secrets["openai-api-key"].versions[1].id
    assert f"/secrets/openai-api-key/{scanned}" in ml.gets()
    assert seeded["current"] not in checked.stdout + checked.stderr


def test_owners_from_tags_and_from_the_owners_file(run, tmp_path, seeded, azure):
    ml, _ = azure
    assert scan(run, tmp_path, azure).code == 1
    owners_file = tmp_path / "keysweep-owners.toml"
    host = ml.url.removeprefix("https://")
    owners_file.write_text(f'[[owner]]\nname = "Hub Team"\n[owner.match]\nsecret_store = "azure-kv:{host}/hf-*"\n')
    result = run("owners", "--db", tmp_path / "store.db", "--format", "json", "--offline", "--owners-file", owners_file)
    assert result.code == 0, result
    tagged = find_secret(result.json(), seeded["current"])
    assert tagged["owner"]["name"] == "ml-team" and "owner=ml-team" in tagged["owner"]["evidence"]
    assert find_secret(result.json(), seeded["other"])["owner"]["name"] == "Hub Team"


def test_a_next_link_to_another_host_is_not_followed(run, tmp_path, azure, keys, tls):
    ml, _ = azure
    elsewhere = FakeKeyVault(tls[0], name="elsewhere", token=TOKEN).start()
    try:
        planted = keys.openai_project()
        ml.secret("a-key", planted)
        ml.secret("b-key", "nothing")
        ml.page_size = 1
        ml.next_link_base = elsewhere.url
        result = run("scan", "azure", "--vault-url", ml.url, "--db", tmp_path / "s.db", "--format", "json",
                     "--no-progress")
        assert elsewhere.requests == []  # not even asked: no token, no challenge
        assert "another host" in result.stderr and "not followed" in result.stderr, result
        assert result.code == 3, result  # the only vault failed: nothing was read
    finally:
        elsewhere.stop()


def test_hostile_names_are_printed_as_data(run, tmp_path, azure, keys):
    ml, _ = azure
    ml.secret("evil\x1b]0;owned\x07[bold red]x", keys.openai_project())
    result = run("scan", "azure", "--vault-url", ml.url, "--db", tmp_path / "store.db", "--no-progress")
    assert result.code == 1, result
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
    assert "evil\\x1b]0;owned\\x07[bold red]x" in result.stdout


def test_usage_errors_are_one_line(run, tmp_path, azure):
    none = run("scan", "azure", "--db", tmp_path / "s.db")
    assert none.code == 2 and none.stderr.strip() == \
        "keysweep: error: no Key Vault: pass --vault-url or set AZURE_KEYVAULT_URL", none
    plain = run("scan", "azure", "--vault-url", "http://acme.vault.azure.net", "--db", tmp_path / "s.db")
    assert plain.code == 2 and len(plain.stderr.strip().splitlines()) == 1 and "https" in plain.stderr, plain


def test_a_refused_token_is_one_line_per_vault(run, tmp_path, seeded, azure, monkeypatch):
    monkeypatch.setenv("KEYSWEEP_AZURE_KEYVAULT_TOKEN", "expired-token")
    result = scan(run, tmp_path, azure)
    assert result.code == 3 and "Traceback" not in result.stderr, result
    lines = [line for line in result.stderr.splitlines() if "cannot list secrets (401" in line]
    assert len(lines) == 2 and "AKV10000" in lines[0], result.stderr
    assert "expired-token" not in result.stderr


def test_sweep_reads_the_azure_table(run, tmp_path, seeded, azure):
    ml, _ = azure
    result = sweep(run, tmp_path, f'vault_urls = ["{ml.url}"]\n')
    assert result.code == 1, result
    assert find_secret(result.json(), seeded["current"])["occurrences"][0]["locator"]["vault"] == ml.url
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sources.azure]]\nvault_urls = ["acme.vault.azure.net"]\n')
    wrong = run("sweep", "--config", bad, "--db", tmp_path / "store.db")
    assert wrong.code == 2 and "[sources.azure] vault_urls" in wrong.stderr, wrong


def test_a_vault_is_a_unit_a_worker_reads_with_its_own_credentials(seeded, azure):
    """A distributed sweep sends each vault as data; the worker builds the source again and reads
    that vault (with the token of its own environment), and refuses a vault it was not given."""
    import asyncio

    from keysweep.distributed.units import build_source, describe_item, describe_source
    from keysweep.scanner.sources.azure import AzureSource
    from keysweep.scanner.sources.remote import Pending, RemoteError

    ml, locked = azure

    class Run:
        errors: list[str] = []

        def already(self, source, scope):
            return set()

        def error(self, message):
            self.errors.append(message)

    async def main():
        run = Run()
        items = [item async for item in AzureSource(vault_urls=[ml.url, locked.url]).items(run)]
        units = [describe_item(item) for item in items]
        for item in items:
            item.work.close()  # done by the worker instead
        worker = build_source(describe_source(AzureSource(vault_urls=[ml.url, locked.url])))
        read = [await worker.rebuild(run, Pending(u["label"], None, u["spec"])).work for u in units]
        with pytest.raises(RemoteError):
            worker.rebuild(run, Pending("azure elsewhere", None, {"op": "read", "vault": "https://evil.example"}))
        return units, read, run.errors

    units, (unit, denied), errors = asyncio.run(main())
    assert [u["spec"] for u in units] == [{"op": "read", "vault": ml.url}, {"op": "read", "vault": locked.url}]
    assert unit.scope == f"azure:{ml.url}" and len(unit.groups) == 5  # openai, hf, three plain ones
    assert denied is None and any("cannot list secrets (403" in e for e in errors)


# -- older versions (--versions) ----------------------------------------------------------------------
def value_gets(vault: FakeKeyVault) -> list[str]:
    """Get Secret requests of one version by id (the version listings left out)."""
    return [p for p in vault.gets() if not p.endswith("/versions")]


@pytest.fixture
def rotated(seeded, azure, keys):
    """Besides `seeded` (openai-api-key: an older version still enabled): a rotation that disabled
    the old version, and a secret whose current version is disabled while an older one is not."""
    ml, _ = azure
    planted = {"retired": keys.github(), "rollback": keys.replicate()}  # each found by its prefix alone
    ml.secret("billing", planted["retired"], "not a key")
    ml.secrets["billing"].versions[0].enabled = False
    ml.secret("rolled-back", planted["rollback"], "paused value", enabled=False)
    return planted


def test_versions_reads_each_older_enabled_version_once(run, tmp_path, seeded, rotated, azure):
    ml, _ = azure
    result = scan(run, tmp_path, azure, "--versions")
    assert result.code == 1, result
    findings = result.json()
    versions = ml.secrets["openai-api-key"].versions
    host = ml.url.removeprefix("https://")
    (older,) = find_secret(findings, seeded["previous"])["occurrences"]
    assert older["locator"] == {"source": "azure", "vault": ml.url, "secret": "openai-api-key",
                                "version": versions[0].id,
                                "resource": f"azure-kv {host}/openai-api-key {versions[0].id} (older)"}
    assert older["metadata"]["current_version"] == versions[1].id and older["metadata"]["version"] == versions[0].id
    (current,) = find_secret(findings, seeded["current"])["occurrences"]
    assert current["locator"]["version"] == versions[1].id and "current_version" not in current["metadata"]
    # An older version left enabled behind a disabled current one is still readable, and read.
    assert find_secret(findings, rotated["rollback"])["occurrences"][0]["locator"]["secret"] == "rolled-back"
    # A disabled version is never asked for.
    assert not [f for f in findings if f["secret_sha256"] == sha(rotated["retired"])]
    retired = ml.secrets["billing"].versions[0].id
    assert f"/secrets/billing/{retired}" not in ml.gets()
    assert "/secrets/openai-api-key/versions" in ml.gets()
    assert "Traceback" not in result.stderr
    store = (tmp_path / "store.db").read_bytes()
    assert all(value.encode() not in store for value in [*seeded.values(), *rotated.values()])

    read = len(value_gets(ml))
    again = scan(run, tmp_path, azure, "--versions", "--new-only")
    assert again.code == 0 and again.json() == [], again
    assert value_gets(ml)[read:] == ["/secrets/xai-key/"]  # no version read twice; the denied one asked again


def test_without_versions_no_version_is_listed(run, tmp_path, seeded, rotated, azure):
    ml, _ = azure
    result = scan(run, tmp_path, azure)
    assert result.code == 1, result
    assert not [p for p in ml.gets() if p.endswith("/versions")]
    assert not [f for f in result.json() if f["secret_sha256"] in {sha(seeded["previous"]), sha(rotated["rollback"])}]


def test_verify_rereads_an_older_version(run, tmp_path, azure, keys, openai_api):
    ml, _ = azure
    before, after = keys.openai_project(), keys.openai_project()
    ml.secret("openai-rotated", before, after)
    assert run("scan", "azure", "--vault-url", ml.url, "--versions", "--db", tmp_path / "store.db",
               "--format", "json", "--no-progress").code == 1
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), before)["verification"]["status"] == "live", checked
    assert f"/secrets/openai-rotated/{ml.secrets['openai-rotated'].versions[0].id}" in ml.gets()
    assert before not in checked.stdout + checked.stderr


def test_versions_that_cannot_be_listed_are_one_line(run, tmp_path, seeded, azure):
    ml, _ = azure
    ml.deny_versions.add("openai-api-key")
    result = scan(run, tmp_path, azure, "--versions")
    (line,) = [line for line in result.stderr.splitlines() if "cannot list versions" in line]
    assert f"azure {ml.url.removeprefix('https://')} openai-api-key: cannot list versions (403 Forbidden" in line
    find_secret(result.json(), seeded["current"])  # its current version is still read


def test_sweep_reads_older_versions_when_the_azure_table_says_so(run, tmp_path, seeded, azure):
    ml, _ = azure
    result = sweep(run, tmp_path, f'vault_urls = ["{ml.url}"]\nversions = true\n')
    assert result.code == 1, result
    assert find_secret(result.json(), seeded["previous"])["occurrences"][0]["locator"]["resource"].endswith("(older)")
