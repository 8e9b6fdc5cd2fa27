"""Calibration statistics: hand-checkable cases, and the published 2024 figures recomputed from real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import real_file

from bessgym.data import calibration, delivery_day_index
from bessgym.data import loaders as L


def test_statistics_of_a_hand_made_day():
    idx = delivery_day_index("2024-06-05")  # a 96-quarter-hour day
    hourly = np.array([10.0] * 8 + [-20.0] * 4 + [50.0] * 8 + [100.0] * 4)  # local hours 0..23
    df = pd.DataFrame({"da_price": np.repeat(hourly, 4)}, index=idx)
    stats = calibration.day_ahead_statistics(df["da_price"])
    assert stats["da_mean"] == pytest.approx(hourly.mean())
    assert stats["da_negative_hours"] == 4
    assert stats["da_daily_spread"] == 120.0
    assert stats["da_top4_minus_bottom4"] == 120.0  # top four 100, bottom four -20
    assert stats["da_hour_09"] == -20.0 and stats["da_hour_23"] == 100.0


def test_compare_uses_a_price_floor_for_targets_near_zero():
    c = calibration.compare({"da_p5": 1.2, "da_mean": 92.0}, {"da_p5": 0.0, "da_mean": 78.5})
    assert c.table.loc["da_p5", "rel_error"] == pytest.approx(0.12)  # 1.2 / max(0, 10)
    assert bool(c.table.loc["da_p5", "within"])
    assert c.table.loc["da_mean", "rel_error"] == pytest.approx(13.5 / 78.5)
    assert not bool(c.table.loc["da_mean", "within"])  # 17.2 % > 15 %
    assert c.failures() == ["da_mean"]


@pytest.mark.realdata
def test_our_statistics_reproduce_the_published_2024_figures_from_real_data():
    """The statistic definitions are checked against MARKET_FACTS.md by recomputing them from SMARD."""
    df = L.read_smard(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"))
    local_year = df.index.tz_convert("Europe/Berlin").year
    stats = calibration.day_ahead_statistics(df["da_price"][local_year == 2024])
    for key, published in calibration.TARGETS_2024.items():
        if key in stats:
            assert stats[key] == pytest.approx(published, abs=max(0.02 * abs(published), 0.6)), key


@pytest.mark.realdata
def test_real_reserve_statistics_match_published_2024_figures():
    real = pd.read_parquet(real_file("derived/real_2024_contract.parquet"))
    stats = calibration.reserve_statistics(real)
    for key in ("fcr_block_mean", "afrr_cap_pos_mean", "afrr_cap_neg_mean", "fcr_block_std",
                "corr_fcr_afrr_neg", "corr_fcr_afrr_pos"):
        published = calibration.TARGETS_2024[key]
        assert stats[key] == pytest.approx(published, abs=0.02 * abs(published) + 0.01), key


def test_reserve_bars_are_labelled_by_statistic_not_by_position():
    from bessgym.data.calibration import reserve_bars

    table = pd.DataFrame({"real": [10.0, 4.0], "synthetic": [11.0, 5.0]},
                         index=["afrr_cap_pos_mean", "afrr_cap_neg_mean"])  # no FCR column in the data
    bars = reserve_bars(table)
    assert list(bars.index) == ["aFRR POS", "aFRR NEG"]
    assert bars.loc["aFRR POS", "real"] == 10.0
    # FCR's block mean (4 h) goes on the same EUR/MW/h axis as aFRR: a quarter of it
    fcr = reserve_bars(pd.DataFrame({"real": [60.0], "synthetic": [64.0]}, index=["fcr_block_mean"]))
    assert fcr.loc["FCR (block / 4)"].tolist() == [15.0, 16.0]


def test_rebap_and_intraday_spreads_match_real_2026_h1():
    """reBAP and the continuous intraday (ID3) index against the 15-min day-ahead price, real 2026 H1 (EUR/kWh
    files, converted by their stated unit) vs the synthetic market of the same days: every checked statistic
    (quantiles of the spread, mean, correlation) within its stated tolerance."""
    from bessgym.data import synthetic
    from bessgym.data.importer import import_files

    folder = "2025-2026/"
    series = [("da_price", real_file(folder + "prices_DA_example.csv")),
              ("id1_price", real_file(folder + "prices_IDC_example.csv")),
              ("imbalance_price", real_file(folder + "prices_reBAPpos_example.csv"))]
    real = import_files({}, series=series, unit="EUR/kWh").table
    real_stats = calibration.spread_statistics(real)
    assert 100 < real_stats["rebap_minus_da_std"] < 160 and 0.4 < real_stats["rebap_da_corr"] < 0.6
    syn = synthetic.generate("2026-01-01", "2026-06-29", seed=0)
    comparison = calibration.compare(calibration.spread_statistics(syn), real_stats)
    checked = comparison.table[comparison.table["tolerance"].notna()]
    assert len(checked) == 18 and comparison.failures() == []


def test_tables_of_other_spans_are_told_apart():
    """A synthetic year against 8 real months compares seasons, not models: said; the same span is not."""
    from conftest import contract_table

    berlin_midnight = "2023-12-31 23:00"  # UTC
    year, months = contract_table(days=366, start=berlin_midnight), contract_table(days=244, start=berlin_midnight)
    told = calibration.span_mismatch(year, months)
    assert "2024-01-01 .. 2024-12-31, 366 days" in told and "244 days" in told and "data synth" in told
    assert calibration.span_mismatch(months, contract_table(days=244, start=berlin_midnight)) is None
    # the same months of another year compare
    assert calibration.span_mismatch(months, contract_table(days=244, start="2024-12-31 23:00")) is None
