"""`keysweep scan github`: repositories (history), Actions variables and Actions secrets' ages."""

from __future__ import annotations

import click

from keysweep.cli import fail, output_options, scan_options, store_options
from keysweep.commands._remote import checked_url, clone_options, remote_options, run_remote, token_from
from keysweep.providers import provider
from keysweep.scanner.sources.github import GitHubSource
from keysweep.scanner.sources.github_app import APP_ID_ENV, APP_KEY_FILE_ENV, GitHubApp, app_config

GITHUB = provider("github")
TOKEN_ENV = GITHUB.env_name_for_admin_key()


@click.command("github")
@click.option("--org", "orgs", multiple=True, help="Organization: every repository, and org-level Actions settings (repeatable).")
@click.option("--user", "users", multiple=True, help="User: the repositories they own (repeatable).")
@click.option("--repo", "repos", multiple=True, help="One repository, OWNER/NAME (repeatable).")
@click.option("--api-url", help="API base URL, e.g. https://github.example.com/api/v3 for GitHub Enterprise. "
                                f"Default: ${GITHUB.env_name_for_base_url()}, keysweep.toml, then {GITHUB.base_url}.")
@click.option("--token-env", default=TOKEN_ENV, show_default=True,
              help="Name of the environment variable holding the token (never the token itself).")
@click.option("--app-id", envvar=APP_ID_ENV, show_envvar=True,
              help="Authenticate as this GitHub App (recommended): each organization, user or repository is read "
                   "with its installation's 1-hour token, refreshed during long scans. Needs --app-key-file; "
                   "the token variable is then not used.")
@click.option("--app-key-file", envvar=APP_KEY_FILE_ENV, show_envvar=True, type=click.Path(dir_okay=False),
              help="The GitHub App's private key (PEM file downloaded from the app's settings). Only its path is "
                   "kept; the key and the tokens it yields are never printed or stored.")
@click.option("--forks/--no-forks", default=False, show_default=True, help="Include forked repositories.")
@click.option("--archived/--no-archived", default=True, show_default=True, help="Include archived repositories.")
@click.option("--clone/--no-clone", default=True, show_default=True,
              help="Clone/fetch repositories and scan their history.")
@click.option("--actions/--no-actions", default=True, show_default=True,
              help="Read Actions variables and inventory Actions secrets.")
@click.option("--dependabot/--no-dependabot", default=True, show_default=True,
              help="Inventory Dependabot secrets (organization and repository) by age.")
@click.option("--codespaces/--no-codespaces", default=True, show_default=True,
              help="Inventory Codespaces secrets (organization and repository) by age.")
@remote_options(max_age="Actions, Dependabot and Codespaces secrets not updated for longer are reported as long-lived")
@clone_options
@output_options
@store_options
@scan_options
def scan_github_cmd(orgs, users, repos, api_url, token_env, app_id, app_key_file, forks, archived, clone, actions,
                    dependabot, codespaces, **options):
    """GitHub organizations, users or repositories: history of every repository (cloned into the
    cache, incremental), Actions variables (scanned), Actions, Dependabot and Codespaces secrets not
    updated for --max-age days."""
    if not (orgs or users or repos):
        fail("scan github needs --org, --user or --repo")
    for repo in repos:
        if repo.count("/") != 1 or not all(repo.split("/")):
            fail(f"--repo {repo!r}: expected OWNER/NAME")

    def build(settings):
        url = checked_url(api_url or settings.base_url("github"), "GitHub API URL")
        config = app_config(app_id, app_key_file)
        return [GitHubSource(orgs=orgs, users=users, repos=repos, api_url=url,
                             token=token_from(token_env, TOKEN_ENV), token_env=token_env or TOKEN_ENV,
                             forks=forks, archived=archived,
                             clone=clone, actions=actions, dependabot=dependabot, codespaces=codespaces,
                             rate_limit=settings.rate_limit("github", 10.0),
                             app=GitHubApp(config, url) if config else None)]

    run_remote(build, **options)
