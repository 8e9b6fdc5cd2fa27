"""The market data contract: validation names the problem, IO round-trips and writes atomically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import contract_table

from bessgym.data import MarketDataError, fill_gaps, read_table, validate, write_table


def test_valid_table_passes_and_index_is_utc():
    df = contract_table()
    df.index = df.index.tz_convert("Europe/Berlin")  # a zone other than UTC is converted, not rejected
    out = validate(df)
    assert str(out.index.tz) == "UTC"
    assert out.index.name == "timestamp"
    assert out.index[0] == pd.Timestamp("2024-03-01", tz="UTC")


@pytest.mark.parametrize(
    ("mutate", "message", "column", "timestamp"),
    [
        (lambda d: d.set_axis(d.index.tz_localize(None)), "no time zone", None,
         "2024-03-01 00:00:00"),
        (lambda d: d.drop(d.index[10]), "gap of 1 missing quarter-hour", None, "2024-03-01 02:15:00+00:00"),
        (lambda d: pd.concat([d.iloc[:5], d.iloc[4:]]), "duplicated timestamp", None, "2024-03-01 01:00:00+00:00"),
        (lambda d: d.iloc[[0, 2, 1, 3]], "not monotonic", None, "2024-03-01 00:15:00+00:00"),
        (lambda d: d.set_axis(d.index + pd.Timedelta(minutes=5)), "quarter-hour grid", None,
         "2024-03-01 00:05:00+00:00"),
        (lambda d: d.rename(columns={"da_price": "price"}), "required column is missing", "da_price", None),
        (lambda d: d.assign(da_price=np.where(np.arange(len(d)) == 7, np.nan, d.da_price)), "missing value",
         "da_price", "2024-03-01 01:45:00+00:00"),
        (lambda d: d.assign(da_price=d.da_price / 1000), "looks like EUR/kWh", "da_price", None),
        (lambda d: d.assign(da_price=np.where(np.arange(len(d)) == 3, 5_000.0, d.da_price)),
         "outside the plausible range", "da_price", "2024-03-01 00:45:00+00:00"),
        (lambda d: d.assign(afrr_activation_pos=1.5), "outside the plausible range", "afrr_activation_pos", None),
        (lambda d: d.assign(da_price=d.da_price.astype(str).str.replace(".", ",")), "must be numeric",
         "da_price", None),
    ],
)
def test_validation_names_problem_column_and_first_timestamp(mutate, message, column, timestamp):
    with pytest.raises(MarketDataError) as err:
        validate(mutate(contract_table()), source="prices.csv")
    text = str(err.value)
    assert text.startswith("prices.csv")
    assert message in text
    if column:
        assert f"column {column!r}" in text
    if timestamp:
        assert f"at {timestamp}" in text


def test_optional_intraday_auction_may_be_nan_but_other_columns_may_not():
    ida3 = np.where(np.arange(192) < 48, np.nan, 60.0)
    validate(contract_table(ida3_price=ida3))
    with pytest.raises(MarketDataError, match="'fcr_price'.*missing value"):
        validate(contract_table(fcr_price=ida3))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip(tmp_path, suffix):
    df = contract_table(fcr_price=np.full(192, 12.5))
    path = write_table(df, tmp_path / f"m{suffix}")
    back = read_table(path)
    pd.testing.assert_frame_equal(back, validate(df), check_freq=False, check_index_type=False,
                                  check_dtype=False)


def test_write_is_atomic_and_keeps_previous_file_on_error(tmp_path):
    path = tmp_path / "m.parquet"
    write_table(contract_table(), path)
    before = path.read_bytes()
    bad = contract_table().drop(contract_table().index[3])
    with pytest.raises(MarketDataError):
        write_table(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.parquet"]


def test_csv_reader_rejects_semicolons_local_time_and_garbage(tmp_path):
    semi = tmp_path / "semi.csv"
    semi.write_text("timestamp;da_price\n2024-01-01T00:00:00+00:00;50,1\n")
    with pytest.raises(MarketDataError, match="';'-separated"):
        read_table(semi)
    local = tmp_path / "local.csv"
    local.write_text("timestamp,da_price\n2024-01-01 00:00,50.1\n2024-01-01 00:15,50.1\n")
    with pytest.raises(MarketDataError, match="at 2024-01-01 00:00: timestamps have no time zone"):
        read_table(local)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(MarketDataError, match="garbage.parquet.*not a readable parquet"):
        read_table(garbage)
    with pytest.raises(MarketDataError, match="file not found"):
        read_table(tmp_path / "absent.csv")


def test_fill_gaps_fills_short_gaps_and_names_a_long_one_with_the_limit():
    df = contract_table(days=3)
    short = df.drop(df.index[[5, 6, 7]]).drop(df.index[100:108])  # 45 min and exactly the 2 h limit
    filled, n = fill_gaps(short, limit_quarter_hours=8)
    assert n == 3 + 8 and not filled["da_price"].isna().any()
    assert np.allclose(filled["da_price"].iloc[5:8], df["da_price"].iloc[5:8], atol=2.0)
    validate(filled)
    # 3 h missing: once its first 2 h were interpolated and the rest left to "missing value (NaN)"
    long = df.drop(df.index[100:112])
    with pytest.raises(MarketDataError, match=r"prices.csv, column 'da_price', at 2024-03-02 01:00:00\+00:00: a gap "
                                              r"of 3 h is longer than the 2 h that --fill-gaps interpolates"):
        fill_gaps(long, limit_quarter_hours=8, source="prices.csv")
