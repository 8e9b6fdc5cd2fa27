"""``bessgym evaluate``: every strategy on the held-out market, written to a folder and logged to MLflow.

Per strategy (folder ``<out>/<strategy>/`` and a nested MLflow run): ``revenue.csv`` (EUR per delivery day
and product; its ``total`` column sums to the logged ``revenue_eur``), ``dispatch.png`` (the first
``dispatch_days`` days), ``rolling.png`` (the strategy's rolling annualised revenue beside the index
strategies). The parent run holds the index baselines, ``comparison.csv`` and the index chart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from agents.index import IndexResult
from bessgym._io import atomic_path
from bessgym.data.calendar import MARKET_TZ
from experiments import tracking
from experiments.config import ExperimentConfig, dump_config
from experiments.evaluate import Evaluation, evaluate_strategies, evaluation_period, index_baseline
from experiments.plots import dispatch_figure, rolling_figure


@dataclass
class Report:
    comparison: pd.DataFrame  # one row per strategy and index strategy
    metrics: dict[str, dict[str, float]]
    out: Path
    run_id: str


def evaluate_run(config: ExperimentConfig, out: Path, *, model_dir: Path | None = None,
                 index: IndexResult | None = None, progress: Callable[[str], None] | None = None) -> Report:
    """Evaluate ``config.evaluate.strategies`` on ``config.eval_market`` and log everything. ``index``: the
    index baselines of the evaluated days, when already computed."""
    if "trained" in config.evaluate.strategies and model_dir is None:
        raise ValueError("strategy 'trained' needs --model (a folder written by bessgym train)")
    period, market = evaluation_period(config, config.eval_market.load())
    days = len(market.dates)
    if index is None:
        if progress is not None:
            progress("index baselines")
        index = index_baseline(config, period)
    elif len(index.daily) != days:
        raise ValueError(f"the given index covers {len(index.daily)} days, the evaluation {days}")
    index_year = index.annualised()
    evaluations = evaluate_strategies(config, market, model_dir=model_dir, progress=progress)
    lp_eur = evaluations["lp"].metrics()["revenue_eur"]

    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    metrics: dict[str, dict[str, float]] = {}
    with tracking.run(config, f"{config.name}-evaluate", tags={"kind": "evaluate"}) as parent:
        mlflow.log_metrics({f"index_{k}_eur_per_mw_year": float(v) for k, v in index_year.items()})
        for strategy, evaluation in evaluations.items():
            metrics[strategy] = evaluation.metrics(lp_eur=lp_eur, index=index_year)
            paths = _write_strategy(evaluation, index.daily, out / strategy, config)
            with tracking.run(config, f"{config.name}-{strategy}", nested=True,
                              tags={"kind": "evaluate", "strategy": strategy}):
                mlflow.log_metrics(metrics[strategy])
                tracking.log_artifacts(paths)
                if strategy == "trained":
                    tracking.log_artifacts([model_dir], artifact_path="model")
        comparison = comparison_table(metrics, index_year)
        with atomic_path(out / "comparison.csv") as tmp:
            comparison.to_csv(tmp)
        index_png = rolling_figure(index.daily, out / "index_rolling.png",
                                   title=f"Revenue index strategies, {config.eval_market.label()}")
        tracking.log_artifacts([out / "comparison.csv", index_png, out / "config.yaml"])
        run_id = parent.info.run_id
    return Report(comparison, metrics, out, run_id)


def _write_strategy(evaluation: Evaluation, index_daily: pd.DataFrame, folder: Path,
                    config: ExperimentConfig) -> list[Path]:
    """revenue.csv, dispatch.png and rolling.png of one strategy."""
    folder.mkdir(parents=True, exist_ok=True)
    daily = evaluation.daily()
    revenue = folder / "revenue.csv"
    with atomic_path(revenue) as tmp:
        daily.to_csv(tmp)
    local_days = evaluation.dispatch.index.tz_convert(MARKET_TZ).date
    first = sorted(set(local_days))[: config.evaluate.dispatch_days]
    shown = evaluation.dispatch[pd.Index(local_days).isin(first)]
    dispatch = dispatch_figure(shown, folder / "dispatch.png",
                               title=f"{evaluation.strategy}: {first[0]} .. {first[-1]}")
    per_mw = index_daily.join((daily["total"] / evaluation.power_mw).rename(evaluation.strategy), how="inner")
    rolling = rolling_figure(per_mw, folder / "rolling.png",
                             title=f"{evaluation.strategy} vs the revenue index, {config.eval_market.label()}")
    return [revenue, dispatch, rolling]


def comparison_table(metrics: dict[str, dict[str, float]], index_year: pd.Series) -> pd.DataFrame:
    """Strategies and index strategies side by side on the summary metrics."""
    rows = {name: {k: m.get(k) for k in tracking.SUMMARY_METRICS} for name, m in metrics.items()}
    lp = metrics["lp"]["annualised_eur_per_mw_year"]
    trading = index_year.get("trading")
    for name, value in index_year.items():
        rows[f"index: {name}"] = {"annualised_eur_per_mw_year": float(value),
                                  "share_of_pf_lp": value / lp if lp > 0 else None,
                                  "share_of_index_trading": value / trading if trading else None}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    return table
