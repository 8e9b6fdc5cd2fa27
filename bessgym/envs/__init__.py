"""Gymnasium environments on one simulation core (see :mod:`bessgym.envs.core`).

The names below are imported on first use (PEP 562), so ``import bessgym`` registers the envs without
loading the compiled kernels, pandas or scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ACTION_WIDTH": "core", "PRODUCTS": "core", "MarketArrays": "core", "MarketConfig": "core", "Simulator": "core",
    "CoLocatedPVBESSEnv": "colocated", "Delegate": "delegates", "FixedCapacity": "delegates", "NoOp": "delegates",
    "SpreadTrader": "delegates", "Forecaster": "forecast", "NoisyForecast": "forecast",
    "PerfectForecast": "forecast", "EnvOptions": "options", "SingleBESSEnv": "single_bess",
}
__all__ = [
    "ACTION_WIDTH", "PRODUCTS", "CoLocatedPVBESSEnv", "Delegate", "EnvOptions", "FixedCapacity", "Forecaster",
    "MarketArrays", "MarketConfig", "NoOp", "NoisyForecast", "PerfectForecast", "Simulator", "SingleBESSEnv",
    "SpreadTrader",
]

if TYPE_CHECKING:
    from bessgym.envs.colocated import CoLocatedPVBESSEnv
    from bessgym.envs.core import ACTION_WIDTH, PRODUCTS, MarketArrays, MarketConfig, Simulator
    from bessgym.envs.delegates import Delegate, FixedCapacity, NoOp, SpreadTrader
    from bessgym.envs.forecast import Forecaster, NoisyForecast, PerfectForecast
    from bessgym.envs.options import EnvOptions
    from bessgym.envs.single_bess import SingleBESSEnv


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'bessgym.envs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bessgym.envs.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
