"""`--format csv` says where each occurrence sits, in a secret store as in a repository: after the
fourteen columns it always had (kept in their order and names), `place` names the place as the
table's *where* column does (a Vault path and version, a Secrets Manager secret or SSM parameter and
its version, a GCP or Azure secret and version, a Kubernetes namespace/kind/name/key, a CI variable),
escaped to one line of visible text, and `locator` is the JSON output's `occurrences[].locator`,
exact, as ASCII JSON. Each source kind is scanned from its fake, and `findings` reads the same rows
back from the store."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import find_secret
from .test_remote_aws import aws  # noqa: F401  (fixture)
from .test_remote_azure import azure, tls  # noqa: F401  (fixtures)
from .test_remote_gcp import gcp  # noqa: F401  (fixture)
from .test_remote_github import github  # noqa: F401  (fixture)
from .test_remote_gitlab import gitlab  # noqa: F401  (fixture)
from .test_remote_kubernetes import cluster  # noqa: F401  (fixture)
from .test_remote_vault import vault  # noqa: F401  (fixture)

FIRST_COLUMNS = ["id", "rule_id", "provider", "redacted", "secret_sha256", "long_lived", "key_id", "source", "repo",
                 "path", "line", "commit", "author_email", "committed_at"]


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def scanned(run, tmp_path, key: str, *scan: str) -> tuple[dict[str, str], dict]:
    """The CSV row and the JSON occurrence of the one place `key` was found, scanning into a store
    with `--format csv`; `findings --format csv` on that store gives the same row."""
    db = tmp_path / "csv.db"
    result = run("scan", *scan, "--format", "csv", "--db", db)
    assert result.code == 1, result
    header, rows = csv_rows(result.stdout)
    assert header == [*FIRST_COLUMNS, "place", "locator"]  # extended at the end, never reordered
    (occurrence,) = find_secret(run("findings", "--format", "json", "--db", db).json(), key)["occurrences"]
    (row,) = [r for r in rows if r["source"] == occurrence["source"]
              and json.loads(r["locator"]) == occurrence["locator"]]
    assert row["locator"].isascii()
    if "resource" in occurrence["locator"]:  # a remote store names its resource itself
        assert row["place"] == occurrence["locator"]["resource"]
    again = run("findings", "--format", "csv", "--db", db)
    assert row in csv_rows(again.stdout)[1], again
    return row, json.loads(row["locator"])


def test_vault_path_key_and_version(run, tmp_path, vault, keys):
    key = keys.openai_project()
    vault.mount("secret", version=2)
    vault.put("secret", "ml/openai", {"api_key": keys.anthropic()})
    vault.put("secret", "ml/openai", {"api_key": key})
    row, locator = scanned(run, tmp_path, key, "vault", "--no-progress")
    assert row["source"] == "vault" and row["path"] == ""
    assert row["place"] == "vault secret/ml/openai api_key (v2)"
    assert (locator["mount"], locator["path"], locator["key"], locator["version"]) == ("secret", "ml/openai",
                                                                                      "api_key", 2)


def test_aws_secrets_manager_secret_and_version(run, tmp_path, aws, keys):
    key = keys.openai_project()
    arn = aws("secretsmanager").create_secret(Name="prod/ai", SecretString=json.dumps({"OPENAI_API_KEY": key}))["ARN"]
    row, locator = scanned(run, tmp_path, key, "aws", "--region", "eu-west-1")
    assert row["source"] == "aws-secretsmanager"
    assert "prod/ai" in row["place"] and "eu-west-1" in row["place"]
    assert locator["arn"] == arn and locator["version_id"] and locator["region"] == "eu-west-1"


def test_aws_ssm_parameter_name_and_version(run, tmp_path, aws, keys):
    key = keys.huggingface()
    ssm = aws("ssm")
    ssm.put_parameter(Name="/prod/hf/token", Value="not yet", Type="SecureString")
    ssm.put_parameter(Name="/prod/hf/token", Value=key, Type="SecureString", Overwrite=True)
    row, locator = scanned(run, tmp_path, key, "aws", "--region", "eu-west-1")
    assert row["source"] == "aws-ssm"
    assert "/prod/hf/token" in row["place"] and "(v2)" in row["place"]
    assert (locator["name"], locator["version"], locator["region"]) == ("/prod/hf/token", 2, "eu-west-1")


@pytest.mark.parametrize("location", [None, "europe-west4"])
def test_gcp_secret_and_version(run, tmp_path, gcp, keys, monkeypatch, location):
    from tests.fakes.secretmanager import FakeSecretManager

    from .test_remote_gcp import TOKEN

    key = keys.openai_project()
    store = gcp
    if location:  # a regional secret is served at its regional endpoint
        store = FakeSecretManager(token=TOKEN, regional=True).start()
        monkeypatch.setenv("KEYSWEEP_GCP_SECRETMANAGER_REGIONAL_BASE_URL", store.url)
    try:
        store.secret("acme-ml", "openai-key", [keys.anthropic(), key], location=location)
        extra = ("--location", location) if location else ()
        row, locator = scanned(run, tmp_path, key, "gcp", "--project", "acme-ml", "--no-progress", *extra)
    finally:
        if location:
            store.stop()
    assert row["source"] == "gcp-secretmanager"
    where = f"acme-ml/{location}/openai-key" if location else "acme-ml/openai-key"
    assert row["place"] == f"gcp-secret {where} v2"
    assert (locator["project"], locator["secret"], locator["version"], locator.get("location")) == (
        "acme-ml", "openai-key", "2", location)


def test_azure_secret_and_version(run, tmp_path, azure, keys):
    key = keys.openai_project()
    ml, _ = azure
    ml.secret("openai-api-key", key)
    row, locator = scanned(run, tmp_path, key, "azure", "--vault-url", ml.url, "--no-progress")
    assert row["source"] == "azure-keyvault"
    assert row["place"] == f"azure-kv {ml.url.split('//')[1].rstrip('/')}/openai-api-key {locator['version']}"
    assert (locator["vault"], locator["secret"]) == (ml.url, "openai-api-key") and locator["version"]


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap", "Deployment"])
def test_kubernetes_namespace_kind_name_and_key(run, tmp_path, cluster, keys, kind):
    key = keys.openai_project()
    if kind == "Secret":
        cluster.secret("apps", "openai", {"OPENAI_API_KEY": key})
        name, data_key = "openai", "OPENAI_API_KEY"
    elif kind == "ConfigMap":
        cluster.configmap("apps", "settings", {"config.yaml": f"llm:\n  key: {key}\n"})
        name, data_key = "settings", "config.yaml"
    else:
        cluster.workload("deployments", "apps", "api", [{"name": "web", "image": "acme/web",
                                                         "env": [{"name": "OPENAI_API_KEY", "value": key}]}])
        name, data_key = "api", "web/OPENAI_API_KEY"
    row, locator = scanned(run, tmp_path, key, "kubernetes", "--no-progress")
    assert row["source"] == "kubernetes"
    assert row["place"] == f"k8s prod apps/{kind}/{name} {data_key}"
    assert (locator["context"], locator["namespace"], locator["kind"], locator["name"], locator["key"]) == (
        "prod", "apps", kind, name, data_key)


def test_kubernetes_helm_release_values_path(run, tmp_path, cluster, keys):
    key = keys.openai_project()
    cluster.helm_release("apps", "pay", 3, values={"llm": {"apiKey": key}})
    row, locator = scanned(run, tmp_path, key, "kubernetes", "--no-progress")
    assert row["place"] == "k8s prod apps helm release pay v3 values:llm.apiKey"
    assert (locator["name"], locator["helm_release"], locator["helm_revision"]) == ("sh.helm.release.v1.pay.v3",
                                                                                   "pay", "3")


def test_github_actions_variable(run, tmp_path, github, make_repo, keys):
    from tests.fakes.forge import GhRepo

    from .test_remote_github import bare_repo, stamp

    key = keys.anthropic()
    github.add_org("acme", variables=[{"name": "ANTHROPIC_KEY", "value": key, "created_at": stamp(4),
                                       "updated_at": stamp(4), "visibility": "all"}])
    github.add_repo(GhRepo("acme", "api", bare_repo(make_repo, tmp_path, "api", {"a.txt": "x\n"}),
                           pushed_at=stamp(1)))
    row, locator = scanned(run, tmp_path, key, "github", "--org", "acme", "--cache-dir", tmp_path / "cache",
                           "--no-progress")
    assert row["source"] == "github-actions-variable"
    assert "acme" in row["place"] and "ANTHROPIC_KEY" in row["place"]
    assert (locator["org"], locator["level"], locator["variable"]) == ("acme", "org", "ANTHROPIC_KEY")


def test_gitlab_ci_variable_and_environment_scope(run, tmp_path, gitlab, make_repo, keys):
    from tests.fakes.forge import GlProject

    from .test_remote_github import bare_repo

    key = keys.openai_project()
    gitlab.add_group("acme")
    gitlab.add_project(GlProject(11, "acme/api", bare_repo(make_repo, tmp_path, "gl-api", {"a.txt": "x\n"}),
                                 variables=[{"key": "OPENAI_API_KEY", "value": key, "variable_type": "env_var",
                                             "environment_scope": "staging"}]))
    row, locator = scanned(run, tmp_path, key, "gitlab", "--group", "acme", "--cache-dir", tmp_path / "cache",
                           "--no-progress")
    assert row["source"] == "gitlab-ci-variable"
    assert "acme/api" in row["place"] and "OPENAI_API_KEY" in row["place"] and "staging" in row["place"]
    assert (locator["project"], locator["variable"], locator["environment_scope"]) == ("acme/api", "OPENAI_API_KEY",
                                                                                      "staging")


def test_a_file_in_git_is_named_repo_path_line(run, tmp_path, make_repo, keys):
    key = keys.openai_project()
    repo = make_repo("svc")
    repo.commit("config", {"app/.env": f"X=1\nOPENAI_API_KEY={key}\n"})
    row, locator = scanned(run, tmp_path, key, "git", str(repo.path))
    assert row["place"] == f"{repo.path.resolve()}:app/.env:2"
    assert locator["blob"]


def test_a_hostile_store_name_is_one_escaped_line_and_the_locator_ascii_json(run, tmp_path, vault, keys):
    from keysweep.sanitize import terminal_safe

    key = keys.openai_project()
    evil_path, evil_key = "ml/e\x1b]0;owned\x07[bold red]x\u202e ##[add-mask]k", "KEY\r\nkeysweep: 0 findings"
    vault.mount("secret", version=2)
    vault.put("secret", evil_path, {evil_key: key})
    result = run("scan", "vault", "--no-progress", "--format", "csv", "--no-store")
    assert result.code == 1, result
    for char in ("\x1b", "\x07", "\r", "\u202e"):
        assert char not in result.stdout, repr(char)
    assert "##[" not in result.stdout  # no CI runner command in a job's log
    (row,) = csv_rows(result.stdout)[1]
    assert (json.loads(row["locator"])["path"], json.loads(row["locator"])["key"]) == (evil_path, evil_key)  # exact
    assert row["place"] == terminal_safe(f"vault secret/{evil_path} {evil_key} (v1)")
