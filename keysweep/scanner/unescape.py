"""Escapes glued to a key: percent-encoding (`key%3DAIza…`, `%2F` inside an AWS secret in a
connection URI), JSON's `\\/` and `\\u00XX`, HTML character references (`&#x2F;`, `&amp;`) and
ANSI colour codes in captured terminal output (`\\x1b[1;32m` as a byte, or spelled `\\u001b[…m` in
a notebook's JSON). Left as is, they hide a key (`%3DAIza` has no boundary before `AIza`) or
become part of it (the `m` of `[1;32m`).

`unescaped_view` gives the lines that hold an escape, decoded (colour codes removed), with a map
back to the original offsets. The engine scans that view beside the content itself. Finding the
escapes costs one `re` search over content that has none.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_ESCAPE = re.compile(
    rb"%(?P<percent>[2-7][0-9A-Fa-f])"
    rb"|\\(?:(?P<slash>/)|u00(?P<json>[2-7][0-9A-Fa-f]))"
    rb"|&(?:#(?P<decimal>[0-9]{2,3})|#[xX](?P<hex>[0-9A-Fa-f]{2})|(?P<named>amp|quot|apos|lt|gt));"
    rb"|(?P<ansi>(?:\x1b|\\x1[bB]|\\u001[bB]|\\033)\[[0-9;]{0,16}[A-Za-z])"
)
# The same escapes for Hyperscan (no named groups): a content it does not match holds none, so the
# Hyperscan backend looks for them only where this fires, in the pass it makes anyway.
ESCAPE_PATTERN = re.sub(rb"\(\?P<[a-z]+>", b"(", _ESCAPE.pattern)
# Every escape starts with one of these: content holding none of them is not looked at further.
_TRIGGERS = (b"%2", b"%3", b"%4", b"%5", b"%6", b"%7", b"\\/", b"\\u00", b"\\x1", b"\\033", b"&#",
             b"&amp;", b"&quot;", b"&apos;", b"&lt;", b"&gt;", b"\x1b[")
# One search for all of them: `re` skips in C to the next byte that can start one (`%`, `\\`, `&`,
# ESC), so content without escapes costs one pass, and each true start one step of Python.
_TRIGGER = re.compile(b"|".join(re.escape(t) for t in _TRIGGERS))
_NAMED = {b"amp": b"&", b"quot": b'"', b"apos": b"'", b"lt": b"<", b"gt": b">"}
KINDS = {"percent": "percent-encoding", "slash": "json-escape", "json": "json-escape", "decimal": "html-entity",
         "hex": "html-entity", "named": "html-entity", "ansi": "ansi-escape"}


@dataclass(frozen=True, slots=True)
class Escape:
    start: int
    end: int
    replacement: bytes
    kind: str


def _replacement(found: re.Match) -> tuple[bytes, str] | None:
    group = found.lastgroup
    value = found.group(group)
    if group in ("percent", "json", "hex"):
        code = int(value, 16)
    elif group == "decimal":
        code = int(value)
    elif group == "named":
        return _NAMED[value], KINDS[group]
    elif group == "slash":
        return b"/", KINDS[group]
    else:
        return b"", KINDS[group]
    if not 0x20 <= code < 0x7F:
        return None  # a control character or beyond ASCII: not part of any key or its context
    return bytes([code]), KINDS[group]


def escapes(content: bytes) -> list[Escape]:
    """Every escape in `content`, in order."""
    starts = {found.start() for found in _TRIGGER.finditer(content)}
    return _non_overlapping(content, starts)


def _non_overlapping(content: bytes, starts: set[int]) -> list[Escape]:
    found: list[Escape] = []
    covered = 0
    for start in sorted(starts):
        if start < covered:
            continue
        match = _ESCAPE.match(content, start)
        if match is None:
            continue
        decoded = _replacement(match)
        if decoded is not None:
            found.append(Escape(start, match.end(), *decoded))
            covered = match.end()
    return found


LONGEST = 32  # bytes: no escape is longer (`\\u001b[` + 16 parameters + final letter)


# An escape ending where the search stops (`endpos`): found by one search over the bytes before it.
_ESCAPE_AT_END = re.compile(rb"(?:" + _ESCAPE.pattern + rb")\Z")


def escapes_ending_at(content: bytes, ends: list[int]) -> list[Escape]:
    """The escapes of `content` given every offset where one may end (Hyperscan reports them in
    the pass it makes anyway): the same list as `escapes`, without reading the whole content.
    Escapes never nest, so taking them in order of their ends is taking them in order."""
    found: list[Escape] = []
    covered = 0
    for end in sorted(set(ends)):
        # Most escapes are `%XX`: tried where it would start before searching the bytes before it.
        match = _ESCAPE.match(content, end - 3) if end - 3 >= covered and content[end - 3] == 37 else None
        if match is None or match.end() != end:
            match = _ESCAPE_AT_END.search(content, max(covered, end - LONGEST, 0), end)
        while match is not None:
            decoded = _replacement(match)
            if decoded is not None:
                found.append(Escape(match.start(), end, *decoded))
                covered = end
                break
            match = _ESCAPE_AT_END.search(content, match.start() + 1, end)
    return found


def decoded_lines(content: bytes, found: list[Escape]) -> bytes:
    """The text of `unescaped_view(content, found=found)` without its map back: enough to tell
    whether the view shows a match at all, for a fraction of the cost."""
    out: list[bytes] = []
    cursor = line_end = -1
    for escape in found:
        if escape.start >= line_end:
            if line_end >= 0:
                out.append(content[cursor:line_end])
                out.append(b"\n")
            cursor = content.rfind(b"\n", 0, escape.start) + 1
            line_end = content.find(b"\n", escape.end)
            if line_end < 0:
                line_end = len(content)
        out.append(content[cursor:escape.start])
        out.append(escape.replacement)
        cursor = escape.end
    out.append(content[cursor:line_end])
    return b"".join(out)


class EscapedLines:
    """The text `decoded_lines` gives, built line by line from lines decoded once: the versions of
    a file in a history share most of their lines, and the lines holding escapes (URL fixtures, a
    vendored minified script) are among the least edited. Also remembers the texts that showed no
    match, so an unchanged set of escaped lines is not matched again. Bounded: forgotten past
    `budget` bytes."""

    def __init__(self, budget: int = 32 * 1024 * 1024) -> None:
        self.budget = budget
        self._decoded: dict[bytes, bytes | None] = {}
        self._quiet: set[tuple[int, bytes]] = set()
        self._held = 0

    def text(self, content: bytes, ends: list[int]) -> bytes:
        """The lines of `content` holding an escape that ends at one of `ends` (every escape's end
        is among them, as Hyperscan reports), decoded, joined."""
        out: list[bytes] = []
        ordered = sorted(ends)
        index = 0
        while index < len(ordered):
            line_start = content.rfind(b"\n", 0, ordered[index]) + 1
            line_end = content.find(b"\n", ordered[index])
            if line_end < 0:
                line_end = len(content)
            first = index
            index = bisect.bisect_right(ordered, line_end, index)  # every end on this line
            decoded = self._line(content[line_start:line_end], ordered[first:index], line_start)
            if decoded is not None:
                out.append(decoded)
        return b"\n".join(out)

    def quiet(self, depth: int, text: bytes) -> bool:
        return (depth, text) in self._quiet

    def remember_quiet(self, depth: int, text: bytes) -> None:
        self._hold(len(text))
        self._quiet.add((depth, text))

    def _line(self, line: bytes, ends: list[int], line_start: int) -> bytes | None:
        if line in self._decoded:
            return self._decoded[line]
        found = escapes_ending_at(line, [end - line_start for end in ends])
        decoded = decoded_lines(line, found) if found else None  # no escape decodes: not in the view
        self._hold(len(line) + len(decoded or b""))
        self._decoded[line] = decoded
        return decoded

    def _hold(self, size: int) -> None:
        if self._held + size > self.budget:
            self._decoded.clear()
            self._quiet.clear()
            self._held = 0
        self._held += size


@dataclass
class View:
    """The decoded lines and how to map their offsets back. `pieces` are (view start, view end,
    original start, original end, escape kind or None for copied text), in view order."""

    text: bytes
    pieces: list[tuple[int, int, int, int, str | None]]
    escapes: list[Escape]

    def __post_init__(self) -> None:
        self._filled = [p for p in self.pieces if p[1] > p[0]]
        self._starts = [p[0] for p in self._filled]
        self._changed = [p for p in self.pieces if p[4] is not None]

    def _piece(self, offset: int, *, ending: bool):
        index = bisect.bisect_right(self._starts, offset - 1 if ending else offset) - 1
        return self._filled[max(index, 0)]

    def original_start(self, offset: int) -> int:
        view_start, _, start, end, kind = self._piece(offset, ending=False)
        return start + (offset - view_start) if kind is None else start

    def original_end(self, offset: int) -> int:
        view_start, _, start, end, kind = self._piece(offset, ending=True)
        return start + (offset - view_start) if kind is None else end

    def touches_escape(self, start: int, end: int) -> bool:
        """Whether an escape lies in or right beside view span [start, end)."""
        return any(view_start <= end and view_end >= start for view_start, view_end, _, _, _ in self._changed)

    def decoded_inside(self, start: int, end: int) -> str | None:
        """The kind of escape decoded inside [start, end): the value is written encoded there."""
        for view_start, view_end, _, _, kind in self._changed:
            if view_end > view_start and view_start >= start and view_end <= end and kind != KINDS["ansi"]:
                return kind
        return None


def unescaped_view(content: bytes, ends: list[int] | None = None, *, found: list[Escape] | None = None,
                   ) -> View | None:
    """The lines of `content` that hold an escape, decoded, one per line; None when none does.
    `ends`, when known, are the offsets where an escape may end (see `escapes_ending_at`); `found`,
    when known, the escapes themselves."""
    if found is None:
        found = escapes(content) if ends is None else escapes_ending_at(content, ends)
    if not found:
        return None
    out = bytearray()
    pieces: list[tuple[int, int, int, int, str | None]] = []

    def copy(start: int, end: int) -> None:
        if end > start:
            pieces.append((len(out), len(out) + end - start, start, end, None))
            out.extend(content[start:end])

    cursor = line_end = -1
    for escape in found:
        if escape.start >= line_end:
            if line_end >= 0:
                copy(cursor, line_end)
                out.extend(b"\n")
            cursor = content.rfind(b"\n", 0, escape.start) + 1
            line_end = content.find(b"\n", escape.end)
            if line_end < 0:
                line_end = len(content)
        copy(cursor, escape.start)
        pieces.append((len(out), len(out) + len(escape.replacement), escape.start, escape.end, escape.kind))
        out.extend(escape.replacement)
        cursor = escape.end
    copy(cursor, line_end)
    return View(bytes(out), pieces, found)
