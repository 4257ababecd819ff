"""Text written in UTF-16 or UTF-32 (Windows tools, PowerShell output, .NET and Visual Studio files,
`.reg` exports): every ASCII character sits beside NUL bytes, so git's binary test (a NUL in the
first 8000 bytes) calls it binary. It is recognised cheaply — by its byte-order mark, else by
where the NULs fall in a prefix (every other byte for UTF-16, three of four for UTF-32) — and
decoded to UTF-8 for the engine, which maps match offsets back to the original bytes.

Only content that already holds a NUL is looked at, so ordinary text pays nothing.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

SNIFF = 4096           # bytes of prefix the NUL-position test reads
NUL_SHARE = 0.9        # share of the positions that must be NUL in a wide encoding's high bytes
TEXT_SHARE = 0.9       # share of the low bytes that must not be NUL

# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNIT = {"utf-16-le": 2, "utf-16-be": 2, "utf-32-le": 4, "utf-32-be": 4}


@dataclass(frozen=True)
class WideText:
    """`content` decoded: `utf8` is what the engine scans; `offset` maps a byte offset in it
    back to the original content."""

    encoding: str
    header: int        # length of the byte-order mark
    text: str
    utf8: bytes

    def offsets(self, utf8_offsets: set[int]) -> dict[int, int]:
        """Original byte offset of each UTF-8 offset (all on character boundaries), in one pass."""
        mapped: dict[int, int] = {}
        original, utf8_at = self.header, 0
        for target in sorted(utf8_offsets):
            piece = self.utf8[utf8_at:target].decode("utf-8", "surrogatepass")
            original += len(piece.encode(self.encoding, "surrogatepass"))
            utf8_at = target
            mapped[target] = original
        return mapped


def _nul_share(sample: bytes) -> float:
    return sample.count(0) / len(sample) if sample else 0.0


def sniff(content: bytes) -> tuple[str, int] | None:
    """(encoding, byte-order mark length) of UTF-16/32 text, else None."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return encoding, len(bom)
    sample = content[:SNIFF]
    sample = sample[:len(sample) - len(sample) % 4]
    if len(sample) < 8:
        return None
    columns = [sample[i::4] for i in range(4)]
    shares = [_nul_share(column) for column in columns]
    if min(shares[1:]) >= NUL_SHARE and shares[0] <= 1 - TEXT_SHARE:
        return "utf-32-le", 0
    if min(shares[:3]) >= NUL_SHARE and shares[3] <= 1 - TEXT_SHARE:
        return "utf-32-be", 0
    even, odd = _nul_share(sample[0::2]), _nul_share(sample[1::2])
    if odd >= NUL_SHARE and even <= 1 - TEXT_SHARE:
        return "utf-16-le", 0
    if even >= NUL_SHARE and odd <= 1 - TEXT_SHARE:
        return "utf-16-be", 0
    return None


def unit_of(encoding: str) -> int:
    """Bytes in one code unit of a wide encoding `sniff` names."""
    return _UNIT[encoding]


def decode_wide(content: bytes, known: tuple[str, int] | None = None) -> WideText | None:
    """The content as text when it is UTF-16 or UTF-32 (a trailing partial unit is dropped), else
    None — also when it does not decode, which makes it binary after all.

    `known` is (encoding, byte-order mark length) when the caller already knows them: a window of a
    large file, read from the file's start. Such a window may begin or end inside a surrogate pair,
    so lone surrogates are let through there (as code points, mapped back byte for byte)."""
    found = known or sniff(content)
    if found is None:
        return None
    encoding, header = found
    body = content[header:]
    body = body[:len(body) - len(body) % _UNIT[encoding]]
    try:
        text = body.decode(encoding, "surrogatepass" if known else "strict")
    except UnicodeDecodeError:
        return None
    return WideText(encoding, header, text, text.encode("utf-8", "surrogatepass"))


def is_wide_text(content: bytes) -> bool:
    return sniff(content) is not None
