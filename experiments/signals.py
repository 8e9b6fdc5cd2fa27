"""Stopping long runs on SIGINT and SIGTERM, in the foreground and as a background job.

A shell starts background jobs with SIGINT ignored, and SIGTERM ends a Python process without any cleanup;
``train`` and ``sweep`` install their own handlers so both signals stop them the same way: what is done is
saved, what is queued is not started, and the command exits with 128 + the signal's number.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``exit_code`` is the shell's convention (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def on_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call ``handler(signum)`` on SIGINT and SIGTERM while the block runs, then restore the previous handlers.
    Outside the main thread (where Python cannot install handlers) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda signum, _frame: handler(signum)) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def raise_interrupted(signum: int) -> None:
    """A handler for :func:`on_signals` that stops the main thread where it is."""
    raise Interrupted(signum)
