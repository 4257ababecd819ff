"""Re-read a value from the remote place it was seen (see `keysweep.scanner.reread`).

`register_readers()` teaches `reread` the remote occurrence sources; `reread` calls it on first use
of a source it has no reader for, so a git, directory or staged scan never imports this module
(nor boto3). Each reader takes an occurrence locator and returns the content the source scanned
(`NAME=value` for variables, the secret string itself for Secrets Manager), or None when the value
cannot be read back for any reason: the caller then reports "cannot re-read" (status unknown).

Values stay in memory: nothing here prints, logs or stores them, and no error raised here carries
a response body. AWS reads are short synchronous boto3 calls with a timeout; forge reads go through
keysweep's one HTTP client (`http`, the run's: its retry loop, per-host throttle, no redirects
followed, 4 MiB body cap), or a client of their own when the caller has none.

- aws-secretsmanager `{arn, version_id, region}` → GetSecretValue(SecretId, VersionId);
- aws-ssm `{name, version, region}` → GetParameter(Name="name:version", WithDecryption);
- aws-lambda-env `{function_arn, function, version, variable, region}` → GetFunctionConfiguration;
- kubernetes `{source, context, namespace, kind, name, key}` → get of that object in that context
  (kubeconfig from the locator's `access`, else $KUBECONFIG), the same text the scan matched;
- vault `{addr, mount, kv_version, path, key, version}` → that version of the KV secret, with the
  token from `access.token_env` (default VAULT_TOKEN);
- gcp-secretmanager `{project, secret, version}` → AccessSecretVersion of that version;
- azure-keyvault `{vault, secret, version}` → Get Secret of that version, with
  KEYSWEEP_AZURE_KEYVAULT_TOKEN or azure-identity's chain;
- github-actions-variable `{host, repo | org, environment?, variable}` → the variable's REST GET,
  with GITHUB_API_URL / GITHUB_TOKEN;
- gitlab-ci-variable `{host, project_id | project | group | instance, variable, environment_scope}`
  → the variable's REST GET, with GITLAB_URL / GITLAB_TOKEN.

boto3 uses its standard credential chain and endpoint settings (AWS_ENDPOINT_URL is honoured by
botocore itself) in the locator's region; the scan's profile and endpoint, when it named them, are
kept in the locator's `access` and used again. Forge readers use the API URL and the token
variable the scan used (`access`: {api_url, token_env}), else the settings' (GITHUB_API_URL /
GITHUB_TOKEN, …). A forge token is only sent when that API's host is the host the variable was seen on.

Each reader takes `(locator, settings=None)`: the settings of the command (`--config`); the forge
readers also take `http=`, the run's HttpClient.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any
from urllib.parse import quote

from keysweep.http import HttpClient
from keysweep.models import ACCESS
from keysweep.providers import provider
from keysweep.scanner.reread import READERS as registered
from keysweep.scanner.sources.aws import role_session
from keysweep.scanner.sources.azure import read_version as read_azure_version
from keysweep.scanner.sources.gcp import read_version as read_gcp_version
from keysweep.scanner.sources.github import web_host
from keysweep.scanner.sources.github_app import APP_ID_ENV, APP_KEY_FILE_ENV, app_config, shared_app
from keysweep.scanner.sources.gitlab import host_of
from keysweep.scanner.sources.kubernetes import read_object
from keysweep.scanner.sources.remote import entry_text
from keysweep.scanner.sources.vault import read_secret as read_vault_secret
from keysweep.settings import Settings, load_settings

HTTP_TIMEOUT = 10.0
MAX_BODY = 1024 * 1024

_lock = threading.Lock()
_clients: dict[tuple[str, ...], Any] = {}


# -- AWS ------------------------------------------------------------------------------------------
def _aws_client(service: str, region: str | None, access: dict[str, Any] | None = None):
    import boto3
    from botocore.config import Config

    access = access if isinstance(access, dict) else {}
    profile, endpoint = access.get("profile") or None, access.get("endpoint_url") or None
    role_arn = access.get("role_arn") or None
    # A client keeps the endpoint and credentials it was made with: key the cache on what sets them.
    endpoint_env = provider("aws").env_name_for_base_url()  # AWS_ENDPOINT_URL, which botocore reads too
    key = (service, region or "", str(profile or ""), str(endpoint or ""), str(role_arn or ""),
           *(os.environ.get(name, "") for name in (
        endpoint_env, f"{endpoint_env}_{service.upper()}", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")))
    with _lock:  # client creation is not thread-safe; clients are
        if key not in _clients:
            config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15,
                            user_agent_extra="keysweep")
            if role_arn:  # the role the scan assumed, assumed again (keysweep's own access, short-lived)
                session = role_session(str(profile) if profile else None, str(role_arn),
                                       str(endpoint) if endpoint else None)
            else:
                session = boto3.session.Session(profile_name=str(profile)) if profile else boto3.session.Session()
            kwargs: dict[str, Any] = {"config": config}
            if endpoint:
                kwargs["endpoint_url"] = str(endpoint)
            _clients[key] = session.client(service, region_name=region or session.region_name or "us-east-1",
                                           **kwargs)
        return _clients[key]


def read_secretsmanager(locator: dict[str, Any], settings=None) -> bytes | None:
    arn = locator.get("arn")
    if not arn:
        return None
    try:
        kwargs: dict[str, Any] = {"SecretId": arn}
        if locator.get("version_id"):
            kwargs["VersionId"] = str(locator["version_id"])
        answer = _aws_client("secretsmanager", locator.get("region"), locator.get(ACCESS)).get_secret_value(**kwargs)
    except Exception:
        return None
    text = answer.get("SecretString")
    if isinstance(text, str):
        return text.encode("utf-8")
    raw = answer.get("SecretBinary")
    return bytes(raw) if isinstance(raw, (bytes, bytearray)) else None


def read_ssm(locator: dict[str, Any], settings=None) -> bytes | None:
    name, version = locator.get("name"), locator.get("version")
    if not name:
        return None
    try:
        answer = _aws_client("ssm", locator.get("region"), locator.get(ACCESS)).get_parameter(
            Name=f"{name}:{version}" if version not in (None, "") else name, WithDecryption=True)
    except Exception:
        return None
    value = (answer.get("Parameter") or {}).get("Value")
    return entry_text(name, value).encode("utf-8") if isinstance(value, str) else None


def read_lambda_env(locator: dict[str, Any], settings=None) -> bytes | None:
    variable = locator.get("variable")
    function = locator.get("function_arn") or locator.get("function")
    if not variable or not function:
        return None
    version = locator.get("version")
    kwargs: dict[str, Any] = {"FunctionName": function}
    if str(function).startswith("arn:") and str(function).count(":") >= 7:
        kwargs["FunctionName"] = ":".join(str(function).split(":")[:7])  # unqualified; the version goes below
    if version:
        kwargs["Qualifier"] = str(version)
    try:
        answer = _aws_client("lambda", locator.get("region"), locator.get(ACCESS)).get_function_configuration(**kwargs)
    except Exception:
        return None
    value = ((answer.get("Environment") or {}).get("Variables") or {}).get(variable)
    return entry_text(variable, value).encode("utf-8") if isinstance(value, str) else None


# -- Kubernetes -----------------------------------------------------------------------------------
def read_kubernetes(locator: dict[str, Any], settings=None) -> bytes | None:
    """The object's value for the locator's key, with the scan's kubeconfig (`access.kubeconfig`)
    or $KUBECONFIG, in the locator's context."""
    try:
        return read_object(locator)
    except Exception:
        return None


