"""Matching content that is not held whole: a large file, a blob streamed from `git cat-file`, an
archive member or the printable runs of a binary file.

Content arrives as pieces of any size and is matched in chunks of `CHUNK_SIZE` bytes, each seen
with `overlap` bytes of the content before it and after it. A match is kept by the chunk its start
falls in, so a key straddling a boundary is matched whole (the chunk before it sees it to its end,
with the context before it) and reported exactly once. The overlap is at least twice the longest
bounded rule match and at least `MIN_OVERLAP`, which also covers a PEM private key (a few KiB), the
longest match of the rules with no bounded width.

Content that fits one chunk (with its overlap) is matched in one call, exactly as it always was:
chunking changes nothing for ordinary files. At most about `CHUNK_SIZE + 2 * overlap` bytes of the
content are held at a time (plus the engine's working copies of that window).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator

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
        for match in engine.scan(window, keep_allowed=True):
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
        lines_before += buffer.count(b"\n", 0, drop)
        del buffer[:drop]
        base = next_base
        own_start = own_end


def scan_stream(engine: Engine, stream: BinaryIO, limit: int | None = None, *,
                chunk_size: int = CHUNK_SIZE, overlap: int | None = None) -> tuple[list[Match], list[str]]:
    """`scan_pieces` over a readable binary stream (at most `limit` bytes of it)."""
    return scan_pieces(engine, read_pieces(stream, limit), chunk_size=chunk_size, overlap=overlap)
