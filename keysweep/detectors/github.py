"""GitHub token structure: `gh?_` + 30 random characters + CRC32 of them in base62, 6 wide.

https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
"""

import zlib

from keysweep.detectors.base62 import BASE62, encode

CHECKSUM_LEN = 6


def token_checksum(body: str) -> str:
    return encode(zlib.crc32(body.encode("ascii")), BASE62, CHECKSUM_LEN)


def valid_token(token: str) -> bool:
    """True when the token's last 6 characters are the checksum of the random part."""
    _, sep, rest = token.partition("_")
    if not sep or len(rest) <= CHECKSUM_LEN or not rest.isascii():
        return False
    body, checksum = rest[:-CHECKSUM_LEN], rest[-CHECKSUM_LEN:]
    return token_checksum(body) == checksum


CHECKS = {"github_crc32": valid_token}
