"""`keysweep scan gitlab`: CI/CD variables of groups and projects, and project repositories."""

from __future__ import annotations

import click

from keysweep.cli import fail, hidden_alias, output_options, scan_options, store_options
from keysweep.commands._remote import checked_url, clone_options, remote_options, run_remote, token_from
from keysweep.providers import provider
from keysweep.scanner.sources.gitlab import GitLabSource

GITLAB = provider("gitlab")
TOKEN_ENV = GITLAB.env_name_for_admin_key()


@click.command("gitlab")
@click.option("--group", "groups", multiple=True,
              help="Group path: its and its subgroups' variables, and every project in them (repeatable).")
@click.option("--project", "projects", multiple=True, help="One project, by path (group/name) or id (repeatable).")
@click.option("--api-url", help="GitLab base URL, e.g. https://gitlab.example.com for a self-managed instance. "
                                f"Default: ${GITLAB.env_name_for_base_url()}, keysweep.toml, then {GITLAB.base_url}.")
@hidden_alias("--url", "--api-url", "api_url")
@click.option("--token-env", default=TOKEN_ENV, show_default=True,
              help="Name of the environment variable holding the token (never the token itself).")
@click.option("--forks/--no-forks", default=False, show_default=True, help="Include forked projects.")
@click.option("--archived/--no-archived", default=True, show_default=True, help="Include archived projects.")
@click.option("--clone/--no-clone", default=True, show_default=True,
              help="Clone/fetch project repositories and scan their history.")
@click.option("--variables/--no-variables", default=True, show_default=True, help="Read CI/CD variables.")
@click.option("--instance", is_flag=True, help="Also read instance-level CI/CD variables (administrator token).")
@remote_options(max_age=False)
@clone_options
@output_options
@store_options
@scan_options
def scan_gitlab_cmd(groups, projects, api_url, token_env, forks, archived, clone, variables, instance, **options):
    """GitLab groups or projects: CI/CD variables (values matched in memory; masked-and-hidden ones
    listed as inventory) and the history of every project repository (cloned into the cache)."""
    if not (groups or projects or instance):
        fail("scan gitlab needs --group, --project or --instance")

    def build(settings):
        url = checked_url(api_url or settings.base_url("gitlab"), "GitLab URL")
        return [GitLabSource(groups=groups, projects=projects, url=url,
                             token=token_from(token_env, TOKEN_ENV), token_env=token_env or TOKEN_ENV,
                             forks=forks, archived=archived,
                             clone=clone, variables=variables, instance=instance, rate_limit=settings.rate_limit("gitlab", 10.0))]

    run_remote(build, **options)
