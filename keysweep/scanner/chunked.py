"""Matching content that is not held whole: a large file, a blob streamed from `git cat-file`, an
archive member or the printable runs of a binary file.

Content arrives as pieces of any size and is matched in chunks of `CHUNK_SIZE` bytes, each seen
with `overlap` bytes of the content before it and after it. A match is kept by the chunk its start
falls in, so a key straddling a boundary is matched whole (the chunk before it sees it to its end,
with the context before it) and reported exactly once. The overlap is at least twice the longest
bounded rule match and at least `MIN_OVERLAP`, which also covers a PEM private key (a few KiB), the
longest match of the rules with no bounded width.

UTF-16/32 text is recognised once, from the content's first bytes (its byte-order mark, or where
its NULs fall), and every window is decoded in that encoding: a later window may hold no NUL to tell
(text in a non-Latin script), and has no byte-order mark. The chunk size is rounded up to a whole
number of code units and the overlap counts code units (the longest rule match is that many
characters, four bytes each in UTF-32), so every window starts and ends between two code units.

Content that fits one chunk (with its overlap) is matched in one call, exactly as it always was:
chunking changes nothing for ordinary files. At most about `CHUNK_SIZE + 2 * overlap` bytes of the
content are held at a time (plus the engine's working copies of that window).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator

from keysweep.scanner.sources import BINARY_SNIFF
from keysweep.scanner.wide import SNIFF, sniff, unit_of

if TYPE_CHECKING:  # the engine is built by the caller; this module only calls it
    from keysweep.models import Match
    from keysweep.scanner.engine import Engine

CHUNK_SIZE = 16 * 1024 * 1024
MIN_OVERLAP = 64 * 1024
READ_SIZE = 1024 * 1024


def overlap_for(engine: Engine) -> int:
    """Bytes of context each chunk gets on both sides: covers the longest bounded rule match twice
    over (the engine confirms a hit in a window of twice the width before it)."""
    widths = [compiled.width for compiled in engine.rules if compiled.width is not None]
    return max([MIN_OVERLAP, *(2 * width for width in widths)])


def aligned(size: int, unit: int) -> int:
    """`size` rounded up to a whole number of `unit`-byte code units."""
    return size + (-size) % unit


def wide_encoding(head: bytes) -> tuple[str, int] | None:
    """(encoding, byte-order mark length) when content starting with `head` is UTF-16/32 text, the
    engine's own test (a NUL byte early on, then wide.sniff)."""
    return sniff(head) if head.find(b"\0", 0, BINARY_SNIFF) >= 0 else None


def read_pieces(stream: BinaryIO, limit: int | None = None, size: int = READ_SIZE) -> Iterator[bytes]:
    """The stream's bytes in pieces of at most `size`, stopping after `limit` bytes if given."""
    left = limit
    while left is None or left > 0:
        piece = stream.read(size if left is None else min(size, left))
        if not piece:
            return
        if left is not None:
            left -= len(piece)
        yield piece


def scan_pieces(engine: Engine, pieces: Iterable[bytes], *, chunk_size: int = CHUNK_SIZE,
                overlap: int | None = None) -> tuple[list[Match], list[str]]:
    """(matches, ids of the rules that timed out somewhere) of the content made of `pieces`, in
    content order, with offsets and line numbers in the whole content. Allowed matches are kept
    (the scan stage records them as suppressed)."""
    overlap = overlap_for(engine) if overlap is None else overlap
    source = iter(pieces)
    buffer = bytearray()
    exhausted = False
    while not exhausted and len(buffer) < max(SNIFF, BINARY_SNIFF):
        piece = next(source, None)
        if piece is None:
            exhausted = True
        else:
            buffer += piece
    wide = wide_encoding(bytes(buffer[:max(SNIFF, BINARY_SNIFF)]))
    unit = unit_of(wide[0]) if wide else 1
    chunk_size, overlap = aligned(chunk_size, unit), aligned(overlap, 4) * unit
    base = 0            # offset of buffer[0] in the content
    lines_before = 0    # newlines in the content before buffer[0]
    own_start = 0       # the current chunk keeps matches starting in [own_start, own_end)
    found: list[Match] = []
    timed_out: list[str] = []
    while True:
        wanted = own_start - base + chunk_size + overlap
        while not exhausted and len(buffer) < wanted:
            piece = next(source, None)
            if piece is None:
                exhausted = True
            else:
                buffer += piece
        end = base + len(buffer)
        last = exhausted and len(buffer) <= wanted
        own_end = end if last else own_start + chunk_size
        if base == 0 and last:
            # One chunk: the whole content, matched as it always was.
            matches = engine.scan(bytes(buffer), keep_allowed=True)
            return matches, list(engine.timed_out)
        window = bytes(buffer[: min(len(buffer), own_end - base + overlap)])
        dropped_allowed = 0
        wide_as = None if wide is None else (wide[0], wide[1] if base == 0 else 0)
        for match in engine.scan(window, keep_allowed=True, wide_as=wide_as):
            start = base + match.start
            if own_start <= start < own_end:
                found.append(replace(match, start=start, end=base + match.end, line=lines_before + match.line))
            elif match.allowed_by:
                dropped_allowed += 1
        # A match dropped here is counted by the chunk that keeps it.
        engine.suppressed_inline -= dropped_allowed
        timed_out.extend(rule for rule in engine.timed_out if rule not in timed_out)
        if last:
            return found, timed_out
        next_base = own_end - overlap
        drop = next_base - base
        if wide is None:
            lines_before += buffer.count(b"\n", 0, drop)
        else:  # newline code units, not 0x0A bytes (UTF-16 `上` is 0A 4E)
            skip = wide[1] if base == 0 else 0
            lines_before += bytes(buffer[skip:drop]).decode(wide[0], "surrogatepass").count("\n")
        del buffer[:drop]
        base = next_base
        own_start = own_end


def scan_stream(engine: Engine, stream: BinaryIO, limit: int | None = None, *,
                chunk_size: int = CHUNK_SIZE, overlap: int | None = None) -> tuple[list[Match], list[str]]:
    """`scan_pieces` over a readable binary stream (at most `limit` bytes of it)."""
    return scan_pieces(engine, read_pieces(stream, limit), chunk_size=chunk_size, overlap=overlap)
