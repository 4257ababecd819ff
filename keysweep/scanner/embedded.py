"""Text embedded in binary files that keys are known to be left in, scanned as printable runs.

Only these kinds are read, told by their magic bytes (a git blob has no name when it is read, so
the extension cannot decide; the same test serves files on disk):

| kind | magic | why keys are there |
|---|---|---|
| SQLite database | `SQLite format 3\\0` | app and test databases, credential stores; deleted rows linger |
| Python pickle (protocol 2-5) | `\\x80` + protocol byte + a pickle opcode | cached clients, pickled settings |
| compiled Python (`.pyc`) | a CPython 3.x (or 2.7) magic number, then `\\r\\n` | constants of a committed `__pycache__/` |
| Java class file | `\\xca\\xfe\\xba\\xbe` with a class-file major version (45-99) | string constants of compiled code in jars |

Everything else that looks binary (images, audio, video, fonts, object files, executables, other
databases) stays skipped: its printable runs are noise, and scanning them would cost time and
produce false findings.

Like `strings`, every run of at least `MIN_RUN` printable ASCII bytes (and tabs) becomes one line.
In these formats a string is stored right after its length (pickle, marshal, class file) or right
after the previous column (SQLite), so a key's first byte is often glued to a printable byte that is
not part of it (`lsk-ant-…`). A line break is inserted before every literal prefix of a rule that
follows a character other than white space, so the key starts its own line (a prefix rule does not
need what came before it). The byte *after* a string cannot be told apart the same way: a key whose
value is directly followed by a printable byte of the format (in a `.pyc`, a module-level constant
followed by an int or `None` in the constants table: `…luGwJi`) can be missed by a rule that
requires a boundary after the key. Known limitation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from keysweep.scanner.engine import Engine

MIN_RUN = 8
# A run longer than this (a text blob inside the binary) is cut into lines of this length, with
# the same overlap as it continues: no single line grows without bound.
MAX_CARRY = 1024 * 1024
_RUNS = re.compile(rb"[\t\x20-\x7e]{%d,}" % MIN_RUN)
_TRAILING = re.compile(rb"[\t\x20-\x7e]*\Z")

SQLITE, PICKLE, PYC, JAVA_CLASS = "sqlite", "pickle", "pyc", "java-class"
KINDS = (SQLITE, PICKLE, PYC, JAVA_CLASS)
_PICKLE_OPCODES = frozenset(b"}]()cqhXNKJMU\x8a\x8c\x95\x94\x88\x89")


def embedded_kind(head: bytes) -> str | None:
    """Which of the binary kinds above the content is, from its first bytes; None otherwise."""
    if head.startswith(b"SQLite format 3\x00"):
        return SQLITE
    if len(head) >= 3 and head[0] == 0x80 and 2 <= head[1] <= 5 and head[2] in _PICKLE_OPCODES:
        return PICKLE
    if len(head) >= 4 and head[2:4] == b"\r\n":
        magic = int.from_bytes(head[:2], "little")
        if 3000 <= magic < 4000 or magic == 62211:
            return PYC
    if head.startswith(b"\xca\xfe\xba\xbe") and len(head) >= 8 and 45 <= int.from_bytes(head[6:8], "big") < 100:
        return JAVA_CLASS
    return None


def printable_runs(pieces: Iterable[bytes], prefixes: Iterable[bytes] = ()) -> Iterator[bytes]:
    """The printable runs of the content made of `pieces`, one per line, with a line break before
    each of `prefixes` glued to a letter or digit (see module doc). A run split between two pieces
    is kept whole."""
    breaker = _prefix_breaker(prefixes)
    carry = b""
    for piece in pieces:
        data = carry + piece
        cut = _TRAILING.search(data).start()
        if len(data) - cut > MAX_CARRY:
            cut = len(data)
        carry = data[cut:]
        out = _lines(data[:cut], breaker)
        if out:
            yield out
    out = _lines(carry, breaker)
    if out:
        yield out


def _lines(data: bytes, breaker: re.Pattern[bytes] | None) -> bytes:
    runs = [match.group() for match in _RUNS.finditer(data)]
    if not runs:
        return b""
    text = b"\n".join(runs) + b"\n"
    return breaker.sub(rb"\n\g<0>", text) if breaker is not None else text


def _prefix_breaker(prefixes: Iterable[bytes]) -> re.Pattern[bytes] | None:
    """A glued prefix, longest first and consumed whole: a prefix that ends another (`sk_` at
    the end of `gsk_`) is not broken again inside it (`g` / `sk_…`)."""
    literals = sorted({p for p in prefixes if len(p) >= 3}, key=len, reverse=True)
    if not literals:
        return None
    return re.compile(rb"(?<=[^\s])(?:" + b"|".join(re.escape(p) for p in literals) + rb")")


def rule_prefixes(engine: "Engine") -> tuple[bytes, ...]:
    """The literal prefixes of the engine's rules (`sk-ant-`, `ghp_`, `AKIA`, …)."""
    return tuple(sorted({c.rule.prefix.encode() for c in engine.rules if c.rule.prefix}))
