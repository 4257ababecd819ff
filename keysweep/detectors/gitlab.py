"""GitLab routable tokens: `glpat-<payload>.01.<2-char length><7-char CRC32 in base36>`."""

import zlib

from keysweep.detectors.base62 import BASE36, encode

CRC_LEN = 7


def valid_routable_token(token: str) -> bool:
    """CRC32 over everything before the last 7 characters, lowercase base36, 7 wide."""
    if len(token) <= CRC_LEN or not token.isascii():
        return False
    signed, checksum = token[:-CRC_LEN], token[-CRC_LEN:]
    return encode(zlib.crc32(signed.encode("ascii")), BASE36, CRC_LEN) == checksum


CHECKS = {"gitlab_routable_crc32": valid_routable_token}
