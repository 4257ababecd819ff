"""Azure AI services keys: the 84-character common annotated security key (CASK).

The key is the base64 text of 63 bytes: 52 random characters, the `JQQJ9` signature (then `9`, `D`
or `H`), a creation date, platform and provider reserved data, the provider signature (`ACOG` for
Azure AI services) and, in its last four characters, the base64 of the first three bytes of a
Marvin32 checksum of the 60 bytes before them, seeded with the 64-bit big-endian value of the
ASCII text "Default0". Source: Microsoft's security-utilities
(src/Microsoft.Security.Utilities.Core/IdentifiableSecrets.cs, TryValidateCommonAnnotatedKey and
VersionTwoChecksumSeed; Marvin.cs for the hash). A value of the right shape whose checksum does not
hold is not a key Azure issued.
"""

from __future__ import annotations

import base64
import binascii

from keysweep.providers.base import Provider, Replacement

CASK_LENGTH = 84
# ComputeHisV1ChecksumSeed("Default0"): the ASCII bytes, reversed, read as a little-endian ulong.
CASK_CHECKSUM_SEED = int.from_bytes(b"Default0", "big")
_MASK = 0xFFFFFFFF


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def _mix(p0: int, p1: int) -> tuple[int, int]:
    p1 ^= p0
    p0 = _rotl(p0, 20)
    p0 = (p0 + p1) & _MASK
    p1 = _rotl(p1, 9)
    p1 ^= p0
    p0 = _rotl(p0, 27)
    p0 = (p0 + p1) & _MASK
    p1 = _rotl(p1, 19)
    return p0, p1


def marvin32(data: bytes, seed: int) -> int:
    """Marvin32 of `data` folded to 32 bits (the two halves of the 64-bit state xored)."""
    p0, p1 = seed & _MASK, (seed >> 32) & _MASK
    whole = len(data) - len(data) % 4
    for offset in range(0, whole, 4):
        p0 = (p0 + int.from_bytes(data[offset:offset + 4], "little")) & _MASK
        p0, p1 = _mix(p0, p1)
    # The tail (0-3 bytes) is closed by a 0x80 byte, as the algorithm pads.
    p0 = (p0 + int.from_bytes(data[whole:] + b"\x80", "little")) & _MASK
    p0, p1 = _mix(p0, p1)
    p0, p1 = _mix(p0, p1)
    return p0 ^ p1


def cask_checksum(body: str) -> str:
    """The four checksum characters that follow an 80-character CASK body."""
    digest = marvin32(base64.b64decode(body), CASK_CHECKSUM_SEED).to_bytes(4, "little")
    return base64.b64encode(digest[:3]).decode()


def valid_cask(key: str) -> bool:
    if len(key) != CASK_LENGTH:
        return False
    try:
        return cask_checksum(key[:-4]) == key[-4:]
    except (binascii.Error, ValueError):
        return False


CHECKS = {"azure_cask": valid_cask}

PROVIDER = Provider(
    "azure", "Azure AI services",
    console_url="https://portal.azure.com/#view/Microsoft_Azure_ProjectOxford/CognitiveServicesHub",
    checks=CHECKS,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "managed-identity",
        "Authenticate to Azure AI services with Microsoft Entra ID instead of the resource key: give the app a managed "
        "identity (or a federated workload identity in CI) holding only the service's user role, get tokens through "
        "DefaultAzureCredential, then disable key (local) authentication on the resource.",
        "https://learn.microsoft.com/en-us/azure/developer/ai/keyless-connections"),
)
