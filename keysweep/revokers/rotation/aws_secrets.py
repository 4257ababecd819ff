"""Rotation target: an AWS Secrets Manager secret or SSM parameter (an `aws-secretsmanager` /
`aws-ssm` occurrence, or a policy rule's `rotate_to`). Secrets Manager's put carries a request
token derived from the new key, so a repeated put is a no-op, not a second version; both writes are
believed only on AWS's documented answer (the VersionId sent, the parameter's new Version)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from keysweep.providers.aws import endpoint_url
from keysweep.revokers.aws import NotAwsAnswer, believed
from keysweep.revokers.rotation.base import Calls, RotateTo, RotationError, Target, TargetStore, not_believed


def target_from(occurrence) -> Target | None:
    locator = occurrence.locator or {}
    if occurrence.source == "aws-secretsmanager" and locator.get("arn"):
        return {"service": "secretsmanager", "id": locator["arn"], "region": locator.get("region")}
    if occurrence.source == "aws-ssm" and locator.get("name"):
        return {"service": "ssm", "id": locator["name"], "region": locator.get("region")}
    return None


def is_target(occurrence, target: Target) -> bool:
    locator = occurrence.locator or {}
    if target["service"] == "secretsmanager":
        return occurrence.source == "aws-secretsmanager" and \
            target["id"] in (locator.get("arn"), (occurrence.metadata or {}).get("name"))
    return occurrence.source == "aws-ssm" and locator.get("name") == target["id"]


def parse_target(text: str) -> Target | None:
    """A policy `rotate_to`: `secretsmanager:<name or ARN>`, `ssm:<parameter name>`, or an ARN of
    either; None for any other text."""
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) == 6 and parts[2] == "secretsmanager":
            return {"service": "secretsmanager", "id": text, "region": parts[3] or None}
        if len(parts) == 6 and parts[2] == "ssm" and parts[5].startswith("parameter"):
            name = parts[5][len("parameter"):]
            return {"service": "ssm", "id": name if name.startswith("/") and name.count("/") > 1 else name.lstrip("/"),
                    "region": parts[3] or None}
    service, sep, ident = text.partition(":")
    if sep and service in ("secretsmanager", "ssm") and ident:
        return {"service": service, "id": ident, "region": None}
    return None


def describe(target: Target) -> str:
    kind = "secret" if target["service"] == "secretsmanager" else "parameter"
    return f"{target['service']} {kind} {target['id']}"


def _service_client(settings, service: str, region: str | None):
    import boto3

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url(settings))


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    """The stored value, and for a parameter its type (written back the same)."""
    client = _service_client(settings, target["service"], target.get("region"))
    if target["service"] == "secretsmanager":
        answer = believed(client.get_secret_value, "secretsmanager:GetSecretValue", ("ARN",), SecretId=target["id"])
        if answer.get("SecretString") is None:
            raise RotationError(f"{describe(target)} is binary: cannot rewrite it")
        return answer["SecretString"], {}
    parameter = believed(client.get_parameter, "ssm:GetParameter", ("Parameter",), Name=target["id"],
                         WithDecryption=True)["Parameter"]
    return parameter["Value"], {"type": parameter.get("Type") or "SecureString"}


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> None:
    client = _service_client(settings, target["service"], target.get("region"))
    if target["service"] == "secretsmanager":
        # The same token for the same new key: a repeated put is a no-op, not a second version.
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"keysweep-rotate:{target['id']}:{new_id}"))
        try:  # Secrets Manager answers the version it made, whose id is the request token sent
            answer = believed(client.put_secret_value, "secretsmanager:PutSecretValue", ("VersionId",),
                              SecretId=target["id"], SecretString=value, ClientRequestToken=token)
        except NotAwsAnswer:
            answer = {}
        if answer.get("VersionId") != token:
            raise not_believed(describe(target), "the new version's VersionId")
    else:
        try:
            answer = believed(client.put_parameter, "ssm:PutParameter", ("Version",), Name=target["id"], Value=value,
                              Type=meta.get("type", "SecureString"), Overwrite=True)
        except NotAwsAnswer:
            answer = {}
        if not isinstance(answer.get("Version"), int):
            raise not_believed(describe(target), "the parameter's new Version")


STORE = TargetStore(
    titles=("Secrets Manager", "SSM"),
    sources=("aws-secretsmanager", "aws-ssm"),
    calls={"secretsmanager": Calls("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
           "ssm": Calls("ssm:GetParameter", "ssm:PutParameter")},
    target_from=target_from, is_target=is_target, describe=describe, read=read, write=write,
    rotate_to=RotateTo(parse_target, "secretsmanager:<name or ARN>, ssm:<parameter name>, or an ARN"),
)
