"""Archives and compressed files, opened as a scanner must open hostile input.

A blob or file whose first bytes name a container — zip (also jar, war, whl, nupkg, apk, docx,
xlsx, pptx, odt: they are zips), gzip, bzip2, xz, tar (plain, or inside any of those) — is expanded
and each regular member is scanned like a file of its own, nested containers included. Nothing is
written to disk under a member's name and nothing is ever extracted: members are streamed, a zip
that is itself a member (zip needs to seek) is spooled to an anonymous temporary file, never held
in memory. A member's place is `path!inner/path` (`a.zip!b.tar.gz!c/.env`); a compressed layer adds
no segment when what it holds is an archive (`b.tar.gz!c/.env`) and, when it holds a single file,
the segment is the compressed name without its suffix (`config.json.gz!config.json`).

Bounds, per top-level blob or file (`Limits`): nesting depth, members looked at, bytes expanded
in all, expansion ratio (bytes expanded ÷ the container's own size, once past 1 MiB) and the size
of one member (the scan's --max-size). Reaching one stops that container and is said in one
note line; what was scanned before it stands. Members that are not regular files (symbolic links,
hard links, devices), encrypted members, and members a truncated or damaged archive cannot give
are left out with a note too. Nothing here raises on hostile input: every failure becomes a note.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from keysweep.scanner.chunked import READ_SIZE, read_pieces
from keysweep.scanner.sources import BINARY_SNIFF, DEFAULT_MAX_SIZE, looks_binary

ZIP, GZIP, BZIP2, XZ, TAR = "zip", "gzip", "bzip2", "xz", "tar"
COMPRESSED = (GZIP, BZIP2, XZ)
# Bytes enough to tell every kind: tar's `ustar` magic sits at offset 257.
HEAD = max(BINARY_SNIFF, 512)
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".tgz", ".tbz2", ".txz")


def container_kind(head: bytes) -> str | None:
    """The container the content starts as, from its magic bytes; None for anything else."""
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    if head.startswith(b"\x1f\x8b\x08"):
        return GZIP
    if head.startswith(b"BZh") and head[3:4] in b"123456789" and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if head[257:262] == b"ustar":
        return TAR
    return None


@dataclass(frozen=True)
class Limits:
    """Bounds against archive bombs, per top-level blob or file (see the module doc)."""

    max_depth: int = 5
    max_entries: int = 10_000
    max_expanded: int = 1024 * 1024 * 1024
    max_ratio: int = 100
    ratio_floor: int = 1024 * 1024
    max_member: int = DEFAULT_MAX_SIZE


class BoundHit(Exception):
    """A bound of `Limits` was reached: the container is not read further."""


@dataclass
class Budget:
    limits: Limits
    compressed: int
    entries: int = 0
    expanded: int = 0
    hit: str | None = None

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise BoundHit(f"more than {self.limits.max_entries} members")

    def grow(self, count: int) -> None:
        self.expanded += count
        if self.expanded > self.limits.max_expanded:
            raise BoundHit(f"more than {self.limits.max_expanded} bytes expanded")
        if self.expanded > self.limits.ratio_floor and self.expanded > self.limits.max_ratio * max(1, self.compressed):
            raise BoundHit(f"expands more than {self.limits.max_ratio} times its {self.compressed} bytes")


class _Metered:
    """A decompressing stream whose output is charged to the budget as it is read."""

    def __init__(self, stream, budget: Budget) -> None:
        self.stream, self.budget = stream, budget

    def read(self, size: int = -1) -> bytes:
        # Never everything at once: an unbounded read of a bomb is what the budget is for.
        data = self.stream.read(READ_SIZE if size is None or size < 0 else size)
        self.budget.grow(len(data))
        return data


class _Chain:
    """`head` then the rest of `stream`: content whose first bytes were read to tell its kind."""

    def __init__(self, head: bytes, stream) -> None:
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = READ_SIZE
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.stream.read(size) if self.stream is not None else b""


@dataclass
class Part:
    """Something to match: a member (its segments), or the top-level content itself (empty
    `member`), as pieces of bytes. `decoded_from` says when the pieces are not the bytes as they
    are (`strings`: the printable runs of a binary file)."""

    member: tuple[str, ...]
    pieces: Iterator[bytes]
    decoded_from: str | None = None


# The printable runs of binary kinds a leak is known to hide in (keysweep/scanner/embedded.py sets
# it): (head) -> kind or None, and (pieces) -> pieces of text.
Embedded = tuple[Callable[[bytes], "str | None"], Callable[[Iterator[bytes]], Iterator[bytes]]]


@dataclass
class Expansion:
    """The parts of one top-level blob or file, and what was left out of it (`notes`)."""

    limits: Limits
    size: int
    embedded: Embedded | None = None
    notes: list[str] = field(default_factory=list)
    members: int = 0

    def __post_init__(self) -> None:
        self.budget = Budget(self.limits, self.size)

    def note(self, member: tuple[str, ...], why: str) -> None:
        line = (f"!{display_member(member)}: " if member else ": ") + why
        if line not in self.notes:
            self.notes.append(line)

    # -- entry points -----------------------------------------------------------------------------
    def classify(self, head: bytes, stream=None, seekable: BinaryIO | None = None) -> tuple[str, Iterator[Part]]:
        """(what the content is, its parts): `archive` (its members), `embedded` (its printable
        runs, when the kind is one keys hide in), `binary` (no parts) or `text` (itself). `head`
        is the content's first bytes (all of it when `stream` is None); `seekable`, when given,
        reads the whole content from its start (a zip is opened from it, not copied)."""
        kind = container_kind(head)
        if kind is not None:
            if seekable is not None:
                return "archive", self.parts(kind, seekable)
            if kind == ZIP:
                return "archive", self._spooled_parts(head, stream)
            return "archive", self.parts(kind, _Chain(head, stream))
        embedded = self.embedded[0](head) if self.embedded is not None else None
        pieces = self._guarded((), read_pieces(_Chain(head, stream)))
        if embedded is not None:
            return "embedded", iter([Part((), self.embedded[1](pieces), decoded_from="strings")])
        if looks_binary(head):
            return "binary", iter(())
        return "text", iter([Part((), pieces)])

    def _spooled_parts(self, head: bytes, stream) -> Iterator[Part]:
        with _Spool(self, head, stream, ()) as seekable:
            if seekable is not None:
                yield from self.parts(ZIP, seekable)

    def parts(self, kind: str, stream: BinaryIO) -> Iterator[Part]:
        """Parts of a container of `kind` read from `stream` (seekable when `kind` is zip)."""
        try:
            yield from self._container(kind, stream, (), 1)
        except BoundHit as exc:
            self._bound(exc)
        except Exception as exc:  # noqa: BLE001 - hostile input: any parser failure is one note
            self.note((), f"{kind} archive unreadable ({_why(exc)}); the rest of it was not scanned")
        if self.budget.hit:
            self.note((), f"archive bound hit: {self.budget.hit}; the rest of it was not scanned")

    def _bound(self, exc: BoundHit) -> None:
        self.budget.hit = self.budget.hit or str(exc)

    # -- containers -------------------------------------------------------------------------------
    def _container(self, kind: str, stream, path: tuple[str, ...], depth: int) -> Iterator[Part]:
        if kind == ZIP:
            yield from self._zip(stream, path, depth)
        elif kind == TAR:
            yield from self._tar(stream, path, depth)
        else:
            # The decompressors and the archive readers below are loaded with the first archive met:
            # a scan that meets none (almost every pre-commit run) does not pay for them.
            import bz2  # noqa: PLC0415
            import gzip  # noqa: PLC0415
            import lzma  # noqa: PLC0415

            opener = {GZIP: lambda s: gzip.GzipFile(fileobj=s, mode="rb"), BZIP2: bz2.BZ2File,
                      XZ: lzma.LZMAFile}[kind]
            with opener(stream) as inner:
                yield from self._member(path + ("",), _Metered(inner, self.budget), depth, compressed_layer=True)

    def _zip(self, stream, path: tuple[str, ...], depth: int) -> Iterator[Part]:
        declared = zip_entry_count(stream)
        if declared is not None and declared > 10 * self.limits.max_entries:
            # zipfile would build every directory entry first: refuse before it does.
            raise BoundHit(f"declares {declared} members, more than {self.limits.max_entries}")
        import zipfile  # noqa: PLC0415  (with the first zip met: see _container)

        with zipfile.ZipFile(stream) as archive:
            for info in archive.infolist():
                if self.budget.hit:
                    return
                self.budget.entry()
                name = path + (member_name(info.filename),)
                if info.is_dir():
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    self.note(name, "a symbolic link, not followed")
                    continue
                if info.flag_bits & 0x1:
                    self.note(name, "encrypted, not scanned")
                    continue
                if info.file_size > self.limits.max_member:
                    self.note(name, f"larger than {self.limits.max_member} bytes, not scanned")
                    continue
                try:
                    member = archive.open(info)
                except Exception as exc:  # noqa: BLE001 - an unsupported method or a damaged entry
                    self.note(name, f"unreadable ({_why(exc)}), not scanned")
                    continue
                with member:
                    yield from self._member(name, _Metered(member, self.budget), depth)

    def _tar(self, stream, path: tuple[str, ...], depth: int) -> Iterator[Part]:
        # Stream mode ("r|"): members in order, nothing sought back, nothing extracted.
        import tarfile  # noqa: PLC0415  (with the first tar met: see _container)

        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for info in archive:
                if self.budget.hit:
                    return
                self.budget.entry()
                name = path + (member_name(info.name),)
                if info.isdir():
                    continue
                if not info.isreg():
                    what = "a symbolic link" if info.issym() else "a hard link" if info.islnk() else "not a regular file"
                    self.note(name, f"{what}, not followed")
                    continue
                if info.size > self.limits.max_member:
                    self.note(name, f"larger than {self.limits.max_member} bytes, not scanned")
                    continue
                member = archive.extractfile(info)
                if member is not None:
                    yield from self._member(name, member, depth)

    # -- one member -------------------------------------------------------------------------------
    def _member(self, name: tuple[str, ...], stream, depth: int, compressed_layer: bool = False) -> Iterator[Part]:
        head = read_head(stream)
        kind = container_kind(head)
        if kind is not None:
            inner_path = name[:-1] if compressed_layer else name
            if depth >= self.limits.max_depth:
                self.note(inner_path or name, f"{kind} nested more than {self.limits.max_depth} deep, not expanded")
                return
            if kind == ZIP:
                with self._spooled(head, stream, name) as seekable:
                    if seekable is not None:
                        yield from self._container(kind, seekable, inner_path, depth + 1)
                return
            yield from self._container(kind, _Chain(head, stream), inner_path, depth + 1)
            return
        embedded = self.embedded[0](head) if self.embedded is not None else None
        if embedded is None and looks_binary(head):
            return
        self.members += 1
        pieces = self._guarded(name, read_pieces(_Chain(head, stream), self.limits.max_member))
        if embedded is not None:
            yield Part(name, self.embedded[1](pieces), decoded_from="strings")
        else:
            yield Part(name, pieces)

    def _guarded(self, name: tuple[str, ...], pieces: Iterator[bytes]) -> Iterator[bytes]:
        """The member's pieces; a bound or a damaged stream ends them with a note (what was read
        before stands), never with an exception in the matcher."""
        try:
            yield from pieces
        except BoundHit as exc:
            self._bound(exc)
        except Exception as exc:  # noqa: BLE001 - hostile input: any decompressor failure is one note
            self.note(name, f"truncated or damaged ({_why(exc)}); scanned up to there")

    def _spooled(self, head: bytes, stream, name: tuple[str, ...]):
        """A nested zip copied to an anonymous temporary file (zip needs to seek; never memory)."""
        return _Spool(self, head, stream, name)


class _Spool:
    def __init__(self, expansion: Expansion, head: bytes, stream, name: tuple[str, ...]) -> None:
        self.expansion, self.head, self.stream, self.name = expansion, head, stream, name
        self.file = None

    def __enter__(self):
        import tempfile  # noqa: PLC0415  (with the first nested zip met: see Expansion._container)

        self.file = tempfile.TemporaryFile()
        written = 0
        for piece in read_pieces(_Chain(self.head, self.stream)):
            written += len(piece)
            if written > self.expansion.limits.max_member:
                self.expansion.note(self.name, f"larger than {self.expansion.limits.max_member} bytes, not scanned")
                return None
            self.file.write(piece)
        self.file.seek(0)
        return self.file

    def __exit__(self, *exc_info) -> None:
        if self.file is not None:
            self.file.close()


def read_head(stream) -> bytes:
    """The first HEAD bytes (decompressors may return fewer per read)."""
    head = b""
    while len(head) < HEAD:
        piece = stream.read(HEAD - len(head))
        if not piece:
            break
        head += piece
    return head


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def member_name(name: str) -> str:
    """A member name as findings show it: UTF-8, an undecodable byte as `\\xNN` (tar keeps them as
    lone surrogates, which neither JSON nor SQLite accept). Terminal output escapes it further."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def zip_entry_count(stream) -> int | None:
    """Members a zip's end-of-central-directory record declares (zip64 too), read without
    zipfile (which builds every entry before one can be refused); None if it cannot tell."""
    try:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        tail_start = max(0, size - (65535 + 22 + 20))
        stream.seek(tail_start)
        tail = stream.read()
        stream.seek(0)
    except (OSError, ValueError):
        return None
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    count = struct.unpack("<H", tail[at + 10: at + 12])[0]
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if count == 0xFFFF and locator >= 0 and len(tail) >= locator + 20:
        offset = struct.unpack("<Q", tail[locator + 8: locator + 16])[0]
        try:
            stream.seek(offset)
            record = stream.read(56)
            stream.seek(0)
        except (OSError, ValueError, OverflowError):
            return None
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            return struct.unpack("<Q", record[32:40])[0]
    return count


