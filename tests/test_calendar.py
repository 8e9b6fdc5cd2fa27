"""Delivery days are cut in Europe/Berlin; products map onto UTC quarter-hours correctly on DST days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bessgym.data import (
    block_of_day,
    blocks_to_quarter_hourly,
    delivery_day_index,
    hourly_to_quarter_hourly,
    quarter_hours,
    rules_for,
    split_days,
)


@pytest.mark.parametrize(("day", "n"), [("2024-03-31", 92), ("2024-06-01", 96), ("2024-10-27", 100)])
def test_delivery_day_lengths(day, n):
    idx = delivery_day_index(day)
    assert len(idx) == n
    assert idx[0].tz_convert("Europe/Berlin").hour == 0
    assert (idx[-1] + pd.Timedelta(minutes=15)).tz_convert("Europe/Berlin").hour == 0


def test_split_days_over_a_dst_weekend():
    idx = quarter_hours("2024-10-26", "2024-10-29")
    sizes = [s.stop - s.start for s in split_days(idx)]
    assert sizes == [96, 100, 96]


def test_blocks_on_dst_days_have_three_or_five_hours():
    for day, first_block_qh in (("2024-03-31", 12), ("2024-10-27", 20)):
        idx = delivery_day_index(day)
        blocks = block_of_day(idx)
        assert np.bincount(blocks).tolist() == [first_block_qh] + [16] * 5
        starts = pd.date_range(pd.Timestamp(day), periods=6, freq="4h").tz_localize("Europe/Berlin")
        values = blocks_to_quarter_hourly(pd.Series(np.arange(6.0), index=starts), idx)
        assert values.to_numpy().tolist() == blocks.astype(float).tolist()


def test_hourly_values_repeat_over_their_quarter_hours():
    hourly = pd.Series([10.0, 20.0, 30.0], index=pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"))
    qh = hourly_to_quarter_hourly(hourly)
    assert len(qh) == 12
    assert qh.to_numpy().tolist() == [10.0] * 4 + [20.0] * 4 + [30.0] * 4


def test_market_rules_follow_the_calendar():
    assert rules_for("2025-09-30").da_resolution_min == 60
    assert rules_for("2025-10-01").da_resolution_min == 15
    assert not rules_for("2024-06-12").has_ida and rules_for("2024-06-13").has_ida
    assert rules_for("2019-05-01").fcr_block_h == 24 and rules_for("2020-07-01").fcr_block_h == 4
    assert not rules_for("2020-01-01").afrr_energy_separate and rules_for("2021-01-01").afrr_energy_separate
