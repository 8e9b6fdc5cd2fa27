"""Baselines computed once per market, battery and env: the revenue index and the perfect-foresight LP of an
evaluation period are kept in a cache folder, so evaluating another agent on the same days does not solve
them again.

The key is a hash of the period's table (values and timestamps), the configuration the baseline depends on
(the battery; for the LP also its site or portfolio, the env and the evaluation seed), the package version, a
schema number and the source of the code that computes them (``agents`` and ``bessgym``: a change to the LP or
the env is a new key, not a stale reference); anything else about a run may differ. The folder is
``$BESSGYM_CACHE`` (default ``runs/.cache``); entries are written atomically, and one that cannot be read is
computed again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from agents.index import IndexResult
from bessgym import __version__, _io
from bessgym._io import atomic_path
from bessgym.data.arrays import MarketArrays
from experiments.config import ExperimentConfig
from experiments.evaluate import Evaluation, evaluate_strategies, index_baseline

SCHEMA = 4  # 2: the LP's key has the site and the portfolio; 3: one battery's LP offers aFRR energy; 4: the
# LPs offer pay-as-bid capacity on the forecast marginal price


def cache_folder() -> Path:
    return Path(os.environ.get("BESSGYM_CACHE", "runs/.cache"))


@functools.cache
def source_digest() -> str:
    """A hash of the Python source of the packages the cached baselines are computed by (``agents``, ``bessgym``)."""
    return _io.source_digest(Path(__file__).resolve().parents[1], "agents", "bessgym")


def cache_key(what: str, config: ExperimentConfig, period: pd.DataFrame, prefixes: tuple[str, ...]) -> str:
    """A hex key of ``what`` on ``period`` under the configuration keys that start with ``prefixes``."""
    digest = hashlib.sha256(f"{what}|{__version__}|{SCHEMA}|{source_digest()}".encode())
    digest.update(pd.util.hash_pandas_object(period, index=True).to_numpy().tobytes())
    digest.update(",".join(period.columns).encode())
    relevant = {k: v for k, v in config.flat().items() if k.startswith(prefixes)}
    digest.update(json.dumps(relevant, sort_keys=True, default=str).encode())
    return f"{what}-{digest.hexdigest()[:20]}"


def index(config: ExperimentConfig, period: pd.DataFrame, *, use_cache: bool = True) -> IndexResult:
    """The revenue index of ``period`` for the configured battery, from the cache where it is there."""
    folder = cache_folder() / cache_key("index", config, period, ("battery.",))
    if use_cache:
        try:
            meta = json.loads((folder / "index.json").read_text())
            return IndexResult(pd.read_parquet(folder / "daily.parquet"), meta["skipped"], meta["notes"])
        except (OSError, ValueError, KeyError):
            pass
    result = index_baseline(config, period)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "index.json") as tmp:
        tmp.write_text(json.dumps({"skipped": result.skipped, "notes": result.notes}))
    with atomic_path(folder / "daily.parquet") as tmp:
        result.daily.to_parquet(tmp)
    return result


def perfect_lp(config: ExperimentConfig, period: pd.DataFrame, market: MarketArrays, *, use_cache: bool = True,
               progress: Callable[[str, int], None] | None = None) -> Evaluation:
    """The perfect-foresight LP's evaluation (strategy ``lp``) of ``period``, from the cache where it is there."""
    keys = ("battery.", "site.", "portfolio.", "env.", "evaluate.days", "evaluate.seed")
    folder = cache_folder() / cache_key("lp", config, period, keys)
    if use_cache:
        try:
            meta = json.loads((folder / "evaluation.json").read_text())
            dispatch = pd.read_parquet(folder / "dispatch.parquet")
            if progress is not None:
                progress("lp", len(market.dates))
            return Evaluation(dispatch=dispatch, **{**meta, "cash_flows": tuple(meta["cash_flows"])})
        except (OSError, ValueError, KeyError, TypeError):
            pass
    only_lp = config.with_overrides({"evaluate.strategies": ["lp"]})
    evaluation = evaluate_strategies(only_lp, market, progress=progress)["lp"]
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "dispatch.parquet") as tmp:
        evaluation.dispatch.to_parquet(tmp)
    meta = {"strategy": "lp", "power_mw": evaluation.power_mw, "usable_mwh": evaluation.usable_mwh,
            "energy_mwh": evaluation.energy_mwh, "reward_eur": evaluation.reward_eur,
            "cash_flows": list(evaluation.cash_flows)}
    with atomic_path(folder / "evaluation.json") as tmp:
        tmp.write_text(json.dumps(meta))
    return evaluation
