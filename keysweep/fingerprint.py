"""Identity and display of a secret without the secret: SHA-256 fingerprint, finding id, redaction."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

ELLIPSIS = "…"


def secret_sha256(secret: str) -> str:
    """Hex SHA-256 of the UTF-8 secret value (the `secret_sha256` of the JSON contract)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def finding_id(provider: str, secret_hash: str) -> str:
    """Stable id of a secret: the same key found anywhere is one finding."""
    digest = hashlib.sha256(f"{provider}\0{secret_hash}".encode()).hexdigest()
    return f"f_{digest[:16]}"


def redact(secret: str, prefix: str = "") -> str:
    """Known literal prefix + `…` + last characters, never more than a third of the value.

    The budget keeps short secrets (and any prefix a rule claims) from being shown nearly whole.
    """
    if secret.startswith("-----BEGIN "):
        # A PEM key: the armour line names the kind; the tail of the base64 body tells keys apart
        # (the armour's own tail would say nothing).
        from keysweep.detectors.private_key import redaction_tail

        tail = redaction_tail(secret)
        if tail:
            return f"{secret.split(chr(10), 1)[0].strip()}{ELLIPSIS}{tail}"
    budget = len(secret) // 3
    suffix_len = min(4, budget)
    shown_prefix = prefix if prefix and secret.startswith(prefix) else ""
    shown_prefix = shown_prefix[: max(0, budget - suffix_len)]
    suffix = secret[len(secret) - suffix_len:] if suffix_len else ""
    return f"{shown_prefix}{ELLIPSIS}{suffix}"


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(c / total * math.log2(c / total) for c in counts.values())
