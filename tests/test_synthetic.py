"""The synthetic market: deterministic, complete, rule-aware, and realistic in its joint behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bessgym.data import COLUMNS, calibration, delivery_day_index, synthetic, validate


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return synthetic.generate("2024-01-01", "2025-01-01", seed=0)


def test_every_contract_column_is_present_and_valid(year):
    assert set(year.columns) == set(COLUMNS)
    validate(year)
    assert len(year) == 366 * 96


def test_same_seed_same_table_other_seed_other_table():
    a = synthetic.generate("2024-03-01", "2024-03-08", seed=7)
    b = synthetic.generate("2024-03-01", "2024-03-08", seed=7)
    c = synthetic.generate("2024-03-01", "2024-03-08", seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["da_price"], c["da_price"])


def test_dst_days_have_their_quarter_hours():
    df = synthetic.generate("2024-10-26", "2024-10-29", seed=1)
    assert len(df) == 96 + 100 + 96
    assert df.index.equals(delivery_day_index("2024-10-26").append(delivery_day_index("2024-10-27"))
                           .append(delivery_day_index("2024-10-28")))


def test_day_ahead_resolution_follows_the_rules():
    df = synthetic.generate("2025-09-29", "2025-10-03", seed=2)
    per_hour = df["da_price"].groupby(df.index.floor("h")).nunique()
    local_day = per_hour.index.tz_convert("Europe/Berlin").date
    before = per_hour[local_day < pd.Timestamp("2025-10-01").date()]
    after = per_hour[local_day >= pd.Timestamp("2025-10-01").date()]
    assert (before == 1).all()  # hourly product repeated over 4 quarter-hours
    assert (after > 1).mean() > 0.9  # 15-minute products


def test_intraday_auctions_exist_only_where_the_market_did(year):
    local = year.index.tz_convert("Europe/Berlin")
    before = local.date < pd.Timestamp("2024-06-13").date()
    assert year["ida1_price"][before].isna().all() and year["ida1_price"][~before].notna().all()
    morning = ~before & (local.hour < 12)
    assert year["ida3_price"][morning].isna().all()
    assert year["ida3_price"][~before & ~morning].notna().all()


def test_intraday_scatters_around_day_ahead_with_more_volatility(year):
    diff = year["id1_price"] - year["da_price"]
    assert abs(diff.mean()) < 2.0
    assert 10.0 < diff.std() < 40.0
    assert year["id1_price"].std() > year["da_price"].std()
    # information arrives gate by gate: later auctions are closer to ID1
    late = year["ida1_price"].notna()
    err = {c: (year[c] - year["id1_price"])[late].std() for c in ("ida1_price", "ida2_price")}
    assert err["ida2_price"] < err["ida1_price"]


def test_pv_drives_the_midday_trough(year):
    local = year.index.tz_convert("Europe/Berlin")
    midday = (local.hour >= 11) & (local.hour < 15) & local.month.isin([5, 6, 7, 8])
    daily_pv = year["pv_per_mwp"][midday].groupby(local.date[midday]).mean()
    daily_price = year["da_price"][midday].groupby(local.date[midday]).mean()
    assert np.corrcoef(daily_pv, daily_price)[0, 1] < -0.4  # sunny days, cheap middays
    assert year["pv_per_mwp"][(local.hour < 4) | (local.hour >= 22)].max() == 0.0
    flh = year["pv_per_mwp"].sum() * 0.25
    assert 850 < flh < 1_200  # typical German yield per kWp


def test_afrr_energy_prices_are_heavy_tailed_and_capped(year):
    pos = year["afrr_energy_pos_price"] - year["id1_price"]
    kurtosis = ((pos - pos.mean()) ** 4).mean() / pos.var() ** 2
    assert kurtosis > 10
    for col in ("afrr_energy_pos_price", "afrr_energy_neg_price", "imbalance_price"):
        assert year[col].abs().max() <= 15_000.0
    assert (year["afrr_energy_pos_price"] > year["id1_price"]).mean() > 0.99
    assert (year["afrr_energy_neg_price"] < year["id1_price"]).mean() > 0.99


def test_activation_shares_and_rebap_follow_the_imbalance(year):
    a_pos, a_neg = year["afrr_activation_pos"], year["afrr_activation_neg"]
    assert a_pos.between(0, 1).all() and a_neg.between(0, 1).all()
    assert np.corrcoef(a_pos, a_neg)[0, 1] < -0.5
    rebap_premium = year["imbalance_price"] - year["id1_price"]
    # rank correlation: the premium is heavy-tailed by design
    assert (a_pos - a_neg).corr(rebap_premium, method="spearman") > 0.5


def test_reserve_prices_are_constant_within_blocks_and_marginal_above_average(year):
    local = year.index.tz_convert("Europe/Berlin")
    key = [local.date, local.hour // 4]
    for col in ("fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price"):
        assert (year[col].groupby(key).nunique() == 1).all()
        assert (year[col] > 0).all()
    assert (year["afrr_cap_pos_marginal"] >= year["afrr_cap_pos_price"]).all()
    stats = calibration.reserve_statistics(year)
    assert stats["corr_fcr_afrr_neg"] > stats["corr_fcr_afrr_pos"] + 0.2
    # seasonality of 2024: FCR cheap in Feb-Mar, expensive in June
    fcr_month = (4 * year["fcr_price"]).groupby(local.month).mean()
    assert fcr_month[[2, 3]].mean() < 0.6 * fcr_month[6]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_2024_like_year_is_within_the_calibration_targets(seed):
    df = synthetic.generate("2024-01-01", "2025-01-01", seed=seed)
    comparison = calibration.compare(calibration.market_statistics(df), calibration.TARGETS_2024)
    assert comparison.all_within, comparison.table.loc[comparison.failures()]
