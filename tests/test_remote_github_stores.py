"""`keysweep scan github` and `sweep` inventory Dependabot and Codespaces secrets like Actions secrets:
write-only values, so a secret not updated for longer than the age limit is a long-lived credential,
at organization and repository level, against the fake GitHub's documented
`/orgs/{org}/{dependabot|codespaces}/secrets` and `/repos/{o}/{r}/{dependabot|codespaces}/secrets`."""

from __future__ import annotations

import pytest

from tests.fakes.forge import GhRepo

from .test_remote_github import bare_repo, github, stamp  # noqa: F401  (fixture)


@pytest.fixture
def stores(github, make_repo, tmp_path):
    github.add_org("acme", dependabot_secrets=[
        {"name": "NPM_REGISTRY_TOKEN", "created_at": stamp(500), "updated_at": stamp(400), "visibility": "private"},
        {"name": "FRESH_REGISTRY", "created_at": stamp(3), "updated_at": stamp(3)},
    ], codespaces_secrets=[
        {"name": "OPENAI_API_KEY", "created_at": stamp(300), "updated_at": stamp(200), "visibility": "selected"},
    ])
    github.add_repo(GhRepo("acme", "api", bare_repo(make_repo, tmp_path, "api", {"README.md": "hello\n"}),
                           dependabot_secrets=[{"name": "PYPI_TOKEN", "created_at": stamp(100), "updated_at": stamp(95)}],
                           codespaces_secrets=[{"name": "HF_TOKEN", "created_at": stamp(120), "updated_at": stamp(120)},
                                               {"name": "NEW_ONE", "created_at": stamp(1), "updated_at": stamp(1)}]))
    return github


def scan(run, tmp_path, *extra):
    return run("scan", "github", "--org", "acme", "--no-clone", "--format", "json", "--db", tmp_path / "store.db",
               "--no-progress", *extra)


def by_name(findings, rule_id):
    return {f["occurrences"][0]["locator"]["secret"]: f for f in findings if f["rule_id"] == rule_id}


def test_stale_dependabot_and_codespaces_secrets_are_inventoried(run, tmp_path, stores):
    result = scan(run, tmp_path)
    assert result.code == 1, result
    findings = result.json()
    dependabot = by_name(findings, "github.dependabot-stale-secret")
    codespaces = by_name(findings, "github.codespaces-stale-secret")
    assert set(dependabot) == {"NPM_REGISTRY_TOKEN", "PYPI_TOKEN"}  # FRESH_REGISTRY is 3 days old
    assert set(codespaces) == {"OPENAI_API_KEY", "HF_TOKEN"}
    npm = dependabot["NPM_REGISTRY_TOKEN"]
    assert npm["provider"] == "github-dependabot" and npm["long_lived"] is True and npm["redacted"] == "(unreadable)"
    (place,) = npm["occurrences"]
    host = stores.url.split("//")[1]
    assert place["source"] == "github-dependabot-secret"
    assert place["locator"]["org"] == "acme" and place["locator"]["level"] == "org"
    assert place["locator"]["resource"] == f"{host}/acme (org) dependabot secret NPM_REGISTRY_TOKEN"
    assert place["metadata"]["visibility"] == "private" and place["metadata"]["age_days"] >= 399
    hf = codespaces["HF_TOKEN"]["occurrences"][0]
    assert hf["source"] == "github-codespaces-secret" and hf["locator"]["repo"] == "acme/api"
    assert hf["locator"]["resource"] == f"{host}/acme/api codespaces secret HF_TOKEN"
    assert codespaces["OPENAI_API_KEY"]["provider"] == "github-codespaces"
    for finding in findings:  # the whole contract, and a rule name to show
        for field in ("id", "rule_id", "rule_name", "provider", "secret_sha256", "redacted", "long_lived",
                      "key_id", "occurrences", "verification", "owner", "remediation"):
            assert field in finding
        assert finding["rule_name"]
    # The same name in two stores is two findings: different places, different credentials.
    assert len({f["id"] for f in findings}) == len(findings)


def test_the_age_limit_applies_and_the_stores_can_be_left_out(run, tmp_path, stores):
    strict = scan(run, tmp_path, "--max-age", "0", "--no-store")
    assert "NEW_ONE" in by_name(strict.json(), "github.codespaces-stale-secret")
    assert "FRESH_REGISTRY" in by_name(strict.json(), "github.dependabot-stale-secret")
    logged = len(stores.behaviour.log)
    neither = scan(run, tmp_path, "--no-dependabot", "--no-codespaces", "--no-store")
    assert neither.code == 0 and neither.json() == [], neither
    assert not [p for p, _, _ in stores.behaviour.log[logged:] if "/dependabot/" in p or "/codespaces/" in p]


def test_a_denied_store_is_one_line_and_an_absent_one_none(run, tmp_path, stores):
    stores.behaviour.forbidden = {"/repos/acme/api/dependabot/secrets"}
    stores.codespaces = False  # GitHub Enterprise Server: no Codespaces, its paths answer 404
    result = scan(run, tmp_path)
    assert result.code == 1, result
    assert set(by_name(result.json(), "github.dependabot-stale-secret")) == {"NPM_REGISTRY_TOKEN"}  # the org's still read
    assert by_name(result.json(), "github.codespaces-stale-secret") == {}
    warnings = [line for line in result.stderr.splitlines() if line.startswith("keysweep: warning:")]
    assert len(warnings) == 1, result.stderr
    assert "acme/api" in warnings[0] and "dependabot/secrets: HTTP 403 Resource not accessible" in warnings[0]


def test_a_second_scan_asks_with_etags_and_the_sweep_table_switches(run, tmp_path, stores):
    assert scan(run, tmp_path).code == 1
    logged = len(stores.behaviour.log)
    again = scan(run, tmp_path, "--new-only")
    assert again.code == 0 and again.json() == [], again
    asked = [(p, conditional, status) for p, conditional, status in stores.behaviour.log[logged:]
             if "/dependabot/" in p or "/codespaces/" in p]
    assert len(asked) == 4 and all(conditional and status == 304 for _, conditional, status in asked), asked
    config = tmp_path / "keysweep.toml"
    config.write_text('[[sources.github]]\norgs = ["acme"]\nclone = false\ncodespaces = false\n')
    swept = run("sweep", "--config", config, "--db", tmp_path / "sweep.db", "--format", "json", "--no-progress")
    assert swept.code == 1, swept
    assert by_name(swept.json(), "github.codespaces-stale-secret") == {}
    assert set(by_name(swept.json(), "github.dependabot-stale-secret")) == {"NPM_REGISTRY_TOKEN", "PYPI_TOKEN"}
