"""AWS access key ids and Bedrock API keys: structure checks and offline owner decoding."""

import base64
import binascii
import fnmatch
import json
import re
import threading
from typing import Any
from urllib.parse import unquote

from keysweep.providers.base import Provider, Replacement
from keysweep.providers.candidate import Candidate, Enriched
from keysweep.verify.http_verifier import DeadAnswer, scrub
from keysweep.verify.model import Verification
from keysweep.verify.reach import Reach, access_of, unseen
from keysweep.wording import counted

BEDROCK_PREFIX = "ABSK"
BEDROCK_MARKER = b"BedrockAPIKey-"
_BEDROCK_ACCOUNT = re.compile(rb"-at-(\d{12})(?!\d)")


def account_id(access_key_id: str) -> str | None:
    """12-digit account that owns the key, decoded from the id alone (no network).

    Characters 5-20 are base32; the first 6 decoded bytes, masked and shifted, are the account.
    Ids whose 5th character is I or J predate this encoding and return None.
    """
    if len(access_key_id) != 20 or access_key_id[4] in "IJ":
        return None
    try:
        decoded = base64.b32decode(access_key_id[4:])
    except (ValueError, binascii.Error):
        return None
    number = int.from_bytes(decoded[:6], "big")
    return f"{(number & 0x7FFFFFFFFF80) >> 7:012d}"


_ACCESS_KEY_ID = re.compile(r"(?:AKIA|ABIA|ACCA|ASIA)[A-Z2-7]{16}")


def valid_access_key_id(key_id: str) -> bool:
    """An access key id's shape. Documentation ids (…EXAMPLE) are dropped by rules/placeholders.toml."""
    return _ACCESS_KEY_ID.fullmatch(key_id) is not None


def with_account(candidate: Candidate) -> Enriched:
    """Attach the owning account, decoded from the access key id (the match's own key_id)."""
    account = account_id(candidate.key_id) if candidate.key_id else None
    return Enriched(secret=candidate.secret, key_id=candidate.key_id,
                    metadata={"account_id": account} if account else {})


def _bedrock_payload(secret: str) -> bytes | None:
    body = secret[len(BEDROCK_PREFIX):]
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None


def valid_bedrock_key(secret: str) -> bool:
    """`ABSK` + base64 of `BedrockAPIKey-…`, decoding to printable text."""
    payload = _bedrock_payload(secret)
    return (payload is not None and payload.startswith(BEDROCK_MARKER)
            and all(32 <= b < 127 for b in payload))


def bedrock_owner(candidate: Candidate) -> Enriched:
    """The account, when the decoded key names its service user (`…-at-<12 digits>`)."""
    payload = _bedrock_payload(candidate.secret) or b""
    found = _BEDROCK_ACCOUNT.search(payload)
    return Enriched(secret=candidate.secret, key_id=candidate.key_id,
                    metadata={"account_id": found[1].decode()} if found else {})


CHECKS = {"aws_access_key_id": valid_access_key_id, "aws_bedrock_key": valid_bedrock_key}
ENRICHERS = {"aws_account": with_account, "aws_bedrock": bedrock_owner}


# -- liveness (network: sts:GetCallerIdentity with boto3, imported on use) -------------------
# Codes with which STS refuses the pair itself; anything else (throttling, endpoint trouble) is unknown.

