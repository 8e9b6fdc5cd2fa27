"""`bessgym data fetch` on recorded responses in the sources' real formats (no network): the table, the cache,
provenance, and every named failure with its message."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
import replay

from bessgym.data import read_table, synthetic, write_table
from bessgym.data.fetch import (
    FormatChanged,
    MissingCredential,
    NotCovered,
    RequestRefused,
    SourceUnreachable,
    fetch_table,
)
from bessgym.data.loaders import _pv_capacity

JAN = dt.date(2024, 1, 1)


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    return synthetic.generate(JAN, dt.date(2024, 1, 15), seed=3)


def hourly(series: pd.Series) -> pd.Series:
    return series.iloc[::4]


def smard_routes(market: pd.DataFrame, **kwargs) -> dict:
    pv_mwh = hourly(market["pv_per_mwp"]) * _pv_capacity(hourly(market["pv_per_mwp"]).index)
    return {**replay.smard(4169, "DE-LU", "hour", hourly(market["da_price"]), **kwargs),
            **replay.smard(125, "DE", "hour", pv_mwh)}


def fcr_rows(market: pd.DataFrame) -> pd.DataFrame:
    """FCR results rows in the current layout: settlement price per 4 h block [EUR/MW]."""
    rows = []
    for day in pd.date_range(JAN, periods=14, freq="D"):
        for block in range(6):
            start = pd.Timestamp(day.date(), tz="Europe/Berlin") + pd.Timedelta(hours=4 * block)
            rows.append({"DATE_FROM": day, "DATE_TO": day, "TYPE_OF_RESERVES": "FCR",
                         "PRODUCT": f"NEGPOS_{4 * block:02d}_{4 * block + 4:02d}",
                         "GERMANY_SETTLEMENTCAPACITY_PRICE_[EUR/MW]": 4 * market["fcr_price"].loc[start]})
    return pd.DataFrame(rows)


def run(routes: dict, tmp_path, start=JAN, end=dt.date(2024, 1, 3), **kwargs):
    session, log = replay.session(routes)
    waits: list[float] = []
    kwargs.setdefault("http_options", {"sleep": waits.append})
    fetched = fetch_table(start, end, session=session, cache_dir=tmp_path / "cache", **kwargs)
    return fetched, log, waits


def test_smard_and_regelleistung_build_the_contract_table_and_a_second_run_hits_only_the_cache(market, tmp_path):
    routes = {**smard_routes(market), **replay.regelleistung(fcr_rows(market), "CAPACITY", "FCR")}
    fetched, log, _ = run(routes, tmp_path, columns=["da_price", "pv_per_mwp", "fcr_price"])
    days = market.loc["2023-12-31T23:00Z":"2024-01-02T22:45Z"]
    pd.testing.assert_series_equal(fetched.table["da_price"], days["da_price"], check_freq=False, rtol=1e-12)
    pd.testing.assert_series_equal(fetched.table["fcr_price"], days["fcr_price"], check_freq=False, rtol=1e-12)
    # hourly PV forecast: each hour's mean over its four quarter-hours
    assert fetched.table["pv_per_mwp"].iloc[::4].to_numpy() == pytest.approx(hourly(days["pv_per_mwp"]).to_numpy())
    assert len(fetched.table) == 2 * 96
    assert fetched.sent == len(log.log) == 2 * 2 + 2  # an index and a week per SMARD filter, a file per FCR day
    again, log2, _ = run({}, tmp_path, columns=["da_price", "pv_per_mwp", "fcr_price"])
    assert log2.log == [] and again.sent == 0 and again.cache_hits == 4
    pd.testing.assert_frame_equal(again.table, fetched.table)


def test_provenance_is_kept_by_the_table_files_and_printed_by_validate(market, tmp_path):
    from typer.testing import CliRunner

    from experiments.cli import app

    fetched, _, _ = run(smard_routes(market), tmp_path, columns=["da_price"])
    record = fetched.table.attrs["provenance"]["da_price"]
    assert record["source"] == "smard" and record["licence"] == "CC BY 4.0" and record["requests"] == 1
    assert record["request"].startswith("https://www.smard.de/app/chart_data/4169/DE-LU/4169_DE-LU_hour_")
    assert record["first_retrieved_utc"].endswith("Z")
    for suffix in (".parquet", ".csv"):
        path = write_table(fetched.table, tmp_path / f"t{suffix}")
        assert read_table(path).attrs["provenance"] == fetched.table.attrs["provenance"]
    result = CliRunner().invoke(app, ["data", "validate", str(tmp_path / "t.parquet")], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "provenance" in result.output and "Bundesnetzagentur | SMARD.de" in result.output


def test_the_cli_fetches_through_the_same_path_and_writes_nothing_when_a_day_is_missing(market, tmp_path,
                                                                                        monkeypatch):
    from typer.testing import CliRunner

    from bessgym.data.fetch import build
    from experiments.cli import app

    routes = {**smard_routes(market)}
    del routes[next(k for k in routes if "4169_DE-LU_hour_" in k and k.endswith("1704668400000.json"))]  # week 2
    session, log = replay.session(routes)
    monkeypatch.setattr(build.requests, "Session", lambda: session)
    monkeypatch.setattr(build, "Http", _no_wait(build.Http))
    out = tmp_path / "real.parquet"
    args = ["data", "fetch", "--start", "2024-01-06", "--end", "2024-01-10", "--columns", "da_price",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    failed = CliRunner().invoke(app, args, terminal_width=200)
    assert failed.exit_code != 0
    assert "smard, delivery day 2024-01-08: no answer after 5 attempts" in " ".join(failed.output.split())
    assert not out.exists()  # nothing half-written
    first = list(log.log)
    log.routes.update(smard_routes(market))
    log.log.clear()
    done = CliRunner().invoke(app, args, terminal_width=200)
    assert done.exit_code == 0, done.output
    assert out.exists() and len(read_table(out)) == 4 * 96
    assert all("1704063600000" not in name for name in log.log)  # week 1 came from the cache
    assert any("1704063600000" in name for name in first)
    assert "answered from the cache" in done.output and "CC BY 4.0" in done.output


def _no_wait(cls):
    def make(**kwargs):
        return cls(sleep=lambda s: None, **kwargs)
    return make


def test_no_network_is_named_after_the_retries_with_backoff(market, tmp_path):
    with pytest.raises(SourceUnreachable) as err:
        run(smard_routes(market), tmp_path, columns=["da_price", "fcr_price"])
    text = str(err.value)
    assert text.startswith("regelleistung, delivery day 2024-01-01: no answer after 5 attempts (ConnectionError")
    assert "check the network connection" in text and "bessgym data import" in text


def test_retries_wait_with_backoff_then_succeed_or_name_the_refusal(market, tmp_path):
    routes = replay.regelleistung(fcr_rows(market), "CAPACITY", "FCR")
    first = next(iter(routes))
    routes[first] = [(503, b"busy"), (503, b"busy"), routes[first]]
    fetched, log, waits = run({**smard_routes(market), **routes}, tmp_path, columns=["da_price", "fcr_price"])
    assert [w for w in waits if w >= 1.0] == [2.0, 4.0] and len(fetched.table) == 2 * 96
    refused = {**smard_routes(market), first: (403, b"<html>Forbidden</html>")}
    with pytest.raises(RequestRefused, match=r"regelleistung, delivery day 2024-01-01: HTTP 403 Forbidden .* "
                                             r"the source refused access"):
        run(refused, tmp_path / "b", columns=["da_price", "fcr_price"])
    always = {**smard_routes(market), first: (503, b"busy")}
    with pytest.raises(RequestRefused, match="HTTP 503 Service Unavailable"):
        run(always, tmp_path / "c", columns=["da_price", "fcr_price"])


def test_the_polite_rate_spaces_requests_to_one_source(market, tmp_path):
    routes = {**smard_routes(market), **replay.regelleistung(fcr_rows(market), "CAPACITY", "FCR")}
    clock = iter(np.arange(0.0, 100.0, 0.1))
    waits: list[float] = []
    run(routes, tmp_path, columns=["da_price", "fcr_price"],
        http_options={"sleep": waits.append, "clock": lambda: float(next(clock))})
    # 0.2 s between two requests to SMARD, 0.5 s to regelleistung.net; the clock moves 0.1 s a reading
    assert waits == pytest.approx([0.1, 0.4])  # index then week from SMARD, two days from regelleistung.net


def test_missing_credentials_are_named_with_what_to_set(tmp_path):
    with pytest.raises(MissingCredential, match="NETZTRANSPARENZ_CLIENT_ID and NETZTRANSPARENZ_CLIENT_SECRET not set"
                                                ".*api-portal.netztransparenz.de"):
        run({}, tmp_path, sources=["netztransparenz", "entsoe"], columns=["imbalance_price", "da_price"], env={})
    with pytest.raises(MissingCredential, match="entsoe, delivery day 2024-01-01: ENTSOE_API_KEY not set"):
        run({}, tmp_path, sources=["entsoe"], env={})


def test_netztransparenz_gets_one_token_and_reads_the_rebap_csv(market, tmp_path):
    token = {replay.key("https://identity.netztransparenz.de/users/connect/token", method="POST"):
             b'{"access_token": "abc", "expires_in": 3600}'}
    routes = {**token, **replay.netztransparenz_rebap(JAN, market["imbalance_price"]),
              **replay.netztransparenz_rebap(dt.date(2024, 1, 2), market["imbalance_price"])}
    env = {"NETZTRANSPARENZ_CLIENT_ID": "id", "NETZTRANSPARENZ_CLIENT_SECRET": "secret"}
    fetched, log, _ = run({**smard_routes(market), **routes}, tmp_path, sources=["smard", "netztransparenz"],
                          columns=["da_price", "imbalance_price"], env=env)
    expected = market["imbalance_price"].iloc[: 2 * 96].round(2)
    np.testing.assert_allclose(fetched.table["imbalance_price"].to_numpy(), expected.to_numpy())
    assert sum(name.startswith("POST") for name in log.log) == 1
    again, log2, _ = run({}, tmp_path, sources=["smard", "netztransparenz"], columns=["da_price", "imbalance_price"],
                         env={})  # the cache needs no account
    assert log2.log == [] and len(again.table) == 2 * 96


def test_entsoe_reads_the_a44_document_through_entsoe_py(market, tmp_path):
    prices = hourly(market["da_price"])
    routes = {**replay.entsoe_a44(JAN, prices, "tok"), **replay.entsoe_a44(dt.date(2024, 1, 2), prices, "tok")}
    fetched, _, _ = run(routes, tmp_path, sources=["entsoe"], env={"ENTSOE_API_KEY": "tok"})
    np.testing.assert_allclose(fetched.table["da_price"].iloc[::4].to_numpy(), prices.iloc[:48].round(2).to_numpy())
    assert "tok" not in fetched.table.attrs["provenance"]["da_price"]["request"]  # the token is not recorded
    refused = {k: (401, b"<Acknowledgement_MarketDocument><Reason><text>Unauthorized</text></Reason>")
               for k in replay.entsoe_a44(JAN, prices, "secret-token")}
    with pytest.raises(RequestRefused, match=r"HTTP 401 .*securityToken=\*\*\*") as err:
        run(refused, tmp_path / "b", sources=["entsoe"], env={"ENTSOE_API_KEY": "secret-token"})
    assert "secret-token" not in str(err.value)  # nor printed in an error
    with pytest.raises(SourceUnreachable) as err:
        run({}, tmp_path / "c", sources=["entsoe"], env={"ENTSOE_API_KEY": "secret-token"})
    assert "securityToken=***" in str(err.value) and "secret-token" not in str(err.value)


def test_a_changed_format_is_named(market, tmp_path):
    routes = smard_routes(market)
    week = next(k for k in routes if "4169_DE-LU_hour_" in k)
    routes[week] = b'{"meta_data": {}, "values": []}'
    with pytest.raises(FormatChanged, match=r"smard, delivery day 2024-01-01: .*has no 'series' of \[ms, value\] "
                                            "pairs; the source may have changed its format"):
        run(routes, tmp_path, columns=["da_price"])
    html = {k: b"<html>maintenance</html>" for k in replay.regelleistung(fcr_rows(market), "CAPACITY", "FCR")}
    with pytest.raises(FormatChanged, match="is not an xlsx file"):
        run({**smard_routes(market), **html}, tmp_path / "b", columns=["da_price", "fcr_price"])
    renamed = fcr_rows(market).rename(columns={"GERMANY_SETTLEMENTCAPACITY_PRICE_[EUR/MW]": "DE_PRICE"})
    with pytest.raises(FormatChanged, match="cannot be read .*none of the price columns"):
        run({**smard_routes(market), **replay.regelleistung(renamed, "CAPACITY", "FCR")}, tmp_path / "c",
            columns=["da_price", "fcr_price"])


def test_uncovered_dates_are_named_before_or_after_asking(market, tmp_path):
    with pytest.raises(NotCovered, match="smard, delivery day 2018-09-30: da_price starts on 2018-10-01"):
        run({}, tmp_path, start=dt.date(2018, 9, 30), end=dt.date(2018, 10, 2), columns=["da_price"])
    future = dt.date.today() + dt.timedelta(days=30)
    with pytest.raises(NotCovered, match="not yet published"):
        run({}, tmp_path, start=future, end=future + dt.timedelta(days=1), columns=["da_price"])
    empty = {k: replay.xlsx(fcr_rows(market).iloc[:0]) for k in replay.regelleistung(fcr_rows(market), "CAPACITY",
                                                                                     "FCR")}
    with pytest.raises(NotCovered, match="has no rows"):
        run({**smard_routes(market), **empty}, tmp_path, columns=["da_price", "fcr_price"])
    # the week in progress: values up to 2 Jan are published, the rest are null
    partial = smard_routes(market, nulls_after=pd.Timestamp("2024-01-02T23:00Z"))
    fetched, _, _ = run(partial, tmp_path / "p", columns=["da_price"])
    assert len(fetched.table) == 2 * 96
    assert not list((tmp_path / "p" / "cache" / "smard").glob("4169_*.json"))  # an incomplete week is not cached
    with pytest.raises(NotCovered, match="delivery day 2024-01-03: da_price: 96 of 96 quarter-hours have no value"):
        run(partial, tmp_path / "p", end=dt.date(2024, 1, 4), columns=["da_price"])
    with pytest.raises(NotCovered, match="--offline sends no request"):
        run({}, tmp_path / "q", columns=["da_price"], offline=True)


def test_a_failed_source_falls_back_to_the_next_that_offers_the_column(market, tmp_path):
    days = [JAN, dt.date(2024, 1, 2)]
    routes = {k: v for d in days for k, v in
              replay.energy_charts("price", {"bzn": "DE-LU"}, d, market["da_price"], "price").items()}
    fetched, _, _ = run(routes, tmp_path, sources=["smard", "energy_charts"], columns=["da_price"])
    assert fetched.table.attrs["provenance"]["da_price"]["source"] == "energy_charts"
    assert fetched.fallbacks and fetched.fallbacks[0].startswith("da_price: smard failed (smard, delivery day")
    np.testing.assert_allclose(fetched.table["da_price"], market["da_price"].iloc[: 2 * 96])


def test_smard_reads_the_quarter_hourly_price_from_october_2025(tmp_path):
    oct_market = synthetic.generate(dt.date(2025, 10, 1), dt.date(2025, 10, 3), seed=1)
    routes = replay.smard(4169, "DE-LU", "quarterhour", oct_market["da_price"])
    fetched, _, _ = run(routes, tmp_path, start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 3), columns=["da_price"])
    np.testing.assert_allclose(fetched.table["da_price"], oct_market["da_price"])


def test_unknown_sources_and_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sources"):
        run({}, tmp_path, sources=["nordpool"])
    with pytest.raises(ValueError, match="imbalance_price.*no chosen source offers this column .*netztransparenz"):
        run({}, tmp_path, columns=["imbalance_price"])
    with pytest.raises(ValueError, match="a contract table needs the day-ahead price"):
        run({}, tmp_path, columns=["fcr_price"])


def test_afrr_energy_results_map_product_numbers_to_the_quarter_hours_of_a_spring_forward_day(tmp_path):
    days = [dt.date(2024, 3, 30), dt.date(2024, 3, 31)]  # 96 and 92 quarter-hours
    spring = synthetic.generate(days[0], dt.date(2024, 4, 1), seed=4)
    rows = pd.DataFrame([{"DELIVERY_DATE": pd.Timestamp(day), "TYPE_OF_RESERVES": "aFRR",
                          "PRODUCT": f"{d}_{k:03d}", "GERMANY_MARGINAL_ENERGY_PRICE_[EUR/MWh]": sign * (k + 0.5)}
                         for day, n in zip(days, (96, 92), strict=True) for d, sign in (("POS", 1), ("NEG", -1))
                         for k in range(1, n + 1)])
    routes = {**replay.smard(4169, "DE-LU", "hour", hourly(spring["da_price"])),
              **replay.regelleistung(rows, "ENERGY", "aFRR", date_column="DELIVERY_DATE")}
    fetched, _, _ = run(routes, tmp_path, start=days[0], end=dt.date(2024, 4, 1),
                        columns=["da_price", "afrr_energy_pos_price", "afrr_energy_neg_price"])
    pos = fetched.table["afrr_energy_pos_price"]
    assert len(pos) == 96 + 92
    assert pos["2024-03-30T23:00Z"] == 1.5 and pos["2024-03-31T00:45Z"] == 8.5  # 00:00-02:00 CET: products 1-8
    assert pos["2024-03-31T01:00Z"] == 9.5  # 03:00 CEST, the 9th quarter-hour of the day
    assert pos.iloc[-1] == 92.5 and fetched.table["afrr_energy_neg_price"].iloc[-1] == -92.5
    short = rows.drop(index=rows.index[-1])  # the day's last NEG product missing
    with pytest.raises(FormatChanged, match="afrr_energy_neg_price.*a quarter-hour has no price"):
        run({**routes, **replay.regelleistung(short, "ENERGY", "aFRR", date_column="DELIVERY_DATE")},
            tmp_path / "b", start=days[0], end=dt.date(2024, 4, 1),
            columns=["da_price", "afrr_energy_pos_price", "afrr_energy_neg_price"])


@pytest.mark.skipif(not os.environ.get("BESSGYM_LIVE_FETCH"), reason="live fetch: set BESSGYM_LIVE_FETCH=1 (network)")
def test_live_smoke_fetch_two_days_from_every_open_source(tmp_path):
    start, end = dt.date(2024, 3, 4), dt.date(2024, 3, 6)
    fetched = fetch_table(start, end, sources=["smard", "regelleistung"], cache_dir=tmp_path)
    assert len(fetched.table) == 2 * 96 and fetched.sent > 0
    alternative = fetch_table(start, end, sources=["energy_charts"], cache_dir=tmp_path)
    np.testing.assert_allclose(alternative.table["da_price"], fetched.table["da_price"], atol=0.01)


def test_by_default_every_offered_column_is_fetched_but_the_afrr_energy_prices():
    from bessgym.data.fetch import build

    plan = build._plan([build.Smard(), build.Regelleistung()], None)
    wanted = [c for columns in plan.values() for c in columns]
    assert wanted[:2] == ["da_price", "pv_per_mwp"] and "fcr_price" in wanted and "mfrr_cap_neg_marginal" in wanted
    assert len(wanted) == 2 + 1 + 4 + 4 and "afrr_energy_pos_price" not in wanted
