"""Base64-encoded values worth scanning again: Kubernetes `Secret` data, base64 `.env` blobs in CI
variables, `auth` fields of Docker configs, service-account JSON pasted as one base64 line.

Pure functions over bytes. The cost on ordinary content is one `bytes.translate` (every byte of
the base64 alphabet becomes `A`, every other byte a space) and `bytes.find` for 24 `A`s in a row:
only runs of at least MIN_RUN alphabet characters are decoded, and a decoded run is kept only if
it reads as text (credentials are text; random bytes, hex digests, long identifiers and images
decode to binary). Runs wrapped over several lines (the `base64` tool wraps at 76 columns) are
joined when each full line is a multiple of 4 characters long.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Iterator

MIN_RUN = 24           # 18 decoded bytes: shorter values hold no credential this tool knows
MIN_DECODED = 16
MAX_NON_TEXT = 0.05    # share of decoded bytes that may fall outside printable ASCII + \t\n\r
MAX_RUN = 4 * 1024 * 1024
WRAP_MIN = 40          # a line shorter than this is not part of a wrapped block

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_FLAT = bytearray(b" " * 256)
for _byte in _ALPHABET:
    _FLAT[_byte] = ord("A")
_FLAT[ord("=")] = ord("=")
_FLATTEN = bytes(_FLAT)
_NEEDLE = b"A" * MIN_RUN
_IN_ALPHABET = frozenset(_ALPHABET)
# The rest of a wrapped base64 block: its padding, then the following lines made of alphabet only.
_BLOCK = re.compile(rb"={0,2}(?:\r?\n[ \t]*[A-Za-z0-9+/]{4,}={0,2}[ \t]*(?=\r?\n|\Z))*")
# Base64 of text: the first character of every 4-character group encodes the top six bits of a
# text byte (tab, newline, carriage return or 0x20-0x7E): C, D, I-Z or a-f.
_TEXT_LEADS = b"CDIJKLMNOPQRSTUVWXYZabcdef"
_TEXT = bytes(range(0x20, 0x7F)) + b"\t\n\r"


@dataclass(frozen=True)
class Decoded:
    start: int       # span of the encoded run in the scanned content
    end: int
    text: bytes      # what it decodes to


def _alpha_end(content: bytes, index: int) -> int:
    """First index at or after `index` that is not a base64 alphabet character."""
    step = 64
    while index < len(content):
        chunk = content[index:index + step]
        rest = chunk.lstrip(_ALPHABET)
        index += len(chunk) - len(rest)
        if rest:
            return index
        step = min(step * 2, 1 << 20)
    return len(content)


def _wrapped_line(content: bytes, end: int) -> tuple[int, int] | None:
    """Span of the next line's run when the run ending at `end` continues on it: the next line
    holds nothing but indentation, alphabet characters and optional padding or closing quote."""
    index = end
    if content.startswith(b"\r\n", index):
        index += 2
    elif content.startswith(b"\n", index):
        index += 1
    else:
        return None
    while index < len(content) and content[index] in b" \t":
        index += 1
    if index >= len(content) or content[index] not in _IN_ALPHABET:
        return None
    line_end = _alpha_end(content, index)
    tail = line_end
    while tail < len(content) and tail - line_end < 2 and content[tail] == ord("="):
        tail += 1
    while tail < len(content) and content[tail] in b"\"',\\ \t\r":
        tail += 1
    if tail < len(content) and content[tail] != ord("\n"):
        return None
    return index, line_end


def runs(content: bytes, low: int = 0, high: int | None = None) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, encoded) of each base64 candidate starting in content[low:high] (all of it by
    default): MIN_RUN+ alphabet characters and their padding; wrapped lines are joined
    (`encoded` then has the line breaks removed, and may run past `high`)."""
    # Every alphabet byte becomes `A`; `bytes.find` then looks for MIN_RUN of them.
    flat = (content if low == 0 and high is None else content[low:high]).translate(_FLATTEN)
    position = 0
    while True:
        found = flat.find(_NEEDLE, position)
        if found < 0:
            return
        start = low + found
        end = _alpha_end(content, start + MIN_RUN)
        if not _text_leads(content[start:end]):
            # Binary (a certificate, a digest, an image): so are the lines of base64 that follow
            # it in its block. Skip them at C speed instead of joining and decoding them.
            position = _BLOCK.match(content, end).end() - low
            continue
        item = _one_run(content, start, end)
        position = item[1] - low
        yield item


def _one_run(content: bytes, start: int, end: int) -> tuple[int, int, bytes]:
    pieces = [content[start:end]]
    while len(pieces[-1]) % 4 == 0 and len(pieces[-1]) >= WRAP_MIN and end - start <= MAX_RUN:
        following = _wrapped_line(content, end)
        if following is None:
            break
        pieces.append(content[following[0]:following[1]])
        end = following[1]
    padding = 0
    while end < len(content) and content[end] == ord("=") and padding < 2:
        end += 1
        padding += 1
    return start, end, b"".join(pieces) + b"=" * padding


def encoded_fragments(literal: bytes) -> set[bytes]:
    """The base64 characters that spell `literal` wherever it sits in an encoded text: one
    fragment per alignment (0, 1 or 2 bytes after a 3-byte boundary), each holding only the
    characters whose six bits all come from `literal`."""
    fragments = set()
    for alignment in range(3):
        encoded = binascii.b2a_base64(b"\0" * alignment + literal, newline=False)
        first = -(-8 * alignment // 6)
        last = (8 * alignment + 8 * len(literal)) // 6
        if last > first:
            fragments.add(encoded[first:last])
    return fragments


def _text_leads(encoded: bytes) -> bool:
    """Whether the first character of (nearly) every 4-character group can start a text byte."""
    leads = encoded[0::4]
    return len(leads.translate(None, _TEXT_LEADS)) <= MAX_NON_TEXT * len(leads) + 1


def decode_text(encoded: bytes) -> bytes | None:
    """The decoded bytes when they read as text, else None."""
    if not _text_leads(encoded):
        return None  # cheap: most identifiers, digests and binary fail here, before decoding
    body = encoded.rstrip(b"=")
    if len(body) % 4 == 1:
        body = body[:-1]
    try:
        decoded = binascii.a2b_base64(body + b"=" * (-len(body) % 4))
    except binascii.Error:
        return None
    if len(decoded) < MIN_DECODED:
        return None
    if len(decoded.translate(None, _TEXT)) > MAX_NON_TEXT * len(decoded):
        return None
    return decoded


def decoded_values(content: bytes, low: int = 0, high: int | None = None) -> Iterator[Decoded]:
    """Every base64 run in `content` (starting in content[low:high]) that decodes to text."""
    for start, end, encoded in runs(content, low, high):
        if len(encoded) > MAX_RUN:
            continue
        text = decode_text(encoded)
        if text is not None:
            yield Decoded(start, end, text)
