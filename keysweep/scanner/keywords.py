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

# How often each byte occurs in lower-cased source code and text, per 100,000 bytes (counted over the
# histories of requests and sqlalchemy); bytes not listed (control bytes, non-ASCII) count as 0.
# Only speed depends on these figures, never the answer.
FREQUENCY = {
    **dict(zip(b" etsraonilcdup.fhm_,()g:by'\"=wk-vq`x012/+j#[]3*>z54867{}9%<~\\@;^?!&|$\t",
               (24088, 7730, 5357, 4919, 4052, 3954, 3690, 3502, 3448, 2732, 2282, 2031, 1888, 1831, 1537, 1530,
                1465, 1463, 1400, 1098, 1011, 1011, 881, 868, 837, 827, 800, 752, 737, 524, 482, 475, 461, 440,
                393, 387, 299, 290, 258, 219, 215, 203, 174, 165, 165, 156, 148, 124, 113, 110, 104, 95, 88, 83,
                80, 78, 72, 67, 60, 51, 49, 49, 34, 31, 30, 27, 22, 21, 19, 1))),
}
# Hits (anchor bytes followed by a keyword) after which the remaining keywords are asked about
# directly: bounds the cost of a content that holds one keyword a million times.
MAX_HITS = 256


def anchor_bytes(keywords: Iterable[bytes]) -> set[int]:
    """Bytes such that every keyword holds one, chosen to be rare together: `re` stops at every
    occurrence of any of them, so what counts is the sum of their frequencies, not each keyword's
    rarest byte (`asia`, `acca`, `abia` and a provider name share one `i` or `c` instead of taking four).
    A greedy weighted set cover (the cheapest byte per keyword it covers), then bytes made
    redundant by later choices dropped, the most frequent first."""
    left = {k for k in keywords if k}
    chosen: set[int] = set()
    while left:
        counts: dict[int, int] = {}
        for keyword in left:
            for byte in set(keyword):
                counts[byte] = counts.get(byte, 0) + 1
        best = min(counts, key=lambda b: (FREQUENCY.get(b, 0) / counts[b], FREQUENCY.get(b, 0), b))
        chosen.add(best)
        left = {k for k in left if best not in k}
    everyone = [k for k in keywords if k]
    for byte in sorted(chosen, key=lambda b: (-FREQUENCY.get(b, 0), b)):
        rest = chosen - {byte}
        if all(any(b in rest for b in keyword) for keyword in everyone):
            chosen = rest
    return chosen


def anchor_offset(keyword: bytes, anchors: set[int] | None = None) -> int:
    """Position in the keyword of its rarest byte among `anchors` (default: any byte), the first
    of equals."""
    positions = [i for i in range(len(keyword)) if anchors is None or keyword[i] in anchors] or range(len(keyword))
    return min(positions, key=lambda i: (FREQUENCY.get(keyword[i], 0), i))


class KeywordIndex:
    """`present(lowered)`: the keywords (lower-case bytes) that occur in lower-cased content."""

    def __init__(self, keywords: Iterable[bytes]) -> None:
        self.keywords = tuple(sorted({k for k in keywords if k}))
        # anchor byte -> (offset of the anchor in the keyword, keyword)
        self.by_anchor: dict[int, tuple[tuple[int, bytes], ...]] = {}
        grouped: dict[int, list[tuple[int, bytes]]] = {}
        anchors = anchor_bytes(self.keywords)
        for keyword in self.keywords:
            offset = anchor_offset(keyword, anchors)
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
    for anchor, group in sorted(grouped.items(), key=lambda item: (FREQUENCY.get(item[0], 0), item[0])):
        rests = []
        # Longest first: at one anchor position the first alternative that matches ends the
        # search, and the comparison in `present` finds the others.
        for offset, keyword in sorted(group, key=lambda g: (-(len(g[1]) - g[0]), g[1])):
            rest = re.escape(keyword[offset + 1:])
            rests.append(rest + (b"(?<=" + re.escape(keyword) + b")" if offset else b""))
        branches.append(re.escape(bytes([anchor])) + b"(?:" + b"|".join(rests) + b")")
    return b"|".join(branches)
