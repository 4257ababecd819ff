"""PEM private keys: one canonical text per key, and a structural check of what the armour holds.

The same key is found as a `.pem` file, inside a JSON string with `\\n` escapes (GCP service-account
files, notebooks), double-escaped inside JSON-in-JSON, indented in a YAML block scalar, or CRLF'd.
`canonical_pem` turns all of these into the text a PEM file written by OpenSSL holds (armour lines,
base64 body wrapped at 64 columns, or 70 for OpenSSH keys, trailing newline), so the secret's SHA-256 is
the same whichever way it was written down, and equals the SHA-256 of a standard key file.

`valid_structure` rejects shortened or invented bodies (`MIIE...`, documentation stubs): the body
must decode to one complete DER SEQUENCE starting with an INTEGER version (PKCS#1, PKCS#8, SEC1,
DSA), or to an `openssh-key-v1` blob whose cipher is `none`. Encrypted keys (PKCS#8
`ENCRYPTED PRIVATE KEY`, legacy `Proc-Type: 4,ENCRYPTED`, OpenSSH with a cipher) are not
findings: they are useless without their passphrase.
"""

from __future__ import annotations

import binascii
import re

from keysweep.providers.base import Provider, Replacement
from keysweep.providers.candidate import Candidate, Enriched

_ARMOUR = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]{0,30}PRIVATE KEY)-----(?P<body>.*?)-----END (?P=label)-----",
    re.DOTALL,
)
_ESCAPES = re.compile(r"\\+[nrt]|\\+|\s+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
OPENSSH_MAGIC = b"openssh-key-v1\x00"


def parse(raw: str) -> tuple[str, bytes] | None:
    """(label, DER or OpenSSH bytes) of the first complete PEM private key in `raw`, else None."""
    found = _ARMOUR.search(raw)
    if found is None or "ENCRYPTED" in found["label"]:
        return None
    body = _ESCAPES.sub("", found["body"])
    if not body or not _BASE64.fullmatch(body):
        return None
    body = body.rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        data = binascii.a2b_base64(body + "=" * (-len(body) % 4))
    except binascii.Error:
        return None
    return found["label"], data


def canonical_pem(label: str, data: bytes) -> str:
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    width = 70 if label == "OPENSSH PRIVATE KEY" else 64
    lines = [encoded[i:i + width] for i in range(0, len(encoded), width)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _der_length(data: bytes, offset: int) -> tuple[int, int] | None:
    """(length, offset of the content) of the DER element whose length byte is at `offset`."""
    if offset >= len(data):
        return None
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 4 or offset + 1 + count > len(data):
        return None
    return int.from_bytes(data[offset + 1: offset + 1 + count], "big"), offset + 1 + count


def valid_der_key(data: bytes) -> bool:
    if len(data) < 32 or data[0] != 0x30:
        return False
    parsed = _der_length(data, 1)
    if parsed is None:
        return False
    length, content = parsed
    return content + length == len(data) and data[content] == 0x02  # INTEGER version first


def valid_openssh_key(data: bytes) -> bool:
    if not data.startswith(OPENSSH_MAGIC):
        return False
    offset = len(OPENSSH_MAGIC)
    size = int.from_bytes(data[offset: offset + 4], "big")
    return data[offset + 4: offset + 4 + size] == b"none"


def valid_structure(secret: str) -> bool:
    parsed = parse(secret)
    if parsed is None:
        return False
    label, data = parsed
    if label == "OPENSSH PRIVATE KEY":
        return valid_openssh_key(data)
    return valid_der_key(data)


def normalise(candidate: Candidate) -> Enriched | None:
    parsed = parse(candidate.secret)
    if parsed is None:
        return None
    label, data = parsed
    return Enriched(secret=canonical_pem(label, data), metadata={"key_type": label})


def redaction_tail(secret: str) -> str | None:
    """Last characters of the base64 body, for display (the armour's tail says nothing)."""
    parsed = parse(secret)
    if parsed is None:
        return None
    return binascii.b2a_base64(parsed[1], newline=False).decode("ascii").rstrip("=")[-4:]


CHECKS = {"private_key_structure": valid_structure}
ENRICHERS = {"pem": normalise}


PROVIDER = Provider(
    "private-key", "Private keys", checks=CHECKS, enrichers=ENRICHERS,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "short-lived-certificate",
        "Keep no long-lived private key where it can be copied. For SSH, issue short-lived user and host "
        "certificates from a CA (ssh-keygen -s with a validity interval) or use the platform's identity-based "
        "access; for TLS, let an ACME client issue and renew certificates; a key that must persist belongs in a "
        "secrets manager, KMS or HSM that never hands it out.",
        "https://cheatsheetseries.owasp.org/cheatsheets/Secrets_Management_Cheat_Sheet.html"),
)
