"""Real-data tasks: their tables are built from the public files named by checksum (never shipped), a file that
is missing or differs is named, and the benchmark runs baselines and learners (trained on real or synthetic
data) on them. The files are read from ../shared/data/real; those tests skip where it is absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bessgym.data import datasets, read_table
from bessgym.data.calendar import MARKET_TZ
from bessgym.data.datasets import DATA_ENV, DATASETS
from bessgym.errors import MarketDataError
from experiments import benchmark
from experiments.tasks import REAL_TASKS, TASKS, task

# Berlin delivery days each dataset covers (what its files share), and its columns
SPANS = {"de-2024-da-afrr": ("2024-01-01", "2024-08-31", {"da_price", "afrr_cap_pos_price", "afrr_cap_neg_price",
                                                          "afrr_cap_pos_marginal", "afrr_cap_neg_marginal"}),
         "de-2026h1": ("2026-01-01", "2026-06-28", {"da_price", "id1_price", "imbalance_price", "fcr_price"})}


def test_every_dataset_builds_from_its_checked_files(real_data, tmp_path, monkeypatch):
    for name, dataset in DATASETS.items():
        path = dataset.build(real_data, tmp_path)
        assert path.name == f"{name}-{dataset.digest}.parquet"
        table = read_table(path)
        first, last, columns = SPANS[name]
        days = table.index.tz_convert(MARKET_TZ).date
        assert (str(days[0]), str(days[-1])) == (first, last) and set(table.columns) == columns
        assert len(table) == len(pd.date_range(table.index[0], table.index[-1], freq="15min"))  # no gap
        files = table.attrs["provenance"]["files"]
        assert {f.path: f.sha256 for f in dataset.files} == {k: v["sha256"] for k, v in files.items()}
        built = path.stat().st_mtime_ns
        assert dataset.build(real_data, tmp_path) == path and path.stat().st_mtime_ns == built  # from the cache
    # the code that reads the files changed: the table is built again, under the same name
    monkeypatch.setattr(datasets, "_reader_digest", lambda: "another")
    assert dataset.build(real_data, tmp_path) == path and read_table(path).attrs["provenance"]["reader"] == "another"


def test_a_missing_or_changed_file_is_named_with_what_to_do(real_data, tmp_path):
    dataset = DATASETS["de-2024-da-afrr"]
    smard, afrr = dataset.files
    copy = tmp_path / "files"
    copy.mkdir()
    shutil.copy(real_data / smard.path, copy / smard.path)
    with (copy / smard.path).open("ab") as fh:
        fh.write(b"\n")
    with pytest.raises(MarketDataError) as error:
        dataset.build(copy, tmp_path / "cache")
    message = str(error.value)
    assert f"{smard.path}: SHA-256" in message and f"expected {smard.sha256}" in message
    assert f"{afrr.path}: missing (regelleistung.net" in message and "--real-data" in message
    assert not (tmp_path / "cache").exists()
    # files downloaded into one folder are found by their names
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in DATASETS["de-2026h1"].files:
        (flat / Path(f.path).name).symlink_to(real_data / f.path)
    assert DATASETS["de-2026h1"].build(flat, tmp_path / "cache").exists()


def test_a_real_task_without_its_folder_says_which_files_it_needs(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(ValueError, match=r"prices_IDC_example\.csv.*--real-data or \$BESSGYM_REAL_DATA"):
        task("intraday-2h-real").config(0)
    assert not set(REAL_TASKS) & set(TASKS)  # `--task all` and the quick suite need no real file


def test_real_tasks_run_baselines_and_learners_trained_on_real_or_synthetic_days(real_data, tmp_path, tracking):
    t = task("intraday-2h-real")
    [lp] = benchmark.run(t, "lp", [0], tmp_path, days=2, real_data=real_data)
    [rule] = benchmark.run(t, "price_threshold", [0], tmp_path, days=2, real_data=real_data)
    assert lp["metrics"]["share_of_pf_lp"] == pytest.approx(1.0) and lp["period"] == "2026-04-01..2026-04-02"
    assert 0 < rule["metrics"]["annualised_eur_per_mw_year"] < lp["metrics"]["annualised_eur_per_mw_year"]
    assert lp["test_market"].endswith("2026-04-01..2026-06-29") and "de-2026h1-" in lp["test_market"]
    assert t.config(0, real_data=real_data).train_market.label().endswith("2026-01-01..2026-04-01")  # a learner's
    [transfer] = benchmark.run(t, "ppo_synthetic", [0], tmp_path, days=1, train_steps=256, real_data=real_data)
    assert transfer["train_market"] == "synthetic seed 0 2024-01-01..2025-01-01"
    assert transfer["test_market"] == lp["test_market"] and transfer["train_steps"] == 256
