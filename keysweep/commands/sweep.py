"""`keysweep sweep`: every source listed in keysweep.toml `[sources]`, incrementally, in one process.

Exit 1 when the store gained findings during this sweep (new since the previous one), 0 when
not, 3 with --fail-on-error when something could not be read, 2 on a bad configuration.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from keysweep.cli import fail, output_options, scan_options
from keysweep.commands._remote import checked_url, clone_options, remote_options, run_remote
from keysweep.distributed.config import distributed_config
from keysweep.errors import KeysweepError
from keysweep.providers import provider
from keysweep.sanitize import terminal_safe
from keysweep.scanner.session import findings_to_report
from keysweep.scanner.sources.remote import GitTarget
from keysweep.settings import load_settings, owner_tag_names
from keysweep.wording import counted

GITHUB_KEYS = {"orgs", "users", "repos", "api_url", "token_env", "forks", "archived", "clone", "actions", "dependabot",
               "codespaces", "app_id", "app_key_file"}
GITLAB_KEYS = {"groups", "projects", "api_url", "url", "token_env", "forks", "archived", "clone", "variables", "instance"}
AWS_KEYS = {"profiles", "regions", "endpoint_url", "services", "role_arn", "versions"}
KUBERNETES_KEYS = {"kubeconfig", "contexts", "namespaces", "kinds"}
VAULT_KEYS = {"addr", "token_env", "mounts", "versions", "namespace", "auth", "auth_path", "role", "jwt_file"}
GCP_KEYS = {"projects", "endpoint_url", "locations"}
AZURE_KEYS = {"vault_urls", "versions"}
SOURCE_KEYS = {"git", "github", "gitlab", "aws", "kubernetes", "vault", "gcp", "azure", "max_age_days", "cache_dir"}
LIST_KEYS = ("orgs", "users", "repos", "groups", "projects", "profiles", "regions", "services", "contexts",
             "namespaces", "kinds", "mounts", "projects", "vault_urls")


class LocalGitSource:
    """Local repositories named in the configuration, scanned in place (same incremental state
    as `keysweep scan git`)."""

    label = "git"

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    async def items(self, run):
        for path in self.paths:
            yield GitTarget(name=path, url=None, path=str(Path(path).expanduser()))


def _tables(sources: dict[str, Any], name: str, allowed: set[str], where: str) -> list[dict[str, Any]]:
    value = sources.get(name, [])
    tables = [value] if isinstance(value, dict) else value
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise KeysweepError(f"{where}: [sources.{name}] must be a table or an array of tables")
    for table in tables:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise KeysweepError(f"{where}: [sources.{name}] has unknown key(s) {', '.join(unknown)} "
                                f"(known: {', '.join(sorted(allowed))})")
        for key, item in table.items():
            if key in LIST_KEYS and not (
                    isinstance(item, list) and all(isinstance(x, str) for x in item)):
                raise KeysweepError(f"{where}: [sources.{name}] {key} must be a list of strings")
    return tables


def build_sources(settings) -> list:
    """Sources from `[sources]`; raises KeysweepError (exit 2) on anything malformed. Each source's
    module is imported for the tables that name it: a sweep of GitHub loads no Kubernetes or AWS
    reader (a second sweep with nothing new spends most of its time importing)."""
    where = str(settings.config_path or "keysweep.toml")
    github_token_env = provider("github").env_name_for_admin_key()
    gitlab_token_env = provider("gitlab").env_name_for_admin_key()
    sources = settings.section("sources")
    if not sources:
        raise KeysweepError(f"{where}: no [sources] to sweep")
    unknown = sorted(set(sources) - SOURCE_KEYS)
    if unknown:
        raise KeysweepError(f"{where}: [sources] has unknown key(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(SOURCE_KEYS))})")
    built: list = []
    git = sources.get("git", [])
    if not isinstance(git, list) or not all(isinstance(p, str) for p in git):
        raise KeysweepError(f"{where}: [sources] git must be a list of repository paths")
    base = settings.config_path.parent if settings.config_path else Path.cwd()
    if git:
        built.append(LocalGitSource([str((base / Path(p).expanduser()).resolve()) for p in git]))
    for table in _tables(sources, "github", GITHUB_KEYS, where):
        from keysweep.scanner.sources.github import GitHubSource  # noqa: PLC0415
        from keysweep.scanner.sources.github_app import (  # noqa: PLC0415
            APP_ID_ENV,
            APP_KEY_FILE_ENV,
            GitHubApp,
            app_config,
        )

        if not (table.get("orgs") or table.get("users") or table.get("repos")):
            raise KeysweepError(f"{where}: [sources.github] needs orgs, users or repos")
        api_url = checked_url(table.get("api_url") or settings.base_url("github"), f"{where}: [sources.github] api_url")
        # The app: this table's app_id/app_key_file, else $KEYSWEEP_GITHUB_APP_ID/_KEY_FILE (a key
        # file named in the table is relative to the configuration file).
        configured = "app_id" in table or "app_key_file" in table
        app = app_config(table.get("app_id") if configured else settings.env.get(APP_ID_ENV),
                         table.get("app_key_file") if configured else settings.env.get(APP_KEY_FILE_ENV),
                         f"{where}: [sources.github]" if configured else "", base if configured else None)
        built.append(GitHubSource(
            orgs=tuple(table.get("orgs", ())), users=tuple(table.get("users", ())), repos=tuple(table.get("repos", ())),
            api_url=api_url, token=os.environ.get(table.get("token_env", github_token_env)) or None,
            token_env=table.get("token_env", github_token_env),
            forks=bool(table.get("forks", False)), archived=bool(table.get("archived", True)),
            clone=bool(table.get("clone", True)), actions=bool(table.get("actions", True)),
            dependabot=bool(table.get("dependabot", True)), codespaces=bool(table.get("codespaces", True)),
            rate_limit=settings.rate_limit("github", 10.0), app=GitHubApp(app, api_url) if app else None))
    for table in _tables(sources, "gitlab", GITLAB_KEYS, where):
        from keysweep.scanner.sources.gitlab import GitLabSource  # noqa: PLC0415

        if not (table.get("groups") or table.get("projects") or table.get("instance")):
            raise KeysweepError(f"{where}: [sources.gitlab] needs groups, projects or instance = true")
        url_key = "api_url" if "api_url" in table else "url"  # `url`: its first name, still read
        built.append(GitLabSource(
            groups=tuple(table.get("groups", ())), projects=tuple(table.get("projects", ())),
            url=checked_url(table.get(url_key) or settings.base_url("gitlab"), f"{where}: [sources.gitlab] {url_key}"),
            token=os.environ.get(table.get("token_env", gitlab_token_env)) or None,
            token_env=table.get("token_env", gitlab_token_env),
            forks=bool(table.get("forks", False)), archived=bool(table.get("archived", True)),
            clone=bool(table.get("clone", True)), variables=bool(table.get("variables", True)),
            instance=bool(table.get("instance", False)), rate_limit=settings.rate_limit("gitlab", 10.0)))
    for table in _tables(sources, "aws", AWS_KEYS, where):
        from keysweep.scanner.sources.aws import SERVICES, AwsSource, check_role_arn  # noqa: PLC0415

        services = table.get("services") or list(SERVICES)
        bad = sorted(set(services) - set(SERVICES))
        if bad:
            raise KeysweepError(f"{where}: [sources.aws] unknown service(s) {', '.join(bad)}")
        built.append(AwsSource(regions=table.get("regions", ()), profiles=table.get("profiles", ()),
                               endpoint_url=table.get("endpoint_url") or settings.provider("aws").get("base_url"),
                               services=services, versions=bool(table.get("versions", False)),
                               role_arn=check_role_arn(table.get("role_arn"), f"{where}: [sources.aws] role_arn")))
    for table in _tables(sources, "kubernetes", KUBERNETES_KEYS, where):
        from keysweep.scanner.sources.kubernetes import KINDS, KubernetesSource  # noqa: PLC0415

        kinds = table.get("kinds") or list(KINDS)
        bad = sorted(set(kinds) - set(KINDS))
        if bad:
            raise KeysweepError(f"{where}: [sources.kubernetes] unknown kind(s) {', '.join(bad)} "
                                f"(known: {', '.join(KINDS)})")
        kubeconfig = table.get("kubeconfig")
        if kubeconfig is not None and not (isinstance(kubeconfig, str) and kubeconfig):
            raise KeysweepError(f"{where}: [sources.kubernetes] kubeconfig must be a file path")
        if kubeconfig:
            kubeconfig = str((base / Path(kubeconfig).expanduser()).resolve())
        source = KubernetesSource(kubeconfig=kubeconfig, contexts=table.get("contexts", ()),
                                  namespaces=table.get("namespaces", ()), kinds=kinds,
                                  hint_names=owner_tag_names(settings))
        source.check()
        built.append(source)
    for table in _tables(sources, "vault", VAULT_KEYS, where):
        from keysweep.scanner.sources.vault import ADDR_ENV as VAULT_ADDR_ENV  # noqa: PLC0415
        from keysweep.scanner.sources.vault import NAMESPACE_ENV as VAULT_NAMESPACE_ENV  # noqa: PLC0415
        from keysweep.scanner.sources.vault import TOKEN_ENV as VAULT_TOKEN_ENV  # noqa: PLC0415
        from keysweep.scanner.sources.vault import VaultAuth, VaultSource  # noqa: PLC0415

        jwt_file = table.get("jwt_file")
        auth = VaultAuth(method=table.get("auth") or "token", path=table.get("auth_path") or None,
                         role=table.get("role") or None, token_env=table.get("token_env") or VAULT_TOKEN_ENV,
                         jwt_file=str((base / Path(jwt_file).expanduser()).resolve()) if jwt_file else None)
        source = VaultSource(addr=checked_url(table.get("addr") or os.environ.get(VAULT_ADDR_ENV),
                                              f"{where}: [sources.vault] addr"),
                             auth=auth, mounts=table.get("mounts", ()),
                             versions=bool(table.get("versions", False)),
                             namespace=table.get("namespace") or os.environ.get(VAULT_NAMESPACE_ENV))
        try:
            source.check()
        except KeysweepError as exc:
            raise KeysweepError(f"{where}: [sources.vault] {exc}") from None
        built.append(source)
    for table in _tables(sources, "gcp", GCP_KEYS, where):
        from keysweep.scanner.sources.gcp import ENDPOINT_ENV as GCP_ENDPOINT_ENV  # noqa: PLC0415
        from keysweep.scanner.sources.gcp import PROJECT_ENV as GCP_PROJECT_ENV  # noqa: PLC0415
        from keysweep.scanner.sources.gcp import GcpSource  # noqa: PLC0415

        checked_url(os.environ.get(GCP_ENDPOINT_ENV), f"${GCP_ENDPOINT_ENV}")
        endpoint = checked_url(table.get("endpoint_url"), f"{where}: [sources.gcp] endpoint_url")
        source = GcpSource(projects=table.get("projects") or [os.environ.get(GCP_PROJECT_ENV) or ""],
                           endpoint_url=endpoint, locations=table.get("locations") or ())
        try:
            source.check()
        except KeysweepError as exc:
            raise KeysweepError(f"{where}: [sources.gcp] {exc}") from None
        built.append(source)
    for table in _tables(sources, "azure", AZURE_KEYS, where):
        from keysweep.scanner.sources.azure import VAULT_URL_ENV as AZURE_VAULT_URL_ENV  # noqa: PLC0415
        from keysweep.scanner.sources.azure import AzureSource, checked_vault_url  # noqa: PLC0415

        named = table.get("vault_urls") or ([os.environ[AZURE_VAULT_URL_ENV]] if os.environ.get(AZURE_VAULT_URL_ENV) else [])
        source = AzureSource(vault_urls=[checked_vault_url(url, f"{where}: [sources.azure] vault_urls") for url in named],
                             versions=bool(table.get("versions", False)))
        try:
            source.check()
        except KeysweepError as exc:
            raise KeysweepError(f"{where}: [sources.azure] {exc}") from None
        built.append(source)
    if not built:
        raise KeysweepError(f"{where}: [sources] lists nothing to sweep")
    return built


@click.command("sweep")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Configuration file. Default: ./keysweep.toml.")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Findings store (a SQLite file or a postgresql:// URL); remembers what earlier sweeps read. "
                   "Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--verify", "verify", is_flag=True,
              help="After the sweep, check every swept credential with a read-only call to its provider "
                   "(as `keysweep verify`); one summary line on stderr.")
@click.option("--owners", "owners", is_flag=True,
              help="After the sweep (and --verify), attribute every swept credential to an owner (as "
                   "`keysweep owners`); one summary line on stderr.")
@click.option("--owners-file", type=click.Path(dir_okay=False),
              help="With --owners: keysweep-owners.toml to use (default: ./keysweep-owners.toml or [owners] file).")
@click.option("--revoke-policy", is_flag=True,
              help="After the sweep, apply keysweep-policy.toml (as `keysweep revoke --policy`): a dry run "
                   "printed to stderr unless --execute. Also `[policy] apply_after_sweep = true`.")
@click.option("--execute", "revoke_execute", is_flag=True,
              help="With the policy: revoke what it marks auto (the rest waits for an approver).")
@click.option("--yes", "revoke_yes", is_flag=True,
              help="With --execute: revoke even above the threshold of 10 credentials.")
@click.option("--policy-file", type=click.Path(dir_okay=False), help="Policy file (default ./keysweep-policy.toml).")
@click.option("--broker", help="Distribute the sweep: send one task per repository, CI scope and AWS account × "
                               "region × service to `keysweep worker` processes through this Celery broker "
                               "(redis://… or amqp://…). Also $KEYSWEEP_BROKER_URL or [distributed] broker. "
                               "The workers and this command must use the same --db (docs/scale-out.md).")
@remote_options
@clone_options
@output_options
@scan_options
def sweep_cmd(config_path, db, max_age, cache_dir, verify, owners, owners_file, revoke_policy, revoke_execute,
              revoke_yes, policy_file, broker, **options):
    """Sweep every source of keysweep.toml [sources] (git paths, GitHub orgs, GitLab groups, AWS
    profiles/regions), reading only what changed since the last sweep. Reports the findings of the
    swept places (only new ones with --new-only) and exits 1 when new findings appeared.

    The follow-ups a scheduled run wants, in this order: --verify, --owners, --revoke-policy; so
    `sweep --verify --owners --revoke-policy --execute` is the whole loop. They never change the
    exit status."""
    settings = load_settings(config_path)
    if settings.config_path is None:
        fail("no keysweep.toml here: pass --config FILE, or write a starter one with `keysweep init`")
    sources = settings.section("sources")
    ctx = click.get_current_context()
    if ctx.get_parameter_source("max_age") == click.core.ParameterSource.DEFAULT and "max_age_days" in sources:
        max_age = sources["max_age_days"]
        if not isinstance(max_age, int) or max_age < 0:
            fail(f"{settings.config_path}: [sources] max_age_days must be a non-negative integer")
    if cache_dir is None and sources.get("cache_dir"):
        cache_dir = str(Path(str(sources["cache_dir"])).expanduser())
    apply_policy = revoke_policy or settings.section("policy").get("apply_after_sweep") is True
    if revoke_execute and not apply_policy:
        fail("--execute revokes through the policy: add --revoke-policy (or [policy] apply_after_sweep = true)")
    if apply_policy:
        from keysweep.remediation.policy import load  # noqa: PLC0415  (the follow-ups load only when asked for)

        try:
            if load(policy_file, settings) is None:
                fail("--revoke-policy: no keysweep-policy.toml here and no [policy] rules in keysweep.toml")
        except KeysweepError as exc:
            fail(str(exc))
    owner_rules = None
    if owners:  # the owners file is checked before anything is read, as `keysweep owners` does
        from keysweep.owners.ownersfile import load_owner_rules  # noqa: PLC0415

        owner_rules = load_owner_rules(owners_file, settings)
    elif owners_file:
        fail("--owners-file: add --owners")
    built = build_sources(settings)
    distributed = distributed_config(settings, broker)

    def after(store, outcome) -> None:
        swept = findings_to_report(outcome, store, False, None, options["include_suppressed"])
        if verify:
            verify_swept(store, swept, settings)
        if owner_rules is not None:
            attribute_swept(store, swept, settings, owner_rules)
        if apply_policy:
            apply_revoke_policy(store, settings, policy_file, revoke_execute, revoke_yes)

    run_remote(lambda _settings: built, settings=settings, db=db, no_store=False, max_age=max_age,
               cache_dir=cache_dir, exit_on_new=True, after=after if verify or owners or apply_policy else None,
               distributed=distributed, **options)


def verify_swept(store, findings, settings) -> None:
    """`keysweep verify` over the swept credentials; its summary on stderr."""
    from keysweep.scanner.reread import Rereader  # noqa: PLC0415
    from keysweep.verify.runner import run_verification, summary, unreadable_notes  # noqa: PLC0415

    results = run_verification(findings, settings, store, rereader=Rereader(settings=settings))
    click.echo(f"keysweep: verified {counted(len(results), 'finding')}: {summary(results) if results else 'nothing to check'}",
               err=True)
    for note in unreadable_notes(results):
        click.echo(f"keysweep: {terminal_safe(note)}", err=True)


def attribute_swept(store, findings, settings, owner_rules) -> None:
    """`keysweep owners` over the swept credentials; its summary on stderr."""
    from keysweep.owners import DEFAULT_THRESHOLD, is_unowned, run_owners  # noqa: PLC0415
    from keysweep.scanner.reread import Rereader  # noqa: PLC0415

    _, warnings = run_owners(findings, settings, store, owner_rules, rereader=Rereader(settings=settings))
    for warning in warnings:
        click.echo(f"keysweep: warning: {terminal_safe(warning)}", err=True)
    refreshed = store.findings(ids=[f.id for f in findings]) if findings else []
    unowned = sum(1 for f in refreshed if is_unowned(f.owner, DEFAULT_THRESHOLD))
    click.echo(f"keysweep: owners: {len(refreshed) - unowned} owned, {unowned} unowned "
               f"(--min-confidence {DEFAULT_THRESHOLD})", err=True)


def apply_revoke_policy(store, settings, policy_file: str | None, execute: bool, yes: bool) -> None:
    """`keysweep revoke --policy [--execute]` over the store, its report on stderr (stdout carries
    the sweep's findings). Only what the policy marks `auto` is revoked, and only with --execute;
    a refusal (threshold without --yes, bad policy) is one line on stderr, the sweep's exit code stands."""
    from keysweep.commands.revoke import revoke  # noqa: PLC0415
    from keysweep.remediation.audit import default_actor  # noqa: PLC0415
    from keysweep.remediation.orchestrator import Selection  # noqa: PLC0415
    from keysweep.remediation.run import RunOptions  # noqa: PLC0415

    click.echo(f"keysweep: applying the revocation policy ({'execute' if execute else 'dry run'})", err=True)
    options = RunOptions(selection=Selection(), actor=default_actor(), execute=execute, yes=yes, threshold=10,
                         use_policy=True, policy_file=policy_file)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            revoke(store, settings, options, fmt="table")
    except KeysweepError as exc:  # a refusal (RevokeRequestError: the threshold without --yes) or a bad policy
        click.echo(f"keysweep: policy not applied: {terminal_safe(exc)}", err=True)
