"""Sources yield blobs with provenance; they never match anything.

Local sources (git, dir, staged) are plain generators: they wait on the disk and on `git`, not on
the network, and the matcher is CPU-bound. Network sources join them as async iterators.
"""

from __future__ import annotations

import re

from keysweep.scanner.wide import is_wide_text

BINARY_SNIFF = 8000
# Blobs and files up to this size are read (those over the chunk size in overlapping chunks).
DEFAULT_MAX_SIZE = 256 * 1024 * 1024


def looks_binary(content: bytes) -> bool:
    """git's own test (a NUL byte in the first 8000 bytes), except for UTF-16 and UTF-32 text,
    which the engine decodes (keysweep/scanner/wide.py)."""
    return b"\0" in content[:BINARY_SNIFF] and not is_wide_text(content)


# Lone surrogates a JSON `\\ud800` escape can make (a Helm values key, a secret store's answer),
# except U+DC80-DCFF, which stand for the bytes that `surrogateescape` read.
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def utf8(text: str) -> bytes:
    """`text` as the bytes the engine matches: UTF-8, a byte `surrogateescape` smuggled in given
    back as itself, any other lone surrogate (which UTF-8 cannot hold) as U+FFFD. Without the
    last, one such character in a value read from a store failed the whole scope's reading."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def display_path(raw: bytes) -> str:
    """A file name as findings show it: UTF-8, with any undecodable byte written as `\\xNN`.

    Paths end up in SQLite, JSON, SARIF and terminals, none of which accept the lone surrogates
    that `surrogateescape` would leave in the string."""
    return raw.decode("utf-8", "backslashreplace")
