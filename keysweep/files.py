"""Files keysweep writes for the user — the store and its directory, `-o` reports — are private to
that user (0600 files, 0700 directories) whatever the umask: they say where every secret is.

(Reading files keysweep does not own is the business of `keysweep.safefs`; caches have their own
rules in the modules that keep them.)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TextIO

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parents as 0700. Directories that already exist keep
    their mode (a report may be written into /tmp or a shared folder on purpose)."""
    missing: list[Path] = []
    current = Path(directory)
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile; it is no longer ours to change
        os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask; this one is not


def open_private_output(path: str | os.PathLike, encoding: str = "utf-8") -> TextIO:
    """Open a report file for writing (truncating it), readable by its user only. A regular file
    that already exists is made private too, since its old content is being replaced by a report;
    a device or FIFO (`-o /dev/stdout`) is written as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, PRIVATE_FILE_MODE)
        return os.fdopen(fd, "w", encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    with open_private_output(path, encoding=encoding) as handle:
        handle.write(text)