# -- Vault ----------------------------------------------------------------------------------------
def read_vault(locator: dict[str, Any], settings=None) -> bytes | None:
    """The secret's value for the locator's key, from the version the scan read, at the scan's
    address, with the token from the variable it named (VAULT_TOKEN by default)."""
    try:
        return read_vault_secret(locator, _settings(settings).env)
    except Exception:
        return None


# -- GCP Secret Manager ---------------------------------------------------------------------------
def read_gcp_secret(locator: dict[str, Any], settings=None) -> bytes | None:
    """The version's payload, from the scan's endpoint, with GOOGLE_OAUTH_ACCESS_TOKEN or ADC."""
    try:
        return read_gcp_version(locator, _settings(settings).env)
    except Exception:
        return None


# -- Azure Key Vault ------------------------------------------------------------------------------
def read_azure_secret(locator: dict[str, Any], settings=None) -> bytes | None:
    """That version's value, from the vault the scan read, with KEYSWEEP_AZURE_KEYVAULT_TOKEN or
    azure-identity's DefaultAzureCredential."""
    try:
        return read_azure_version(locator, _settings(settings).env)
    except Exception:
        return None


# -- forges ---------------------------------------------------------------------------------------
def _settings(settings=None):
    """The command's settings, else ./keysweep.toml's (a bad file is no reason to fail a re-read)."""
    if settings is not None:
        return settings

    try:
        return load_settings()
    except Exception:
        return Settings()


