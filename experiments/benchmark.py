"""``bessgym benchmark run`` and ``table``: an agent on a task over seeds, and the leaderboard of what ran.

Each (task, agent, seed) is one result: the agent (a baseline, or PPO / SAC trained on the task's training
market with that seed) over the task's test days, against the task's perfect-foresight LP of the same seed
and the revenue index's strategies for the task's battery. It is written atomically to
``<out>/<task id>/<agent>/seed_<k>.json`` and logged to MLflow (experiment ``benchmark-<task id>``, tags task,
agent, seed, code version). A rerun skips the results already there for the same task version, test days
and markets, so an interrupted suite resumes. The leaderboard is made only from these files: mean and
standard deviation over seeds per task, agent and test period.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bessgym import __version__
from bessgym._io import atomic_path
from bessgym.data.calendar import MARKET_TZ
from experiments import baselines, tracking
from experiments.bound import TOLERANCE
from experiments.config import ExperimentConfig
from experiments.evaluate import evaluate_strategies, evaluation_period, not_applicable
from experiments.tasks import CLONE_FINE_TUNING_STEPS, PER_ASSET, SYNTHETIC, SYNTHETIC_TRAINING, Task, learner

# the leaderboard's columns: result metric -> heading
COLUMNS = {"annualised_eur_per_mw_year": "EUR/MW/year", "share_of_pf_lp": "share of the task's PF LP",
           "share_of_index_daily_optimization": "share of index daily opt.",
           "penalties_eur_per_mw_year": "penalties EUR/MW/year", "cycles_per_day": "cycles/day"}


def code_version() -> str:
    """The package version and, in a git checkout, the commit (``+dirty`` with uncommitted changes)."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{sha}{'.dirty' if dirty else ''}"


def result_path(out: Path, task: Task, agent: str, seed: int) -> Path:
    return out / task.id / agent / f"seed_{seed}.json"


def check_agent(task: Task, agent: str) -> None:
    if agent not in task.agents:
        raise ValueError(f"agent {agent!r} is not a baseline of task {task.id}; its agents: {', '.join(task.agents)}")


def agent_fields(agent: str, overrides: dict[str, Any], train_steps: int | None) -> dict[str, Any]:
    """The configuration fields of ``agent``: a learner's algorithm and budget, per asset on a portfolio or
    trained on the synthetic year where it is named so; a clone (``bc_``) clones the LP first and is fine-tuned
    gently (:data:`~experiments.tasks.CLONE_FINE_TUNING_STEPS` unless ``train_steps`` is given, learning rate 1e-4
    unless ``overrides`` set one: longer or at PPO's default rate RL unlearns the clone); then ``overrides``."""
    fields = dict(overrides)
    if train_steps is not None:
        fields["train.total_steps"] = train_steps
    if (name := learner(agent)) is not None:
        fields["train.algorithm"] = name.removeprefix("bc_")
    if agent.endswith(PER_ASSET):
        fields["train.per_asset"] = True
    if agent.endswith(SYNTHETIC):  # transfer: trained on the synthetic year, tested on the real test days
        fields["train_market"] = SYNTHETIC_TRAINING.model_dump()
    if agent.startswith("bc_"):
        gentle = {"learning_rate": 1e-4, **fields.get("train.hyperparameters", {})}
        fields = {"train.clone_from": "lp", "train.total_steps": CLONE_FINE_TUNING_STEPS, **fields,
                  "train.hyperparameters": gentle}
    return fields


