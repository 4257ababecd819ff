"""`keysweep scan gcp` with google-cloud-secret-manager (REST transport) against a fake Secret
Manager on 127.0.0.1 (tests/fakes/secretmanager.py): enabled versions read, disabled ones not,
labels as owner hints, versions accessed once, a denied project or secret reported while the rest
is swept, re-reads for verify."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.secretmanager import FakeSecretManager

from .conftest import find_secret
from .test_reread_sources import openai_api  # noqa: F401  (fixture)

pytest.importorskip("google.cloud.secretmanager")

TOKEN = "ya29.reader-token-for-tests"


@pytest.fixture
def gcp(monkeypatch):
    server = FakeSecretManager(token=TOKEN).start()
    monkeypatch.setenv("KEYSWEEP_GCP_SECRETMANAGER_BASE_URL", server.url)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-ml")
    yield server
    server.stop()


@pytest.fixture
def seeded(gcp, keys):
    planted = {"current": keys.openai_project(), "older": keys.anthropic(), "disabled": keys.groq(),
               "other": keys.huggingface(), "denied": keys.xai(), "blocked": keys.deepseek()}
    gcp.secret("acme-ml", "openai-key", [planted["older"], planted["current"]], labels={"owner": "ml-team"})
    gcp.secret("acme-ml", "groq", [planted["disabled"]], states=["DISABLED"])
    gcp.secret("acme-ml", "hf-token", [planted["other"]])
    gcp.secret("acme-ml", "locked", [planted["blocked"]])
    gcp.secret("acme-secrets", "xai", [planted["denied"]])
    gcp.denied.update({"acme-secrets", "acme-ml/locked"})
    return planted


def scan(run, tmp_path, *extra):
    return run("scan", "gcp", "--format", "json", "--db", tmp_path / "store.db", "--no-progress", *extra)


def test_enabled_versions_are_read_and_denials_reported(run, tmp_path, seeded, gcp):
    result = scan(run, tmp_path, "--project", "acme-ml", "--project", "acme-secrets")
    assert result.code == 1, result
    findings = result.json()
    current = find_secret(findings, seeded["current"])
    (place,) = current["occurrences"]
    assert place["source"] == "gcp-secretmanager"
    assert place["locator"] == {"source": "gcp", "project": "acme-ml", "secret": "openai-key", "version": "2",
                                "resource": "gcp-secret acme-ml/openai-key v2"}
    assert place["metadata"]["tags"] == {"owner": "ml-team"}
    assert find_secret(findings, seeded["older"])["occurrences"][0]["locator"]["version"] == "1"  # still enabled
    find_secret(findings, seeded["other"])
    for gone in ("disabled", "denied", "blocked"):
        assert not [f for f in findings if f["secret_sha256"] == hashlib.sha256(seeded[gone].encode()).hexdigest()]
    errors = [line for line in result.stderr.splitlines() if "403" in line]
    assert len(errors) == 2, result.stderr
    assert any("gcp acme-secrets: cannot list secrets (403 Permission 'secretmanager.secrets.list' denied" in e
               for e in errors)
    assert any("gcp acme-ml locked: cannot list versions (403" in e for e in errors)
    assert {r.method for r in gcp.requests} == {"GET"}
    store = (tmp_path / "store.db").read_bytes()
    for value in seeded.values():
        assert value.encode() not in store
    assert TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_version_is_accessed_once(run, tmp_path, seeded, gcp, keys):
    assert scan(run, tmp_path).code == 1  # GOOGLE_CLOUD_PROJECT
    gcp.requests.clear()
    again = scan(run, tmp_path, "--new-only")
    assert again.code == 0 and again.json() == [], again
    assert gcp.accessed() == []
    rotated = keys.openai_project()
    gcp.add_version("acme-ml", "openai-key", rotated)
    third = scan(run, tmp_path, "--new-only")
    (new,) = third.json()
    assert new["secret_sha256"] == hashlib.sha256(rotated.encode()).hexdigest()
    assert gcp.accessed() == ["/v1/projects/100000/secrets/openai-key/versions/3:access"]


def test_verify_rereads_the_version(run, tmp_path, seeded, gcp, openai_api):
    assert scan(run, tmp_path).code == 1
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), seeded["current"])["verification"]["status"] == "live", checked
    assert "/v1/projects/acme-ml/secrets/openai-key/versions/2:access" in gcp.accessed()


def test_no_project_is_one_line(run, tmp_path, gcp, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    result = run("scan", "gcp", "--db", tmp_path / "s.db")
    assert result.code == 2 and result.stderr.strip() == \
        "keysweep: error: no GCP project: pass --project or set GOOGLE_CLOUD_PROJECT", result


def test_sweep_reads_the_gcp_table(run, tmp_path, seeded, gcp, monkeypatch):
    monkeypatch.delenv("KEYSWEEP_GCP_SECRETMANAGER_BASE_URL")
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[[sources.gcp]]\nprojects = ["acme-ml"]\nendpoint_url = "{gcp.url}"\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "store.db", "--format", "json", "--no-progress")
    assert result.code == 1, result
    place = find_secret(result.json(), seeded["current"])["occurrences"][0]
    assert place["locator"]["access"] == {"endpoint_url": gcp.url}


def test_a_project_that_cannot_be_listed_is_not_read(run, tmp_path, seeded, gcp):
    """Its only project denied, the run read nothing: exit 3, never "nothing found"."""
    result = scan(run, tmp_path, "--project", "acme-secrets")
    assert result.code == 3 and result.json() == [], result
    assert "gcp acme-secrets: cannot list secrets (403" in result.stderr
