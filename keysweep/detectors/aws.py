"""AWS access key ids: structure check and the offline decode of the owning account id."""

import base64

LONG_LIVED_PREFIXES = ("AKIA", "ABIA", "ACCA")


def account_id(access_key_id: str) -> str | None:
    """12-digit account that owns the key, decoded from the id alone (no network).

    Characters 5-20 are base32; the first 6 decoded bytes, masked and shifted, are the account.
    Ids whose 5th character is I or J predate this encoding and return None.
    """
    if len(access_key_id) != 20 or access_key_id[4] in "IJ":
        return None
    try:
        decoded = base64.b32decode(access_key_id[4:])
    except ValueError:
        return None
    number = int.from_bytes(decoded[:6], "big")
    return f"{(number & 0x7FFFFFFFFF80) >> 7:012d}"


def valid_access_key_id(key_id: str) -> bool:
    return len(key_id) == 20 and not key_id.endswith("EXAMPLE")


CHECKS = {"aws_access_key_id": valid_access_key_id}
