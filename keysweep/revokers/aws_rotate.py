"""AWS access-key rotation (`keysweep revoke --rotate`, or `revoker = "aws-rotate"` in a policy rule).

For the IAM user that owns the leaked key: `CreateAccessKey`, write the new pair into the secret
store that held the old one (its target: the first store in `rotation.STORES` the finding has an
occurrence in, or the policy rule's `rotate_to`), `UpdateAccessKey` the old key to Inactive (and
`DeleteAccessKey` it when `[providers.aws] delete_after_days = 0`), then confirm as the `aws`
revoker does (verification says dead, or IAM lists the old key Inactive). Each store — Secrets
Manager and SSM, HashiCorp Vault KV, a Kubernetes Secret, GCP Secret Manager, Azure Key Vault, a
GitLab project CI/CD variable — is one module under `revokers/rotation/`, with how it reads the
target, holds the write to the version read and proves the write; this module is only the flow.

Before any key is created or deactivated, the old key id must be proven the leaked secret's own
(the scan joins a secret to the nearest key id around it, and in a value holding several profiles
that can be another key's): the binding the aws revoker trusts (`_pair_known`, on the finding as
the value just read shows it), or `sts:GetCallerIdentity` signed with the id and the re-read secret
answering as the id's IAM user, recorded as a live check so a resumed run knows it once the value
no longer holds the secret. Else the job is left to a person, nothing created or deactivated.

The stored value is rewritten in place: the old key id becomes the new one and the old secret
access key (the 40-character token whose SHA-256 is the finding's, else the only such token) the
new secret, so JSON, INI and dotenv shapes keep their layout. The new secret goes from IAM's answer
straight into the store's write: it is never printed, logged or stored by keysweep; calls, audit
rows and events name only the new key id.

Resumable: the new key id is recorded in the job (committed) before the value is written. A
resumed run that finds a recorded id reads the target: if it holds the new id the write happened
and only the deactivation is left; if not, the new key's secret was lost with the killed process
(never written anywhere), so that orphan key is deleted before a replacement is created — the user
never ends up with a second new key. IAM allows two keys per user: a user who already has another
key besides the leaked one is reported (`LimitExceeded`), with the key to clean up, before any
key is created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import keysweep.revokers.rotation as rotation
from keysweep.fingerprint import secret_sha256
from keysweep.locations import describe_occurrence
from keysweep.providers.aws import PROVIDER as AWS
from keysweep.revokers._common import finding_for, make_plan
from keysweep.revokers.aws import AwsAccessKeyRevoker, NotAwsAnswer, _client, _error, believed
from keysweep.revokers.base import RevokeResult
from keysweep.revokers.rotation import describe, is_target, parse_target, store_for, target_from_occurrences
from keysweep.revokers.rotation.base import (
    RotationError,
    UnprovenWrite,
    WriteConflict,
    WrittenOverAChange,
    rewrite,
    rewrite_values,
    rewritten,
)

# Kept here for the modules and tests that import them from the rotation revoker.
__all__ = ["ROTATE_ACTION", "AwsRotateRevoker", "RotationError", "UnprovenWrite", "WriteConflict",
           "WrittenOverAChange", "ci_place", "describe", "is_target", "note_job", "parse_target", "places_to_update",
           "remember_managed", "rewrite", "rewrite_values", "role_instead", "target_from_occurrences"]

# The audit action of this revoker's job notes (the new key id, the rotation's progress).
ROTATE_ACTION = "revoke.rotate"
# A stand-in pair, used to check before creating anything that the stored value can be rewritten.
_PROBE_ID = "AKIA" + "Z" * 16
_PROBE_SECRET = "Z" * 40
# Access key ids in a stored value (liberal: counting one too many only asks STS for the proof).
_KEY_IDS = re.compile(r"(?<![A-Z0-9])(?:AKIA|ABIA|ACCA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")


# Places a CI job reads the key from: there, a role assumed through OpenID Connect federation needs
# no stored key at all (the AWS provider's `replacement`).
# (Occurrences of variables the scan read are `github-actions-variable` / `gitlab-ci-variable`.)
_CI_VARIABLES = {"github-actions": "a GitHub Actions variable", "github-actions-variable": "a GitHub Actions variable",
                 "gitlab-ci": "a GitLab CI/CD variable", "gitlab-ci-variable": "a GitLab CI/CD variable"}
_CI_FILES = ((re.compile(r"(?:^|/)\.github/workflows/[^/]+\.ya?ml$"), "the GitHub Actions workflow"),
             (re.compile(r"(?:^|/)\.gitlab-ci\.ya?ml$"), "the GitLab CI file"))


def ci_place(finding) -> str | None:
    """The first place the key was found that a CI job reads (a CI variable, an Actions workflow or
    a .gitlab-ci.yml), described for people; None when there is none."""
    for occurrence in finding.occurrences:
        if occurrence.source in _CI_VARIABLES:
            return f"{_CI_VARIABLES[occurrence.source]} ({describe_occurrence(occurrence)})"
        for pattern, what in _CI_FILES:
            if occurrence.path and pattern.search(occurrence.path):
                return f"{what} {describe_occurrence(occurrence)}"
    return None


def role_instead(finding) -> str | None:
    """The plan's note when the source could assume a role instead of holding a new standing key."""
    place = ci_place(finding)
    if place is None:
        return None
    return (f"found in {place}: that job could assume an IAM role through OpenID Connect federation instead of "
            f"holding a new standing key ({AWS.replacement.docs_url})")


