"""MLflow conventions of bessgym runs.

The tracking store is MLflow's default, local in the working directory (``mlflow.db`` and ``mlruns/``);
``MLFLOW_TRACKING_URI`` overrides it (MLflow reads the variable itself). One MLflow experiment per
configuration ``name``; ``bessgym train`` makes one run, ``bessgym evaluate`` a parent run with one nested
run per strategy (tag ``strategy``).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd

from experiments.config import ExperimentConfig

# Column labels of ``bessgym compare`` and the comparison table: metric -> heading.
SUMMARY_METRICS = {
    "annualised_eur_per_mw_year": "EUR/MW/year",
    "share_of_pf_lp": "share of PF LP",
    "share_of_index_trading": "share of index trading",
    "cycles_per_day": "cycles/day",
    "penalties_eur": "penalties EUR",
}


def quiet() -> None:
    """MLflow's store set-up logs and SQLAlchemy deprecation warnings are not the user's business."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")
    warnings.filterwarnings("ignore", message=r".*noload.*")


@contextlib.contextmanager
def run(config: ExperimentConfig, run_name: str, *, run_id: str | None = None, nested: bool = False,
        tags: dict[str, str] | None = None) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run in the configuration's experiment, with the configuration as params (new runs only)."""
    quiet()
    mlflow.set_experiment(config.name)
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else run_name, nested=nested, tags=tags) as active:
        if run_id is None:
            mlflow.log_params(config.flat())
        yield active


def log_artifacts(paths: list[Path], artifact_path: str | None = None) -> None:
    for path in paths:
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_path)


def runs_table(experiment: str | None = None, max_runs: int = 50) -> pd.DataFrame:
    """Finished and running runs with their strategy and summary metrics, newest first."""
    quiet()
    names = [experiment] if experiment else [e.name for e in mlflow.search_experiments()]
    if not names:
        return pd.DataFrame()
    runs = mlflow.search_runs(experiment_names=names, max_results=max_runs, order_by=["attributes.start_time DESC"],
                              output_format="pandas")
    if runs.empty:
        return runs
    cols = {"run_id": "run", "tags.mlflow.runName": "name", "tags.strategy": "strategy", "start_time": "started"}
    cols.update({f"metrics.{k}": v for k, v in SUMMARY_METRICS.items()})
    present = {k: v for k, v in cols.items() if k in runs.columns}
    table = runs[list(present)].rename(columns=present)
    table["run"] = table["run"].str[:8]
    return table
