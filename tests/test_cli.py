"""The `bessgym` command line: synth, validate, calibrate, import and run, with clear errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import real_file
from typer.testing import CliRunner

import bessgym
from bessgym.data import read_table, synthetic
from bessgym.data.plausibility import unusual_months
from bessgym.errors import MarketDataError
from experiments.cli import app
from experiments.config import MarketSpec

runner = CliRunner()


def test_synth_validate_calibrate(tmp_path):
    out = tmp_path / "week.parquet"
    result = runner.invoke(app, ["data", "synth", "--start", "2024-06-03", "--end", "2024-06-10", "--seed", "3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    df = read_table(out)
    assert len(df) == 7 * 96
    result = runner.invoke(app, ["data", "validate", str(out)])
    assert result.exit_code == 0 and "afrr_energy_pos_price" in result.output
    png = tmp_path / "cal.png"
    result = runner.invoke(app, ["data", "calibrate", "--synthetic", str(out), "--real", str(out), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "all checked statistics within tolerance" in result.output  # a table against itself
    assert png.stat().st_size > 10_000


def test_calibrate_strict_fails_on_a_week_against_a_year(tmp_path):
    out = tmp_path / "week.csv"
    runner.invoke(app, ["data", "synth", "--start", "2024-01-08", "--end", "2024-01-15", "--out", str(out)])
    result = runner.invoke(app, ["data", "calibrate", "--synthetic", str(out), "--png", str(tmp_path / "c.png"),
                                 "--strict"])
    assert result.exit_code == 1
    assert "outside tolerance" in result.output


def test_bad_inputs_exit_2_with_the_problem_named(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,da_price\n2024-01-01T00:00:00+00:00,50\n2024-01-01T00:30:00+00:00,51\n")
    result = runner.invoke(app, ["data", "validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.csv" in result.output and "gap of 1 missing" in result.output
    result = runner.invoke(app, ["data", "synth", "--start", "2024-13-01", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "not an ISO date" in result.output
    result = runner.invoke(app, ["data", "import", "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2 and "at least one input" in result.output


@pytest.mark.realdata
def test_import_real_smard_and_regelleistung(tmp_path):
    out = tmp_path / "real.parquet"
    result = runner.invoke(app, [
        "data", "import", "--out", str(out),
        "--smard", str(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv")),
        "--regelleistung", str(real_file("RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx")),
    ])
    assert result.exit_code == 0, result.output
    df = read_table(out)
    assert df.index[0] == pd.Timestamp("2023-12-31 23:00", tz="UTC")
    assert {"da_price", "afrr_cap_pos_price"} <= set(df.columns)
    text = " ".join(result.output.split())
    assert "2022-12-31 23:00 .. 2024-12-31 22:45 UTC" in text  # each input's own span
    assert "kept 2023-12-31 23:00 .. 2024-08-31 21:45 UTC (243.9 days)" in text  # and the span kept
    narrow = runner.invoke(app, [
        "data", "import", "--out", str(tmp_path / "june.parquet"), "--start", "2024-06-01", "--end", "2024-07-01",
        "--smard", str(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv")),
        "--regelleistung", str(real_file("RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx")),
    ])
    june = read_table(tmp_path / "june.parquet")
    assert narrow.exit_code == 0 and len(june) == 30 * 96 and "within --start/--end" in narrow.output


def test_console_script_is_installed_and_import_stays_light():
    code = ("import sys, bessgym, bessgym.data; "
            "heavy = [m for m in ('torch', 'mlflow', 'pymodbus', 'pvlib', 'stable_baselines3') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registration_imports_no_env_code_and_the_cli_knows_its_version():
    """``import bessgym`` registers the envs by name only: no env module, numba, pandas or scipy (which cost
    seconds); the names of ``bessgym.envs`` load on first use, and ``gym.make`` still works."""
    code = ("import sys, bessgym, gymnasium as gym; "
            "print([m for m in ('bessgym.envs.core', 'numba', 'pandas', 'scipy') if m in sys.modules]); "
            "print('bessgym/SingleBESS-v1' in gym.registry); "
            "from bessgym.envs import SingleBESSEnv; print('bessgym.envs.core' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True", "True"]
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"bessgym {bessgym.__version__}"


def test_index_command_writes_tables_and_charts_and_names_skipped_strategies(tmp_path):
    from bessgym.data import synthetic, write_table

    full = write_table(synthetic.generate("2024-05-06", "2024-05-13", seed=2), tmp_path / "week.parquet")
    out = tmp_path / "index"
    result = runner.invoke(app, ["index", "--data", str(full), "--out", str(out), "--energy-mwh", "2",
                                 "--power-mw", "1"])
    assert result.exit_code == 0, result.output
    daily = pd.read_csv(out / "daily.csv", index_col=0)
    assert len(daily) == 7
    assert list(daily.columns) == ["fcr", "afrr_capacity", "trading", "day_ahead_trading", "afrr_and_trading",
                                   "daily_optimization"]
    assert (daily["daily_optimization"] >= daily[["fcr", "afrr_capacity", "trading",
                                                  "afrr_and_trading"]].max(axis=1) - 1e-6).all()
    rolling = pd.read_csv(out / "rolling.csv", index_col=0)
    assert "trading_30d" in rolling and "trading_365d" in rolling
    # 7 days hold no complete 30-day window: one chart, named for what it shows
    assert (out / "running_mean.png").stat().st_size > 10_000
    assert not (out / "rolling_30d.png").exists() and not (out / "rolling_365d.png").exists()
    da_only = write_table(synthetic.generate("2024-05-06", "2024-05-08", seed=2)[["da_price"]], tmp_path / "da.csv")
    result = runner.invoke(app, ["index", "--data", str(da_only), "--out", str(tmp_path / "da")])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "needs column 'fcr_price'" in result.output
    bad = runner.invoke(app, ["index", "--out", str(tmp_path / "x"), "--round-trip", "1.5"])
    assert bad.exit_code == 2 and "--round-trip" in bad.output
    # a period of the table: its days, the same revenues as in the whole table's run
    part = runner.invoke(app, ["index", "--data", str(full), "--out", str(tmp_path / "part"), "--start",
                               "2024-05-08", "--days", "3"])
    assert part.exit_code == 0, part.output
    three = pd.read_csv(tmp_path / "part" / "daily.csv", index_col=0)
    assert list(three.index) == ["2024-05-08", "2024-05-09", "2024-05-10"]
    pd.testing.assert_frame_equal(three, daily.loc[three.index])
    outside = runner.invoke(app, ["index", "--data", str(full), "--out", str(tmp_path / "x"), "--start", "2024-06-01"])
    assert outside.exit_code == 2 and "covers the delivery days 2024-05-06 to 2024-05-12" in outside.output


def test_a_table_ten_times_too_dear_is_refused_by_month_unless_accepted(tmp_path):
    """Day-ahead prices x 10 (a unit slip): every value is plausible alone, but January's mean (777 EUR/MWh) lies
    above any month of the German market's history (470 in August 2022). `data import`, `data validate` and
    `index` refuse it naming column, month, mean and unit; `--accept-unusual` runs with a warning."""
    market = synthetic.generate("2024-01-01", "2024-02-01", seed=0)
    series = tmp_path / "da.csv"
    pd.DataFrame({"time": market.index.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "price": market["da_price"].to_numpy() * 10}).to_csv(series, index=False)
    runner, table = CliRunner(), tmp_path / "x10.parquet"
    args = ["data", "import", "--series", f"da_price={series}", "--unit", "EUR/MWh", "--out", str(table)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and not table.exists()
    assert "da_price in 2024-01: mean 777.49 EUR/MWh" in refused.output and "--accept-unusual" in refused.output
    accepted = runner.invoke(app, [*args, "--accept-unusual"])
    assert accepted.exit_code == 0 and table.exists() and "warning" in accepted.output
    for command in (["data", "validate", str(table)], ["index", "--data", str(table), "--out", str(tmp_path / "i")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "2024-01" in result.output, command
        assert runner.invoke(app, [*command, "--accept-unusual"]).exit_code == 0, command
    assert unusual_months(market) == []  # the real scale passes
    assert "at least 5 in absolute value" in unusual_months(market / 1000)[0]  # EUR/kWh read as EUR/MWh
    # a configuration's market file is checked the same way (train, evaluate, run, benchmark read it)
    spec = MarketSpec(path=table)
    with pytest.raises(MarketDataError, match=r"x10.parquet: da_price in 2024-01: mean 777.49 EUR/MWh.*accept_unusual"):
        spec.load()
    with pytest.warns(UserWarning, match="da_price in 2024-01"):
        assert len(MarketSpec(path=table, accept_unusual=True).load()) == len(market)
