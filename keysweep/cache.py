"""The user's cache ($XDG_CACHE_HOME/keysweep, else ~/.cache/keysweep): the parsed shipped rules and
the compiled Hyperscan database, kept so a pre-commit run starts fast.

A cache is only as trustworthy as whoever could write it, and the Hyperscan database is native data
deserialised by C code. So:

- the directory is created 0700 and its files 0600 whatever the umask (a directory an older
  keysweep made 0755 is tightened when it is ours);
- a cached file is used only when it is a regular file (no link, opened with O_NOFOLLOW), below a
  size cap, and both it and its directory belong to the user running keysweep and are writable by
  nobody else; anything else is ignored and rebuilt, never loaded;
- files are written whole to a private temporary file in the same directory, then renamed, so a
  reader never sees half a file.
Callers also key each file by a digest of what it was made from and check what they read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Writable by group or others: someone else could have put it there.
_FOREIGN_WRITE = stat.S_IWGRP | stat.S_IWOTH
MAX_CACHED_BYTES = 256 * 1024 * 1024


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keysweep"


def _owned_and_private(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & _FOREIGN_WRITE


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` (and missing parents) 0700; tighten it to 0700 if it exists, is ours and
    is looser. Raises OSError when it cannot be made or is not ours (the caller then skips caching)."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"{directory}: not a directory owned by this user")
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(directory, DIR_MODE)  # mkdir's mode goes through the umask; chmod's does not


def read_trusted(path: Path, limit: int = MAX_CACHED_BYTES) -> bytes | None:
    """The file's bytes if it is safe to load (see module doc), else None."""
    try:
        if not _owned_and_private(os.stat(path.parent)):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or not _owned_and_private(info) or info.st_size > limit:
            return None
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, 0600, creating the cache directory 0700. Raises OSError."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
