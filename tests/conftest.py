"""Shared fixtures: the real data folder (../shared/data/real, skipped when absent) and small tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
# the CLI's tables as wide as in a log (experiments.cli._common), also in pytest-xdist workers, whose output may
# be a terminal: the tests read whole cells and headings
os.environ["COLUMNS"] = "200"


@pytest.fixture(scope="session", autouse=True)
def baseline_cache(tmp_path_factory):
    """Cached baselines (experiments.baselines) go to a folder of the test session, not the checkout."""
    os.environ["BESSGYM_CACHE"] = str(tmp_path_factory.mktemp("baselines"))


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """A private MLflow store for the test module (also seen by sweep workers through the environment)."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    yield uri
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old
    mlflow.set_tracking_uri(old or "")


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real market files not found at {REAL_DATA}")
    return REAL_DATA


def real_file(name: str) -> Path:
    path = REAL_DATA / name
    if not path.exists():
        pytest.skip(f"real market file {name} not found in {REAL_DATA}")
    return path


def contract_table(days: int = 2, start: str = "2024-03-01", **columns: np.ndarray) -> pd.DataFrame:
    """A valid quarter-hourly UTC table with a simple da_price, plus any given columns."""
    index = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=96 * days, freq="15min", name="timestamp")
    data = {"da_price": 50.0 + 30.0 * np.sin(np.arange(len(index)) * 2 * np.pi / 96)}
    data.update(columns)
    return pd.DataFrame(data, index=index)


def pytest_collection_modifyitems(items):
    """The docs pages' examples, the longest tests, start first, so that the pytest-xdist workers (a module, or
    a page, at a time) end together instead of one finishing a long page alone."""
    items.sort(key=lambda item: item.module.__name__ != "test_docs")
