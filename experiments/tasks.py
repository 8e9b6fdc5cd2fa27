"""The benchmark's named tasks: each fixes the env and its arguments, the training and test markets, the seeds,
the baselines that apply and the metrics' reference, so that two studies report comparable numbers.

A task is an :class:`~experiments.config.ExperimentConfig` with a name and a version; a change that alters its
numbers (env, assets, markets, products, budget) is a new version, so old results stay what they measured.
The tasks of :data:`TASKS` run offline on the synthetic markets (train: 2024, seed 0; test: 2025, seed 1); the
same task runs on a user's real contract tables with ``--train-data`` and ``--test-data``. Those of
:data:`REAL_TASKS` run on a real table built from public files the user has (:mod:`bessgym.data.datasets`).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bessgym.data.datasets import DATA_ENV, DATASETS
from experiments.config import ExperimentConfig, TrainConfig

MULTIMARKET = {"env.agent_stages": ["capacity", "day_ahead", "delivery"], "env.day_ahead_delegate": "none",
               "env.products": ["fcr", "afrr_capacity", "afrr_energy", "day_ahead", "intraday", "imbalance"]}
# trained on the task's training market, then evaluated like the baselines; bc_ppo: PPO (learning rate 1e-4,
# CLONE_FINE_TUNING_STEPS) after behaviour cloning of the perfect-foresight LP on 366 random training days;
# maskable_ppo: MaskablePPO on the env's action mask, 21 levels per action entry (agents.masked); bc_maskable_ppo:
# MaskablePPO after cloning the LP's levels (agents.imitation), fine-tuned as bc_ppo
LEARNERS = ("ppo", "sac", "bc_ppo", "maskable_ppo", "bc_maskable_ppo")
# a clone's RL fine-tuning by default (4 rollouts of 8 envs x 512 steps): longer RL erodes what cloning learnt
CLONE_FINE_TUNING_STEPS = 16_384
RULES = ("price_threshold", "time_of_day", "idle")
PER_ASSET = "_per_asset"  # on a portfolio, a learner that decides per asset (train.per_asset): ppo_per_asset, ...
SYNTHETIC = "_synthetic"  # on a real-data task, a learner trained on the synthetic year (transfer): ppo_synthetic, ...
SYNTHETIC_TRAINING = ExperimentConfig().train_market  # synthetic 2024, seed 0: every synthetic task's training year


@dataclass(frozen=True)
class RealData:
    """A real-data task's market: a dataset of :data:`bessgym.data.datasets.DATASETS`, its training and test
    delivery days (each [start, end))."""

    dataset: str
    train: tuple[dt.date, dt.date]
    test: tuple[dt.date, dt.date]

    def markets(self, folder: Path | None) -> dict[str, dict[str, Any]]:
        """``train_market`` and ``eval_market`` on the dataset built from the files in ``folder`` (default
        ``$BESSGYM_REAL_DATA``)."""
        from experiments.baselines import cache_folder

        folder = folder or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
        dataset = DATASETS[self.dataset]
        if folder is None:
            raise ValueError(f"dataset {dataset.name} ({dataset.description}) is built from public files that are "
                             f"not shipped ({', '.join(f.path for f in dataset.files)}): give the folder that holds "
                             f"them with --real-data or ${DATA_ENV}")
        path = dataset.build(folder, cache_folder() / "datasets")
        return {name: {"path": str(path), "start": start, "end": end}
                for name, (start, end) in (("train_market", self.train), ("eval_market", self.test))}


@dataclass(frozen=True)
class Task:
    """A benchmark task: ``name``-v``version``, its configuration, the baselines that apply (strategy names of
    :func:`experiments.evaluate.make_agent`) and what its perfect-foresight LP (strategy ``lp``, the reference
    of every share) is."""

    name: str
    version: int
    description: str
    reference: str
    overrides: dict[str, Any]
    baselines: tuple[str, ...]
    seeds: int = 3
    index: bool = True  # compared with the revenue index of its battery (not for a portfolio)
    data: RealData | None = None  # a real-data task's market (None: the synthetic years)

    @property
    def id(self) -> str:
        return f"{self.name}-v{self.version}"

    @property
    def agents(self) -> tuple[str, ...]:
        """The baselines and the learners; on a real-data task each learner also trained on the synthetic year
        (``<learner>_synthetic``); on a portfolio each learner on the pooled action and per asset
        (``<learner>_per_asset``), and no ``bc_`` learner (cloning is of one battery's or site's LP)."""
        if self.data is not None:
            return (*self.baselines, *LEARNERS, *(a + SYNTHETIC for a in LEARNERS))
        if self.overrides.get("env.kind") != "portfolio":
            return (*self.baselines, *LEARNERS)
        pooled = tuple(a for a in LEARNERS if not a.startswith("bc_"))
        return (*self.baselines, *pooled, *(a + PER_ASSET for a in pooled))

    def config(self, seed: int = 0, *, train_data: Path | None = None, test_data: Path | None = None,
               days: int | None = None, real_data: Path | None = None, **overrides: Any) -> ExperimentConfig:
        """The task's configuration for one seed (evaluation, training and outages), on its markets (the
        synthetic years, or a real-data task's dataset built from the files in ``real_data``) or the given
        contract tables, over the first ``days`` test days (None: the whole test market)."""
        # a learner's evaluations during training on no more test days than its result (a quick run's 1 day
        # evaluated 14 with their LP at every evaluation)
        shorter = {} if days is None else {"train.eval_days": min(days, TrainConfig().eval_days)}
        values: dict[str, Any] = {"name": f"benchmark-{self.id}", **self.overrides, "evaluate.seed": seed,
                                  "evaluate.noise_seeds": 1, "train.seed": seed, "portfolio.outage_seed": seed,
                                  "evaluate.days": days, **shorter}
        if self.data is not None and (train_data is None or test_data is None):
            values.update(self.data.markets(real_data))
        values.update(overrides)
        if train_data is not None:
            values["train_market"] = {"path": str(train_data)}
        if test_data is not None:
            values["eval_market"] = {"path": str(test_data)}
        return ExperimentConfig().with_overrides(values)


def _tasks(*tasks: Task) -> dict[str, Task]:
    return {task.name: task for task in tasks}


TASKS = _tasks(
    Task("intraday-2h", 0, "1 MW / 2 MWh trades intraday continuous, one decision per quarter-hour (the main job)",
         "the intraday LP", {}, ("lp", "lp_noisy", "lp_rolling", *RULES)),
    # v1: the reference LP also offers the power its plan leaves free as aFRR energy (v0's earned 72 % of v1's);
    # v2 (here and on every task with pay-as-bid capacity): the LPs offer capacity on the forecast marginal price,
    # and noisy activation forecasts no longer reveal the quarter-hours without activation; v3 (v2 on the sites and
    # portfolios): the LPs count on the held capacity's energy being called where the marginal price passes its
    # offer at the band's edge (the env pays it and it moves the SoC; the methodology does not count on it)
    Task("multimarket-2h", 3, "1 MW / 2 MWh decides FCR and aFRR capacity (with energy bids), day-ahead and "
         "intraday at delivery", "the multi-market LP (aFRR capacity offered at the marginal price) with energy-only "
         "aFRR offers of its free power", MULTIMARKET,
         ("lp", "lp_noisy", "lp_da", "lp_cascade", "lp_cascade_noisy", "rolling_intrinsic", "multimarket",
          "multimarket_noisy", *RULES)),
    Task("capacity-2h", 3, "1 MW / 2 MWh bids FCR and aFRR capacity (and aFRR energy) and keeps its SoC by "
         "intraday trades, a week an episode", "the reserve and intraday LP (aFRR capacity offered at the marginal "
         "price) with energy-only aFRR offers",
         {"env.agent_stages": ["capacity", "delivery"], "env.episode_days": 7,
          "env.products": ["fcr", "afrr_capacity", "afrr_energy", "intraday", "imbalance"]},
         ("lp", "lp_noisy", "idle")),
    Task("colocation-1-1-1", 2, "the co-location study's site at 1 MW: 1 MW connection, 1 MWp PV (PPA at 42 "
         "EUR/MWh), 1 MW / 2 MWh; the multi-market stages and curtailment; revenue is the site's",
         "the joint site LP", {"env.kind": "colocated", **MULTIMARKET},
         ("lp", "lp_noisy", "lp_pv_priority", "lp_bess_priority", *RULES)),
    Task("portfolio-6", 2, "the default portfolio (batteries of 10, 2, 0.6, 0.4 MW and two PV sites), one actor, "
         "outages (MTBF 2,000 h, MTTR 24 h); the multi-market stages", "the joint portfolio LP",
         {"env.kind": "portfolio", **MULTIMARKET}, ("lp", "lp_noisy", "lp_per_asset", *RULES), index=False),
    Task("portfolio-100", 2, "100 mixed assets of 0.4-10 MW (a third with PV), one actor, outages; the "
         "multi-market stages", "the joint portfolio LP",
         {"env.kind": "portfolio", "portfolio.assets": "mixed", "portfolio.size": 100, **MULTIMARKET},
         ("lp", "lp_noisy", "lp_per_asset", *RULES), index=False),
)

D = dt.date
# on the real files of bessgym.data.datasets, not shipped: run with --real-data (or $BESSGYM_REAL_DATA); a training
# quarter before a test quarter of the same half-year (2026), or five months before three (2024)
REAL_TASKS = _tasks(
    Task("intraday-2h-real", 0, "intraday-2h on real 2026 quarter-hours (EPEX ID3 index as the continuous price, "
         "reBAP): trained on January-March, tested on April-June 2026", "the intraday LP",
         {}, ("lp", "lp_noisy", "lp_rolling", *RULES),
         data=RealData("de-2026h1", (D(2026, 1, 1), D(2026, 4, 1)), (D(2026, 4, 1), D(2026, 6, 29)))),
    Task("multimarket-2h-real", 0, "1 MW / 2 MWh decides FCR capacity, 15-min day-ahead and intraday (ID3) on real "
         "2026 (reBAP): trained on January-March, tested on April-June 2026", "the multi-market LP",
         {**MULTIMARKET, "env.products": ["fcr", "day_ahead", "intraday", "imbalance"]},
         ("lp", "lp_noisy", "lp_da", "lp_cascade", "rolling_intrinsic", "multimarket", *RULES),
         data=RealData("de-2026h1", (D(2026, 1, 1), D(2026, 4, 1)), (D(2026, 4, 1), D(2026, 6, 29)))),
    Task("afrr-da-2h-real", 0, "1 MW / 2 MWh offers aFRR capacity (pay-as-bid) and trades day-ahead on real 2024 "
         "(SMARD, regelleistung.net): trained on January-May, tested on June-August 2024",
         "the reserve and day-ahead LP (aFRR capacity offered at the marginal price)",
         {"env.agent_stages": ["capacity", "day_ahead"], "env.day_ahead_delegate": "none",
          "env.products": ["afrr_capacity", "day_ahead"]}, ("lp", "lp_noisy", "idle"),
         data=RealData("de-2024-da-afrr", (D(2024, 1, 1), D(2024, 6, 1)), (D(2024, 6, 1), D(2024, 9, 1)))),
)


def learner(agent: str) -> str | None:
    """The learner behind a benchmark agent name (``ppo_per_asset``, ``ppo_synthetic`` -> ``ppo``), None for a
    baseline."""
    name = agent.removesuffix(PER_ASSET).removesuffix(SYNTHETIC)
    return name if name in LEARNERS else None


def task(name: str) -> Task:
    """The task called ``name`` (with or without its ``-vN``); an unknown name lists the known ones."""
    every = {**TASKS, **REAL_TASKS}
    found = every.get(name) or next((t for t in every.values() if t.id == name), None)
    if found is None:
        raise KeyError(f"unknown task {name!r}; tasks: {', '.join(t.id for t in every.values())}")
    return found
