"""Progress on stderr for the long runs (`scan git`, `scan github|gitlab|aws`, `sweep`): one rule for
when it shows, and the display for a scan of known size.

`--progress/--no-progress` decide; unset, progress shows only when stderr is a terminal, so a log, a
pipe or a CI job gets none by default. On a terminal it is a live rich display (rich is imported
when one starts); asked for with `--progress` elsewhere, it is plain lines, a few seconds apart.
The words of the plain lines come from `describe`, a pure function."""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Callable

from keysweep.sanitize import safe_console
from keysweep.wording import plural

# A plain progress line (`--progress` on a pipe) at most this often, in seconds.
PLAIN_EVERY = 5.0


def progress_enabled(show_progress: bool | None, stream: IO[str] | None = None) -> bool:
    """`--progress` (True), `--no-progress` (False), or unset (None): shown on a terminal only."""
    if show_progress is not None:
        return show_progress
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`: a remaining time as a person reads it."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def describe(blobs: int, blobs_total: int | None, nbytes: int, bytes_total: int | None, elapsed: float,
             noun: str = "blob") -> str:
    """`1,200/5,000 blobs, 38.0 of 160.0 MB, 12.5 MB/s, ETA 9s`: done / total where the total is
    known, the rate so far, and the time left at that rate (none before any byte is read)."""
    rate = nbytes / elapsed if elapsed > 0 else 0.0
    if blobs_total is None:
        return f"{blobs:,} {plural(blobs, noun)}, {nbytes / 1e6:.1f} MB, {rate / 1e6:.1f} MB/s"
    text = (f"{blobs:,}/{blobs_total:,} {plural(blobs_total, noun)}, "
            f"{nbytes / 1e6:.1f} of {(bytes_total or 0) / 1e6:.1f} MB, {rate / 1e6:.1f} MB/s")
    if rate > 0 and bytes_total is not None:
        text += f", ETA {duration(max(bytes_total - nbytes, 0) / rate)}"
    return text


class BlobProgress:
    """`scan git`'s progress: blobs done / total, MB/s and the time left. `total(blobs, bytes)` is
    told first (scan_git's `progress_total`), then `(blobs, bytes)` as they are done (its `progress`).
    Never told a total (`scan dir`, which does not walk the tree twice), it counts `noun`s and MB/s."""

    def __init__(self, *, live: bool, stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic,
                 every: float = PLAIN_EVERY, noun: str = "blob") -> None:
        self.noun = noun
        self.printed: tuple[int, int] | None = None
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.every = every
        self.start = clock()
        self.last_line = -every
        self.blobs = self.nbytes = 0
        self.blobs_total: int | None = None
        self.bytes_total: int | None = None
        self.display: Any = None
        self.task: Any = None
        if live:
            self.display = _rich_progress(self.stream)
            self.task = self.display.add_task("scanning", total=None, count=f"0 {plural(0, noun)}")
            self.display.start()

    def total(self, blobs: int, nbytes: int) -> None:
        self.blobs_total, self.bytes_total = blobs, nbytes
        self.start = self.clock()  # the rate and the time left count from the first blob read
        if self.display is not None:
            self.display.reset(self.task, total=max(nbytes, 1), completed=0,
                               count=f"0/{blobs:,} {plural(blobs, self.noun)}")

    def __call__(self, blobs: int, nbytes: int) -> None:
        self.blobs, self.nbytes = blobs, nbytes
        if self.display is not None:
            count = (f"{blobs:,} {plural(blobs, self.noun)}" if self.blobs_total is None
                     else f"{blobs:,}/{self.blobs_total:,} {plural(self.blobs_total, self.noun)}")
            self.display.update(self.task, completed=nbytes, count=count)
            if self.blobs_total is not None and blobs >= self.blobs_total:
                self.display.refresh()  # the last: drawn now, not at the next tick of the refresh timer
            return
        now = self.clock()
        if now - self.last_line >= self.every or (self.blobs_total is not None and blobs >= self.blobs_total):
            self.last_line = now
            self._write()

    def _write(self) -> None:
        self.printed = (self.blobs, self.nbytes)
        self.stream.write(f"keysweep: {self.line()}\n")
        self.stream.flush()

    def line(self) -> str:
        return describe(self.blobs, self.blobs_total, self.nbytes, self.bytes_total, self.clock() - self.start,
                        self.noun)

    def close(self) -> None:
        if self.display is not None:
            self.display.stop()
            self.display = None
        elif self.printed is not None and self.printed != (self.blobs, self.nbytes):
            self._write()  # plain lines end with the last count


def describe_count(done: int, total: int, noun: str, elapsed: float) -> str:
    """`12/40 keys, ETA 9s`: things done of a known total, and the time left at the pace so far."""
    text = f"{done:,}/{total:,} {plural(total, noun)}"
    if done and elapsed > 0:
        text += f", ETA {duration((total - done) * elapsed / done)}"
    return text


class CountProgress:
    """A run of known length counted in things (`verify`: keys checked): done / total and the time
    left; a live bar on a terminal, plain lines a few seconds apart elsewhere."""

    def __init__(self, label: str, noun: str, total: int, *, live: bool, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic, every: float = PLAIN_EVERY) -> None:
        self.label, self.noun, self.total = label, noun, total
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.every = clock, every
        self.start = clock()
        self.last_line = -every
        self.display: Any = None
        if live:
            from rich.progress import BarColumn, Progress, TextColumn

            self.display = Progress(TextColumn(label, markup=False), BarColumn(),
                                    TextColumn("{task.completed}/{task.total} " + plural(total, noun), markup=False),
                                    _count_eta_column(), console=safe_console(self.stream), transient=True)
            self.task = self.display.add_task(label, total=total)
            self.display.start()

    def __call__(self, done: int) -> None:
        if self.display is not None:
            self.display.update(self.task, completed=done)
            if done >= self.total:
                self.display.refresh()  # the last: drawn now, not at the next tick of the refresh timer
            return
        now = self.clock()
        if now - self.last_line >= self.every or done >= self.total:
            self.last_line = now
            self.stream.write(f"keysweep: {self.label}: {describe_count(done, self.total, self.noun, now - self.start)}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.display is not None:
            self.display.stop()
            self.display = None


def _count_eta_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class CountEta(ProgressColumn):
        def render(self, task):
            done, elapsed = task.completed, task.elapsed
            left = duration((task.total - done) * elapsed / done) if done and elapsed else "?"
            return Text(f"ETA {left}")

    return CountEta()


def rate_and_eta(nbytes: float, bytes_total: float | None, elapsed: float | None) -> str:
    """`12.5 MB/s ETA 9s`: the mean rate so far and the time left at it (`ETA ?` before any byte)."""
    rate = nbytes / elapsed if elapsed else 0.0
    left = duration(max((bytes_total or 0) - nbytes, 0) / rate) if rate > 0 else "?"
    return f"{rate / 1e6:.1f} MB/s ETA {left}"


def rate_and_eta_column(rate_without_total: bool = False):
    """A rich column: `rate_and_eta` for a task whose total is known; for one without, blank, or
    with `rate_without_total` the MB/s so far."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateAndEta(ProgressColumn):
        def render(self, task):
            if task.total is None:
                if rate_without_total and task.elapsed:
                    return Text(f"{task.completed / task.elapsed / 1e6:.1f} MB/s")
                return Text("")
            return Text(rate_and_eta(task.completed, task.total, task.elapsed))

    return RateAndEta()


def _rich_progress(stream: IO[str]):
    """A transient rich display: description, bar, blobs done/total, MB/s, time left."""
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                    TextColumn("{task.fields[count]}", markup=False),
                    rate_and_eta_column(rate_without_total=True), console=safe_console(stream), transient=True)
