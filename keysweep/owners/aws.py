"""AWS: the IAM user behind an access key, and its `owner` / `team` / `purpose` tags.

Runs with the organisation's own credentials (the standard AWS chain; `AWS_ENDPOINT_URL` or
`[providers.aws] base_url` honoured), never with the leaked key:
`sts:GetAccessKeyInfo` → account; `iam:GetAccessKeyLastUsed` → user name and last use;
`iam:ListUserTags` → tags. boto3 is imported on use.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from keysweep.clock import utc_iso
from keysweep.owners.model import Candidate

if TYPE_CHECKING:
    from keysweep.models import Finding
    from keysweep.owners.model import OwnerContext

OWNER_TAGS = ("owner", "owner_email", "owner-email", "ownedby", "owned-by", "contact", "maintainer", "created-by")
TEAM_TAGS = ("team", "squad", "department", "cost-center", "costcenter")
PURPOSE_TAGS = ("purpose", "business-purpose", "business_purpose", "description", "application", "app", "service")


def _tag(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {key.lower(): value for key, value in tags.items()}
    for name in names:
        if lowered.get(name):
            return lowered[name]
    return None


def _clients(cache: dict[str, Any], endpoint: str | None) -> tuple[Any, Any]:
    """STS and IAM clients with our own credentials, made once per run."""
    lock = cache.setdefault("aws:lock", threading.Lock())
    with lock:
        if "aws:clients" not in cache:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=15)
            region = session.region_name or "us-east-1"
            cache["aws:clients"] = (session.client("sts", endpoint_url=endpoint, region_name=region, config=config),
                                    session.client("iam", endpoint_url=endpoint, region_name=region, config=config))
        return cache["aws:clients"]


def _lookup(access_key_id: str, endpoint: str | None, cache: dict[str, Any]) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    sts, iam = _clients(cache, endpoint)
    result: dict[str, Any] = {}
    try:
        result["account"] = sts.get_access_key_info(AccessKeyId=access_key_id).get("Account")
    except ClientError as exc:
        result["account_error"] = exc.response.get("Error", {}).get("Code")
    try:
        used = iam.get_access_key_last_used(AccessKeyId=access_key_id)
    except ClientError as exc:
        result["user_error"] = exc.response.get("Error", {}).get("Code") or "error"
        return result
    result["user_name"] = used.get("UserName")
    last = used.get("AccessKeyLastUsed") or {}
    if last.get("LastUsedDate"):
        result["last_used_at"] = utc_iso(last["LastUsedDate"])
    for key, name in (("ServiceName", "last_used_service"), ("Region", "last_used_region")):
        if last.get(key) and last[key] != "N/A":
            result[name] = last[key]
    tags: dict[str, str] = {}
    if result["user_name"]:
        marker = None
        try:
            while True:
                page = iam.list_user_tags(UserName=result["user_name"], **({"Marker": marker} if marker else {}))
                tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
                if not page.get("IsTruncated"):
                    break
                marker = page.get("Marker")
        except ClientError as exc:
            result["tags_error"] = exc.response.get("Error", {}).get("Code") or "error"
    result["tags"] = tags
    return result


async def resolve(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    if finding.provider != "aws" or not finding.key_id:
        return []
    if octx.cache.get("aws:disabled"):
        return []
    try:
        import boto3  # noqa: F401
        from botocore.exceptions import BotoCoreError, NoCredentialsError
    except ImportError:
        octx.warn("aws-iam: boto3 is not installed (pip install 'keysweep[aws]')")
        octx.cache["aws:disabled"] = True
        return []
    try:
        info = await asyncio.to_thread(_lookup, finding.key_id, octx.ctx.settings.base_url("aws"), octx.cache)
    except NoCredentialsError:
        octx.warn("aws-iam: no AWS credentials for owner lookups (standard credential chain)")
        octx.cache["aws:disabled"] = True
        return []
    except (BotoCoreError, OSError) as exc:
        octx.warn(f"aws-iam: no answer from AWS: {type(exc).__name__}")
        return []
    user = info.get("user_name")
    if not user:
        if info.get("user_error"):
            octx.warn(f"aws-iam: GetAccessKeyLastUsed for {finding.key_id}: {info['user_error']} "
                      f"(a key of another account?)")
        return []
    tags = info.get("tags") or {}
    owner, team, purpose = _tag(tags, OWNER_TAGS), _tag(tags, TEAM_TAGS), _tag(tags, PURPOSE_TAGS)
    account = info.get("account")
    shown_tags = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "no tags"
    evidence = (f"AWS IAM: access key {finding.key_id} belongs to user {user}"
                f"{' in account ' + account if account else ''} ({shown_tags}); last used "
                f"{info.get('last_used_at') or 'never'}"
                f"{' by ' + info['last_used_service'] if info.get('last_used_service') else ''}"
                f"{' in ' + info['last_used_region'] if info.get('last_used_region') else ''}")
    return [Candidate(
        name=owner or f"IAM user {user}", team=team, purpose=purpose, source="aws-iam",
        confidence=0.9 if owner else 0.6, evidence=evidence,
        contact=owner if owner and "@" in owner else None, key_id=finding.key_id,
        details={"account": account, "user_name": user, "tags": tags,
                 **{k: info[k] for k in ("last_used_at", "last_used_service", "last_used_region") if info.get(k)}})]
