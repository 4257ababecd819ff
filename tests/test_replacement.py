"""Replacement (issue 15, "short-lived instead of standing"): every long-lived credential kind names,
as data, the short-lived or narrower credential that should stand in its place (its provider's, or its
rule's own), `rules check` fails a rule that names none, and the replacement reaches the JSON
finding, `revoke` plans, owner notifications and the report. `revoke --rotate` says when the place an
AWS key was found could assume a role instead of holding a new standing key."""

from __future__ import annotations

import dataclasses

import pytest

from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Finding, Occurrence
from keysweep.providers import PROVIDERS
from keysweep.remediation import notify
from keysweep.scanner.rules import load_rules, replacement_of
from keysweep.store import Store
from keysweep.testing.keygen import KeyGen
from tests.conftest import find_secret

RULE = """\
[[rules]]
id = "acme.token"
name = "Acme token"
provider = "acme"
description = "An Acme API token."
regex = '''(?P<secret>acm_[a-z0-9]{{20}})'''
keywords = ["acm_"]
{extra}
examples = ["token = acm_a1b2c3d4e5f6g7h8i9j0"]
negative_examples = ["token = acm_short"]
{table}
"""
ACME_REPLACEMENT = """
[rules.replacement]
kind = "scoped-token"
summary = "An Acme token scoped to one project, expiring after a day."
docs_url = "https://docs.acme.example/tokens"
"""


def rule_file(tmp_path, extra: str = "", table: str = ""):
    path = tmp_path / "acme.toml"
    path.write_text(RULE.format(extra=extra, table=table))
    return path


# -- every long-lived kind names one ---------------------------------------------------------------

def test_every_shipped_long_lived_rule_names_what_should_replace_it():
    rules = load_rules()
    for rule in rules:
        replacement = replacement_of(rule)
        if not rule.long_lived:
            assert replacement is None, rule.id  # nothing standing to replace
            continue
        assert replacement is not None, rule.id
        assert replacement.kind and len(replacement.summary) > 80, rule.id
        assert replacement.docs_url.startswith("https://") and " " not in replacement.docs_url, rule.id


def test_a_rule_may_name_its_own_instead_of_its_providers():
    by_id = {rule.id: rule for rule in load_rules()}
    aws = PROVIDERS["aws"].replacement
    assert replacement_of(by_id["aws.secret-access-key"]) == aws and aws.kind == "iam-role"
    assert "OpenID Connect" in aws.summary and "IAM Identity Center" in aws.summary
    bedrock = replacement_of(by_id["aws.bedrock-api-key"])
    assert bedrock.kind == "short-term-api-key" and bedrock != aws
    assert replacement_of(by_id["github.classic-pat"]).kind == "github-app"
    assert replacement_of(by_id["github.oauth-token"]).kind == "github-app-user-token"
    assert replacement_of(by_id["slack.user-token"]).kind == "bot-token"
    assert replacement_of(by_id["gcp.service-account-key"]).kind == "workload-identity-federation"
    # A provider with rules but no module names its replacement in each rule.
    assert replacement_of(by_id["fal.api-key"]).kind == "api-scope-key" and "fal" not in PROVIDERS


def test_rules_check_fails_a_long_lived_rule_that_names_no_replacement(run, tmp_path):
    result = run("rules", "check", rule_file(tmp_path))
    assert result.code == 1, result
    assert "rule acme.token: long-lived" in result.stderr and "names a replacement" in result.stderr

    assert run("rules", "check", rule_file(tmp_path, table=ACME_REPLACEMENT)).code == 0
    assert run("rules", "check", rule_file(tmp_path, extra="long_lived = false")).code == 0


@pytest.mark.parametrize("table, message", [
    ('\n[rules.replacement]\nkind = "scoped-token"\nsummary = "One project."\n', "needs kind, summary and docs_url"),
    ('\n[rules.replacement]\nkind = "k"\nsummary = "s"\ndocs_url = "http://docs.acme.example/"\n', "https://"),
    ('\n[rules.replacement]\nkind = "k"\nsummary = "s"\ndocs_url = "https://a.example"\nlink = "x"\n', "link"),
])
def test_a_malformed_replacement_is_a_one_line_error(run, tmp_path, table, message):
    result = run("rules", "check", rule_file(tmp_path, table=table))
    assert result.code == 2 and message in result.stderr and "acme.token" in result.stderr, result
    assert "Traceback" not in result.stderr


