"""Progress that works in a terminal and in logs: a live bar where the output is a terminal, otherwise a
plain line every ``every_s`` seconds (and at the end) with the count, the rate and the time left."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

EVERY_S = float(os.environ.get("BESSGYM_PROGRESS_S", 30.0))  # seconds between log lines (no terminal)


def duration(seconds: float) -> str:
    """``1h 02m``, ``3m 20s`` or ``12s``."""
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else (f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")


class LogProgress:
    """Progress as log lines: ``what: done/total unit (share), rate unit/s, ETA``."""

    def __init__(self, console: Console, what: str, total: int, unit: str, every_s: float = EVERY_S) -> None:
        self.console, self.what, self.total, self.unit, self.every_s = console, what, total, unit, every_s
        self.start = self.last = time.monotonic()
        self.done = 0
        self.first: tuple[float, int] | None = None  # when the first unit was reported, and how many

    def update(self, done: int, what: str | None = None) -> None:
        self.done, self.what = done, what or self.what
        now = time.monotonic()
        if self.first is None and done > 0:
            self.first = (now, done)
        if now - self.last >= self.every_s:
            self.last = now
            self.console.print(self.line(now), markup=False, highlight=False)

    def line(self, now: float) -> str:
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        share = f" ({self.done / self.total:.1%})" if self.total else ""
        # the time left from the rate since the first reported unit: set-up before it (loading a market,
        # cloning before RL, compiling kernels) is not work the rest of the run repeats
        pace = (self.done - self.first[1]) / (now - self.first[0]) if self.first and now > self.first[0] else 0.0
        eta = f", ETA {duration((self.total - self.done) / pace)}" if pace > 0 and self.total > self.done else ""
        return (f"{self.what}: {self.done:,}/{self.total:,} {self.unit}{share}, {rate:,.1f} {self.unit}/s, "
                f"elapsed {duration(elapsed)}{eta}")

    def finish(self) -> None:
        self.console.print(self.line(time.monotonic()), markup=False, highlight=False)


class BarProgress:
    """The same on a live rich bar."""

    def __init__(self, progress: Progress, task: int) -> None:
        self.progress, self.task = progress, task

    def update(self, done: int, what: str | None = None) -> None:
        if what is None:
            self.progress.update(self.task, completed=done)
        else:
            self.progress.update(self.task, completed=done, description=escape(what))


@contextlib.contextmanager
def progress(console: Console, what: str, total: int, unit: str) -> Iterator[LogProgress | BarProgress]:
    """A progress reporter for ``total`` ``unit``s of work; ``update(done, what=None)`` as it goes."""
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TaskProgressColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            yield BarProgress(bar, bar.add_task(escape(what), total=total))
        return
    log = LogProgress(console, what, total, unit)
    yield log
    log.finish()
