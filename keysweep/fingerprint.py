"""Identity and display of a secret without the secret: SHA-256 fingerprint, finding id, redaction."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

ELLIPSIS = "…"
# The shortest run of a secret's body that counts as an echo of it: shorter runs occur by chance in
# ordinary text, longer ones are as good as a piece of the key.
ECHO_RUN = 8
SCRUBBED = "[…]"


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
        # The PEM parser is the private-key provider's (above this module: importing it at the top
        # would load every provider while they import this module).
        from keysweep.providers.private_key import redaction_tail  # noqa: PLC0415

        tail = redaction_tail(secret)
        if tail:
            return f"{secret.split(chr(10), 1)[0].strip()}{ELLIPSIS}{tail}"
    budget = len(secret) // 3
    suffix_len = min(4, budget)
    shown_prefix = prefix if prefix and secret.startswith(prefix) else ""
    shown_prefix = shown_prefix[: max(0, budget - suffix_len)]
    suffix = secret[len(secret) - suffix_len:] if suffix_len else ""
    return f"{shown_prefix}{ELLIPSIS}{suffix}"


def redaction_prefix(redacted: str | None) -> str:
    """The literal prefix a redacted form shows (`sk-proj-` of `sk-proj-…x9Qa`), else ""."""
    if not redacted or ELLIPSIS not in redacted:
        return ""
    return redacted.split(ELLIPSIS, 1)[0]


def secret_body(secret: str, prefix: str = "") -> str:
    """The part of a secret that is secret: what follows the rule's literal prefix.

    A PEM key's armour lines are public (the redacted form shows the BEGIN line), so its body is
    what lies between them.
    """
    if secret.startswith("-----BEGIN "):
        lines = secret.strip().splitlines()
        inner = [line for line in lines[1:] if not line.startswith("-----END ")]
        return "\n".join(inner)
    if prefix and secret.startswith(prefix):
        return secret[len(prefix):]
    return secret


def _echo_grams(body: str) -> set[str]:
    """Every ECHO_RUN-character run of the body, also with whitespace taken out (a PEM body
    echoed as one line)."""
    variants = {body, "".join(body.split())}
    return {v[i:i + ECHO_RUN] for v in variants for i in range(len(v) - ECHO_RUN + 1)}


def echo_grams(secret: str, prefix: str = "") -> frozenset[str]:
    """The runs scrub_secret takes out of a text for this secret (and prefix): a caller scrubbing
    many texts with one secret computes them once (remediation.secrets keeps them with the value)."""
    return frozenset(_echo_grams(secret_body(secret, prefix)))


def holds_echo(text: str, grams: set[str] | frozenset[str]) -> bool:
    """Whether any ECHO_RUN-character run of `text` is one of `grams`."""
    return any(text[start:start + ECHO_RUN] in grams for start in range(len(text) - ECHO_RUN + 1))


def scrub_secret(text: str, secret: str | None, prefix: str = "", marker: str = SCRUBBED) -> str:
    """`text` with every run of ECHO_RUN or more characters of the secret's body replaced by `marker`.

    Catches the exact value, a prefix or suffix echo ("key sk-proj-abcd1234... is invalid") and any
    piece in between. The literal prefix stays readable, as the redacted form shows it anyway.
    Pure; the one scrubber for every error, reason and evidence string that is stored or printed.
    """
    if not text or not secret:
        return text
    return scrub_echoes(text, echo_grams(secret, prefix), marker)


def scrub_echoes(text: str, grams: set[str] | frozenset[str], marker: str = SCRUBBED) -> str:
    """scrub_secret with the secret's echo_grams already computed."""
    if not text or not grams:
        return text
    while True:
        covered = [False] * len(text)
        found = False
        for start in range(len(text) - ECHO_RUN + 1):
            if text[start:start + ECHO_RUN] in grams:
                found = True
                for i in range(start, start + ECHO_RUN):
                    covered[i] = True
        if not found:
            return text
        # Each pass replaces runs of at least ECHO_RUN characters by a shorter marker, so the text
        # shrinks and the loop ends; another pass catches a run the marker itself completes.
        pieces: list[str] = []
        i = 0
        while i < len(text):
            if covered[i]:
                while i < len(text) and covered[i]:
                    i += 1
                pieces.append(marker)
            else:
                pieces.append(text[i])
                i += 1
        text = "".join(pieces)


def clip_hint(hint: str | None, prefix: str = "") -> str | None:
    """A provider's partial-key hint cut to no more than our redacted form shows: the rule's
    literal prefix (when the hint starts with it) + `…` + last 4 characters."""
    if not hint:
        return hint
    shown = prefix if prefix and hint.startswith(prefix) else ""
    tail = hint[-4:]
    if any(mask in tail for mask in (ELLIPSIS, "*", ".")):
        tail = ""  # the hint's own mask: it shows no tail
    return f"{shown}{ELLIPSIS}{tail}"


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(c / total * math.log2(c / total) for c in counts.values())
