"""Units of work as plain data, both ways: a source and one item it yielded (a repository to
clone, a Pending read) described for the broker; and, on a worker, the same source built again
(its token from the worker's environment) and the same item rebuilt from the description.

A source that cannot be described (local git paths, which live on the sweeping machine's disk) is
read by the sweeping process itself, as a local sweep reads it. The secret stores' units, each read
with the worker's own credentials: a Kubernetes namespace of a context (the kubeconfig at the same
path, else the worker's $KUBECONFIG), a Vault KV mount (the token or login named, from the worker's
environment), a GCP project (GOOGLE_OAUTH_ACCESS_TOKEN or ADC), an Azure vault
(KEYSWEEP_AZURE_KEYVAULT_TOKEN or azure-identity's chain)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from keysweep.scanner.sources.aws import AwsSource
from keysweep.scanner.sources.azure import AzureSource
from keysweep.scanner.sources.gcp import GcpSource
from keysweep.scanner.sources.github import CODESPACES_SECRETS, DEPENDABOT_SECRETS, GitHubSource
from keysweep.scanner.sources.gitlab import GitLabSource
from keysweep.scanner.sources.kubernetes import KubernetesSource
from keysweep.scanner.sources.remote import GitTarget, Pending, RemoteError
from keysweep.scanner.sources.vault import VaultAuth, VaultSource

# What is kept of a repository to clone (its auth header is not: the worker makes its own).
TARGET_FIELDS = ("name", "url", "path", "state", "metadata", "access")


def describe_source(source) -> dict[str, Any] | None:
    """The configuration that builds `source` again elsewhere (no token: the name of its variable),
    or None when it can only be read here."""
    if isinstance(source, GitHubSource) and getattr(source, "app", None) is None:  # an App: read here
        return {"kind": "github", "config": {
            "orgs": list(source.orgs), "users": list(source.users), "repos": list(source.repos),
            "api_url": source.api_url, "token_env": source.token_env, "forks": source.forks,
            "archived": source.archived, "clone": source.clone, "actions": source.actions,
            "dependabot": DEPENDABOT_SECRETS in source.stores, "codespaces": CODESPACES_SECRETS in source.stores,
            "rate_limit": source.rate_limit}}
    if isinstance(source, GitLabSource):
        return {"kind": "gitlab", "config": {
            "groups": list(source.groups), "projects": list(source.projects), "url": source.url,
            "token_env": source.token_env, "forks": source.forks, "archived": source.archived,
            "clone": source.clone, "variables": source.variables, "instance": source.instance,
            "rate_limit": source.rate_limit}}
    if isinstance(source, AwsSource):
        return {"kind": "aws", "config": {
            "regions": list(source.regions), "profiles": [p for p in source.profiles if p],
            "endpoint_url": source.endpoint_url, "services": list(source.services),
            "role_arn": source.role_arn, "versions": source.versions}}
    if isinstance(source, KubernetesSource):
        return {"kind": "kubernetes", "config": {"kubeconfig": source.kubeconfig, "contexts": list(source.contexts),
                                                 "namespaces": list(source.namespaces), "kinds": list(source.kinds),
                                                 "hint_names": list(source.hint_names)}}
    if isinstance(source, VaultSource):
        return {"kind": "vault", "config": {"addr": source.addr, "auth": dataclasses.asdict(source.auth),
                                            "mounts": list(source.mounts), "versions": source.versions,
                                            "namespace": source.namespace}}
    if isinstance(source, GcpSource):
        return {"kind": "gcp", "config": {"projects": list(source.projects), "endpoint_url": source.endpoint_url,
                                          "locations": list(source.locations)}}
    if isinstance(source, AzureSource):
        return {"kind": "azure", "config": {"vault_urls": list(source.vault_urls), "versions": source.versions}}
    return None


def describe_item(item) -> dict[str, Any] | None:
    """One unit of work as data, or None when it cannot leave this process."""
    if isinstance(item, GitTarget) and item.url is not None:
        return {"op": "git", "label": f"git {item.name}", "target": {name: getattr(item, name) for name in TARGET_FIELDS}}
    if isinstance(item, Pending) and item.spec is not None:
        return {"op": "pending", "label": item.label, "spec": dict(item.spec)}
    return None


def build_source(described: dict[str, Any]):
    """The source of `describe_source`, its token read from this machine's environment."""
    kind, config = described.get("kind"), dict(described.get("config") or {})
    if kind == "github":
        config["token"] = os.environ.get(config.get("token_env") or "") or None
        config["orgs"], config["users"], config["repos"] = (tuple(config.get(k, ())) for k in ("orgs", "users", "repos"))
        return GitHubSource(**config)
    if kind == "gitlab":
        config["token"] = os.environ.get(config.get("token_env") or "") or None
        config["groups"], config["projects"] = tuple(config.get("groups", ())), tuple(config.get("projects", ()))
        return GitLabSource(**config)
    if kind == "aws":
        return AwsSource(**config)
    if kind == "kubernetes":
        return KubernetesSource(**config)
    if kind == "vault":
        config["auth"] = VaultAuth(**dict(config.get("auth") or {}))
        return VaultSource(**config)
    if kind == "gcp":
        return GcpSource(**config)
    if kind == "azure":
        return AzureSource(**config)
    raise RemoteError(f"unknown source kind {kind!r}")


def build_item(source, unit: dict[str, Any], run):
    """The item `describe_item` described, for `source` (from `build_source`)."""
    if unit.get("op") == "git":
        fields = {name: unit["target"].get(name) for name in TARGET_FIELDS}
        auth = source._auth_header(fields["url"]) if hasattr(source, "_auth_header") else None
        return GitTarget(**fields, auth_header=auth)
    if unit.get("op") == "pending":
        return source.rebuild(run, Pending(unit.get("label") or "", None, unit.get("spec")))  # type: ignore[arg-type]
    raise RemoteError(f"unknown unit {unit.get('op')!r}")