# Secret stores a running service reads the key from: the rotation writes the new key into one of
# them (its target); every other one keeps the old key, deactivated, until someone updates it.
_STORES = frozenset((*rotation.SOURCES, "aws-lambda-env", *_CI_VARIABLES))


def places_to_update(finding, target: dict[str, Any] | None) -> list[str]:
    """The plan's notes: each other secret store holding the old key (a Kubernetes Secret, a Vault
    path, GCP Secret Manager, Azure Key Vault, another AWS secret or parameter, a Lambda
    environment), which the rotation does not write: whoever reads the key there must be moved to
    the new one."""
    places: dict[str, None] = {}
    for occurrence in finding.occurrences:
        if occurrence.source in _STORES and not is_target(occurrence, target):
            places[describe_occurrence(occurrence)] = None
    return [f"also holds {finding.key_id or 'the key'}, not written by the rotation: {place} (update it to the new "
            f"key; it keeps the deactivated one)" for place in places]


def note_job(ctx, finding_id: str, revoker: str, **values: Any) -> None:
    """Record identifiers in the job's plan data (committed now) and the audit log (action
    `revoke.rotate`), through the context's `note_job` (the remediation layer's; nothing is
    recorded without one)."""
    if ctx.note_job is not None:
        ctx.note_job(finding_id, revoker, action=ROTATE_ACTION, **values)


def remember_managed(ctx, finding_id: str, revoker: str, key_id: str, target: dict[str, Any]) -> None:
    """The new key is keysweep's own: a later scan that finds it where it was written reports it
    as managed, not as a new leak (store table `managed_keys`)."""
    store = ctx.store
    if store is None or not hasattr(store, "record_managed_key"):
        return
    row = store.conn.execute("SELECT id FROM revocations WHERE finding_id = ? AND revoker = ?",
                             [finding_id, revoker]).fetchone()
    store.record_managed_key(key_id, "aws", finding_id, {**target, "resource": describe(target)},
                             row[0] if row else None, ctx.now())


def as_read(finding, current: str, recorded: str | None = None):
    """The finding as the value just read shows it: when that value holds access key ids besides
    the finding's (and the new key's, `recorded`) and the finding's metadata does not say how many
    were in reach (`key_id_candidates`: scanned before the scan recorded it), that count is added."""
    ids = set(_KEY_IDS.findall(current)) - {recorded} | {finding.key_id}
    if len(ids) < 2 or (finding.metadata or {}).get("key_id_candidates"):
        return finding
    return dataclasses.replace(finding, metadata={**(finding.metadata or {}), "key_id_candidates": str(len(ids))})


