"""`keysweep scan vault`: every KV v1 and v2 secret the token can list and read."""

from __future__ import annotations

import os

import click

from keysweep.cli import output_options, scan_options, store_options
from keysweep.commands._remote import remote_options, run_remote
from keysweep.scanner.sources.vault import ADDR_ENV, NAMESPACE_ENV, TOKEN_ENV, VaultSource


@click.command("vault")
@click.option("--addr", help=f"Vault address, e.g. https://vault.example.com:8200. Default: ${ADDR_ENV}.")
@click.option("--mount", "mounts", multiple=True,
              help="KV mount to read (repeatable). Default: every KV mount the token can see.")
@click.option("--versions", is_flag=True,
              help="KV v2: every version neither deleted nor destroyed, not only the current one.")
@click.option("--token-env", default=TOKEN_ENV, show_default=True,
              help="Name of the environment variable holding the Vault token.")
@remote_options
@output_options
@store_options
@scan_options
def scan_vault_cmd(addr, mounts, versions, token_env, **options):
    """HashiCorp Vault: the current version of every secret of every KV v1 and v2 mount the token
    can list (sys/mounts, else sys/internal/ui/mounts) is read with LIST and GET only and matched in
    memory; custom metadata is kept as owner hints. KV v2 versions matched before are not read again."""

    def build(settings):
        source = VaultSource(addr=addr or os.environ.get(ADDR_ENV), token=os.environ.get(token_env),
                             token_env=token_env, mounts=mounts, versions=versions,
                             namespace=os.environ.get(NAMESPACE_ENV))
        source.check()
        return [source]

    run_remote(build, **options)
