"""Does each task's reference (strategy ``lp``, the 100 % of every share) bound its baselines, and do the noisy
baselines earn less than their perfect-foresight twins on average? (:mod:`experiments.bound`)

Every baseline of each task on its first ``--days`` test days, for each evaluation seed. Writes
``reference_bound.csv`` (one row per task, seed and baseline) and ``noisy_vs_perfect.csv``, and prints the largest
share per task and baseline and the noisy baselines' mean difference to their twins.

    python benchmarks/reference_bound.py --days 28 --seeds 3 --out runs/reference_bound
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from bessgym._io import atomic_path
from experiments.bound import noisy_against_perfect, shares
from experiments.tasks import TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated task names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/reference_bound"))
    args = parser.parse_args()
    started = time.perf_counter()
    chosen = [TASKS[name] for name in args.tasks.split(",")]
    table = pd.concat([shares(task, args.days, seed) for task in chosen for seed in range(args.seeds)])
    twins = noisy_against_perfect(table)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("reference_bound.csv", table), ("noisy_vs_perfect.csv", twins)):
        with atomic_path(args.out / name) as tmp:
            frame.to_csv(tmp, index=False)
    worst = table.groupby(["task", "baseline"]).agg(min_share=("share_of_reference", "min"),
                                                    max_share=("share_of_reference", "max"),
                                                    days_above=("days_above", "sum"), days=("days", "sum"))
    print(worst.sort_values("max_share", ascending=False).to_string(float_format=lambda x: f"{x:.4f}"))
    print(twins.to_string(index=False, float_format=lambda x: f"{x:,.0f}"))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
