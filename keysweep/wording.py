"""Counts in words people read: "1 blob", "2 blobs", "1 repository", "3 repositories"."""

from __future__ import annotations

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


def folded(head: str, parts: list[str], gap: str = "  ", width: int = 80, indent: str = "     ") -> list[str]:
    """`head` then `parts` joined by `gap`, as lines of at most `width` columns where the parts
    allow: a line breaks only between parts, never inside one (an id, a key, a place)."""
    lines, line = [], head
    for part in parts:
        joined = f"{line}{gap}{part}"
        if len(joined) > width:
            lines.append(line)
            line = indent + part
        else:
            line = joined
    return [*lines, line]
