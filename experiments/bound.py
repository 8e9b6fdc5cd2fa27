"""Does each task's reference (strategy ``lp``, the 100 % of every share) bound its baselines, and does
imperfect foresight cost?

For a task, a number of test days and an evaluation seed (the noisy baselines' forecast draw, the portfolio's
outages): every baseline's revenue over the period, its share of the reference's, and on how many days it earned
more than the reference (a day may: a plan that carries energy over midnight earns it the next day). Over seeds,
each noisy baseline's mean against its perfect-foresight twin (:data:`NOISY_TWINS`).
``benchmarks/reference_bound.py`` runs it; ``tests/test_bound_long.py`` asserts it on 28 days and seeds 0-2.
"""

from __future__ import annotations

import pandas as pd

from experiments.tasks import Task

NOISY_TWINS = {"lp_noisy": "lp", "lp_cascade_noisy": "lp_cascade", "multimarket_noisy": "multimarket"}
TOLERANCE = 1e-6  # relative: the LP's optimality tolerance is far below; rounding in the env is not


def shares(task: Task, days: int, seed: int) -> pd.DataFrame:
    """One row per baseline of ``task``: revenue [EUR], its share of the reference's, days above the reference."""
    from experiments.evaluate import evaluate_strategies, evaluation_period

    config = task.config(seed, days=days, **{"evaluate.strategies": list(task.baselines)})
    _, market = evaluation_period(config, config.eval_market.load())
    evaluations = evaluate_strategies(config, market)
    reference = evaluations["lp"]
    daily = reference.daily()["total"]
    return pd.DataFrame([{"task": task.id, "seed": seed, "baseline": name, "revenue_eur": e.reward_eur,
                          "share_of_reference": e.reward_eur / reference.reward_eur,
                          "days_above": int((e.daily()["total"] > daily + 1e-6).sum()), "days": len(daily)}
                         for name, e in evaluations.items()])


def above_reference(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`shares` tables whose baseline earned more than the reference over the period."""
    return table[table["share_of_reference"] > 1.0 + TOLERANCE]


def noisy_against_perfect(table: pd.DataFrame) -> pd.DataFrame:
    """Per task and noisy baseline of :func:`shares` tables: its mean revenue over the seeds, its twin's (the
    same for every seed but where the seed draws outages) and the mean difference [EUR]."""
    mean = table.groupby(["task", "baseline"])["revenue_eur"].mean()
    rows = [{"task": t, "noisy": noisy, "perfect": perfect, "noisy_eur": mean[t, noisy],
             "perfect_eur": mean[t, perfect], "difference_eur": mean[t, noisy] - mean[t, perfect]}
            for t in table["task"].unique() for noisy, perfect in NOISY_TWINS.items()
            if (t, noisy) in mean.index and (t, perfect) in mean.index]
    return pd.DataFrame(rows, columns=["task", "noisy", "perfect", "noisy_eur", "perfect_eur", "difference_eur"])
