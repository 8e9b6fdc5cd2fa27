"""The `bessgym` command line: synth, validate, calibrate, import and run, with clear errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import real_file
from typer.testing import CliRunner

from bessgym.data import read_table
from experiments.cli import app

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


def test_console_script_is_installed_and_import_stays_light():
    code = ("import sys, bessgym, bessgym.data; "
            "heavy = [m for m in ('torch', 'mlflow', 'pymodbus', 'pvlib', 'stable_baselines3') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