def _sweep_table(settings, forge: str) -> dict[str, Any]:
    """The sweep configuration's [sources.<forge>] table, when there is exactly one."""
    try:
        tables = settings.section("sources").get(forge)
    except AttributeError:
        return {}
    tables = [tables] if isinstance(tables, dict) else tables
    return tables[0] if isinstance(tables, list) and len(tables) == 1 and isinstance(tables[0], dict) else {}


def forge_access(locator: dict[str, Any], forge: str, settings) -> tuple[str | None, str | None]:
    """(API URL, token) for re-reading from a forge: what the scan used (its API URL, and the
    token from the variable it named, or a fresh installation token of the GitHub App it
    authenticated as), else the sweep configuration's, else the settings'. Blocking: minting an
    installation token is a network call (async callers run this in a thread)."""
    access = locator.get(ACCESS) if isinstance(locator.get(ACCESS), dict) else {}
    sweep = _sweep_table(settings, forge)
    api = access.get("api_url") or sweep.get("api_url" if forge == "github" else "url") or settings.base_url(forge)
    api = str(api).rstrip("/") if api else None
    if forge == "github" and api and access.get("app_id"):
        token = _app_token(locator, access, api, settings)
        if token:
            return api, token
    token_env = access.get("token_env") or sweep.get("token_env")
    token = settings.env.get(str(token_env)) if token_env else settings.admin_key(forge)
    if not token and forge == "github" and api:
        token = _app_token(locator, access, api, settings)
    return api, (token or None)


def _app_config(access: dict[str, Any], settings):
    """The GitHub App a re-read authenticates as: the scan's (`access`: app id and key file path),
    else the sweep configuration's [sources.github] app, else $KEYSWEEP_GITHUB_APP_ID/_KEY_FILE."""
    sweep = _sweep_table(settings, "github")
    base = settings.config_path.parent if getattr(settings, "config_path", None) else None
    candidates = [(access.get("app_id"), access.get("app_key_file"), None),
                  (sweep.get("app_id"), sweep.get("app_key_file"), base),
                  (settings.env.get(APP_ID_ENV), settings.env.get(APP_KEY_FILE_ENV), None)]
    for app_id, key_file, relative_to in candidates:
        if app_id and key_file:
            try:
                return app_config(app_id, key_file, base=relative_to)
            except Exception:  # that key file is gone or unreadable: try the next way
                continue
    return None


def _app_token(locator: dict[str, Any], access: dict[str, Any], api: str, settings) -> str | None:
    """A live installation token of the app for the place `locator` names, or None."""
    config = _app_config(access, settings)
    if config is None:
        return None
    app = shared_app(config, api)
    try:
        installation = access.get("installation_id") if access.get("app_id") == config.app_id else None
        if not isinstance(installation, int):
            if locator.get("org"):
                installation = app.installation("org", str(locator["org"]))
            else:
                repo = str(locator.get("repo") or "")
                host = f"{web_host(api)}/"
                repo = repo[len(host):] if repo.startswith(host) else repo
                if repo.count("/") != 1:
                    return None
                installation = app.installation("repo", repo)
        return app.token(int(installation))
    except Exception:  # not installed there, refused, unreachable: the value cannot be re-read
        return None


