"""AWS access key ids and Bedrock API keys: structure checks and offline owner decoding."""

import base64
import binascii

import re

from keysweep.detectors.candidate import Candidate, Enriched

LONG_LIVED_PREFIXES = ("AKIA", "ABIA", "ACCA")
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


def valid_access_key_id(key_id: str) -> bool:
    return len(key_id) == 20 and not key_id.endswith("EXAMPLE")


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
