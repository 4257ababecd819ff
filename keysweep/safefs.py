"""Reading a file by name when the name, or what it points to, may be hostile.

keysweep opens files whose place it chose (`.keysweepignore` in a scanned root, CODEOWNERS in a
working tree, keysweep.toml in the current directory) but whose kind it did not: a scanned
repository can commit `.keysweepignore -> /dev/zero` (endless), make a FIFO (a read that never
returns), or point a symbolic link at a file outside the tree it was asked to read. `read_bytes`
reads a file only when it is a regular file no larger than a cap:

- the name is lstat'ed first, so a device, FIFO or socket is refused without being opened (opening
  some devices has side effects; opening a FIFO blocks until a writer comes);
- a symbolic link is followed only when the caller allows it (a file the user named) or when it
  resolves inside the `root` being read; anything else is refused;
- the open itself uses O_NONBLOCK (a FIFO swapped in after the lstat does not block) and, when
  links are not followed, O_NOFOLLOW; the opened descriptor is fstat'ed again, so a swap between
  the check and the open is caught;
- at most `limit` + 1 bytes are read, so a file that grows past the cap is refused, not slurped.

A refusal raises `RefusedFile` (an OSError, so callers that already report "cannot read" keep
working); a missing file raises FileNotFoundError as `open` does. `read_text_or_warn` is the
lenient form for optional files: a missing file is None, a refused one a warning line and None.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from keysweep.sanitize import terminal_safe

# Ignore files, CODEOWNERS, owners and configuration files are a few kilobytes; a megabyte is
# generous and still cheap to hold.
SMALL_FILE_LIMIT = 1024 * 1024

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
)


class RefusedFile(OSError):
    """The file exists but is not one keysweep will read (not regular, too large, a link out).
    Its message is the reason, without the path (callers name the file their own way)."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _target(path: Path, root: Path | None, follow_symlinks: bool) -> Path:
    """The path to open: `path` itself, or where its links lead when that is allowed. Under a
    `root`, every component counts: `.github -> /etc` leads outside as surely as a final link."""
    if root is not None:
        resolved = Path(os.path.realpath(path))
        if not _inside(resolved, Path(os.path.realpath(root))):
            raise RefusedFile(f"a symbolic link leading outside {root} (not followed)")
        return resolved
    if not follow_symlinks and stat.S_ISLNK(os.lstat(path).st_mode):
        raise RefusedFile("a symbolic link (not followed)")
    return path


def open_regular(path: str | os.PathLike, limit: int = SMALL_FILE_LIMIT, *, root: str | os.PathLike | None = None,
                 follow_symlinks: bool = False) -> BinaryIO:
    """`path` opened for binary reading if it is a regular file of at most `limit` bytes (see
    module doc): for content read in pieces, never whole. The caller closes it and reads no more
    than `limit` + 1 bytes."""
    path = Path(path)
    target = _target(path, Path(root) if root is not None else None, follow_symlinks)
    info = os.stat(target) if follow_symlinks else os.lstat(target)
    if not stat.S_ISREG(info.st_mode):
        raise RefusedFile(f"{kind_of(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise RefusedFile(f"larger than {limit} bytes")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RefusedFile("a symbolic link (not followed)") from None
        raise
    handle = os.fdopen(fd, "rb")
    opened = os.fstat(handle.fileno())
    if not stat.S_ISREG(opened.st_mode):  # swapped between the check and the open
        handle.close()
        raise RefusedFile(f"{kind_of(opened.st_mode)}, not a regular file")
    return handle


def read_bytes(path: str | os.PathLike, limit: int = SMALL_FILE_LIMIT, *, root: str | os.PathLike | None = None,
               follow_symlinks: bool = False) -> bytes:
    """The content of `path` if it is a regular file of at most `limit` bytes (see module doc)."""
    with open_regular(path, limit, root=root, follow_symlinks=follow_symlinks) as handle:
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise RefusedFile(f"larger than {limit} bytes")
    return content


def read_text(path: str | os.PathLike, limit: int = SMALL_FILE_LIMIT, *, root: str | os.PathLike | None = None,
              follow_symlinks: bool = False, errors: str = "strict") -> str:
    """`read_bytes` decoded as UTF-8 (UnicodeDecodeError with errors="strict")."""
    return read_bytes(path, limit, root=root, follow_symlinks=follow_symlinks).decode("utf-8", errors)


def read_text_or_warn(path: str | os.PathLike, what: str, limit: int = SMALL_FILE_LIMIT, *,
                      root: str | os.PathLike | None = None, follow_symlinks: bool = False,
                      errors: str = "strict") -> str | None:
    """An optional file's text: None when it is missing; None and one warning line on stderr when
    it cannot or must not be read (the run goes on without it)."""
    try:
        return read_text(path, limit, root=root, follow_symlinks=follow_symlinks, errors=errors)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except RefusedFile as exc:
        warn(f"{what} {path} skipped: {exc}")
    except UnicodeDecodeError:
        warn(f"{what} {path} skipped: not UTF-8 text")
    except OSError as exc:
        warn(f"{what} {path} skipped: {exc.strerror or exc}")
    return None


def warn(message: str) -> None:
    """One warning line on stderr, with anything a terminal would obey shown escaped."""
    sys.stderr.write(f"keysweep: warning: {terminal_safe(message)}\n")
    sys.stderr.flush()
