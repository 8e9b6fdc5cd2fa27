"""`bessgym data fetch` against `bessgym data import`: recorded responses made from the real files in
../shared/data/real (each in its source's format) must give the same contract table as importing the files."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import replay
from conftest import real_file

from bessgym.data.fetch import fetch_table
from bessgym.data.importer import import_files

pytestmark = pytest.mark.realdata


def smard_export(path, prefix: str) -> pd.Series:
    """A column of a German SMARD CSV export as numbers on its UTC hours (parsed here, not by the loader)."""
    raw = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig")
    column = next(c for c in raw.columns if c.startswith(prefix))
    naive = pd.DatetimeIndex(pd.to_datetime(raw["Datum von"], format="%d.%m.%Y %H:%M"))
    index = naive.tz_localize("Europe/Berlin", ambiguous="infer").tz_convert("UTC")
    text = raw[column].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.Series(pd.to_numeric(text.where(text != "-")).to_numpy(), index=index)


def price_file(path) -> pd.Series:
    """A flex-depot ``time,price`` file [EUR/kWh] as EUR/MWh on UTC quarter-hours."""
    raw = pd.read_csv(path)
    return pd.Series(raw["price"].to_numpy() * 1000.0, index=pd.DatetimeIndex(pd.to_datetime(raw["time"], utc=True)))


def month(table: pd.DataFrame) -> pd.DataFrame:
    return table[sorted(table.columns)]


def no_waiting(waits: list[float]) -> dict:
    """``http_options`` that record the rate limit's waits instead of sleeping them (a month is ~70 requests at
    0.2-0.5 s apart: half a minute of a test worker idle; test_fetch checks the waits themselves)."""
    return {"sleep": waits.append}


def test_january_2024_from_smard_and_regelleistung_equals_the_imported_files(tmp_path):
    prices = real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv")
    forecast = real_file("smard_Prognostizierte_Erzeugung_Day-Ahead_202301010000_202501010000_Stunde.csv")
    afrr = real_file("RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx")
    start, end = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    imported = import_files({"smard": [prices, forecast], "regelleistung": [afrr]}, start=start, end=end).table

    window = slice("2023-12-25", "2024-02-06")
    rows = pd.read_excel(afrr)
    routes = {**replay.smard(4169, "DE-LU", "hour", smard_export(prices, "Deutschland/Luxemburg")[window]),
              **replay.smard(125, "DE", "hour", smard_export(forecast, "Photovoltaik [MWh]")[window]),
              **replay.regelleistung(rows[rows["DATE_FROM"] < "2024-02-01"], "CAPACITY", "aFRR")}
    session, log = replay.session(routes)
    columns = ["da_price", "pv_per_mwp", "afrr_cap_pos_price", "afrr_cap_neg_price", "afrr_cap_pos_marginal",
               "afrr_cap_neg_marginal"]
    waits: list[float] = []
    fetched = fetch_table(start, end, columns=columns, session=session, cache_dir=tmp_path,
                          http_options=no_waiting(waits))
    assert waits and max(waits) <= 0.5  # regelleistung's interval, the longest of the two sources
    pd.testing.assert_frame_equal(month(fetched.table), month(imported), check_freq=False, rtol=1e-12)
    assert fetched.sent == len(log.log) == 2 * (1 + 5) + 31  # per SMARD filter an index and 5 weeks; 31 xlsx

    offline, nothing = replay.session({})
    again = fetch_table(start, end, columns=columns, session=offline, cache_dir=tmp_path,
                        http_options=no_waiting(waits := []))
    assert nothing.log == [] and again.sent == 0 and waits == []  # the cache answers at once
    pd.testing.assert_frame_equal(again.table, fetched.table)


def test_march_2026_quarter_hourly_price_fcr_and_rebap_equal_the_imported_files(tmp_path):
    da = real_file("2025-2026/prices_DA_example.csv")
    rebap = real_file("2025-2026/prices_reBAPpos_example.csv")
    fcr = real_file("2025-2026/prices_FCR_example.xlsx")
    start, end = dt.date(2026, 3, 1), dt.date(2026, 4, 1)  # with the spring-forward day (29 March)
    imported = import_files({"regelleistung": [fcr]}, series=[("da_price", da), ("imbalance_price", rebap)],
                            unit="EUR/kWh", start=start, end=end).table

    rows = pd.read_excel(fcr)
    rows = rows[(rows["DATE_FROM"] >= "2026-03-01") & (rows["DATE_FROM"] < "2026-04-01")]
    prices, imbalance = price_file(da), price_file(rebap)
    days = [start + dt.timedelta(days=k) for k in range(31)]
    routes = {**replay.smard(4169, "DE-LU", "quarterhour", prices["2026-02-20":"2026-04-10"]),
              **replay.regelleistung(rows, "CAPACITY", "FCR"),
              replay.key("https://identity.netztransparenz.de/users/connect/token", method="POST"):
                  b'{"access_token": "t"}'}
    for day in days:
        routes.update(replay.netztransparenz_rebap(day, imbalance))
    session, _ = replay.session(routes)
    env = {"NETZTRANSPARENZ_CLIENT_ID": "id", "NETZTRANSPARENZ_CLIENT_SECRET": "secret"}
    fetched = fetch_table(start, end, sources=["smard", "regelleistung", "netztransparenz"],
                          columns=["da_price", "fcr_price", "imbalance_price"], session=session, cache_dir=tmp_path,
                          env=env, http_options=no_waiting(waits := []))
    assert waits and max(waits) <= 0.5
    assert len(fetched.table) == 31 * 96 - 4
    pd.testing.assert_frame_equal(month(fetched.table), month(imported), check_freq=False, rtol=1e-12)
    assert np.isfinite(fetched.table.to_numpy()).all()
    assert {p["source"] for p in fetched.table.attrs["provenance"].values()} == {"smard", "regelleistung",
                                                                                 "netztransparenz"}
