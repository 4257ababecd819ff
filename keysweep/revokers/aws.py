"""AWS access keys: `iam:UpdateAccessKey` to Inactive, then (optionally) `iam:DeleteAccessKey`.

Runs with boto3's standard credential chain and endpoint settings (`AWS_ENDPOINT_URL`, region from
`AWS_REGION` / `AWS_DEFAULT_REGION`, default us-east-1): the identity needs IAM rights in the
account that owns the key. The user is found with `GetAccessKeyLastUsed`. `[providers.aws]
delete_after_days = 0` deletes right after deactivating; a larger grace leaves the key inactive
(reversible) and a later `keysweep revoke --resume` after the grace deletes it.

A key IAM no longer knows (`NoSuchEntity`) is already gone: success. confirm(): STS says the pair
is dead, or IAM lists the key as Inactive (AWS is disable-first).
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from keysweep.providers.aws import endpoint_url
from keysweep.revokers._common import BaseRevoker, make_plan, verify_status
from keysweep.revokers.base import RevokeResult

RULES = {"aws.access-key-id", "aws.secret-access-key", "aws.access-key-pair-csv", "aws.access-key-pair-uri",
         "aws.terraform-state-secret"}
RETRYABLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable",
                   "InternalFailure", "ServiceFailure"}


def _client(settings):
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("iam", region_name=region, endpoint_url=endpoint_url(settings))


def _iam_failure(exc, calls: list[tuple[str, str, str]], client_error: type) -> RevokeResult:
    """An IAM call that failed: a key that no longer exists is already revoked (idempotence); a
    refusal is reported by its code; no answer at all is worth retrying."""
    code, retryable = _error(exc)
    if not isinstance(exc, client_error):
        return RevokeResult(False, f"AWS: {code}", retryable=True, busy=True, calls=tuple(calls))
    calls.append(("POST", "iam", code))
    if code == "NoSuchEntity":
        return RevokeResult(True, "no such access key (already deleted)", calls=tuple(calls))
    return RevokeResult(False, f"IAM refused: {code}", retryable=retryable, busy=retryable, calls=tuple(calls))


def _error(exc) -> tuple[str, bool]:
    """(code, retryable) of a botocore error, without its message (which can echo request data)."""
    response = getattr(exc, "response", None) or {}
    code = (response.get("Error") or {}).get("Code") or type(exc).__name__
    retryable = code in RETRYABLE_CODES or type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError",
                                                                 "ReadTimeoutError")
    return code, retryable


class AwsAccessKeyRevoker(BaseRevoker):
    name = "aws"

    def supports(self, finding) -> bool:
        return finding.provider == "aws" and finding.rule_id in RULES and bool(finding.key_id) \
            and finding.key_id[:4] in ("AKIA", "ABIA", "ACCA")

    def _grace(self, ctx) -> float | None:
        value = ctx.settings.provider("aws").get("delete_after_days")
        return float(value) if value is not None else None

    async def plan(self, finding, ctx):
        target = f"iam AccessKeyId={finding.key_id}"
        calls = [("POST", "iam:GetAccessKeyLastUsed", f"find the IAM user of {finding.key_id}"),
                 ("POST", "iam:UpdateAccessKey", f"set {finding.key_id} Inactive (reversible)")]
        grace = self._grace(ctx)
        if grace is not None:
            calls.append(("POST", "iam:DeleteAccessKey",
                          "delete it now" if grace == 0 else f"delete it after {grace:g} day(s)"))
        return make_plan(self.name, finding, calls, [], delete_after_days=grace, target=target)

    async def revoke(self, plan, ctx) -> RevokeResult:
        return await asyncio.to_thread(self._revoke_sync, plan, ctx)

    def _revoke_sync(self, plan, ctx) -> RevokeResult:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return RevokeResult(False, "boto3 is not installed: pip install 'keysweep[aws]'")
        key_id = plan.data["key_id"]
        calls: list[tuple[str, str, str]] = []
        try:
            iam = _client(ctx.settings)
            user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
            calls.append(("POST", "iam:GetAccessKeyLastUsed", f"ok (user {user})"))
            kwargs = {"AccessKeyId": key_id, "Status": "Inactive"}
            if user:
                kwargs["UserName"] = user
            iam.update_access_key(**kwargs)
            calls.append(("POST", "iam:UpdateAccessKey", "Inactive"))
            grace = plan.data.get("delete_after_days")
            if grace == 0:
                kwargs.pop("Status")
                iam.delete_access_key(**kwargs)
                calls.append(("POST", "iam:DeleteAccessKey", "deleted"))
        except (ClientError, BotoCoreError) as exc:
            return _iam_failure(exc, calls, ClientError)
        detail = "deactivated" + (" and deleted" if plan.data.get("delete_after_days") == 0 else "")
        return RevokeResult(True, detail, calls=tuple(calls))

    def delete_due_at(self, plan_data: dict, deactivated_at):
        """When a key deactivated at `deactivated_at` may be deleted: None if never (no grace set,
        deleted already, or deleted at once)."""
        grace = plan_data.get("delete_after_days")
        if grace is None or float(grace) <= 0 or plan_data.get("deleted_at"):
            return None
        return deactivated_at + timedelta(days=float(grace))

    async def delete(self, plan, ctx) -> RevokeResult:
        """The delayed `DeleteAccessKey` of a key deactivated long enough ago ("no such key": done)."""
        return await asyncio.to_thread(self._delete_sync, plan.data["key_id"], ctx)

    def _delete_sync(self, key_id: str, ctx) -> RevokeResult:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return RevokeResult(False, "boto3 is not installed: pip install 'keysweep[aws]'")
        calls: list[tuple[str, str, str]] = []
        try:
            iam = _client(ctx.settings)
            user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
            calls.append(("POST", "iam:GetAccessKeyLastUsed", f"ok (user {user})"))
            status = None
            for meta in iam.list_access_keys(**({"UserName": user} if user else {})).get("AccessKeyMetadata", []):
                if meta.get("AccessKeyId") == key_id:
                    status = meta.get("Status")
            if status == "Active":  # someone switched it back on: a person must decide
                calls.append(("POST", "iam:ListAccessKeys", "Active"))
                return RevokeResult(False, f"{key_id} is Active again: not deleted", calls=tuple(calls))
            iam.delete_access_key(AccessKeyId=key_id, **({"UserName": user} if user else {}))
            calls.append(("POST", "iam:DeleteAccessKey", "deleted"))
        except (ClientError, BotoCoreError) as exc:
            return _iam_failure(exc, calls, ClientError)
        return RevokeResult(True, "deleted", calls=tuple(calls))

    async def confirm(self, finding, ctx) -> bool:
        if finding.rule_id != "aws.access-key-id" and await verify_status(finding, ctx) == "dead":
            return True
        return await asyncio.to_thread(self._disabled_sync, finding.key_id, ctx)

    def _disabled_sync(self, key_id: str, ctx) -> bool:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return False
        try:
            iam = _client(ctx.settings)
            user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
            kwargs = {"UserName": user} if user else {}
            for meta in iam.list_access_keys(**kwargs).get("AccessKeyMetadata", []):
                if meta.get("AccessKeyId") == key_id:
                    return meta.get("Status") == "Inactive"
            return True  # not listed: deleted
        except ClientError as exc:
            return _error(exc)[0] == "NoSuchEntity"
        except BotoCoreError:
            return False
