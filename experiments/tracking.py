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
from experiments.tables import SUMMARY_METRICS


def quiet() -> None:
    """MLflow's store set-up logs and SQLAlchemy deprecation warnings are not the user's business."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")
    warnings.filterwarnings("ignore", message=r".*noload.*")


def prepare_store(*experiments: str) -> None:
    """Create the MLflow store (and these experiments) once, before processes write to it side by side: two that
    create a new SQLite store at once race on its schema."""
    quiet()
    for name in experiments:
        mlflow.set_experiment(name)
    if not experiments:
        mlflow.search_experiments(max_results=1)  # opening the store creates it


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
    """Runs with a result, newest first: name, kind, strategy, the summary metrics (a training run's are its
    last evaluation's) and the configuration keys in which the shown runs differ. Parent runs, which only
    group their strategies' runs, are left out."""
    quiet()
    names = [experiment] if experiment else [e.name for e in mlflow.search_experiments()]
    if not names:
        return pd.DataFrame()
    runs = mlflow.search_runs(experiment_names=names, max_results=max_runs, order_by=["attributes.start_time DESC"],
                              output_format="pandas")
    if runs.empty:
        return runs
    table = pd.DataFrame({"run": runs["run_id"].str[:8], "name": runs.get("tags.mlflow.runName"),
                          "kind": runs.get("tags.kind"), "strategy": runs.get("tags.strategy"),
                          "started": runs["start_time"]})
    for key in SUMMARY_METRICS:
        values = [runs[c] for c in (f"metrics.{key}", f"metrics.eval/{key}") if c in runs.columns]
        table[key] = values[0].combine_first(values[1]) if len(values) == 2 else (values[0] if values else None)
    table = table[table[list(SUMMARY_METRICS)].notna().any(axis=1)]
    params = runs.loc[table.index, [c for c in runs.columns if c.startswith("params.")]].replace("None", None)
    for c in [c for c in params.columns if params[c].nunique(dropna=False) > 1]:  # a key new in later runs is
        table[c.removeprefix("params.")] = params[c]  # None in them and missing in older ones: the same
    return table.reset_index(drop=True)
