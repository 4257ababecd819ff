"""Sources yield blobs with provenance; they never match anything.

Local sources (git, dir, staged) are plain generators: they wait on the disk and on `git`, not on
the network, and the matcher is CPU-bound. Network sources join them as async iterators.
"""

from __future__ import annotations

from keysweep.scanner.wide import is_wide_text

BINARY_SNIFF = 8000
# Blobs and files up to this size are read (those over the chunk size in overlapping chunks).
DEFAULT_MAX_SIZE = 256 * 1024 * 1024


def looks_binary(content: bytes) -> bool:
    """git's own test (a NUL byte in the first 8000 bytes), except for UTF-16 and UTF-32 text,
    which the engine decodes (keysweep/scanner/wide.py)."""
    return b"\0" in content[:BINARY_SNIFF] and not is_wide_text(content)


def display_path(raw: bytes) -> str:
    """A file name as findings show it: UTF-8, with any undecodable byte written as `\\xNN`.

    Paths end up in SQLite, JSON, SARIF and terminals, none of which accept the lone surrogates
    that `surrogateescape` would leave in the string."""
    return raw.decode("utf-8", "backslashreplace")
