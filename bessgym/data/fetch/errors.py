"""Named fetch failures: each says which source, which delivery day and what to do instead."""

from __future__ import annotations

import datetime as dt

from bessgym.data.contract import MarketDataError

_FALLBACK = ("days fetched before are in the cache and are not requested again; or download the files by hand and "
             "use `bessgym data import`")


class FetchError(MarketDataError):
    """A public source did not deliver a day: ``source``, ``day`` (Berlin delivery date) and a ``hint``."""

    def __init__(self, problem: str, *, source: str, day: dt.date | None = None, hint: str = _FALLBACK) -> None:
        where = source if day is None else f"{source}, delivery day {day:%Y-%m-%d}"
        ValueError.__init__(self, f"{where}: {problem}; {hint}")
        self.source, self.column, self.timestamp, self.problem = source, None, day, problem
        self.day, self.hint = day, hint


class SourceUnreachable(FetchError):
    """No connection or no answer in time, after the retries."""


class RequestRefused(FetchError):
    """The source answered with an error status (after the retries for 429 and 5xx)."""


class MissingCredential(FetchError):
    """A source that needs an account was chosen without its environment variables."""


class FormatChanged(FetchError):
    """The response is not in the format this version reads: the source changed it, or sent an error page."""


class NotCovered(FetchError):
    """The source has no data for the day (before its start, not yet published, or a gap at the source)."""
