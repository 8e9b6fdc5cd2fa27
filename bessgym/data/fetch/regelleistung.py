"""regelleistung.net data center: FCR, aFRR and mFRR capacity results and aFRR energy results.

One xlsx per delivery day and product from the results-overview download,
``https://www.regelleistung.net/apps/cpp-publisher/api/v1/download/tenders/resultsoverview?date=YYYY-MM-DD&
exportFormat=xlsx&market=CAPACITY&productTypes=FCR``, in the layout :func:`bessgym.data.loaders.read_regelleistung`
reads from downloaded files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pandas as pd

from bessgym.data.fetch.base import Provenance, Source, on_day, parsed
from bessgym.data.fetch.errors import FormatChanged, NotCovered
from bessgym.data.fetch.http import Http
from bessgym.data.loaders import NoRows, read_regelleistung

URL = "https://www.regelleistung.net/apps/cpp-publisher/api/v1/download/tenders/resultsoverview"
_CAP = ("price", "marginal")
# (market, product type) -> the contract columns of its file
PRODUCTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("CAPACITY", "FCR"): ("fcr_price",),
    ("CAPACITY", "aFRR"): tuple(f"afrr_cap_{d}_{s}" for d in ("pos", "neg") for s in _CAP),
    ("CAPACITY", "mFRR"): tuple(f"mfrr_cap_{d}_{s}" for d in ("pos", "neg") for s in _CAP),
    ("ENERGY", "aFRR"): ("afrr_energy_pos_price", "afrr_energy_neg_price"),
}
_XLSX = b"PK\x03\x04"  # an xlsx file is a zip archive


class Regelleistung(Source):
    def __init__(self) -> None:
        first = {**dict.fromkeys(PRODUCTS["CAPACITY", "FCR"], dt.date(2020, 7, 1)),  # daily 4 h FCR auction
                 **dict.fromkeys(PRODUCTS["CAPACITY", "aFRR"], dt.date(2020, 11, 3)),  # aFRR capacity/energy split
                 **dict.fromkeys(PRODUCTS["CAPACITY", "mFRR"], dt.date(2020, 11, 3)),
                 **dict.fromkeys(PRODUCTS["ENERGY", "aFRR"], dt.date(2020, 11, 3))}
        super().__init__(
            name="regelleistung", licence="regelleistung.net terms of use (no open licence stated)",
            attribution="regelleistung.net, the German TSOs' data center",
            columns={c: f"{market.lower()} results {product}" for (market, product), cols in PRODUCTS.items()
                     for c in cols},
            first_day=first, min_interval_s=0.5,
            # the energy results' layout is written from public descriptions, not checked on a downloaded file
            on_request=PRODUCTS["ENERGY", "aFRR"])

    def steps(self, days: Sequence[dt.date], columns: Sequence[str]) -> int:
        return len(days) * len(_products(columns))

    def fetch(self, days: Sequence[dt.date], columns: Sequence[str], http: Http, tick: Callable[[], None],
              env: dict[str, str]) -> tuple[dict[str, pd.Series], dict[str, Provenance]]:
        out, records = {}, {}
        for (market, product), wanted in _products(columns).items():
            for column in wanted:
                self.check_covered(column, days)
            record = self.provenance()
            parts = []
            for day in days:
                key = f"{market}_{product}_{day:%Y-%m-%d}.xlsx"
                params = {"date": f"{day:%Y-%m-%d}", "exportFormat": "xlsx", "market": market,
                          "productTypes": product}
                cached = http.get(self.name, key, URL, day=day, params=params,
                                  keep=lambda body: body.startswith(_XLSX))
                record.add(cached)
                parts.append(self._read(cached, day, wanted))
                tick()
            for column in wanted:
                out[column] = pd.concat([p[column] for p in parts])
                records[column] = record
        return out, records

    def _read(self, cached, day: dt.date, wanted: tuple[str, ...]) -> pd.DataFrame:
        body = cached.path.read_bytes()
        if not body.startswith(_XLSX):
            raise FormatChanged(f"the response from {cached.url} is not an xlsx file (it starts {body[:60]!r})",
                                source=self.name, day=day, hint="the download interface may have changed; "
                                "download the results from regelleistung.net by hand and use `bessgym data import`")
        try:
            frame = parsed(lambda: read_regelleistung(cached.path), source=self.name, day=day, url=cached.url,
                           passes=NoRows)
        except NoRows:
            raise NotCovered(f"the results file of {cached.url} has no rows (no auction results for the day yet)",
                             source=self.name, day=day, hint="choose days whose auctions are published") from None
        return pd.DataFrame({c: on_day(frame[c], day, source=self.name, column=c) if c in frame.columns
                             else _missing(c, cached.url, day, self.name) for c in wanted})


def _products(columns: Sequence[str]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {key: tuple(c for c in cols if c in columns) for key, cols in PRODUCTS.items()
            if any(c in columns for c in cols)}


def _missing(column: str, url: str, day: dt.date, source: str):
    raise FormatChanged(f"the file from {url} has no data for {column}", source=source, day=day,
                        hint="download the results by hand and use `bessgym data import`")