class AwsRotateRevoker(AwsAccessKeyRevoker):
    name = "aws-rotate"

    def _target(self, finding, ctx) -> tuple[dict[str, Any] | None, str | None]:
        decision = (ctx.extra.get("_decisions") or {}).get(finding.id)
        rotate_to = getattr(decision, "rotate_to", None) if decision is not None else None
        if rotate_to:
            try:
                return parse_target(rotate_to), None
            except ValueError as exc:
                return None, str(exc)
        return target_from_occurrences(finding), None

    async def plan(self, finding, ctx):
        target, problem = self._target(finding, ctx)
        key = finding.key_id
        calls = [("POST", "iam:GetAccessKeyLastUsed", f"find the IAM user of {key}"),
                 ("POST", "iam:ListAccessKeys", "check the user has room for a second key (IAM allows 2)")]
        needs = []
        if target:
            calls += [("POST", rotation.get_call(target), f"read {describe(target)}"),
                      ("POST", "iam:CreateAccessKey", "create the new key (its id recorded in the job first)"),
                      ("POST", rotation.put_call(target), f"write the new key into {describe(target)} (value never shown)")]
        else:
            needs.append(problem or f"a rotation target: the key was not found in {rotation.titles()}; name one "
                                    f"with rotate_to in a policy rule")
        calls.append(("POST", "iam:UpdateAccessKey", f"set {key} Inactive"))
        grace = self._grace(ctx)
        if grace is not None:
            calls.append(("POST", "iam:DeleteAccessKey",
                          f"delete {key} now" if grace == 0
                          else f"delete {key} after {grace:g} {'day' if grace == 1 else 'days'}"))
        retire = bool(target and store_for(target).retire_replaced
                      and ctx.settings.provider("aws").get("disable_replaced_version"))
        if retire:
            calls += list(store_for(target).retire_calls)
        plan = make_plan(self.name, finding, calls, needs, delete_after_days=grace, rotate_target=target,
                         target=f"iam AccessKeyId={key}", **({"disable_replaced_version": True} if retire else {}))
        plan.notes.extend(note for note in [role_instead(finding), self._proof_note(finding, ctx)] if note)
        plan.notes.extend(places_to_update(finding, target))
        return plan

    def _proof_note(self, finding, ctx) -> str | None:
        """The plan's note when the key id was joined to the secret as the nearest of several and no
        check has yet proven them a pair."""
        if self._pair_known(finding, ctx):
            return None
        return (f"{finding.key_id} was joined to the secret as the nearest of "
                f"{(finding.metadata or {}).get('key_id_candidates')} access key ids: before any key is created, "
                f"sts:GetCallerIdentity signed with it and the re-read secret must answer as its IAM user, else the "
                f"job is left to a person")

    async def _unproven_key(self, plan, ctx, calls, user: str, current: str, recorded: str | None
                            ) -> RevokeResult | None:
        """None when the old key id is proven the leaked secret's own, before any key is created or
        deactivated: the binding the aws revoker trusts (`_pair_known`, on the finding as the value
        just read shows it: `as_read`), or sts:GetCallerIdentity signed with the key id and the
        re-read secret answering as the key id's IAM user (then recorded, as the aws revoker does:
        a run resumed once the value is rewritten, the secret no longer readable, knows it). Else
        the job is left to a person, nothing created, deleted or deactivated."""
        finding = finding_for(plan.finding_id, ctx)
        if finding is not None and self._pair_known(as_read(finding, current, recorded), ctx):
            return None
        old, where = plan.data["key_id"], describe(plan.data["rotate_target"])
        if recorded and recorded in current:
            done = f"{old} not deactivated (the new key {recorded}, made by an earlier run, is in {where})"
        elif recorded:
            done = f"{old} not deactivated, and {recorded}, made by an earlier run and never written, not deleted"
        else:
            done = "no key created, nothing deactivated"
        proven = await self._proven_pair(
            plan, ctx, user=user,
            untouched=f"{done}: check which access key id in {where} is this secret's (where a value holds "
                      f"several, the nearest one is not always its own), then rotate that key")
        if isinstance(proven, RevokeResult):
            return dataclasses.replace(proven, calls=(*calls, *proven.calls))
        calls.append(("POST", "sts:GetCallerIdentity", f"{proven} (user {user})"))
        return None

    async def revoke(self, plan, ctx) -> RevokeResult:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return RevokeResult(False, "boto3 is not installed: pip install 'keysweep[aws]'")
        calls: list[tuple[str, str, str]] = []
        try:
            return await self._rotate(plan, ctx, calls)
        except (WriteConflict, UnprovenWrite, NotAwsAnswer) as exc:
            return RevokeResult(False, f"cannot rotate yet: {exc}", retryable=True, calls=tuple(calls))
        except RotationError as exc:
            return RevokeResult(False, f"cannot rotate: {exc}", calls=tuple(calls))
        except ClientError as exc:
            code, retryable = _error(exc)
            calls.append(("POST", "aws", code))
            if code == "LimitExceeded":
                return RevokeResult(False, "IAM refused CreateAccessKey: LimitExceeded (the user already has "
                                           "2 access keys); delete the unused one, then rerun", calls=tuple(calls))
            return RevokeResult(False, f"AWS refused: {code}", retryable=retryable, busy=retryable, calls=tuple(calls))
        except BotoCoreError as exc:
            code, _ = _error(exc)
            return RevokeResult(False, f"AWS: {code}", retryable=True, busy=True, calls=tuple(calls))

    async def _retire(self, ctx, plan, calls, user: str, new_id: str, new_sha256: str | None, replaced: Any,
                      made: Any) -> str:
        """Only now, and only once the new key is seen to work: the old key is already inactive, and
        a version still pinned by someone stops answering."""
        target = plan.data["rotate_target"]
        store = store_for(target)
        outcome, done = await asyncio.to_thread(store.retire_replaced, ctx.settings, target, user, new_id, new_sha256,
                                                replaced, made)
        calls.append(("POST", store.retire_calls[-1][1], outcome))
        if done:
            note_job(ctx, plan.finding_id, self.name, replaced_version_disabled=replaced)
        return f"; {outcome}"

    async def _delete_orphan(self, ctx, plan, iam, user: str, keys: dict[str, Any], recorded: str, calls) -> None:
        """The new key a run that died before writing it created: its secret is gone and nobody has it."""
        if recorded in keys:
            await asyncio.to_thread(believed, iam.delete_access_key, "iam:DeleteAccessKey", UserName=user,
                                    AccessKeyId=recorded)
            calls.append(("POST", "iam:DeleteAccessKey", f"{recorded} (created by an interrupted run, never written)"))
            keys.pop(recorded, None)
        note_job(ctx, plan.finding_id, self.name, new_key_id=None, orphan_deleted=recorded)

    async def _rotate(self, plan, ctx, calls) -> RevokeResult:
        from botocore.exceptions import ClientError

        data = plan.data
        old = data["key_id"]
        target = data.get("rotate_target")
        if not target:
            raise RotationError(f"no rotation target (the key was not read from {rotation.titles()}); name one with "
                                f"rotate_to in a policy rule")
        settings = ctx.settings
        iam = await asyncio.to_thread(_client, settings)
        recorded = data.get("new_key_id")
        try:
            user = (await asyncio.to_thread(believed, iam.get_access_key_last_used, "iam:GetAccessKeyLastUsed",
                                            ("AccessKeyLastUsed",), AccessKeyId=old)).get("UserName")
        except ClientError as exc:
            if _error(exc)[0] != "NoSuchEntity":
                raise
            calls.append(("POST", "iam:GetAccessKeyLastUsed", "NoSuchEntity"))
            if recorded:
                return RevokeResult(True, f"rotated to {recorded}; old key already deleted", calls=tuple(calls))
            raise RotationError(f"{old} no longer exists in IAM: nothing to rotate") from None
        calls.append(("POST", "iam:GetAccessKeyLastUsed", f"ok (user {user})"))
        if not user:
            raise RotationError(f"IAM names no user for {old} (a root key cannot be rotated this way)")
        listed = (await asyncio.to_thread(believed, iam.list_access_keys, "iam:ListAccessKeys", ("AccessKeyMetadata",),
                                          UserName=user))["AccessKeyMetadata"]
        keys = {meta["AccessKeyId"]: meta.get("Status") for meta in listed}
        calls.append(("POST", "iam:ListAccessKeys", f"{len(keys)} key(s)"))
        store = store_for(target)
        current, meta = await asyncio.to_thread(rotation.read, settings, target)
        calls.append(("POST", rotation.get_call(target), "ok"))
        refused = await self._unproven_key(plan, ctx, calls, user, current, recorded)
        if refused is not None:
            return refused
        written = bool(recorded) and recorded in current
        if recorded and not written and old not in current:
            # Neither key: someone changed it, or the read was stripped on its way (a redacting
            # gateway). The write cannot be told from this read, so no key is deleted on it.
            raise RotationError(f"{describe(target)} holds neither the new key {recorded} nor the old one {old}: "
                                f"whether the new key was written cannot be told; check it, then delete the key it "
                                f"does not hold")
        if recorded and not written:
            await self._delete_orphan(ctx, plan, iam, user, keys, recorded, calls)
            recorded = None
        if not written:
            if old not in current and old not in keys:
                raise RotationError(f"{old} is not a key of IAM user {user}")
            others = [key for key in keys if key != old]
            if len(keys) >= 2:
                raise RotationError(f"LimitExceeded: IAM user {user} already has 2 access keys ({old} and "
                                    f"{', '.join(others)}); delete the unused one, then rerun")
            try:
                rewritten(current, meta, old, _PROBE_ID, _PROBE_SECRET, data.get("secret_sha256"))
            except RotationError as exc:
                raise RotationError(f"{describe(target)}: {exc}") from None
            await asyncio.to_thread(rotation.check_writable, settings, target)
            fault = ctx.extra.get("_rotate_fault")  # tests: simulate a kill between steps
            answer = (await asyncio.to_thread(believed, iam.create_access_key, "iam:CreateAccessKey", ("AccessKey",),
                                              UserName=user))["AccessKey"]
            recorded = answer["AccessKeyId"]
            calls.append(("POST", "iam:CreateAccessKey", f"created {recorded}"))
            new_sha256 = secret_sha256(answer["SecretAccessKey"])
            note_job(ctx, plan.finding_id, self.name, new_key_id=recorded, new_secret_sha256=new_sha256,
                     replaced_version=meta.get("version") if store.retire_replaced else None)
            if fault:
                fault("after_create")
            try:
                made = await asyncio.to_thread(rotation.write, settings, target,
                                               rewritten(current, meta, old, recorded, answer.pop("SecretAccessKey"),
                                                         data.get("secret_sha256")), meta, recorded)
            except WriteConflict:
                raise  # retried: the next attempt reads the target first
            except UnprovenWrite as exc:  # retried too; named, in case no attempt is left
                raise UnprovenWrite(f"{exc}; the new key made for it is {recorded}") from None
            except WrittenOverAChange:
                remember_managed(ctx, plan.finding_id, self.name, recorded, target)
                raise
            except (RotationError, ClientError) as exc:
                if isinstance(exc, ClientError):
                    code, busy = _error(exc)
                    if busy:
                        raise
                    exc = RotationError(f"{describe(target)}: AWS refused the write: {code}")
                raise RotationError(f"{exc}; the new key {recorded} made for it was not written (its secret is "
                                    f"lost): delete it once {describe(target)} is seen not to hold it") from None
            finally:
                del answer
            calls.append(("POST", rotation.put_call(target), f"wrote {recorded}"))
            remember_managed(ctx, plan.finding_id, self.name, recorded, target)
            replaced = meta.get("version")
            if fault:
                fault("after_write")
        else:
            calls.append(("POST", rotation.put_call(target), f"{recorded} already written"))
            remember_managed(ctx, plan.finding_id, self.name, recorded, target)
            # The version read holds the new key: the one written. What it replaced was noted at creation.
            made, new_sha256, replaced = meta.get("version"), data.get("new_secret_sha256"), data.get("replaced_version")
        current = None
        try:
            await asyncio.to_thread(believed, iam.update_access_key, "iam:UpdateAccessKey", UserName=user,
                                    AccessKeyId=old, Status="Inactive")
            calls.append(("POST", "iam:UpdateAccessKey", f"{old} Inactive"))
            if data.get("delete_after_days") == 0:
                await asyncio.to_thread(believed, iam.delete_access_key, "iam:DeleteAccessKey", UserName=user,
                                        AccessKeyId=old)
                calls.append(("POST", "iam:DeleteAccessKey", f"{old} deleted"))
        except ClientError as exc:
            if _error(exc)[0] != "NoSuchEntity":
                raise
            calls.append(("POST", "iam:UpdateAccessKey", "NoSuchEntity (already deleted)"))
        note_job(ctx, plan.finding_id, self.name, rotated_to=recorded)
        retired = ""
        if data.get("disable_replaced_version") and store.retire_replaced:
            retired = await self._retire(ctx, plan, calls, user, recorded, new_sha256, replaced, made)
        return RevokeResult(True, f"rotated: new key {recorded} in {describe(target)}; {old} deactivated"
                            + (" and deleted" if data.get("delete_after_days") == 0 else "") + retired,
                            calls=tuple(calls))
