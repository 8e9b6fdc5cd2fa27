"""ENTSO-E Transparency Platform through ``entsoe-py``: the day-ahead price of DE-LU, a day a request.

Needs a security token (free, on request at transparency.entsoe.eu) in ``ENTSOE_API_KEY``. The XML answer
(document A44) is cached as it came and parsed by ``entsoe.parsers.parse_prices``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence

import pandas as pd
import requests

from bessgym.data.calendar import hourly_to_quarter_hourly
from bessgym.data.fetch.base import CHANGED, DailySource, Provenance, day_bounds, on_day
from bessgym.data.fetch.errors import FormatChanged, MissingCredential, NotCovered
from bessgym.data.fetch.http import Http, check_status

ENV = "ENTSOE_API_KEY"


class Entsoe(DailySource):
    def __init__(self) -> None:
        super().__init__(
            name="entsoe", licence="ENTSO-E Transparency Platform terms and conditions (free token)",
            attribution="ENTSO-E Transparency Platform", columns={"da_price": "day-ahead price DE-LU (A44)"},
            first_day={"da_price": dt.date(2018, 10, 1)}, needs=(ENV,), min_interval_s=0.2)

    def column_days(self, column: str, days: Sequence[dt.date], http: Http, record: Provenance,
                    tick: Callable[[], None], env: dict[str, str]) -> Iterator[pd.Series]:
        from entsoe import EntsoeRawClient
        from entsoe.exceptions import NoMatchingDataError

        client: list[EntsoeRawClient] = []
        for day in days:
            lo, hi = day_bounds(day)

            def send(lo=lo, hi=hi, day=day) -> tuple[bytes, str]:
                if not client:  # a client only when a request is sent: a cached run needs no token
                    if not env.get(ENV):
                        raise MissingCredential(f"{ENV} not set", source=self.name, day=day,
                                                hint="request a token at https://transparency.entsoe.eu (account "
                                                     f"settings), set {ENV} and rerun; or use --sources smard")
                    client.append(EntsoeRawClient(api_key=env[ENV], session=http.session, retry_count=1,
                                                  retry_delay=0, timeout=60))
                try:
                    text = client[0].query_day_ahead_prices("DE_LU", start=lo, end=hi)
                except requests.HTTPError as exc:  # entsoe-py raises for the status; retried or named here
                    check_status(exc.response, source=self.name, day=day)
                    raise
                except NoMatchingDataError:
                    raise NotCovered("ENTSO-E has no day-ahead price for the day", source=self.name, day=day,
                                     hint="choose other dates or --sources smard") from None
                return text.encode(), "https://web-api.tp.entsoe.eu/api?documentType=A44&in_Domain=" \
                                      f"10Y1001A1001A82H&periodStart={lo:%Y%m%d%H%M}&periodEnd={hi:%Y%m%d%H%M}"

            cached = http.call(self.name, f"A44_DE_LU_{day:%Y-%m-%d}.xml", send, day=day)
            record.add(cached)
            yield on_day(_prices(cached, day, self.name), day, source=self.name, column=column)
            tick()


def _prices(cached, day: dt.date, source: str) -> pd.Series:
    import warnings

    from bs4 import XMLParsedAsHTMLWarning
    from entsoe.parsers import parse_prices

    try:
        with warnings.catch_warnings():  # entsoe-py parses XML with the HTML parser on purpose
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            series = parse_prices(cached.path.read_text())
    except Exception as exc:  # bs4/pandas raise many types on a malformed document
        raise FormatChanged(f"the A44 document of {cached.url} cannot be read ({exc})", source=source, day=day,
                            hint=CHANGED) from None
    quarter, hourly = series.get("15min"), series.get("60min")
    if quarter is not None and len(quarter):
        out = quarter
    elif hourly is not None and len(hourly):
        out = hourly_to_quarter_hourly(hourly.tz_convert("UTC"))
    else:
        raise FormatChanged(f"the A44 document of {cached.url} holds no 15 or 60 min prices", source=source, day=day,
                            hint=CHANGED)
    out.index = pd.DatetimeIndex(out.index.tz_convert("UTC"), name="timestamp")
    return out.astype(float).rename("da_price")
