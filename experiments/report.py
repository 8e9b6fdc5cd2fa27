"""``bessgym evaluate``: every strategy on the held-out market, written to a folder and logged to MLflow.

Per strategy (folder ``<out>/<strategy>/`` and a nested MLflow run): ``revenue.csv`` (EUR per delivery day
and product; its ``total`` column sums to the logged ``revenue_eur``), ``dispatch.parquet`` (every
quarter-hour: prices, positions, trades, reserves, activations, SoC, cash flows), ``dispatch.png``
(``dispatch_days`` days from ``dispatch_start``), ``rolling.png`` (the strategy's rolling annualised revenue
beside the index strategies). The parent run holds the index baselines, ``comparison.csv``,
``comparison.png`` and the index chart.
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
from experiments import baselines, tracking
from experiments.config import LEARNED, MODEL_OPTIONS, ExperimentConfig, dump_config
from experiments.evaluate import Evaluation, evaluate_strategies, evaluation_period, not_applicable
from experiments.plots import REFERENCE, comparison_figure, dispatch_figure, rolling_figure
from experiments.tables import SUMMARY_METRICS


@dataclass
class Report:
    comparison: pd.DataFrame  # one row per strategy and index strategy
    metrics: dict[str, dict[str, float]]
    out: Path
    run_id: str
    period: str  # the evaluated days, "first .. last (N days)"
    notes: list[str]  # on the index strategies (skipped, partial, other markets)


def evaluate_run(config: ExperimentConfig, out: Path, *, model_dir: Path | None = None,
                 baseline_dir: Path | None = None, index: IndexResult | None = None,
                 done: dict[str, Evaluation] | None = None, progress: Callable[[str, int], None] | None = None,
                 cache: bool = True) -> Report:
    """Evaluate ``config.evaluate.strategies`` on ``config.eval_market`` and log everything. ``index``: the
    index baselines of the evaluated days, when already computed; ``done``: strategies already evaluated on
    them (:func:`baseline_evaluations`); ``cache``: reuse (and keep) the index and the perfect-foresight LP of
    the same market, battery and env (:mod:`experiments.baselines`). ``progress(what, days done)``. The
    learners come from ``model_dir`` (``trained``) and ``baseline_dir`` (``rl_baseline``), folders written by
    ``bessgym train``."""
    models = {"trained": model_dir, "rl_baseline": baseline_dir}
    for strategy, option in MODEL_OPTIONS.items():
        if strategy in config.evaluate.strategies and models[strategy] is None:
            raise ValueError(f"strategy {strategy!r} needs {option} (a folder written by bessgym train)")
    period, market = evaluation_period(config, config.eval_market.load())
    days = len(market.dates)
    if index is None:
        index = baselines.index(config, period, use_cache=cache)
    elif len(index.daily) != days:
        raise ValueError(f"the given index covers {len(index.daily)} days, the evaluation {days}")
    index_year = index.annualised()
    lp = baselines.perfect_lp(config, period, market, use_cache=cache, progress=progress)
    evaluations = evaluate_strategies(config, market, model_dir=model_dir, baseline_dir=baseline_dir,
                                      progress=progress, done={**(done or {}), "lp": lp})
    lp_eur = evaluations["lp"].metrics()["revenue_eur"]

    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    metrics: dict[str, dict[str, float]] = {}
    with tracking.run(config, f"{config.name}-evaluate", tags={"kind": "evaluate"}) as parent:
        mlflow.log_metrics({f"index_{k}_eur_per_mw_year": float(v) for k, v in index_year.items()})
        for strategy, evaluation in evaluations.items():
            metrics[strategy] = evaluation.metrics(lp_eur=lp_eur, index=index_year)
            reference = None if strategy == "lp" else evaluations["lp"].daily()["total"] / evaluations["lp"].power_mw
            paths = _write_strategy(evaluation, index.daily, out / strategy, config, reference)
            with tracking.run(config, f"{config.name}-{strategy}", nested=True,
                              tags={"kind": "evaluate", "strategy": strategy}):
                mlflow.log_metrics(metrics[strategy])
                tracking.log_artifacts(paths)
                if strategy in models:
                    tracking.log_artifacts([models[strategy]], artifact_path="model")
        skipped = {s: why for s in config.evaluate.strategies if (why := not_applicable(s, config))}
        comparison = comparison_table(metrics, index_year, skipped)
        with atomic_path(out / "comparison.csv") as tmp:
            comparison.to_csv(tmp)
        days_label = period_label(list(index.daily.index))
        index_png = rolling_figure(index.daily, out / "index_rolling.png",
                                   title=f"Revenue index strategies, {days_label}")
        chart = comparison_figure(comparison, out / "comparison.png",
                                  title=f"{config.name}: strategies and the revenue index, {days_label}")
        tracking.log_artifacts([out / "comparison.csv", chart, index_png, out / "config.yaml"])
        run_id = parent.info.run_id
    return Report(comparison, metrics, out, run_id, period_label(list(index.daily.index)), index_notes(config, index))


def baseline_evaluations(config: ExperimentConfig, *, cache: bool = True) -> dict[str, Evaluation]:
    """Every configured strategy but the learners on the evaluation days, the perfect-foresight LP from (and
    into) the cache: what a run can evaluate while its learners train (``bessgym run`` does, in a second
    process)."""
    period, market = evaluation_period(config, config.eval_market.load())
    lp = baselines.perfect_lp(config, period, market, use_cache=cache)
    others = [s for s in config.evaluate.strategies if s not in LEARNED] or ["lp"]
    return evaluate_strategies(config.with_overrides({"evaluate.strategies": others}), market, done={"lp": lp})


def period_label(dates) -> str:
    """``first .. last (N days)`` of a sequence of delivery dates."""
    return f"{dates[0]} .. {dates[-1]} ({len(dates)} days)"


def _write_strategy(evaluation: Evaluation, index_daily: pd.DataFrame, folder: Path,
                    config: ExperimentConfig, reference: pd.Series | None = None) -> list[Path]:
    """revenue.csv, dispatch.parquet, dispatch.png and rolling.png of one strategy (beside the index and the
    ``reference``, the perfect-foresight LP's EUR/MW per day)."""
    folder.mkdir(parents=True, exist_ok=True)
    daily = evaluation.daily()
    revenue, table = folder / "revenue.csv", folder / "dispatch.parquet"
    with atomic_path(revenue) as tmp:
        daily.to_csv(tmp)
    with atomic_path(table) as tmp:
        evaluation.dispatch.to_parquet(tmp)
    shown_days = dispatch_days(list(daily.index), config)
    local_days = pd.Index(evaluation.dispatch.index.tz_convert(MARKET_TZ).date)
    dispatch = dispatch_figure(evaluation.dispatch[local_days.isin(shown_days)], folder / "dispatch.png",
                               title=f"{evaluation.strategy}: {period_label(shown_days)}",
                               energy_mwh=evaluation.energy_mwh, power_mw=evaluation.power_mw)
    per_mw = index_daily.join((daily["total"] / evaluation.power_mw).rename(evaluation.strategy), how="inner")
    if reference is not None:
        per_mw = per_mw.join(reference.rename(REFERENCE), how="inner")
    rolling = rolling_figure(per_mw, folder / "rolling.png", highlight=evaluation.strategy,
                             title=f"{evaluation.strategy} vs the revenue index, {period_label(list(daily.index))}")
    return [revenue, table, dispatch, rolling]


def dispatch_days(days: list, config: ExperimentConfig) -> list:
    """The delivery days a dispatch chart shows: ``dispatch_days`` from ``dispatch_start`` (default the first)."""
    start = config.evaluate.dispatch_start or days[0]
    if start not in days:
        raise ValueError(f"evaluate.dispatch_start {start} is not an evaluated day ({period_label(days)})")
    first = days.index(start)
    return days[first:first + config.evaluate.dispatch_days]


def comparison_table(metrics: dict[str, dict[str, float]], index_year: pd.Series,
                     not_applicable: dict[str, str] | None = None) -> pd.DataFrame:
    """Strategies, then index strategies, each best first, on the summary metrics; strategies that do not
    apply to the env last, with the reason in ``note``. A strategy evaluated over forecast draws shows their
    mean revenue and share, and their standard deviation beside (its cycles and penalties are the first
    draw's, whose artifacts are written)."""
    rows = {name: {k: m.get(k) for k in SUMMARY_METRICS} for name, m in metrics.items()}
    lp = metrics["lp"]["annualised_eur_per_mw_year"]
    trading = index_year.get("trading")
    for name, value in index_year.items():
        rows[f"index: {name}"] = {"annualised_eur_per_mw_year": float(value),
                                  "share_of_pf_lp": value / lp if lp > 0 else None,
                                  "share_of_index_trading": value / trading if trading else None}
    for name, m in metrics.items():  # a noisy baseline: the mean over its forecast draws, and their spread
        if "annualised_mean_eur_per_mw_year" in m:
            rows[name] |= {"annualised_eur_per_mw_year": m["annualised_mean_eur_per_mw_year"],
                           "std_over_draws_eur_per_mw_year": m["annualised_std_eur_per_mw_year"],
                           "share_of_pf_lp": m.get("share_of_pf_lp_mean"), "draws": int(m["draws"])}
    table = pd.DataFrame.from_dict(rows, orient="index")
    spread = [c for c in ("std_over_draws_eur_per_mw_year", "draws") if c in table]
    table = table[["annualised_eur_per_mw_year", *spread, *(c for c in table if c not in spread
                                                             and c != "annualised_eur_per_mw_year")]]
    table.index.name = "strategy"
    table["is_index"] = table.index.str.startswith("index: ")
    table = table.sort_values(["is_index", "annualised_eur_per_mw_year"], ascending=[True, False])
    table = table.drop(columns="is_index")
    if not_applicable:
        table["note"] = ""
        for name, why in not_applicable.items():
            table.loc[name] = {**dict.fromkeys(SUMMARY_METRICS), "note": f"not applicable: {why}"}
    return table


INDEX_MARKETS = {"fcr": ("fcr",), "afrr_capacity": ("afrr_capacity",), "trading": ("intraday",),
                 "day_ahead_trading": ("day_ahead",), "afrr_and_trading": ("afrr_capacity", "intraday")}


def index_notes(config: ExperimentConfig, index: IndexResult) -> list[str]:
    """What to say beside the comparison: index strategies skipped or computed on part of their definition,
    and markets the index earns in that the evaluated env does not trade (a share of the PF LP, which trades
    only the env's markets, can then exceed 100 %)."""
    notes = [f"index {name} skipped: {why}" for name, why in index.skipped.items()]
    notes += [f"index {name}: {note}" for name, note in index.notes.items()]
    used = {market for name in index.daily.columns for market in INDEX_MARKETS.get(name, ())}
    others = sorted(used - set(config.env.products))
    if others:
        notes.append(f"the index earns in {', '.join(others)}, which this env does not trade "
                     f"({', '.join(config.env.products)}): its share of the PF LP can exceed 100 %")
    return notes
