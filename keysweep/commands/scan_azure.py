"""`keysweep scan azure`: Azure Key Vault, the current version of every enabled secret."""

from __future__ import annotations

import os

import click

from keysweep.cli import output_options, scan_options, store_options
from keysweep.commands._remote import SCOPE_PROGRESS, remote_options, run_remote
from keysweep.scanner.sources.azure import VAULT_URL_ENV, AzureSource, checked_vault_url


@click.command("azure")
@click.option("--vault-url", "vault_urls", multiple=True,
              help=f"Key Vault to read, e.g. https://NAME.vault.azure.net (repeatable). Default: ${VAULT_URL_ENV}.")
@click.option("--versions", is_flag=True,
              help="Also every older enabled version of each secret (List Secret Versions), not only the current one.")
@remote_options(max_age=False, progress=SCOPE_PROGRESS)
@output_options
@store_options
@scan_options
def scan_azure_cmd(vault_urls, versions, **options):
    """Azure Key Vault: the current version of every enabled secret of each vault is read (List
    Secrets, Get Secret) and matched in memory; tags are kept as owner hints (credentials:
    $KEYSWEEP_AZURE_KEYVAULT_TOKEN, else azure-identity's DefaultAzureCredential). A secret whose
    current version was matched before with the same rules is not read again. With --versions,
    every older enabled version is read too, each once."""

    def build(settings):
        named = vault_urls or ([os.environ[VAULT_URL_ENV]] if os.environ.get(VAULT_URL_ENV) else [])
        what = "--vault-url" if vault_urls else f"${VAULT_URL_ENV}"
        source = AzureSource(vault_urls=[checked_vault_url(url, what) for url in named], versions=versions)
        source.check()
        return [source]

    run_remote(build, **options)

