"""`keysweep scan vault`: every KV v1 and v2 secret the token can list and read."""

from __future__ import annotations

import os
from pathlib import Path

import click

from keysweep.cli import output_options, scan_options, store_options
from keysweep.commands._remote import SCOPE_PROGRESS, remote_options, run_remote
from keysweep.scanner.sources.vault import (
    ADDR_ENV,
    AUTH_METHODS,
    JWT_ENV,
    NAMESPACE_ENV,
    ROLE_ID_ENV,
    SECRET_ID_ENV,
    TOKEN_ENV,
    VaultAuth,
    VaultSource,
)


@click.command("vault")
@click.option("--addr", help=f"Vault address, e.g. https://vault.example.com:8200. Default: ${ADDR_ENV}.")
@click.option("--mount", "mounts", multiple=True,
              help="KV mount to read (repeatable). Default: every KV mount the token can see.")
@click.option("--versions", is_flag=True,
              help="KV v2: every version neither deleted nor destroyed, not only the current one.")
@click.option("--auth", "auth_method", type=click.Choice(AUTH_METHODS), default="token", show_default=True,
              help=f"How to log in: a token (${TOKEN_ENV}), AppRole (${ROLE_ID_ENV}, ${SECRET_ID_ENV}) or a JWT "
                   f"(${JWT_ENV} or --jwt-file, with --role).")
@click.option("--auth-path", help="Mount path of the AppRole or JWT auth method. Default: approle, jwt.")
@click.option("--role", help="With --auth jwt: the role to log in as.")
@click.option("--jwt-file", type=click.Path(dir_okay=False),
              help="With --auth jwt: a file holding the JWT (e.g. a Kubernetes service account token).")
@click.option("--token-env", default=TOKEN_ENV, show_default=True,
              help="Name of the environment variable holding the Vault token.")
@remote_options(max_age=False, progress=SCOPE_PROGRESS)
@output_options
@store_options
@scan_options
def scan_vault_cmd(addr, mounts, versions, auth_method, auth_path, role, jwt_file, token_env, **options):
    """HashiCorp Vault: the current version of every secret of every KV v1 and v2 mount the token
    can list (sys/mounts, else sys/internal/ui/mounts) is read with LIST and GET only and matched in
    memory; custom metadata is kept as owner hints. KV v2 versions matched before are not read again."""

    def build(settings):
        auth = VaultAuth(method=auth_method, path=auth_path, role=role,
                         jwt_file=str(Path(jwt_file).resolve()) if jwt_file else None, token_env=token_env)
        source = VaultSource(addr=addr or os.environ.get(ADDR_ENV), auth=auth, mounts=mounts, versions=versions,
                             namespace=os.environ.get(NAMESPACE_ENV))
        source.check()
        return [source]

    run_remote(build, **options)
