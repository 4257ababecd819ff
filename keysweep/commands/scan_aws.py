"""`keysweep scan aws`: Secrets Manager, SSM Parameter Store, Lambda environments, IAM key ages."""

from __future__ import annotations

import click

from keysweep.cli import output_options, scan_options, store_options
from keysweep.commands._remote import SCOPE_PROGRESS, remote_options, run_remote
from keysweep.providers import provider
from keysweep.scanner.sources.aws import SERVICES, AwsSource, check_role_arn

SERVICE_CHOICES = ("secretsmanager", "ssm", "lambda", "iam")


@click.command("aws")
@click.option("--region", "regions", multiple=True,
              help="Region to read (repeatable). Default: the profile's region, else us-east-1.")
@click.option("--profile", "profiles", multiple=True,
              help="Named profile of the shared AWS config (repeatable). Default: the standard credential chain.")
@click.option("--endpoint-url", help="Override the endpoint (default: boto3's own, which honours "
                                     f"${provider('aws').env_name_for_base_url()}).")
@click.option("--role-arn", envvar="KEYSWEEP_AWS_ROLE_ARN", show_envvar=True,
              help="Read as this IAM role (recommended): sts:AssumeRole with the profile's or the default chain's "
                   "credentials, temporary credentials refreshed during long scans; re-reads assume it again. "
                   "For OIDC web identity (CI), boto3's own AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE work as they are.")
@click.option("--service", "services", multiple=True, type=click.Choice(SERVICE_CHOICES),
              help="Only these services (repeatable). Default: all four.")
@click.option("--versions", is_flag=True,
              help="Also every other staged Secrets Manager version (AWSPREVIOUS, AWSPENDING, custom labels) and "
                   "every older SSM parameter version (GetParameterHistory), not only the current ones.")
@remote_options(max_age="active IAM access keys created longer ago are reported as long-lived",
                progress=SCOPE_PROGRESS)
@output_options
@store_options
@scan_options
def scan_aws_cmd(regions, profiles, endpoint_url, role_arn, services, versions, **options):
    """AWS secret stores: values of Secrets Manager secrets, SSM parameters (SecureString decrypted)
    and Lambda environment variables are matched in memory; active IAM access keys older than
    --max-age days are reported as long-lived. Rotation metadata is shown on each occurrence."""

    def build(settings):
        endpoint = endpoint_url or settings.provider("aws").get("base_url")
        return [AwsSource(regions=regions, profiles=profiles, endpoint_url=endpoint,
                          services=services or SERVICES, role_arn=check_role_arn(role_arn), versions=versions)]

    run_remote(build, **options)