def run(task: Task, agent: str, seeds: Sequence[int], out: Path, *, days: int | None = None,
        train_data: Path | None = None, test_data: Path | None = None, real_data: Path | None = None,
        train_steps: int | None = None, overrides: dict[str, Any] | None = None,
        progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run ``agent`` on ``task`` for every seed (see the module docstring); returns the results. ``real_data``:
    the folder of a real-data task's files; ``overrides``: further configuration fields (e.g. a learner's
    ``train.hyperparameters``)."""
    check_agent(task, agent)
    results = []
    fields = agent_fields(agent, overrides or {}, train_steps)
    for seed in seeds:
        config = task.config(seed, train_data=train_data, test_data=test_data, days=days, real_data=real_data,
                             **fields)
        path = result_path(out, task, agent, seed)
        previous = _previous(path, task, config)
        if previous is not None:
            results.append(previous)
            continue
        if progress is not None:
            progress(f"{task.id}: {agent}, seed {seed}")
        results.append(run_one(task, agent, seed, config, path))
    return results


def run_one(task: Task, agent: str, seed: int, config: ExperimentConfig, path: Path) -> dict[str, Any]:
    """One agent on one seed: trained first if it learns, evaluated, written and logged."""
    start = time.perf_counter()
    learns = learner(agent) is not None
    strategy = "trained" if learns else agent
    why = not_applicable(strategy, config)
    if why:
        raise ValueError(f"{agent} cannot run on task {task.id}: {why}")
    period, market = evaluation_period(config, config.eval_market.load())
    reference = baselines.perfect_lp(config, period, market)
    model_dir, train_s = None, 0.0
    if learns:
        from experiments.train import train

        trained = train(config, path.parent / f"seed_{seed}_train")
        model_dir, train_s = trained.model_dir, time.perf_counter() - start
    evaluation = evaluate_strategies(config.with_overrides({"evaluate.strategies": [strategy]}), market,
                                     model_dir=model_dir, done={"lp": reference})[strategy]
    index = baselines.index(config, period).annualised() if task.index else None
    metrics = evaluation.metrics(lp_eur=reference.reward_eur, index=index)
    metrics["penalties_eur_per_mw_year"] = metrics["penalties_eur"] * 365.0 / metrics["days"] / evaluation.power_mw
    result = {"task": task.id, "agent": agent, "seed": seed, "days": int(metrics["days"]),
              "days_requested": config.evaluate.days,
              "period": "..".join(str(t.date()) for t in period.index[[0, -1]].tz_convert(MARKET_TZ)),
              "train_market": config.train_market.label(), "test_market": config.eval_market.label(),
              "power_mw": evaluation.power_mw, "reference": task.reference, "code_version": code_version(),
              "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "wall_s": time.perf_counter() - start, "train_s": train_s,
              "train_steps": config.train.total_steps if learns else 0,
              "train": config.train.model_dump(mode="json") if learns else {},
              "metrics": {k: float(v) for k, v in metrics.items()}}
    with tracking.run(config, f"{task.id}-{agent}-seed{seed}",
                      tags={"kind": "benchmark", "task": task.id, "agent": agent, "seed": str(seed),
                            "code_version": result["code_version"]}) as active:
        import mlflow

        mlflow.log_metrics(result["metrics"])
        result["mlflow_run_id"] = active.info.run_id
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    return result


def _previous(path: Path, task: Task, config: ExperimentConfig) -> dict[str, Any] | None:
    """The result already written for the same task version, test days, markets and, for a learner, training
    (its steps and, where recorded, every ``train`` field), if any."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    # the days asked for (None: the whole test market), so that a 28-day result is no whole-year one; older
    # results have only the days they ran
    days = config.evaluate.days
    same = (previous.get("task") == task.id and previous.get("test_market") == config.eval_market.label()
            and previous.get("train_market") == config.train_market.label()
            and previous.get("days_requested", previous.get("days")) == days)
    if previous.get("train_steps", 0) > 0:  # a learner; older results record only their steps
        same = same and previous["train_steps"] == config.train.total_steps and previous.get("train", {}) in (
            {}, config.train.model_dump(mode="json"))
    return previous if same else None


def load_results(out: Path) -> list[dict[str, Any]]:
    """Every result file under ``out`` (a file that cannot be read is named in the error)."""
    results = []
    for path in sorted(out.glob("*/*/seed_*.json")):
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a benchmark result ({exc})") from None
    return results


