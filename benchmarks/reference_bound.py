"""Does each task's reference (strategy ``lp``, the 100 % of every share) bound its baselines?

Every baseline of each one-battery task on its first ``--days`` test days, for each evaluation seed (the noisy
baselines' forecast draws): the period's revenue as a share of the reference's, and on how many days a baseline
earned more than the reference (a day may: a plan that carries energy over midnight earns it the next day).
Writes ``reference_bound.csv`` (one row per task, seed and baseline) and prints the largest share per task and
baseline.

    python benchmarks/reference_bound.py --days 28 --seeds 3 --out runs/reference_bound
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bessgym._io import atomic_path
from experiments.evaluate import evaluate_strategies, evaluation_period
from experiments.tasks import TASKS

ONE_BATTERY = [t for t in TASKS.values() if "env.kind" not in t.overrides]


def shares(task, days: int, seed: int) -> pd.DataFrame:
    """One row per baseline: revenue [EUR], its share of the reference's, days above the reference."""
    config = task.config(seed, days=days, **{"evaluate.strategies": list(task.baselines)})
    _, market = evaluation_period(config, config.eval_market.load())
    evaluations = evaluate_strategies(config, market)
    reference = evaluations["lp"]
    daily = reference.daily()["total"]
    return pd.DataFrame([{"task": task.id, "seed": seed, "baseline": name, "revenue_eur": e.reward_eur,
                          "share_of_reference": e.reward_eur / reference.reward_eur,
                          "days_above": int((e.daily()["total"] > daily + 1e-6).sum()), "days": len(daily)}
                         for name, e in evaluations.items()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(t.name for t in ONE_BATTERY))
    parser.add_argument("--out", type=Path, default=Path("runs/reference_bound"))
    args = parser.parse_args()
    chosen = [TASKS[name] for name in args.tasks.split(",")]
    table = pd.concat([shares(task, args.days, seed) for task in chosen for seed in range(args.seeds)])
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "reference_bound.csv") as tmp:
        table.to_csv(tmp, index=False)
    worst = table.groupby(["task", "baseline"]).agg(max_share=("share_of_reference", "max"),
                                                    days_above=("days_above", "sum"), days=("days", "sum"))
    print(worst.sort_values("max_share", ascending=False).to_string(float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
