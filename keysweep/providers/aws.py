"""AWS access key ids and Bedrock API keys: structure checks and offline owner decoding."""

import base64
import binascii
import re

from keysweep.providers.base import Provider, Replacement
from keysweep.providers.candidate import Candidate, Enriched
from keysweep.verify.http_verifier import DeadAnswer, scrub
from keysweep.verify.model import Verification

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
# STS's documented answers (as botocore parses them) for an access key id it does not know, and for
# a secret that is not that key's. Not ExpiredToken (we send no session token) nor other services'
# codes. A "Signature expired" SignatureDoesNotMatch is the local clock, not the key: unknown.
STS_DEAD = tuple(
    DeadAnswer(403, {"Error": {"Code": code}}, code,
               example={"Error": {"Type": "Sender", "Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}, source=_STS_ERRORS)
    for code, message in (("InvalidClientTokenId", "The security token included in the request is invalid."),
                          ("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                    "signature you provided.")))


_STS_SESSION: list = []  # one boto3 session per process: clients share its loaded service models
_STS_LOCK = __import__("threading").Lock()


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
                return Verification("dead", {"key_id": key_id, "dead_reason": code}, None)
            return Verification("unknown", {"key_id": key_id},
                                scrub(f"STS said {code or 'error'} (HTTP {status})", credential.secret))
        except (BotoCoreError, OSError) as exc:
            return Verification("unknown", {"key_id": key_id},
                                scrub(f"no answer from STS: {type(exc).__name__}", credential.secret))
        identity = {"key_id": key_id, "account": answer.get("Account"), "arn": answer.get("Arn"),
                    "user_id": answer.get("UserId"), "owner": answer.get("Arn")}
        return Verification("live", {k: v for k, v in identity.items() if v}, None)


VERIFIER = StsVerifier()


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