async def _get_json(url: str, headers: dict[str, str], http: "HttpClient | None" = None) -> Any:
    """One GET (retried on 429/5xx and rate-limit 403s); any failure is None (never an exception
    carrying a body or a header)."""
    if http is None:
        async with HttpClient(timeout=HTTP_TIMEOUT) as own:
            return await _get_json(url, headers, own)
    try:
        response = await http.request("GET", url, headers={"Accept": "application/json", **headers},
                                      retry_rate_limited=True)
    except Exception:
        return None
    if response.status != 200 or response.truncated or len(response.body) > MAX_BODY:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return None


async def read_github_variable(locator: dict[str, Any], settings=None,
                               http: "HttpClient | None" = None) -> bytes | None:
    name = locator.get("variable")
    api, token = await asyncio.to_thread(forge_access, locator, "github", _settings(settings))
    if not name or not api or web_host(api) != locator.get("host"):
        return None
    variable = quote(str(name), safe="")
    if locator.get("org"):
        path = f"/orgs/{quote(str(locator['org']), safe='')}/actions/variables/{variable}"
    elif locator.get("repo") and locator.get("environment"):
        path = (f"/repos/{quote(str(locator['repo']), safe='/')}/environments/"
                f"{quote(str(locator['environment']), safe='')}/variables/{variable}")
    elif locator.get("repo"):
        path = f"/repos/{quote(str(locator['repo']), safe='/')}/actions/variables/{variable}"
    else:
        return None
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": provider("github").api_version}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = await _get_json(api + path, headers, http)
    value = body.get("value") if isinstance(body, dict) else None
    return entry_text(str(name), value).encode("utf-8") if isinstance(value, str) else None


async def read_gitlab_variable(locator: dict[str, Any], settings=None,
                               http: "HttpClient | None" = None) -> bytes | None:
    key = locator.get("variable")
    url, token = forge_access(locator, "gitlab", _settings(settings))
    if not key or not url or host_of(url) != locator.get("host"):
        return None
    api = url if url.endswith("/api/v4") else f"{url}/api/v4"
    variable = quote(str(key), safe="")
    scope = str(locator.get("environment_scope") or "*")
    query = f"?{quote('filter[environment_scope]', safe='=')}={quote(scope, safe='')}"
    if locator.get("instance"):
        path, query = f"/admin/ci/variables/{variable}", ""
    elif locator.get("project_id") or locator.get("project"):
        project = quote(str(locator.get("project_id") or locator["project"]), safe="")
        path = f"/projects/{project}/variables/{variable}"
    elif locator.get("group"):
        path = f"/groups/{quote(str(locator['group']), safe='')}/variables/{variable}"
    else:
        return None
    body = await _get_json(api + path + query, {"PRIVATE-TOKEN": token} if token else {}, http)
    value = body.get("value") if isinstance(body, dict) else None
    return entry_text(str(key), value).encode("utf-8") if isinstance(value, str) else None


READERS = {
    "aws-secretsmanager": read_secretsmanager,
    "aws-ssm": read_ssm,
    "aws-lambda-env": read_lambda_env,
    "kubernetes": read_kubernetes,
    "vault": read_vault,
    "gcp-secretmanager": read_gcp_secret,
    "azure-keyvault": read_azure_secret,
    "github-actions-variable": read_github_variable,
    "gitlab-ci-variable": read_gitlab_variable,
}


def register_readers() -> None:
    """Register the remote readers (a reader registered before, e.g. by a test, is kept)."""
    for source, reader in READERS.items():
        registered.setdefault(source, reader)
