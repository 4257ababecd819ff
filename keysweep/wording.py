"""Counts in words people read: "1 blob", "2 blobs", "1 repository", "3 repositories"."""

from __future__ import annotations

import re
from typing import Callable

# Nouns whose plural is not the singular plus "s".
IRREGULAR = {"repository": "repositories", "entry": "entries", "identity": "identities"}


def plural(count: int, noun: str) -> str:
    """`noun` as it goes with `count`: singular for exactly one, plural otherwise (0 blobs)."""
    if count == 1:
        return noun
    head, _, last = noun.rpartition(" ")
    return (head + " " if head else "") + IRREGULAR.get(last, last + "s")


def counted(count: int, noun: str) -> str:
    """`count` and `noun` in agreement: counted(1, "blob") == "1 blob"."""
    return f"{count} {plural(count, noun)}"


def folded(head: str, parts: list[str], gap: str = "  ", width: int = 80, indent: str = "     ",
           place_last: bool = False) -> list[str]:
    """`head` then `parts` joined by `gap`, as lines of at most `width` columns where the parts
    allow: a line breaks only between parts, never inside one (an id, a key). `place_last`: the
    last part is a place, which, wider than a line of its own, folds after its separators
    (fold_place) onto lines under `indent`."""
    lines, line = [], head
    for n, part in enumerate(parts):
        joined = f"{line}{gap}{part}"
        if len(joined) <= width:
            line = joined
            continue
        lines.append(line)
        if place_last and n == len(parts) - 1 and len(indent + part) > width:
            *done, line = [indent + piece for piece in fold_place(part, max(width - len(indent), 1))]
            lines.extend(done)
        else:
            line = indent + part
    return [*lines, line]


# Where a place may break: after a space, after a path separator that ends a name (a leading `/`
# stays with the name after it), and after a colon not followed by a line number (`repo:path` breaks
# there, `settings.py:12` keeps its line).
_PLACE_BREAK = re.compile(r"(?<= )|(?<=[^ /]/)|(?<=:)(?!\d)")


def fold_place(place: str, width: int, measure: Callable[[str], int] = len) -> list[str]:
    """`place` (a path, a store and a name) as lines of at most `width` columns, broken after `/`,
    a space or a `repo:` colon so each directory and the file name stay whole; only a name wider
    than a whole line is cut, by character. `measure`: a string's width in columns."""
    if width < 1 or measure(place) <= width:
        return [place]
    lines: list[str] = []
    line = ""
    for piece in (p for p in _PLACE_BREAK.split(place) if p):
        if measure((line + piece).rstrip(" ")) <= width:
            line += piece
            continue
        if line.strip(" "):
            lines.append(line.rstrip(" "))
        line = piece
        while measure(line.rstrip(" ")) > width:  # one name wider than the column
            cut = _cut(line, width, measure)
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip(" "):
        lines.append(line.rstrip(" "))
    return lines


def _cut(text: str, width: int, measure: Callable[[str], int]) -> int:
    """The longest prefix of `text` (at least one character) that fits `width` columns."""
    cut = 1
    while cut < len(text) and measure(text[:cut + 1]) <= width:
        cut += 1
    return cut
