"""`keysweep init`: write commented starter files — keysweep.toml, keysweep-owners.toml,
keysweep-policy.toml and .keysweepignore — into a directory, never over an existing file."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import click

from keysweep.cli import fail
from keysweep.sanitize import terminal_safe

# File written -> its template in keysweep/starter/ (the ignore file's template is not a dotfile,
# so packaging tools keep it).
STARTER_FILES = {
    "keysweep.toml": "keysweep.toml",
    "keysweep-owners.toml": "keysweep-owners.toml",
    "keysweep-policy.toml": "keysweep-policy.toml",
    ".keysweepignore": "keysweepignore",
}


def starter_text(name: str) -> str:
    return files("keysweep.starter").joinpath(STARTER_FILES[name]).read_text(encoding="utf-8")


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False), default=".")
def init_cmd(directory):
    """Write commented starter files into DIRECTORY (default: here): keysweep.toml,
    keysweep-owners.toml, keysweep-policy.toml and .keysweepignore, every key documented. Refuses
    to overwrite: if any of them exists, nothing is written."""
    target = Path(directory)
    if not target.is_dir():
        fail(f"{directory}: no such directory")
    existing = [name for name in STARTER_FILES if os.path.lexists(target / name)]
    if existing:
        fail(f"{directory}: {', '.join(existing)} already exist(s); nothing written (keysweep init never overwrites)")
    written = []
    try:
        for name in STARTER_FILES:
            # O_EXCL: a file that appeared since the check (or a link planted there) is not written through.
            fd = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(starter_text(name))
            written.append(name)
    except OSError as exc:
        for name in written:  # all or nothing
            (target / name).unlink(missing_ok=True)
        fail(f"{target / exc.filename if exc.filename else directory}: cannot write: {exc.strerror}")
    for name in written:
        click.echo(f"wrote {terminal_safe(target / name)}")
    click.echo("Next: edit them (every key is explained in place), then `keysweep sweep --config "
               f"{terminal_safe(target / 'keysweep.toml')}`.")