# -- the JSON finding -------------------------------------------------------------------------------

def test_json_finding_names_the_replacement_and_null_for_a_short_lived_key(run, make_repo, keys):
    repo = make_repo()
    pat, installation = keys.github(), keys.github(prefix="ghs_")
    repo.commit("tokens", {"ci.env": f"GH_TOKEN={pat}\nINSTALLATION_TOKEN={installation}\n"})
    result = run("scan", "git", repo.path, "--no-store", "--format", "json")
    assert result.code == 1, result
    findings = result.json()
    assert find_secret(findings, pat)["replacement"] == PROVIDERS["github"].replacement.as_json()
    short_lived = find_secret(findings, installation)
    assert short_lived["long_lived"] is False and short_lived["replacement"] is None


def test_a_rule_files_own_replacement_reaches_the_finding(run, tmp_path):
    rules = rule_file(tmp_path, table=ACME_REPLACEMENT)
    target = tmp_path / "app.cfg"
    target.write_text("token = acm_q9w8e7r6t5y4u3i2o1p0\n")
    result = run("scan", "dir", target, "--no-store", "--format", "json", "--rules", rules, "--engine", "regex")
    assert result.code == 1, result
    [finding] = result.json()
    assert finding["replacement"] == {"kind": "scoped-token", "docs_url": "https://docs.acme.example/tokens",
                                      "summary": "An Acme token scoped to one project, expiring after a day."}


# -- revoke plans, notifications, report ------------------------------------------------------------

def aws_key(path: str | None, source: str = "git", locator: dict | None = None, seed: int = 1) -> tuple[Finding, str]:
    keys = KeyGen(seed)
    secret, key_id = keys.aws_secret_access_key(), keys.aws_access_key_id()
    digest = secret_sha256(secret)
    return Finding(id=finding_id("aws", digest), rule_id="aws.secret-access-key", provider="aws",
                   secret_sha256=digest, redacted=redact(secret), long_lived=True, key_id=key_id,
                   occurrences=[Occurrence(source=source, path=path, line=3, repo="acme/web",
                                           locator=locator or {"repo": "acme/web", "blob": "b"})]), secret


@pytest.fixture
def store_of_aws_keys(tmp_path):
    in_workflow, _ = aws_key(".github/workflows/deploy.yml", seed=1)
    in_ci_variable, _ = aws_key("AWS_SECRET_ACCESS_KEY", source="github-actions", seed=2,
                                locator={"resource": "GitHub Actions variable acme/web AWS_SECRET_ACCESS_KEY"})
    in_app, _ = aws_key("app/settings.py", seed=3)
    db = tmp_path / "k.db"
    store = Store(db)
    store.record([in_workflow, in_ci_variable, in_app], "scope", "2025-01-02T00:00:00Z")
    store.close()
    return db, in_workflow, in_ci_variable, in_app


def test_revoke_plan_names_the_replacement_and_rotate_says_when_a_role_would_do(run, store_of_aws_keys):
    db, in_workflow, in_ci_variable, in_app = store_of_aws_keys
    result = run("revoke", "--rotate", "--provider", "aws", "--db", db, "--format", "json")
    assert result.code == 0, result
    rows = {row["finding"]: row for row in result.json()["plan"]}
    aws = PROVIDERS["aws"].replacement
    assert all(row["replacement"] == aws.as_json() and row["revoker"] == "aws-rotate" for row in rows.values())
    [workflow_note] = rows[in_workflow.id]["notes"]
    assert "GitHub Actions workflow" in workflow_note and ".github/workflows/deploy.yml" in workflow_note
    assert "IAM role" in workflow_note and aws.docs_url in workflow_note
    variable_note, also_holds = rows[in_ci_variable.id]["notes"]
    assert "GitHub Actions variable" in variable_note and "IAM role" in variable_note
    # The rotation writes no GitHub Actions variable: the plan says this one keeps the deactivated key.
    assert also_holds == (f"also holds {in_ci_variable.key_id}, not written by the rotation: GitHub Actions variable "
                          "acme/web AWS_SECRET_ACCESS_KEY (update it to the new key; it keeps the deactivated one)")
    assert rows[in_app.id]["notes"] == []  # an application file: nothing says a CI job reads it

    text = run("revoke", "--rotate", "--provider", "aws", "--db", db)
    assert text.code == 0, text
    assert text.stdout.count("    replace: iam-role (" + aws.docs_url + ")") == 3
    assert text.stdout.count("    note:    found in ") == 2