_STS_ERRORS = "https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html"
# STS's documented answer (as botocore parses it) for an access key id it does not know or that is
# not active. Not ExpiredToken (we send no session token) nor other services' codes.
STS_DEAD = tuple(
    DeadAnswer(403, {"Error": {"Code": code}}, code,
               example={"Error": {"Type": "Sender", "Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}, source=_STS_ERRORS)
    for code, message in (("InvalidClientTokenId", "The security token included in the request is invalid."),))
# SignatureDoesNotMatch is not the secret's death: AWS documents it as "the request signature we
# calculated does not match the signature you provided. Check your AWS Secret Access Key and signing
# method" — the key id is known to AWS, and this secret is not its secret (the key id was joined to
# the secret by proximity, rules/aws.toml key_id_window: the secret may be another key's, live) or
# the signed request was altered on the way (a TLS-inspecting proxy), or the clock is off.
# The scan joined the secret to the nearest of several access key ids around it (scanner/engine.py
# `key_id_candidates`): that id not being an active key says nothing of the secret, which may be
# another's. Only a secret joined to the one id in reach (or carried with it) is dead with its id.
JOINED_BY_GUESS = ("STS said {code} for the access key id joined to the secret, the nearest of {n} found near it: it "
                   "may be another key's secret; not proof that it is dead")
SIGNATURE_MISMATCH = ("STS said SignatureDoesNotMatch: this secret is not the secret of the access key id found next "
                      "to it (it may be another key's), or the request was altered on the way: not proof that it is "
                      "dead")


_STS_SESSION: list = []  # one boto3 session per process: clients share its loaded service models
_STS_LOCK = threading.Lock()


def aws_answered(answer: Any, *fields: str) -> bool:
    """Whether a boto3 answer is AWS's own: every AWS API answers with a RequestId, and with the
    operation's documented fields (`fields`). botocore takes a proxy's 200 page as an empty success,
    which has neither."""
    if not isinstance(answer, dict) or not (answer.get("ResponseMetadata") or {}).get("RequestId"):
        return False
    return all(answer.get(name) is not None for name in fields)


def _caller_identity(access_key_id: str, secret: str, endpoint: str | None) -> dict:
    import boto3
    from botocore.config import Config

    with _STS_LOCK:  # creating clients from one session is not thread-safe; calling them is
        if not _STS_SESSION:
            _STS_SESSION.append(boto3.session.Session())
        # Explicit credentials: the client signs with the leaked pair only, never the ambient chain.
        client = _STS_SESSION[0].client(
            "sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=access_key_id,
            aws_secret_access_key=secret, aws_session_token=None,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=10))
    return client.get_caller_identity()


class StsVerifier:
    """`sts:GetCallerIdentity` signed with the leaked pair: needs no permission, changes nothing."""

    name = "aws"
    providers = ("aws",)
    dead = STS_DEAD
    method, path = "POST", "sts:GetCallerIdentity"

    async def verify(self, credential, ctx):
        key_id = credential.key_id
        if credential.rule_id.startswith("aws.bedrock") or credential.secret.startswith(("ABSK", "bedrock-api-key-")):
            return Verification("unknown", {}, "Bedrock API keys are not checked yet (no signed STS check applies)")
        if credential.rule_id == "aws.access-key-id" or credential.secret == key_id:
            account = account_id(credential.secret)
            return Verification("unknown", {"account": account} if account else {},
                                "only the access key id was found; its secret is needed to check it")
        if not key_id:
            return Verification("unknown", {}, "no access key id found next to the secret; cannot sign a check")
        if key_id.startswith("ASIA"):
            # STS refuses an ASIA id signed without its session token as an unknown id: that
            # answer would read as "dead" while the credential may still be live.
            return Verification("unknown", {"key_id": key_id},
                                "temporary credentials: a check needs their session token, which is not kept")
        try:
            import boto3  # noqa: F401
            from botocore.exceptions import BotoCoreError, ClientError
            from botocore.parsers import ResponseParserError
        except ImportError:
            return Verification("unknown", {}, "boto3 is not installed (pip install 'keysweep[aws]')")
        # Already loaded by the running event loop; a report that decodes an account id loads this
        # module without it (scan staged's finding path).
        import asyncio  # noqa: PLC0415

        try:
            answer = await asyncio.to_thread(_caller_identity, key_id, credential.secret,
                                             ctx.settings.base_url("aws"))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            clock_skew = "expired" in str(error.get("Message") or "").lower()
            if not clock_skew and any(answer.matches(int(status or 0), exc.response) for answer in STS_DEAD):
                candidates = (credential.facts or {}).get("key_id_candidates")
                if candidates:  # the nearest of several ids: its death is not the secret's
                    return Verification("unknown", {"key_id": key_id}, JOINED_BY_GUESS.format(code=code, n=candidates))
                return Verification("dead", {"key_id": key_id, "dead_reason": code}, None)
            if code == "SignatureDoesNotMatch" and not clock_skew:
                return Verification("unknown", {"key_id": key_id}, SIGNATURE_MISMATCH)
            return Verification("unknown", {"key_id": key_id},
                                scrub(f"STS said {code or 'error'} (HTTP {status})", credential.secret))
        except (BotoCoreError, OSError) as exc:
            return Verification("unknown", {"key_id": key_id},
                                scrub(f"no answer from STS: {type(exc).__name__}", credential.secret))
        except (ResponseParserError, KeyError):  # a page where STS's XML was due
            answer = None
        if not aws_answered(answer, "Arn", "Account"):  # a proxy's 200 page parses to an empty answer
            return Verification("unknown", {"key_id": key_id}, "STS answered without its documented response "
                                                              "(no Arn, Account and RequestId): not AWS's answer")
        identity = {"key_id": key_id, "account": answer.get("Account"), "arn": answer.get("Arn"),
                    "user_id": answer.get("UserId"), "owner": answer.get("Arn")}
        return Verification("live", {k: v for k, v in identity.items() if v}, None)


VERIFIER = StsVerifier()


# -- reach (what a live key can do; keysweep/verify/reach.py) -----------------------------------
# Read with keysweep's own AWS credentials (the standard chain, AWS_ENDPOINT_URL honoured), never
# with the leaked key: the user's attached managed policies, inline policies and its groups' policies
# (iam:ListAttachedUserPolicies, GetPolicy, GetPolicyVersion, ListUserPolicies, GetUserPolicy,
# ListGroupsForUser, ListAttachedGroupPolicies, ListGroupPolicies, GetGroupPolicy).

# Actions with which a principal can make itself an administrator (grant itself any policy, act as
# another principal, mint credentials for one): holding any is admin-equivalent.
ESCALATION_ACTIONS = (
    "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachUserPolicy", "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy", "iam:AddUserToGroup",
    "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:UpdateAssumeRolePolicy",
)
# iam:PassRole with one of these runs code as a role of the caller's choosing.
PASSROLE_TARGETS = (
    "ec2:RunInstances", "lambda:CreateFunction", "cloudformation:CreateStack", "glue:CreateDevEndpoint",
    "ecs:RunTask", "datapipeline:CreatePipeline", "sagemaker:CreateNotebookInstance", "codebuild:CreateProject",
)
READ_VERBS = ("Get", "List", "Describe", "Head", "Query", "Scan", "BatchGet", "Select", "View", "Search", "Lookup")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def policy_statements(document) -> list[dict]:
    """A policy document's statements (IAM gives documents URL-encoded; boto3 usually decodes them)."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def grants(patterns: list[str], action: str) -> bool:
    """Does any allowed action pattern (`iam:*`, `iam:Put*`, `*`) cover this action? Case-insensitive."""
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def action_access(pattern: str) -> str:
    """An action pattern's access: read for Get/List/Describe… actions (and patterns only over them),
    else write."""
    _, _, name = pattern.partition(":")
    return "read" if name and name != "*" and name.startswith(READ_VERBS) else "write"


def covered(pattern: str, denied: list[str]) -> bool:
    """Is an allowed action pattern wholly inside a denied one (`s3:Get*` inside `s3:*`; `*` is
    inside nothing but `*`)? Case-insensitive."""
    return any(fnmatch.fnmatchcase(pattern.lower(), d.lower()) for d in denied)


def _strings(value) -> list[str]:
    return [str(item) for item in _as_list(value) if isinstance(item, (str, int, float, bool))]


def _few(items: list[str], limit: int = 4) -> str:
    """Up to `limit` items, then how many more (a policy can name hundreds of ARNs)."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _condition(condition) -> str:
    """A Condition block as `operator key value(s)`, each clause (its values are not secrets: IP ranges,
    VPC and account ids, tags)."""
    if not isinstance(condition, dict):
        return "unreadable"
    clauses = [f"{operator} {key} {_few(_strings(value), 3)}".rstrip()
               for operator, block in condition.items() if isinstance(block, dict)
               for key, value in block.items()]
    return "; ".join(clauses) or "unreadable"


def deny_unweighed(statement: dict) -> str | None:
    """Why a Deny statement cannot be weighed without the request it would meet (keysweep evaluates
    no Condition, and weighs only Denies of named actions on every resource), or None when it can."""
    reasons = []
    if statement.get("Condition"):
        reasons.append(f"holds only under a Condition keysweep does not evaluate ({_condition(statement['Condition'])})")
    if statement.get("NotAction") is not None:
        reasons.append("denies every action but those named (NotAction)")
    elif not _strings(statement.get("Action")):
        reasons.append("names no action")
    if statement.get("NotResource") is not None:
        reasons.append(f"applies to every resource but {_few(_strings(statement.get('NotResource')))} (NotResource)")
    elif _as_list(statement.get("Resource")) != ["*"]:
        reasons.append(f"applies only to {_few(_strings(statement.get('Resource'))) or 'no resource'}")
    return "; ".join(reasons) or None


def global_deny(statement: dict) -> list[str] | None:
    """The actions an unconditional Deny on every resource takes away, or None for a Deny that
    cannot be weighed without the request (deny_unweighed says why)."""
    return None if deny_unweighed(statement) else _strings(statement.get("Action"))


def deny_label(where: str, statement: dict, position: int) -> str:
    """Which Deny statement: its policy, its Sid (else its place in the policy), what it denies."""
    sid = statement.get("Sid")
    name = f'"{sid}"' if isinstance(sid, str) and sid else str(position)
    denies = (f"NotAction {_few(_strings(statement.get('NotAction')))}" if statement.get("NotAction") is not None
              else _few(_strings(statement.get("Action"))))
    return f"{where}: Deny statement {name} ({denies})"


def admin_equivalence(allowed: list[str], not_actions: bool, root: bool = False,
                      denied: list[str] | None = None) -> tuple[str, ...]:
    """Why a set of allowed action patterns is admin-equivalent: `*:*`, `iam:*`, an allow by
    NotAction, an escalation action, iam:PassRole with a compute launcher; the root user. An action
    an unconditional Deny takes away (`denied`) does not count."""
    denied = denied or []

    def holds(action: str) -> bool:
        return grants(allowed, action) and not grants(denied, action)

    flagged: list[str] = []
    if root:
        flagged.append("account root user")
    if any(p in ("*", "*:*") for p in allowed):
        flagged.append("*:*")
    if any(p.lower() == "iam:*" for p in allowed):
        flagged.append("iam:*")
    if not_actions:
        flagged.append("Allow with NotAction")
    if not {"*:*", "iam:*"} & set(flagged):  # else every one of these is granted: said once
        flagged.extend(a for a in ESCALATION_ACTIONS if holds(a))
        if holds("iam:PassRole"):
            flagged.extend(f"iam:PassRole + {t}" for t in PASSROLE_TARGETS if holds(t))
    return tuple(dict.fromkeys(flagged))


def aws_reach(arn: str | None, policies: list[tuple[str, object]], *, unknown: tuple[str, ...] = ()) -> Reach:
    """Reach of an IAM principal from its policies, each (where it comes from, its document): the
    actions it allows (the permissions), admin-equivalence (flagged), the policies (resources)."""
    allowed: list[str] = []
    denied: list[str] = []
    not_actions = False
    notes = list(unknown)
    unweighed: list[str] = []  # each Deny that takes nothing away here, and why
    weighed: list[str] = []
    conditions = 0
    for where, document in policies:
        for position, statement in enumerate(policy_statements(document), 1):
            if statement.get("Effect") == "Deny":
                # An explicit Deny wins over any Allow: one that holds for every request is weighed;
                # any other is named, never counted as taking a permission away.
                label = deny_label(where, statement, position)
                why = deny_unweighed(statement)
                if why:
                    unweighed.append(f"{label} {why}")
                else:
                    denied.extend(_strings(statement.get("Action")))
                    weighed.append(label)
                continue
            if statement.get("Effect") != "Allow":
                continue
            if statement.get("Condition"):
                conditions += 1
            allowed.extend(a for a in _as_list(statement.get("Action")) if isinstance(a, str))
            if statement.get("NotAction") is not None:
                not_actions = True
    if denied and not_actions:
        # What an Allow by NotAction leaves after a Deny cannot be listed as patterns: not weighed.
        unweighed += [f"{label} is not weighed against an Allow by NotAction" for label in weighed]
        denied = []
    notes += [f"{note}: not counted as taking a permission away (the permissions listed are what is allowed "
              "before it)" for note in unweighed]
    if conditions:
        notes.append(f"{counted(conditions, 'Allow statement')} {'holds' if conditions == 1 else 'hold'} only under a Condition")
    root = bool(arn) and arn.endswith(":root")
    # Allowed patterns wholly inside an unconditional Deny are no permission at all.
    kept = [a for a in allowed if not covered(a, denied)]
    flagged = admin_equivalence(kept, not_actions, root, denied)
    permissions = list(dict.fromkeys(kept)) + (["NotAction:*"] if not_actions else [])
    levels = [action_access(a) for a in permissions]
    details: dict[str, Any] = {"policies": len(policies)}
    if denied:
        details["denied"] = sorted(set(denied))
    return Reach(identity=arn, permissions=tuple(permissions), resources=tuple(name for name, _ in policies),
                 flagged=flagged, access=access_of(flagged, levels or ["read"]),
                 evidence="IAM policies read with keysweep's own credentials (the leaked key made only "
                          "sts:GetCallerIdentity)", unknown=tuple(notes), details=details)


def _user_name(arn: str) -> str | None:
    """`arn:aws:iam::123456789012:user/path/name` → `name`; None for any other principal."""
    head, _, resource = arn.partition(":user/")
    return resource.rsplit("/", 1)[-1] if head.startswith("arn:") and head.count(":") == 4 and resource else None


def _iam(cache: dict, endpoint: str | None):
    lock = cache.setdefault("aws:reach-lock", threading.Lock())
    with lock:
        if "aws:reach-iam" not in cache:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()  # keysweep's own credentials: the standard chain
            cache["aws:reach-iam"] = session.client(
                "iam", endpoint_url=endpoint, region_name=session.region_name or "us-east-1",
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=15))
        return cache["aws:reach-iam"]


def _read_policies(user: str, endpoint: str | None, cache: dict) -> tuple[list[tuple[str, object]], list[str]]:
    """(where each policy comes from, its document) of an IAM user, and what could not be read."""
    from botocore.exceptions import ClientError

    iam = _iam(cache, endpoint)
    policies: list[tuple[str, object]] = []
    notes: list[str] = []

    def listed(operation: str, key: str, **params) -> list:
        try:
            return [item for page in iam.get_paginator(operation).paginate(**params) for item in page.get(key, [])]
        except ClientError as exc:
            notes.append(f"policies: iam:{_camel(operation)} {exc.response.get('Error', {}).get('Code') or 'error'}")
            return []

    def managed(arn: str, where: str) -> None:
        try:
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        except (ClientError, KeyError) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else "no document"
            notes.append(f"policies: {arn} ({where}): {code}")
            return
        policies.append((f"{where} managed {arn}", document))

    def inline(get: str, where: str, **params) -> None:
        try:
            policies.append((f"{where} inline {params['PolicyName']}",
                             getattr(iam, get)(**params)["PolicyDocument"]))
        except ClientError as exc:
            notes.append(f"policies: {params['PolicyName']} ({where}): {exc.response.get('Error', {}).get('Code')}")

    for attached in listed("list_attached_user_policies", "AttachedPolicies", UserName=user):
        managed(attached["PolicyArn"], f"user {user}")
    for name in listed("list_user_policies", "PolicyNames", UserName=user):
        inline("get_user_policy", f"user {user}", UserName=user, PolicyName=name)
    for group in listed("list_groups_for_user", "Groups", UserName=user):
        group_name = group["GroupName"]
        for attached in listed("list_attached_group_policies", "AttachedPolicies", GroupName=group_name):
            managed(attached["PolicyArn"], f"group {group_name}")
        for name in listed("list_group_policies", "PolicyNames", GroupName=group_name):
            inline("get_group_policy", f"group {group_name}", GroupName=group_name, PolicyName=name)
    return policies, notes


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


async def read_reach(credential, ctx, identity) -> Reach:
    """The IAM user's policies, read with keysweep's own AWS credentials (never the leaked key's)."""
    arn = identity.get("arn")
    if not arn:
        return unseen("principal: sts:GetCallerIdentity named no ARN")
    if arn.endswith(":root"):
        return aws_reach(arn, [], unknown=("policies: the account root user is not bound by IAM policies",))
    user = _user_name(arn)
    if user is None:
        return unseen("policies: only an IAM user's policies are read (this principal is not a user)", arn)
    # Already loaded by the running event loop (imported where used, as in the verifier above).
    import asyncio  # noqa: PLC0415

    from botocore.exceptions import BotoCoreError, NoCredentialsError

    try:
        policies, notes = await asyncio.to_thread(_read_policies, user, endpoint_url(ctx.settings), ctx.extra)
    except NoCredentialsError:
        return unseen("policies: keysweep has no AWS credentials of its own to read them (standard chain)", arn)
    except (BotoCoreError, OSError) as exc:
        return unseen(f"policies: no answer from IAM ({type(exc).__name__})", arn)
    if notes and not policies:
        return Reach(identity=arn, unknown=tuple(notes), evidence="IAM (keysweep's own credentials)")
    return aws_reach(arn, policies, unknown=tuple(notes))


def endpoint_url(settings) -> str | None:
    """Where keysweep's own boto3 clients go: the record's environment name (AWS_ENDPOINT_URL),
    else keysweep.toml's `[providers.aws] base_url`; None leaves it to boto3."""
    return settings.env.get(PROVIDER.env_name_for_base_url()) or settings.provider("aws").get("base_url") or None


PROVIDER = Provider(
    "aws", "AWS",
    base_url_env="AWS_ENDPOINT_URL",
    console_url="https://console.aws.amazon.com/iam/home#/users",
    checks=CHECKS, enrichers=ENRICHERS, verifier=VERIFIER,
    # "aws-rotate" also supports AWS keys but comes second: chosen only when asked (--rotate, a policy rule).
    revokers={"aws": "keysweep.revokers.aws:AwsAccessKeyRevoker",
              "aws-rotate": "keysweep.revokers.aws_rotate:AwsRotateRevoker"},
    # What a live key can do (docs/output.md, `reach`): its IAM policies, read with our own credentials.
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "iam-role",
        "Give the workload an IAM role instead of an IAM user's access key. CI jobs assume a role through OpenID "
        "Connect federation (GitHub Actions with aws-actions/configure-aws-credentials, GitLab CI with id_tokens), "
        "code running on AWS uses its instance, task or function role, and people sign in through IAM Identity "
        "Center; each gets temporary credentials from STS that expire on their own. Limit the role's policy to the "
        "actions the workload calls and its trust policy to the repository and branch that may assume it, then "
        "delete the access key.",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html"),
)
