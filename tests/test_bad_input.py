"""Malformed files and bad arguments: each is refused with a message that names the problem (file, column,
timestamp or parameter), never with a traceback, and never imported silently at the wrong scale."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bessgym.assets import BatterySpec, SiteSpec
from bessgym.data import write_table
from bessgym.envs import MarketConfig, SingleBESSEnv
from bessgym.envs.portfolio_core import Reliability
from experiments.cli import app

runner = CliRunner()
SMARD_HEAD = "Datum von;Datum bis;Deutschland/Luxemburg [€/MWh] Originalauflösungen\n"


def smard(prices: list[str], *, unit: str = "€/MWh", tail: bytes = b"") -> bytes:
    rows = [f"05.06.2024 {h:02d}:00;05.06.2024 {h:02d}:00;{p}" for h, p in zip(range(24), prices, strict=False)]
    head = SMARD_HEAD.replace("€/MWh", unit)
    return ("\ufeff" + head + "\n".join(rows) + "\n").encode() + tail


def regelleistung(values=None, products=None, dates=None) -> pd.DataFrame:
    products = products or [f"{d}_{h:02d}_{h + 4:02d}" for d in ("POS", "NEG") for h in range(0, 24, 4)]
    n = len(products)
    values = values if values is not None else [float(i + 1) for i in range(n)]
    return pd.DataFrame({"DATE_FROM": dates or ["2024-06-05"] * n, "DATE_TO": dates or ["2024-06-05"] * n,
                         "TYPE_OF_RESERVES": ["aFRR"] * n, "PRODUCT": products,
                         "GERMANY_AVERAGE_CAPACITY_PRICE_[(EUR/MW)/h]": values,
                         "GERMANY_MARGINAL_CAPACITY_PRICE_[(EUR/MW)/h]": values})


def contract(days: int = 8, **columns) -> pd.DataFrame:
    idx = pd.date_range("2024-06-04 22:00", periods=96 * days, freq="15min", tz="UTC", name="timestamp")
    data = {"da_price": 60 + 40 * np.sin(np.arange(len(idx)) / 9.0)} | columns
    return pd.DataFrame({k: np.broadcast_to(v, len(idx)) for k, v in data.items()}, index=idx)


def write(path: Path, content) -> Path:
    if isinstance(content, pd.DataFrame):
        if path.suffix == ".xlsx":
            content.to_excel(path, index=False)
        else:
            content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def energy_charts_text(cells: list[str], sep: str = ",") -> str:
    rows = [f"2024-06-05T{h:02d}:00+02:00{sep}{c}" for h, c in zip(range(24), cells, strict=False)]
    return f"Datum (MEZ){sep}Day Ahead Auktion (DE-LU)\n{sep}\"Preis (EUR/MWh)\"\n" + "\n".join(rows) + "\n"


def opsd_text(solar: list[str]) -> str:
    stamps = pd.date_range("2024-06-05", periods=24, freq="h", tz="UTC")
    rows = [f"{t.isoformat()},{s}" for t, s in zip(stamps, solar, strict=False)]
    return "utc_timestamp,DE_solar_generation_actual\n" + "\n".join(rows) + "\n"


# (name, files {flag: (file name, content)}, message fragments the error must contain)
IMPORT_CASES = [
    ("latin-1 byte after the header",
     {"--smard": ("latin.csv", smard(["50,0"] * 23, tail=b"05.06.2024 23:00;x;5\xe4\n"))},
     ["latin.csv", "UTF-8", "line 25"]),
    ("SMARD price in ct/kWh", {"--smard": ("ct.csv", smard(["7,5"] * 24, unit="ct/kWh"))},
     ["ct.csv", "ct/kWh", "EUR/MWh"]),
    ("text in an energy-charts price column",
     {"--energy-charts": ("ec.csv", energy_charts_text(["50.5"] * 5 + ["n/a?"] + ["51.0"] * 18))},
     ["ec.csv", "unparseable number 'n/a?'", "2024-06-05 03:00"]),
    ("text in an OPSD solar column", {"--opsd": ("opsd.csv", opsd_text(["0.0"] * 10 + ["abc"] + ["5.0"] * 13))},
     ["opsd.csv", "DE_solar_generation_actual", "unparseable number 'abc'", "2024-06-05 10:00"]),
    ("duplicated regelleistung product row",
     {"--regelleistung": ("dup.xlsx", regelleistung(products=[f"{d}_{h:02d}_{h + 4:02d}" for d in ("POS", "NEG")
                                                              for h in range(0, 24, 4)] + ["POS_04_08"]))},
     ["dup.xlsx", "POS_04_08", "2024-06-05", "twice"]),
    ("header-only xlsx", {"--regelleistung": ("empty.xlsx", regelleistung().iloc[:0])}, ["empty.xlsx", "no rows"]),
    ("text in a regelleistung price cell",
     {"--regelleistung": ("text.xlsx", regelleistung(values=[1.0, 2.0, "zwei", *range(4, 13)]))},
     ["text.xlsx", "GERMANY_AVERAGE_CAPACITY_PRICE", "unparseable number 'zwei'", "POS_08_12"]),
    ("capacity prices in EUR/kW/h",
     {"--regelleistung": ("kw.xlsx", regelleistung(values=[0.004 + 0.001 * i for i in range(12)]))},
     ["kw.xlsx", "afrr_cap_pos_price", "EUR/kW/h"]),
]


@pytest.mark.parametrize(("name", "files", "fragments"), IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_import_refuses_malformed_files_naming_them(tmp_path, name, files, fragments):
    args = ["data", "import", "--out", str(tmp_path / "out.parquet")]
    for flag, (file_name, content) in files.items():
        args += [flag, str(write(tmp_path / file_name, content))]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (name, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, (name, fragment, text)
    assert not (tmp_path / "out.parquet").exists()


def test_smard_resaved_with_decimal_points_keeps_its_scale(tmp_path):
    from bessgym.data import loaders

    german = loaders.read_smard(write(tmp_path / "de.csv", smard(["75,70", "1.234,50"] + ["-5,17"] * 22)))
    resaved = loaders.read_smard(write(tmp_path / "re.csv", smard(["75.7", "1234.5"] + ["-5.17"] * 22)))
    assert german["da_price"].iloc[[0, 4, 8]].tolist() == [75.7, 1234.5, -5.17]
    assert resaved["da_price"].iloc[[0, 4, 8]].tolist() == [75.7, 1234.5, -5.17]
    ambiguous = write(tmp_path / "amb.csv", smard(["75.700", "1.234"] * 12))
    with pytest.raises(ValueError, match="amb.csv.*decimal mark"):
        loaders.read_smard(ambiguous)


def test_energy_charts_and_regelleistung_with_decimal_commas_are_read(tmp_path):
    from bessgym.data import loaders

    ec = loaders.read_energy_charts(write(tmp_path / "ec.csv", energy_charts_text(["50,5"] * 24, sep=";")))
    assert ec["da_price"].iloc[0] == 50.5 and len(ec) == 96
    frame = regelleistung(values=[f"{i},25" for i in range(1, 13)])
    df = loaders.read_regelleistung(write(tmp_path / "comma.csv", frame.to_csv(sep=";", index=False)))
    assert df["afrr_cap_pos_price"].iloc[0] == 1.25


def test_errors_after_merging_name_the_input_not_the_output(tmp_path):
    prices = write(tmp_path / "prices.csv", smard(["50,0"] * 24))
    hole = pd.date_range("2024-06-05", periods=96, freq="15min", tz="UTC").delete(range(40, 44))  # 10:00-10:45
    nt = write(tmp_path / "rebap.csv", "Datum;Zeitzone;von;bis;reBAP unterdeckt;reBAP ueberdeckt\n" + "\n".join(
        f"{t:%d.%m.%Y};UTC;{t:%H:%M};{t + pd.Timedelta(minutes=15):%H:%M};50,0;50,0" for t in hole) + "\n")
    result = runner.invoke(app, ["data", "import", "--out", str(tmp_path / "o.parquet"), "--smard", str(prices),
                                 "--netztransparenz", str(nt)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "rebap.csv" in text and "o.parquet" not in text, text
    assert "gap of 4 missing quarter-hour" in text and "missing value (NaN)" not in text, text


CONTRACT_CASES = [
    ("hourly table", lambda: contract().iloc[::4], ["hourly", "quarter-hour"]),
    ("day-ahead in ct/kWh", lambda: contract(da_price=7.5 + 6 * np.sin(np.arange(768) / 9.0)), ["da_price", "ct/kWh"]),
    ("aFRR capacity in EUR/kW/h", lambda: contract(afrr_cap_pos_price=0.012), ["afrr_cap_pos_price", "EUR/kW/h"]),
    ("FCR in EUR/kW/h", lambda: contract(fcr_price=0.016), ["fcr_price", "EUR/kW/h"]),
]


@pytest.mark.parametrize(("name", "table", "fragments"), CONTRACT_CASES, ids=[c[0] for c in CONTRACT_CASES])
def test_validate_refuses_wrong_scales_and_resolutions(tmp_path, name, table, fragments):
    path = tmp_path / "t.parquet"
    table().to_parquet(path)
    for args in (["data", "validate", str(path)], ["index", "--data", str(path), "--out", str(tmp_path / "i")]):
        result = runner.invoke(app, args)
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (name, text, result.exception)
        assert all(f in text for f in ["t.parquet", *fragments]), (name, text)


def deploy(tmp_path, *extra):
    schedule = write(tmp_path / "s.csv", "timestamp,power_w\n2024-06-05T00:00:00+00:00,0\n")
    return runner.invoke(app, ["deploy", "--policy", str(schedule), "--dry-run",
                               "--audit", str(tmp_path / "audit.csv"), *extra])


def test_cli_arguments_are_checked_before_any_work(tmp_path):
    part = contract(days=1).iloc[10:60]
    write_table(part, tmp_path / "part.parquet")
    cases = [
        (["index", "--data", str(tmp_path / "part.parquet"), "--out", str(tmp_path / "i")],
         ["part.parquet", "no complete Berlin delivery day"]),
        (["index", "--out", str(tmp_path / "i"), "--energy-mwh", "nan"], ["--energy-mwh", "nan"]),
        (["index", "--out", str(tmp_path / "i"), "--power-mw", "inf"], ["--power-mw", "inf"]),
        (["data", "synth", "--out", str(tmp_path / "x.parquet"), "--start", "2024-06-05", "--end", "2024-06-05"],
         ["end 2024-06-05 must be after start 2024-06-05"]),
    ]
    for args, fragments in cases:
        result = runner.invoke(app, args)
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (args, text, result.exception)
        assert all(f in text for f in fragments), (args, text)
    for extra, fragments in [(("--cycle-s", "0"), ["--cycle-s", "> 0"]), (("--cycle-s", "-1"), ["--cycle-s"]),
                             (("--cycle-s", "nan"), ["--cycle-s"]), (("--cycles", "-5"), ["--cycles", ">= 1"]),
                             (("--cycles", "0"), ["--cycles"])]:
        result = deploy(tmp_path, *extra)
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (extra, text, result.exception)
        assert all(f in text for f in fragments), (extra, text)
    assert not (tmp_path / "audit.csv").exists()


def test_control_simulate_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["control", "simulate", "--port", str(port)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (text, result.exception)
    assert f"127.0.0.1:{port}" in text and "in use" in text


def test_config_errors_keep_their_square_brackets_and_name_the_field(tmp_path):
    result = runner.invoke(app, ["train", "--set", "battery.soc_initial=1.5", "--out", str(tmp_path / "t")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "soc_initial must lie in [soc_min, soc_max]" in text, text
    result = runner.invoke(app, ["train", "--set", "battery.energy_mwh=1e400", "--out", str(tmp_path / "t")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "energy_mwh must be a finite number" in text, text
    assert not (tmp_path / "t").exists()


DA_ONLY = MarketConfig(products=frozenset({"day_ahead"}))
BAD_OBJECTS = [
    (lambda: BatterySpec(power_mw=math.inf), "power_mw"),
    (lambda: BatterySpec(energy_mwh=math.inf), "energy_mwh"),
    (lambda: BatterySpec(energy_mwh=1e400), "energy_mwh"),
    (lambda: BatterySpec(degradation_cost_eur_mwh=math.inf), "degradation_cost_eur_mwh"),
    (lambda: BatterySpec(eta_charge=math.nan), "eta_charge"),
    (lambda: BatterySpec(soc_initial=math.nan), "soc_initial"),
    (lambda: BatterySpec(power_mw=1.0, aux_power_mw=0.9, eta_charge=0.5), "aux_power_mw"),
    (lambda: MarketConfig(non_delivery_penalty_eur_mwh=math.nan), "non_delivery_penalty_eur_mwh"),
    (lambda: MarketConfig(intraday_fee_eur_mwh=math.nan), "intraday_fee_eur_mwh"),
    (lambda: MarketConfig(fcr_hold_h=-1.0), "fcr_hold_h"),
    (lambda: MarketConfig(imbalance_markup_eur_mwh=math.inf), "imbalance_markup_eur_mwh"),
    (lambda: SiteSpec(pv_mwp=math.nan), "pv_mwp"),
    (lambda: SiteSpec(grid_limit_mw=math.inf), "grid_limit_mw"),
    (lambda: Reliability(mtbf_h=math.nan), "mtbf_h"),
    (lambda: Reliability(mttr_h=math.inf), "mttr_h"),
    (lambda: SingleBESSEnv(contract(), market_config=DA_ONLY, reward_scale=math.nan), "reward_scale"),
    (lambda: SingleBESSEnv(contract(), market_config=DA_ONLY, forecast="noisy", forecast_sigma=math.nan),
     "forecast_sigma"),
]


@pytest.mark.parametrize(("make", "name"), BAD_OBJECTS, ids=[b[1] + str(i) for i, b in enumerate(BAD_OBJECTS)])
def test_non_finite_and_out_of_range_parameters_are_named(make, name):
    with pytest.raises(ValueError, match=name):
        make()


# every command of the CLI with an input it must refuse by name (a new command must add its case here)
MISSING = "missing.parquet"
COMMAND_CASES = {
    "benchmark run": (["--task", "nosuch"], ["unknown task 'nosuch'", "intraday-2h-v0"]),
    "benchmark table": (["--out", "none"], ["none", "no benchmark results"]),
    "benchmark tasks": None,  # takes no input
    "benchmark tune": (["--task", "nosuch"], ["unknown task 'nosuch'"]),
    "colocation modes": (["--data", MISSING], [MISSING, "file not found"]),
    "colocation sizing": (["--data", MISSING], [MISSING, "file not found"]),
    "compare": (["--experiment", "nosuch"], ["no runs in experiment 'nosuch'"]),
    "control simulate": (["--port", "70000"], ["--port", "less than or equal to 65535"]),
    "data calibrate": (["--synthetic", MISSING, "--real", MISSING], [MISSING]),
    "data fetch": (["--start", "2024-06-05", "--end", "2024-06-01", "--out", "f.parquet"],
                   ["--start 2024-06-05 must be before --end 2024-06-01"]),
    "data import": (["--series", "da_price=missing.csv", "--unit", "EUR/MWh", "--out", "i.parquet"],
                    ["missing.csv", "file not found"]),
    "data synth": (["--out", "x.parquet", "--start", "2024-06-05", "--end", "2024-06-05"],
                   ["end 2024-06-05 must be after start 2024-06-05"]),
    "data validate": ([MISSING], [MISSING, "file not found"]),
    "env describe": (["bessgym/Nosuch-v0"], ["unknown env id 'bessgym/Nosuch-v0'", "bessgym/SingleBESS-v1"]),
    "env ids": None,  # takes no input
    "deploy": (["--policy", "missing.onnx", "--dry-run"], ["--policy missing.onnx", "no such file"]),
    "evaluate": (["-c", "missing.yaml"], ["missing.yaml", "cannot read the configuration"]),
    "index": (["--data", MISSING, "--out", "i"], [MISSING, "file not found"]),
    "multimarket": (["--data", MISSING], [MISSING, "file not found"]),
    "portfolio compare": (["--data", MISSING], [MISSING, "file not found"]),
    "portfolio scale": (["--data", MISSING], [MISSING, "file not found"]),
    "run": (["-c", "missing.yaml"], ["missing.yaml", "cannot read the configuration"]),
    "schedule": (["--data", MISSING, "--out", "s.csv"], [MISSING, "file not found"]),
    "sweep": (["--grid", "missing.yaml"], ["missing.yaml", "cannot read the grid"]),
    "train": (["-c", "missing.yaml"], ["missing.yaml", "cannot read the configuration"]),
}


def cli_commands() -> list[str]:
    from typer.main import get_command

    def walk(command, prefix=()):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, (*prefix, name))
        else:
            yield " ".join(prefix)

    return sorted(walk(get_command(app)))


def test_every_command_has_a_bad_input_case():
    assert sorted(COMMAND_CASES) == cli_commands()


@pytest.mark.parametrize("command", sorted(c for c, case in COMMAND_CASES.items() if case))
def test_every_command_refuses_a_bad_input_by_name(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    args, fragments = COMMAND_CASES[command]
    result = runner.invoke(app, [*command.split(), *args])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (text, result.exception)
    assert all(f in text for f in fragments), text
    assert "Traceback" not in text and list(tmp_path.glob("*.parquet")) == []
