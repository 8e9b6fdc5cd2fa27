"""The learned agents on a benchmark task: each variant trained per seed, evaluated on the held-out test days
like the baselines (``experiments.benchmark.run``), with its learning curve against wall-clock time.

    python scripts/learning_report.py --task intraday-2h --variants ppo,ppo_features,maskable_ppo_features \\
        --seeds 3 --days 28 --train-steps 200000 --out runs/learning

A variant may name its own number of seeds and of training steps: ``maskable_ppo_features:1``,
``bc_maskable_ppo_features:3:100000``. A ``_fast`` variant trains on the
batched env with a batched update (:data:`FAST`) for 10x ``--train-steps``: it is compared at equal wall-clock.

Writes ``<out>/<task>/<variant>/`` (the benchmark's results and training runs), ``<out>/<task>/summary.csv``
(one row per variant and seed), ``<out>/<task>/learning_wall_clock.png`` (share of the perfect-foresight LP on
the first ``train.eval_days`` test days against training minutes) and prints the table. A result already
written for the same configuration is reused, so an interrupted report resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bessgym._io import atomic_path
from experiments import benchmark
from experiments.plots import save_figure
from experiments.tasks import task as find_task

FEATURES = {"env.observation_features": ["relative_prices", "quantile_spreads", "time_to_gate"]}
# the batched env with the update batched to keep up with it (benchmarks/train_speed.py): 16 groups of 32 copies,
# rollouts of 32 steps each (16,384), minibatches of 4,096, 2 epochs; it sees 10x the steps in the same time
FAST = {"train.n_envs": 16, "train.batched_copies": 32,
        "train.hyperparameters": {"n_steps": 32, "batch_size": 4096, "n_epochs": 2}}
VARIANTS: dict[str, tuple[str, dict, int]] = {  # name -> (benchmark learner, configuration overrides, steps factor)
    "ppo": ("ppo", {}, 1),
    "ppo_features": ("ppo", FEATURES, 1),
    "ppo_features_fast": ("ppo", {**FEATURES, **FAST}, 10),
    "maskable_ppo": ("maskable_ppo", {}, 1),
    "maskable_ppo_features": ("maskable_ppo", FEATURES, 1),
    "bc_ppo": ("bc_ppo", {}, 1),
    "bc_ppo_features": ("bc_ppo", FEATURES, 1),
    "bc_maskable_ppo_features": ("bc_maskable_ppo", FEATURES, 1),
    "bc_ppo_features_dagger": ("bc_ppo", {**FEATURES, "train.dagger_rounds": 3}, 1),
    "bc_maskable_ppo_features_dagger": ("bc_maskable_ppo", {**FEATURES, "train.dagger_rounds": 3}, 1),
}


def report(task_name: str, variants: list[str], seeds: int, days: int, train_steps: int, out: Path) -> pd.DataFrame:
    task = find_task(task_name)
    rows, curves = [], []
    for spec in variants:
        variant, _, rest = spec.partition(":")
        own_seeds, _, own_steps = rest.partition(":")
        agent, overrides, factor = VARIANTS[variant]
        folder = out / task.id / variant
        steps = int(own_steps or train_steps) * factor
        cadence = {"train.eval_every_steps": max(steps // 8, 1), "train.eval_days": 14}
        results = benchmark.run(task, agent, range(int(own_seeds or seeds)), folder, days=days, train_steps=steps,
                                overrides={**cadence, **overrides}, progress=print)
        for r in results:
            m = r["metrics"]
            rows.append({"variant": variant, "seed": r["seed"], "share_of_pf_lp": m["share_of_pf_lp"],
                         "share_of_index_trading": m.get("share_of_index_trading", float("nan")),
                         "eur_per_mw_year": m["annualised_eur_per_mw_year"], "train_s": r["train_s"],
                         "train_steps": r["train_steps"], "days": r["days"]})
            curve = benchmark.result_path(folder, task, agent, r["seed"]).parent / f"seed_{r['seed']}_train" / \
                "learning_curve.csv"
            if curve.exists():
                curves.append(pd.read_csv(curve).assign(variant=variant, seed=r["seed"]))
    summary = pd.DataFrame(rows)
    with atomic_path(out / task.id / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False)
    if curves:
        _plot(pd.concat(curves), out / task.id / "learning_wall_clock.png", task.id)
    return summary


def _plot(curves: pd.DataFrame, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, (variant, group) in enumerate(curves.groupby("variant", sort=False)):
        for j, (_, seed) in enumerate(group.groupby("seed")):
            ax.plot(seed["wall_s"] / 60, 100 * seed["share_of_pf_lp"], marker="o", ms=3, color=f"C{k}",
                    alpha=0.8, label=variant if j == 0 else None)
    ax.set(xlabel="training wall-clock [min] (2 cores, evaluations included)",
           ylabel="share of the perfect-foresight LP [%]", title=f"{title}: learning against wall-clock time "
           "(first 14 test days)", xlim=(0, None))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="intraday-2h")
    parser.add_argument("--variants", default="ppo,ppo_features,maskable_ppo_features,bc_ppo_features")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--train-steps", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("runs/learning"))
    args = parser.parse_args()
    summary = report(args.task, args.variants.split(","), args.seeds, args.days, args.train_steps, args.out)
    table = summary.groupby("variant", sort=False).agg(
        share=("share_of_pf_lp", "mean"), share_std=("share_of_pf_lp", "std"),
        index_share=("share_of_index_trading", "mean"), train_min=("train_s", lambda s: s.mean() / 60),
        seeds=("seed", "nunique"))
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
