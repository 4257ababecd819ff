"""AWS access keys: `iam:UpdateAccessKey` to Inactive, then (optionally) `iam:DeleteAccessKey`.

Runs with boto3's standard credential chain and endpoint settings (`AWS_ENDPOINT_URL`, region from
`AWS_REGION` / `AWS_DEFAULT_REGION`, default us-east-1): the identity needs IAM rights in the
account that owns the key. The user is found with `GetAccessKeyLastUsed`. `[providers.aws]
delete_after_days = 0` deletes right after deactivating; a larger grace leaves the key inactive
(reversible) and a later `keysweep revoke --resume` after the grace deletes it.

A key IAM no longer knows (`NoSuchEntity`) is already gone: success. confirm(): STS says the pair
is dead, or IAM lists the key as Inactive (AWS is disable-first).

The key id acted on must be proven to be the leaked secret's. An access key id found alone is its
own key; a CSV row or a URI carries the pair together. But a secret found on its own is joined to
the nearest access key id around it (`key_id_rule` in rules/aws.toml: `PAIRED_BY_PROXIMITY`), and
the nearest is not always its own (a credentials file listing the secret before the id, two
profiles): before any IAM call for such a finding, `sts:GetCallerIdentity` is signed with the key id
and the re-read secret, and only AWS's documented answer (Arn, Account, RequestId) proves them a pair.
Any other answer leaves the job to a person and deactivates nothing: SignatureDoesNotMatch (the
secret is not that key's; deactivating it would cut off another key), InvalidClientTokenId (the id
is not an active key: nothing to deactivate under it, and the secret may be another key's) — unless
an earlier check proved this pair, when the id is inactive because an attempt whose answer was lost
deactivated it, and is deactivated again (idempotent). The proof is recorded as a live check;
confirm() reads IAM's listing of a key id joined as the nearest of several (`key_id_candidates`)
only for a secret STS once accepted with it.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any, Callable

from keysweep.errors import SecretUnavailable
from keysweep.providers.aws import _caller_identity, aws_answered, endpoint_url
from keysweep.revokers._common import BaseRevoker, make_plan, needs_person, reread, verify_status
from keysweep.revokers.base import RevokeResult

RULES = {"aws.access-key-id", "aws.secret-access-key", "aws.access-key-pair-csv", "aws.access-key-pair-uri",
         "aws.terraform-state-secret"}
# Rules whose secret is joined to an access key id by proximity (rules/aws.toml `key_id_rule`), not
# carried with it: their key id must be proven the secret's before any IAM call.
PAIRED_BY_PROXIMITY = {"aws.secret-access-key", "aws.terraform-state-secret"}
RETRYABLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable",
                   "InternalFailure", "ServiceFailure"}


def _client(settings):
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("iam", region_name=region, endpoint_url=endpoint_url(settings))


class NotAwsAnswer(Exception):
    """A call answered without AWS's documented response (a proxy's 200 page): not believed."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} answered without AWS's documented response; not believed")
        self.action = action


