"""Which rule keywords occur in a content: the pure-`regex` engine's prefilter.

Without Hyperscan, a rule is confirmed only on content that holds one of its keywords (case
folded). Asking `keyword in content` once per keyword reads every blob once per keyword (about a
hundred times); this index reads it once, with the standard library's `re`, in the manner of
Aho-Corasick but with what ships with Python: no third-party matcher has wheels for the platforms
that lack Hyperscan's (docs/usage.md, "Engines and platforms").

How: every keyword is anchored on its rarest byte in ordinary source text. The one pattern is an
alternation over the anchors, each alternative the rest of the keyword from its anchor on, then a
look-behind for the whole keyword (`kia(?<=akia)`). Every alternative starts with a literal byte,
so `re` skips from one anchor byte to the next in C and tries the alternatives only there; anchors
are rare bytes, so that is seldom. At a hit, every keyword on that anchor byte is compared in
place, and the search resumes one byte further, so overlapping keywords are all seen. The answer
is exact, the same as asking `keyword in content` for each keyword; a content where keywords
occur very often is finished with those direct questions instead.
"""

from __future__ import annotations

import re
from typing import Iterable

# Printable bytes from most to least frequent in lower-cased source code and text (counted over the
# histories of requests and sqlalchemy); bytes not listed (control bytes, non-ASCII) count as rarest.
# Only speed depends on this order, never the answer.
FREQUENCY_ORDER = b" etsaronilcdupmh_f.,()\"'y:bg=w-`vkxq01[]j2*#3>/%5z4{}@+678\\9~<^;!?|&$\t"
RARITY = {byte: rank for rank, byte in enumerate(FREQUENCY_ORDER)}
# Hits (anchor bytes followed by a keyword) after which the remaining keywords are asked about
# directly: bounds the cost of a content that holds one keyword a million times.
MAX_HITS = 256


def anchor_offset(keyword: bytes) -> int:
    """Position of the keyword's rarest byte (the first of equals)."""
    return max(range(len(keyword)), key=lambda i: (RARITY.get(keyword[i], len(FREQUENCY_ORDER)), -i))


class KeywordIndex:
    """`present(lowered)`: the keywords (lower-case bytes) that occur in lower-cased content."""

    def __init__(self, keywords: Iterable[bytes]) -> None:
        self.keywords = tuple(sorted({k for k in keywords if k}))
        # anchor byte -> (offset of the anchor in the keyword, keyword)
        self.by_anchor: dict[int, tuple[tuple[int, bytes], ...]] = {}
        grouped: dict[int, list[tuple[int, bytes]]] = {}
        for keyword in self.keywords:
            offset = anchor_offset(keyword)
            grouped.setdefault(keyword[offset], []).append((offset, keyword))
        self.by_anchor = {anchor: tuple(group) for anchor, group in grouped.items()}
        self.pattern = re.compile(_alternation(grouped)) if grouped else None

    def present(self, lowered: bytes) -> set[bytes]:
        found: set[bytes] = set()
        if self.pattern is None:
            return found
        search = self.pattern.search
        by_anchor = self.by_anchor
        hit = search(lowered)
        hits = 0
        while hit is not None:
            at = hit.start()
            for offset, keyword in by_anchor[lowered[at]]:
                start = at - offset
                if start >= 0 and keyword not in found and lowered.startswith(keyword, start):
                    found.add(keyword)
            hits += 1
            if hits >= MAX_HITS:
                found.update(k for k in self.keywords if k not in found and k in lowered)
                break
            hit = search(lowered, at + 1)
        return found


def _alternation(grouped: dict[int, list[tuple[int, bytes]]]) -> bytes:
    """`a(?:lt1|alt2)|b(?:…)`: each top-level alternative starts with its anchor byte, which lets
    `re` skip to candidate positions without entering the pattern."""
    branches = []
    for anchor, group in sorted(grouped.items(), key=lambda item: RARITY.get(item[0], len(FREQUENCY_ORDER))):
        rests = []
        # Longest first: at one anchor position the first alternative that matches ends the
        # search, and the comparison in `present` finds the others.
        for offset, keyword in sorted(group, key=lambda g: (-(len(g[1]) - g[0]), g[1])):
            rest = re.escape(keyword[offset + 1:])
            rests.append(rest + (b"(?<=" + re.escape(keyword) + b")" if offset else b""))
        branches.append(re.escape(bytes([anchor])) + b"(?:" + b"|".join(rests) + b")")
    return b"|".join(branches)
