"""Energy-Charts (Fraunhofer ISE): day-ahead price and solar generation through its public API, a day a request.

``https://api.energy-charts.info/price?bzn=DE-LU&start=...&end=...`` -> ``{"unix_seconds": [...], "price": [...],
"unit": "EUR / MWh"}``; ``.../public_power?country=de&start=...&end=...`` -> ``production_types`` with "Solar" [MW].
Both are read by :func:`bessgym.data.loaders.read_energy_charts`, as downloaded JSON files are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence

import pandas as pd

from bessgym.data.fetch.base import CHANGED, DailySource, Provenance, day_bounds, on_day, parsed
from bessgym.data.fetch.errors import FormatChanged
from bessgym.data.fetch.http import Http, read_json
from bessgym.data.loaders import read_energy_charts

BASE = "https://api.energy-charts.info"
_ENDPOINTS = {"da_price": ("price", {"bzn": "DE-LU"}), "pv_per_mwp": ("public_power", {"country": "de"})}


class EnergyCharts(DailySource):
    def __init__(self, pv_capacity_mwp: float | None = None) -> None:
        super().__init__(
            name="energy_charts", licence="CC BY 4.0 (as the response's license_info states)",
            attribution="Energy-Charts.info, Fraunhofer ISE",
            columns={"da_price": "day-ahead price DE-LU (/price)", "pv_per_mwp": "solar generation DE (/public_power) "
                                                                                 "/ installed PV"},
            first_day={"da_price": dt.date(2015, 1, 1), "pv_per_mwp": dt.date(2015, 1, 1)}, min_interval_s=1.0,
            pv_capacity_mwp=pv_capacity_mwp)

    def column_days(self, column: str, days: Sequence[dt.date], http: Http, record: Provenance,
                    tick: Callable[[], None], env: dict[str, str]) -> Iterator[pd.Series]:
        endpoint, fixed = _ENDPOINTS[column]
        for day in days:
            lo, hi = (t.tz_convert("Europe/Berlin").isoformat(timespec="minutes") for t in day_bounds(day))
            cached = http.get(self.name, f"{endpoint}_{day:%Y-%m-%d}.json", f"{BASE}/{endpoint}", day=day,
                              params={**fixed, "start": lo, "end": hi})
            record.add(cached)
            payload = read_json(cached, source=self.name, day=day)
            unit = payload.get("unit") if isinstance(payload, dict) else None
            if column == "da_price" and unit is not None and unit.replace(" ", "") != "EUR/MWh":
                raise FormatChanged(f"prices come in {unit!r}, not EUR / MWh", source=self.name, day=day,
                                    hint=CHANGED)
            frame = parsed(lambda c=cached: read_energy_charts(c.path, pv_capacity_mwp=self.pv_capacity_mwp),
                           source=self.name, day=day, url=cached.url)
            yield on_day(frame[column], day, source=self.name, column=column)
            tick()