def display_member(member: tuple[str, ...], outer: str | None = None) -> str:
    """`b.tar.gz!c/.env`: the segments joined with `!`; the unnamed content of a compressed layer
    is named after the layer without its suffix (`config.json.gz` -> `config.json`)."""
    shown: list[str] = []
    previous = outer
    for segment in member:
        if not segment:
            segment = _without_compressed_suffix(previous) if previous else "-"
        shown.append(segment)
        previous = segment
    return "!".join(shown)


def _without_compressed_suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    lowered = base.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lowered.endswith(suffix) and len(base) > len(suffix):
            stem = base[: -len(suffix)]
            return stem + ".tar" if suffix in (".tgz", ".tbz2", ".txz") else stem
    return base


def member_path(outer: str, member: tuple[str, ...] | list[str] | None) -> str:
    """The place of a member as occurrences show it: `outer!inner` (`outer` alone for none)."""
    return f"{outer}!{display_member(tuple(member), outer)}" if member else outer


def part_content(content: bytes, member: tuple[str, ...], decoded_from: str | None, embedded: Embedded | None,
                 limit: int) -> bytes | None:
    """What was matched at `member` of `content` (its printable runs when `decoded_from` is
    `strings`), at most `limit` bytes of it: how a value found inside an archive is read back."""
    expansion = Expansion(Limits(max_member=limit), len(content), embedded)
    _, parts = expansion.classify(content, None, io.BytesIO(content))
    for part in parts:
        if part.member == tuple(member) and part.decoded_from == decoded_from:
            data = bytearray()
            for piece in part.pieces:
                data += piece
                if len(data) > limit:
                    return None
            return bytes(data)
        for _ in part.pieces:  # a tar member must be read past before the next one
            pass
    return None
