"""Errors that name the problem: light (no numpy or pandas), so the command line can catch them before it
imports the code that raises them."""

from __future__ import annotations


class MarketDataError(ValueError):
    """A market table breaks the contract. The message names source, column and first bad timestamp."""

    def __init__(
        self, problem: str, *, source: str = "<table>", column: str | None = None, timestamp: object = None
    ) -> None:
        where = [f"{source}"]
        if column is not None:
            where.append(f"column {column!r}")
        if timestamp is not None:
            where.append(f"at {timestamp}")
        super().__init__(f"{', '.join(where)}: {problem}")
        self.source, self.column, self.timestamp, self.problem = source, column, timestamp, problem