def test_owner_notification_says_what_to_issue_instead():
    finding, _ = aws_key("deploy/ci.env")
    facts = notify.message("cannot_revoke", finding)
    assert facts["replacement"] == PROVIDERS["aws"].replacement.as_json()
    slack = notify.body(notify.Target("https://hooks.example/x", "slack", "default"), facts)["text"]
    assert "Instead of a new standing key: Give the workload an IAM role" in slack
    assert PROVIDERS["aws"].replacement.docs_url in slack
    generic = notify.body(notify.Target("https://hooks.example/x", "json", "default"), facts)
    assert generic["replacement"]["kind"] == "iam-role"

    short_lived = dataclasses.replace(finding, long_lived=False)
    assert notify.message("found", short_lived)["replacement"] is None


def test_report_json_and_html_carry_the_replacement(run, store_of_aws_keys):
    db, in_workflow, *_ = store_of_aws_keys
    report = run("report", "--format", "json", "--db", db)
    assert report.code == 0, report
    credentials = {c["id"]: c for c in report.json()["credentials"]}
    assert credentials[in_workflow.id]["replacement"] == PROVIDERS["aws"].replacement.as_json()
    html = run("report", "--format", "html", "--db", db)
    assert html.code == 0, html
    assert html.stdout.count(f'<a href="{PROVIDERS["aws"].replacement.docs_url}"') == 3
    assert "<th>replace with</th>" in html.stdout
    audit = run("report", "--audit", "--format", "json", "--db", db)
    assert audit.code == 0, audit
    assert {item["replace_with"]["kind"] for item in audit.json()} == {"iam-role"}



def test_a_rotation_plan_names_the_other_stores_that_keep_the_old_key(run, tmp_path):
    """--rotate writes the new key into the Secrets Manager secret that held the old one; the same key
    in a Kubernetes Secret, a Vault path and Azure Key Vault is reported as places to update (a
    repository's history is not one: it is dead once the key is deactivated)."""
    finding, _ = aws_key("AWS_SECRET_ACCESS_KEY", source="aws-secretsmanager", seed=4, locator={
        "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/deploy-AbCdEf", "region": "us-east-1",
        "resource": "secretsmanager us-east-1 ci/deploy"})
    places = [("kubernetes", {"source": "kubernetes", "context": "prod", "namespace": "ci", "kind": "Secret",
                              "name": "deploy", "key": "AWS_SECRET_ACCESS_KEY",
                              "resource": "k8s prod ci/Secret/deploy AWS_SECRET_ACCESS_KEY"}),
              ("vault", {"source": "vault", "mount": "secret", "path": "ci/deploy", "key": "aws_secret",
                         "resource": "vault secret/ci/deploy aws_secret (v3)"}),
              ("azure-keyvault", {"source": "azure", "vault": "https://acme.vault.azure.net", "secret": "aws-deploy",
                                  "version": "0f1e", "resource": "azure-kv acme.vault.azure.net/aws-deploy 0f1e"}),
              ("git", {"repo": "acme/web", "blob": "b"})]
    finding.occurrences.extend(Occurrence(source=source, path=None, line=1, repo="acme/web" if source == "git" else None,
                                          locator=locator) for source, locator in places)
    db = tmp_path / "k.db"
    store = Store(db)
    store.record([finding], "scope", "2025-01-02T00:00:00Z")
    store.close()
    result = run("revoke", "--rotate", "--provider", "aws", "--db", db, "--format", "json")
    assert result.code == 0, result
    (row,) = result.json()["plan"]
    updates = [note for note in row["notes"] if note.startswith("also holds")]
    assert [note.split(": ", 1)[1].split(" (update")[0] for note in updates] == [
        "k8s prod ci/Secret/deploy AWS_SECRET_ACCESS_KEY", "vault secret/ci/deploy aws_secret (v3)",
        "azure-kv acme.vault.azure.net/aws-deploy 0f1e"]
    assert all(finding.key_id in note for note in updates)