def believed(call: Callable[..., Any], action: str, fields: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """`call(**kwargs)`'s answer when it is AWS's own (its RequestId and the documented `fields`);
    NotAwsAnswer otherwise, also when botocore cannot parse it at all (a page where XML was due)."""
    from botocore.parsers import ResponseParserError

    try:
        answer = call(**kwargs)
    except (ResponseParserError, KeyError):  # KeyError: a well-formed page without the result element
        raise NotAwsAnswer(action) from None
    if not aws_answered(answer, *fields):
        raise NotAwsAnswer(action)
    return answer


def _unbelieved(exc: NotAwsAnswer, calls: list[tuple[str, str, str]]) -> RevokeResult:
    calls.append(("POST", exc.action, "not AWS's answer"))
    return RevokeResult(False, str(exc), retryable=True, calls=tuple(calls))


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


def names_user(identity: dict, user: str) -> bool:
    """Whether sts:GetCallerIdentity's answer is IAM user `user`'s: an Arn
    `arn:<partition>:iam::<Account>:user/[<path>/]<user>` in the answer's own Account."""
    parts = str(identity.get("Arn") or "").split(":", 5)
    return (len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[4] == str(identity.get("Account"))
            and parts[5].startswith("user/") and parts[5].rsplit("/", 1)[-1] == user)


def _user_of(iam, key_id: str) -> str | None:
    """The IAM user owning the key (GetAccessKeyLastUsed), from AWS's own answer only."""
    return believed(iam.get_access_key_last_used, "iam:GetAccessKeyLastUsed", ("AccessKeyLastUsed",),
                    AccessKeyId=key_id).get("UserName")


def _status_of(iam, key_id: str, user: str | None) -> str | None:
    """The key's Status as IAM lists it for its user; None when AWS's own listing does not hold it."""
    listed = believed(iam.list_access_keys, "iam:ListAccessKeys", ("AccessKeyMetadata",),
                      **({"UserName": user} if user else {}))
    return next((meta.get("Status") for meta in listed["AccessKeyMetadata"] if meta.get("AccessKeyId") == key_id),
                None)


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
        if finding.rule_id in PAIRED_BY_PROXIMITY:
            calls.insert(0, ("POST", "sts:GetCallerIdentity",
                             f"prove {finding.key_id} is the secret's key (signed with the pair)"))
        grace = self._grace(ctx)
        if grace is not None:
            calls.append(("POST", "iam:DeleteAccessKey",
                          "delete it now" if grace == 0 else f"delete it after {grace:g} day(s)"))
        return make_plan(self.name, finding, calls, [], delete_after_days=grace, target=target)

    async def revoke(self, plan, ctx) -> RevokeResult:
        proof: tuple[tuple[str, str, str], ...] = ()
        if plan.data.get("rule_id") in PAIRED_BY_PROXIMITY:
            proven = await self._proven_pair(plan, ctx)
            if isinstance(proven, RevokeResult):
                return proven
            proof = (("POST", "sts:GetCallerIdentity", proven),)
        return await asyncio.to_thread(self._revoke_sync, plan, ctx, proof)

    async def _proven_pair(self, plan, ctx, user: str | None = None,
                           untouched: str = "nothing deactivated") -> RevokeResult | str:
        """How the pair was proven (the STS call's outcome) when STS, signed with the plan's key id
        and the re-read secret, answers as AWS does for a working pair (and, given `user`, names that
        IAM user: the key id's, as IAM said) — or refuses it as an inactive key (InvalidClientTokenId)
        once an earlier check proved the pair: an attempt that deactivated it and lost the answer is
        tried again, and deactivating is idempotent. Else why nothing may be done under that key id,
        ending with `untouched` (what was left as it was)."""
        key_id = plan.data["key_id"]
        try:
            secret = await reread(plan.finding_id, ctx)
        except SecretUnavailable:
            return needs_person(f"the secret can no longer be re-read, so {key_id} (the access key id found next to "
                                f"it) cannot be proven to be its key; {untouched}")
        try:
            from botocore.exceptions import BotoCoreError, ClientError
            from botocore.parsers import ResponseParserError
        except ImportError:
            return RevokeResult(False, "boto3 is not installed: pip install 'keysweep[aws]'")
        try:
            answer = await asyncio.to_thread(_caller_identity, key_id, secret, endpoint_url(ctx.settings))
        except ClientError as exc:
            code = _error(exc)[0]
            calls = (("POST", "sts:GetCallerIdentity", code),)
            if code in RETRYABLE_CODES:
                return RevokeResult(False, f"STS: {code}", retryable=True, busy=True, calls=calls)
            was_live = getattr(ctx.store, "was_live_with", None) if ctx.store is not None else None
            if code == "InvalidClientTokenId" and was_live and was_live(plan.finding_id, key_id):
                return "InvalidClientTokenId (inactive; the pair was proven by an earlier check)"
            if code == "SignatureDoesNotMatch" and "expired" in str((exc.response.get("Error") or {}).get("Message")
                                                                      or "").lower():
                # "Signature expired: … is now earlier than …": this machine's clock, not the pair.
                return needs_person(f"{key_id}, the access key id found next to the secret, is not proven to be its "
                                    f"key: STS refused the request as signed too long ago (Signature expired): this "
                                    f"machine's clock is off, which says nothing of the pair; set the clock right, "
                                    f"then rerun; {untouched}", calls)
            why = {"SignatureDoesNotMatch": "the secret is not that key's (another key's, maybe live)",
                   "InvalidClientTokenId": "that id is not an active key (already inactive or deleted), and the "
                                           "secret may be another key's"}.get(code, "not AWS's proof of a pair")
            return needs_person(f"{key_id}, the access key id found next to the secret, is not proven to be its key "
                                f"(STS: {code}: {why}); {untouched}", calls)
        except (BotoCoreError, OSError) as exc:
            return RevokeResult(False, f"STS: no answer ({type(exc).__name__})", retryable=True, busy=True,
                                calls=(("POST", "sts:GetCallerIdentity", "no response"),))
        except (ResponseParserError, KeyError):  # a page where STS's XML was due
            answer = None
        if not aws_answered(answer, "Arn", "Account"):
            return RevokeResult(False, "sts:GetCallerIdentity answered without AWS's documented response; not "
                                       "believed", retryable=True, calls=(("POST", "sts:GetCallerIdentity",
                                                                            "not AWS's answer"),))
        if user is not None and not names_user(answer, user):
            return needs_person(f"{key_id}, the access key id found next to the secret, is not proven to be its key "
                                f"(STS, signed with the pair, answered for another identity than {key_id}'s IAM user "
                                f"{user}); {untouched}", (("POST", "sts:GetCallerIdentity", "another identity"),))
        # The proof is a check like `keysweep verify`'s: recorded, so a later confirmation knows it.
        if ctx.store is not None:
            identity = {"key_id": key_id, "account": answer.get("Account"), "arn": answer.get("Arn")}
            ctx.store.record_verification(plan.finding_id, "live", {k: v for k, v in identity.items() if v}, None,
                                          ctx.now())
        return "pair proven"

    def _revoke_sync(self, plan, ctx, proof: tuple[tuple[str, str, str], ...] = ()) -> RevokeResult:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return RevokeResult(False, "boto3 is not installed: pip install 'keysweep[aws]'")
        key_id = plan.data["key_id"]
        calls: list[tuple[str, str, str]] = list(proof)
        try:
            iam = _client(ctx.settings)
            user = _user_of(iam, key_id)
            calls.append(("POST", "iam:GetAccessKeyLastUsed", f"ok (user {user})"))
            kwargs = {"AccessKeyId": key_id, "Status": "Inactive"}
            if user:
                kwargs["UserName"] = user
            believed(iam.update_access_key, "iam:UpdateAccessKey", **kwargs)
            calls.append(("POST", "iam:UpdateAccessKey", "Inactive"))
            grace = plan.data.get("delete_after_days")
            if grace == 0:
                kwargs.pop("Status")
                believed(iam.delete_access_key, "iam:DeleteAccessKey", **kwargs)
                calls.append(("POST", "iam:DeleteAccessKey", "deleted"))
        except NotAwsAnswer as exc:
            return _unbelieved(exc, calls)
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
            user = _user_of(iam, key_id)
            calls.append(("POST", "iam:GetAccessKeyLastUsed", f"ok (user {user})"))
            status = _status_of(iam, key_id, user)
            if status == "Active":  # someone switched it back on: a person must decide
                calls.append(("POST", "iam:ListAccessKeys", "Active"))
                return RevokeResult(False, f"{key_id} is Active again: not deleted", calls=tuple(calls))
            believed(iam.delete_access_key, "iam:DeleteAccessKey", AccessKeyId=key_id,
                     **({"UserName": user} if user else {}))
            calls.append(("POST", "iam:DeleteAccessKey", "deleted"))
        except NotAwsAnswer as exc:
            return _unbelieved(exc, calls)
        except (ClientError, BotoCoreError) as exc:
            return _iam_failure(exc, calls, ClientError)
        return RevokeResult(True, "deleted", calls=tuple(calls))

    async def confirm(self, finding, ctx) -> bool:
        if finding.rule_id != "aws.access-key-id" and await verify_status(finding, ctx) == "dead":
            return True
        if not self._pair_known(finding, ctx):
            return False  # the id's state says nothing of a secret that may be another key's
        return await asyncio.to_thread(self._disabled_sync, finding.key_id, ctx)

    @staticmethod
    def _pair_known(finding, ctx) -> bool:
        """Whether the finding's key id is its secret's: always for an id found alone or carried with
        its secret, and for one joined as the only id in reach; joined as the nearest of several
        (`key_id_candidates`), only once STS accepted the pair (a live check recorded)."""
        if finding.rule_id not in PAIRED_BY_PROXIMITY or not (finding.metadata or {}).get("key_id_candidates"):
            return True
        was_live = getattr(ctx.store, "was_live_with", None) if ctx.store is not None else None
        return bool(was_live and was_live(finding.id, finding.key_id))

    def _disabled_sync(self, key_id: str, ctx) -> bool:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return False
        try:
            iam = _client(ctx.settings)
            status = _status_of(iam, key_id, _user_of(iam, key_id))
            return status in ("Inactive", None)  # None: not listed, deleted
        except ClientError as exc:
            return _error(exc)[0] == "NoSuchEntity"
        except (BotoCoreError, NotAwsAnswer):
            return False
