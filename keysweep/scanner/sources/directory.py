"""Files under a directory (archives and compressed files among them are expanded by the scan
stage: keysweep/scanner/archives.py). `.git/` is skipped; symbolic links are never followed, so nothing
outside the root is read; FIFOs, devices and sockets are left out with a warning (reading them
would block or never end)."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from keysweep.errors import SourceError
from keysweep.models import Blob, ScanStats
from keysweep.safefs import RefusedFile, kind_of, open_regular, read_bytes
from keysweep.scanner.archives import Limits
from keysweep.scanner.chunked import CHUNK_SIZE
from keysweep.scanner.sources import DEFAULT_MAX_SIZE, display_path

SKIP_DIRS = {".git", ".hg", ".svn"}


def check_scan_root(path: Path) -> None:
    """The path named on the command line is a readable directory or regular file, else a
    SourceError (exit 2): `/dev/null`, a FIFO or an unreadable directory would otherwise scan
    nothing and report "No findings." about what was never read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror}") from None
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        raise SourceError(f"{path}: not a directory or regular file")
    try:
        if stat.S_ISDIR(info.st_mode):
            with os.scandir(path):
                pass
        else:
            with open(path, "rb"):
                pass
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror}") from None


class DirectorySource:
    kind = "dir"

    def __init__(self, root: str | os.PathLike, max_size: int = DEFAULT_MAX_SIZE) -> None:
        path = Path(root)
        check_scan_root(path)
        self.root = path.resolve()
        self.max_size = max_size
        self.archive_limits = Limits(max_member=max_size)

    @property
    def identity(self) -> str:
        return display_path(os.fsencode(self.root))  # as GitRepo.identity: a byte not UTF-8 as \\xNN

    def census(self) -> tuple[int, int]:
        """(files, bytes) `blobs` will read: the regular files up to `max_size`, from a walk of names
        and sizes only (no content read), for progress to show a total and the time left. A file
        that changes between the census and the read makes the count off by it, nothing more."""
        files = nbytes = 0
        for full in self._census_paths():
            try:
                info = full.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_size <= self.max_size:
                files += 1
                nbytes += info.st_size
        return files, nbytes

    def _census_paths(self) -> Iterator[Path]:
        if self.root.is_file():
            yield self.root
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                yield Path(dirpath, name)

    def blobs(self, stats: ScanStats) -> Iterator[Blob]:
        if self.root.is_file():
            yield from self._file(self.root, self.root.name, stats)
            return
        for dirpath, dirnames, filenames in os.walk(self.root, onerror=lambda e: stats.errors.append(
                f"{e.filename}: {e.strerror}")):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                full = Path(dirpath, name)
                yield from self._file(full, display_path(os.fsencode(full.relative_to(self.root).as_posix())), stats)

    def _file(self, full: Path, relative: str, stats: ScanStats) -> Iterator[Blob]:
        try:
            info = full.lstat()
        except OSError as exc:
            stats.errors.append(f"{full}: {exc.strerror}")
            return
        if stat.S_ISLNK(info.st_mode):
            return  # never followed (documented): nothing outside the root is read
        if not stat.S_ISREG(info.st_mode):
            # A FIFO would block the read forever and a device never ends: say what was left out.
            stats.warnings.append(f"{relative}: {kind_of(info.st_mode)}, not scanned")
            return
        if info.st_size > self.max_size:
            stats.blobs_skipped_size += 1
            stats.bytes_skipped_size += info.st_size
            return
        provenance = {"root": str(self.root), "path": relative}
        if info.st_size > CHUNK_SIZE:
            # Too large to hold: read in pieces, matched in overlapping chunks.
            yield Blob(content=b"", source=self.kind, provenance=provenance,
                       opener=lambda: self._open(full), size=info.st_size)
            return
        try:
            # Non-blocking, no-follow and checked again once open: a file swapped for a FIFO or a
            # link after the lstat above is refused, not waited on.
            content = read_bytes(full, self.max_size)
        except RefusedFile as exc:
            stats.warnings.append(f"{relative}: {exc}, not scanned")
            return
        except OSError as exc:
            stats.errors.append(f"{full}: {exc.strerror}")
            return
        # Binary or not, archive or not, is decided by the scan stage (pipeline.match_blob).
        yield Blob(content=content, source=self.kind, provenance=provenance)

    @contextmanager
    def _open(self, full: Path) -> Iterator[BinaryIO]:
        """A large file opened as `read_bytes` would read it (no link, no FIFO), at most
        `max_size` bytes of it read."""
        with open_regular(full, self.max_size) as handle:
            yield _Capped(handle, self.max_size)


class _Capped:
    """A stream that ends after `limit` bytes: a file growing while it is read is not followed."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream, self.left = stream, limit

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.stream.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data
