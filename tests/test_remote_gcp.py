"""`keysweep scan gcp` with google-cloud-secret-manager (REST transport) against a fake Secret
Manager on 127.0.0.1 (tests/fakes/secretmanager.py): enabled versions read, disabled ones not,
labels as owner hints, versions accessed once, a denied project or secret reported while the rest
is swept, re-reads for verify."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.secretmanager import FakeSecretManager

from .conftest import find_secret

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


def test_a_secret_listed_with_a_lone_surrogate_in_its_name_is_one_line_and_the_rest_is_read(run, tmp_path, gcp,
                                                                                            keys):
    """No Google secret id holds one, but an intermediary's listing page can (JSON's \\ud800), and the
    client library refuses such a page whole. That secret is one warning line naming it escaped, its
    versions never asked; the rest of the listing, on that page and the next, is read, a label with
    a lone surrogate as U+FFFD."""
    planted = {"first": keys.openai_project(), "bad": keys.anthropic(), "labelled": keys.groq(), "last": keys.xai()}
    gcp.secret("acme-ml", "a-first", [planted["first"]])
    gcp.secret("acme-ml", "bad\ud800x", [planted["bad"]])  # on the first page of two, beside a-first
    gcp.secret("acme-ml", "labelled", [planted["labelled"]], labels={"owner": "ml\udc00team"})
    gcp.secret("acme-ml", "z-last", [planted["last"]])
    result = scan(run, tmp_path, "--project", "acme-ml")
    assert result.code == 1, result
    found = {f["secret_sha256"] for f in result.json()}
    assert found == {hashlib.sha256(planted[k].encode()).hexdigest() for k in ("first", "labelled", "last")}, result
    assert result.stderr.splitlines() == [
        "keysweep: warning: gcp acme-ml bad\\ud800x: not read: its name, as listed, is not valid Unicode "
        "(a lone surrogate; no Google secret id holds one)"], result
    assert not [path for path in gcp.accessed() if "bad" in path]
    (labelled,) = find_secret(result.json(), planted["labelled"])["occurrences"]
    assert labelled["metadata"]["tags"] == {"owner": "ml\ufffdteam"}

    strict = scan(run, tmp_path, "--project", "acme-ml", "--fail-on-error")
    assert strict.code == 3, strict  # a secret left unread is a partial failure


# -- regional secrets ---------------------------------------------------------------------------------
@pytest.fixture
def regional(gcp, monkeypatch, keys):
    """A regional endpoint (Google's secretmanager.LOCATION.rep.googleapis.com) holding secrets of two
    locations and one more the scan is not asked to read; one global secret beside them."""
    server = FakeSecretManager(token=TOKEN, regional=True).start()
    monkeypatch.setenv("KEYSWEEP_GCP_SECRETMANAGER_REGIONAL_BASE_URL", server.url)
    planted = {"global": keys.anthropic(), "eu": keys.openai_project(), "us": keys.groq(), "asia": keys.xai()}
    gcp.secret("acme-ml", "anthropic", [planted["global"]])
    server.secret("acme-ml", "openai-key", [planted["eu"]], labels={"team": "eu-ml"}, location="europe-west4")
    server.secret("acme-ml", "groq", [planted["us"]], location="us-central1")
    server.secret("acme-ml", "xai", [planted["asia"]], location="asia-east1")
    server.planted = planted
    yield server
    server.stop()


def test_regional_secrets_of_each_named_location_are_read_at_the_regional_endpoint(run, tmp_path, gcp, regional):
    planted = regional.planted
    result = scan(run, tmp_path, "--location", "europe-west4", "--location", "us-central1")
    assert result.code == 1, result
    findings = result.json()
    (place,) = find_secret(findings, planted["eu"])["occurrences"]
    assert place["locator"] == {"source": "gcp", "project": "acme-ml", "location": "europe-west4",
                                "secret": "openai-key", "version": "1",
                                "resource": "gcp-secret acme-ml/europe-west4/openai-key v1"}
    assert place["metadata"]["tags"] == {"team": "eu-ml"}
    assert find_secret(findings, planted["us"])["occurrences"][0]["locator"]["location"] == "us-central1"
    assert "location" not in find_secret(findings, planted["global"])["occurrences"][0]["locator"]  # still read
    assert not [f for f in findings if f["secret_sha256"] == hashlib.sha256(planted["asia"].encode()).hexdigest()]
    # Listed names carry the project number, as Google's do.
    assert sorted(regional.accessed()) == ["/v1/projects/100000/locations/europe-west4/secrets/openai-key/versions/1:access",
                                           "/v1/projects/100000/locations/us-central1/secrets/groq/versions/1:access"]
    assert not [r for r in gcp.requests if "/locations/" in r.path]  # regional secrets only at their endpoint
    assert "Traceback" not in result.stderr and "error" not in result.stderr.lower()

    regional.requests.clear()
    again = scan(run, tmp_path, "--location", "europe-west4", "--location", "us-central1", "--new-only")
    assert again.code == 0 and again.json() == [] and regional.accessed() == [], again  # accessed once


def test_without_a_location_no_regional_endpoint_is_asked(run, tmp_path, gcp, regional):
    result = scan(run, tmp_path)
    assert result.code == 1 and regional.requests == [], result
    find_secret(result.json(), regional.planted["global"])


def test_verify_rereads_a_regional_version(run, tmp_path, gcp, regional, openai_api):
    assert scan(run, tmp_path, "--location", "europe-west4").code == 1
    regional.requests.clear()
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), regional.planted["eu"])["verification"]["status"] == "live", checked
    assert regional.accessed() == ["/v1/projects/acme-ml/locations/europe-west4/secrets/openai-key/versions/1:access"]


def test_a_location_that_cannot_be_listed_is_one_line_and_a_bad_one_a_usage_error(run, tmp_path, gcp, regional):
    result = scan(run, tmp_path, "--location", "europe-west4", "--location", "me-central2")
    assert result.code == 1, result  # me-central2 holds nothing: an empty listing, no error
    regional.denied.add("acme-ml")
    denied = scan(run, tmp_path, "--location", "europe-west4", "--fail-on-error")
    assert denied.code == 3, denied
    (line,) = [line for line in denied.stderr.splitlines() if "cannot list" in line]
    assert "gcp acme-ml europe-west4: cannot list secrets (403" in line
    bad = run("scan", "gcp", "--location", "eu.evil.example/x", "--db", tmp_path / "s.db")
    assert bad.code == 2 and bad.stderr.strip() == \
        "keysweep: error: --location 'eu.evil.example/x': not a location id (such as europe-west4)", bad


def test_the_regional_endpoint_is_googles_unless_one_is_named():
    from keysweep.scanner.sources.gcp import endpoint_for

    assert endpoint_for("europe-west4", None, {}) == "https://secretmanager.europe-west4.rep.googleapis.com"
    assert endpoint_for(None, None, {}) is None  # the client's own: Google's global endpoint
    # A scan pointed at an endpoint of its own never sends a regional request to Google unasked.
    assert endpoint_for("europe-west4", "http://127.0.0.1:9", {}) == "http://127.0.0.1:9"
    assert endpoint_for("us-east1", None, {"KEYSWEEP_GCP_SECRETMANAGER_REGIONAL_BASE_URL":
                                           "https://sm-{location}.psc.example"}) == "https://sm-us-east1.psc.example"


def test_sweep_reads_the_locations_of_the_gcp_table(run, tmp_path, gcp, regional):
    config = tmp_path / "keysweep.toml"
    config.write_text('[[sources.gcp]]\nprojects = ["acme-ml"]\nlocations = ["us-central1"]\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "store.db", "--format", "json", "--no-progress")
    assert result.code == 1, result
    assert find_secret(result.json(), regional.planted["us"])["occurrences"][0]["locator"]["location"] == "us-central1"