def leaderboard(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every metric in :data:`COLUMNS` and of a learner's training
    time, one row per task, test period and agent, best first within a task; a learner's training steps (the
    most of its seeds')."""
    if not results:
        return pd.DataFrame()
    rows = [{"task": r["task"], "days": r["days"], "test_market": r["test_market"], "agent": r["agent"],
             "seed": r["seed"], "reference": r.get("reference", ""), "train_steps": r.get("train_steps", 0),
             "train_min": r.get("train_s", 0.0) / 60 if r.get("train_steps") else np.nan,
             **{k: r["metrics"].get(k, np.nan) for k in COLUMNS}} for r in results]
    frame = pd.DataFrame(rows)
    keys = ["task", "days", "test_market", "agent"]
    grouped = frame.groupby(keys, sort=False)
    table = grouped[[*COLUMNS, "train_min"]].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table["seeds"] = grouped["seed"].nunique()
    table["train_steps"] = grouped["train_steps"].max()
    table["reference"] = grouped["reference"].first()  # what the task's 100 % is
    table = table.reset_index()
    return table.sort_values(["task", "days", "annualised_eur_per_mw_year_mean"],
                             ascending=[True, True, False]).reset_index(drop=True)


def _pm(mean: float, std: float, *, share: bool) -> str:
    if np.isnan(mean):
        return "-"
    if share:
        return f"{mean:.1%}" + ("" if np.isnan(std) else f" ± {std:.1%}")
    digits = 2 if abs(mean) < 100 else 0
    return f"{mean:,.{digits}f}" + ("" if np.isnan(std) else f" ± {std:,.{digits}f}")


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard with ``mean ± std`` cells and readable headings."""
    out = table[["task", "days", "agent", "seeds"]].copy()
    for metric, heading in COLUMNS.items():
        out[heading] = [_pm(m, s, share=metric.startswith("share")) for m, s in
                        zip(table[f"{metric}_mean"], table[f"{metric}_std"], strict=True)]
    out["RL steps"] = [f"{int(n):,}" if n else "-" for n in table["train_steps"]]
    out["training min"] = [_pm(m, s, share=False) for m, s in
                           zip(table["train_min_mean"], table["train_min_std"], strict=True)]
    return out


def above_reference_note(table: pd.DataFrame) -> str | None:
    """A sentence naming the rows of :func:`leaderboard` that earned more than their task's reference over their
    period, and why a short period can; None where none did."""
    above = table[table["share_of_pf_lp_mean"] > 1.0 + TOLERANCE]
    if above.empty:
        return None
    rows = ", ".join(f"{r.task} {r.agent} {r.share_of_pf_lp_mean:.1%} ({r.days} days)" for r in above.itertuples())
    return (f"Above the reference over this period: {rows}. The reference is the best daily plan we compute, not "
            "a proven optimum (docs/benchmark.md): over a few days a plan that carries energy over midnight, or "
            "one the env's 0.1 MW grid favours, can earn more; `make test-long` asserts the bound over 28 days "
            "and seeds 0-2 of every task.")


README_START, README_END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"


def write_into_readme(readme: Path, markdown: str) -> None:
    """Replace what lies between the leaderboard markers of ``readme`` by ``markdown`` (atomically)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme}: no {README_START} ... {README_END} markers to put the leaderboard between")
    with atomic_path(readme) as tmp:
        tmp.write_text(text[:start + len(README_START)] + "\n" + markdown.rstrip() + "\n" + text[end:])


def write_table(table: pd.DataFrame, out: Path, *, command: str) -> tuple[Path, Path]:
    """``leaderboard.csv`` (the numbers) and ``leaderboard.md`` (a Markdown table per task, with the command
    and the date it was made), both written atomically."""
    csv, md = out / "leaderboard.csv", out / "leaderboard.md"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    lines = [f"Generated by `{command}` on {dt.date.today().isoformat()} (mean ± std over seeds).", ""]
    shown = formatted(table)
    references = table.groupby("task")["reference"].first() if "reference" in table else {}
    for (task, days), part in shown.groupby(["task", "days"], sort=False):
        reference = f"; 100 % = {references[task]} in the env with perfect foresight" if references.get(task) else ""
        lines += [f"**{task}**, {days} test days{reference}", "", "| " + " | ".join(part.columns[2:]) + " |",
                  "|" + "---|" * (len(part.columns) - 2)]
        lines += ["| " + " | ".join(str(v) for v in row[2:]) + " |" for row in part.itertuples(index=False)]
        lines.append("")
    note = above_reference_note(table)
    if note:
        lines += [note, ""]
    with atomic_path(md) as tmp:
        tmp.write_text("\n".join(lines))
    return csv, md
