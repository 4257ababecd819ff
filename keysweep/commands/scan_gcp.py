"""`keysweep scan gcp`: GCP Secret Manager, every enabled secret version's payload."""

from __future__ import annotations

import os

import click

from keysweep.cli import output_options, scan_options, store_options
from keysweep.commands._remote import SCOPE_PROGRESS, checked_url, remote_options, run_remote
from keysweep.scanner.sources.gcp import ENDPOINT_ENV, PROJECT_ENV, REGIONAL_ENDPOINT_ENV, GcpSource


@click.command("gcp")
@click.option("--project", "projects", multiple=True,
              help=f"Project id or number to read (repeatable). Default: ${PROJECT_ENV}.")
@click.option("--endpoint-url", help=f"Secret Manager endpoint (default: ${ENDPOINT_ENV}, else Google's).")
@click.option("--location", "locations", multiple=True,
              help="Also read the regional secrets of this location (repeatable), e.g. europe-west4, "
                   f"at its regional endpoint (secretmanager.LOCATION.rep.googleapis.com; ${REGIONAL_ENDPOINT_ENV} "
                   "replaces it, {location} in it replaced).")
@remote_options(max_age=False, progress=SCOPE_PROGRESS)
@output_options
@store_options
@scan_options
def scan_gcp_cmd(projects, endpoint_url, locations, **options):
    """GCP Secret Manager: the payload of every enabled version of every secret of each project is
    matched in memory (credentials: $GOOGLE_OAUTH_ACCESS_TOKEN, else Application Default
    Credentials). A version accessed before with the same rules is not accessed again. With
    --location, the regional secrets of each location named are read too."""

    def build(settings):
        checked_url(os.environ.get(ENDPOINT_ENV), f"${ENDPOINT_ENV}")
        checked_url((os.environ.get(REGIONAL_ENDPOINT_ENV) or "").replace("{location}", "location") or None,
                    f"${REGIONAL_ENDPOINT_ENV}")
        source = GcpSource(projects=projects or [os.environ.get(PROJECT_ENV) or ""],
                           endpoint_url=checked_url(endpoint_url, "--endpoint-url"), locations=locations)
        source.check()
        return [source]

    run_remote(build, **options)
