"""Gymnasium environments on one simulation core (see :mod:`bessgym.envs.core`).

The names below are imported on first use (PEP 562), so ``import bessgym`` registers the envs without
loading the compiled kernels, pandas or scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {  # name -> the module that defines it
    "ACTION_WIDTH": "bessgym.envs.layout", "PRODUCTS": "bessgym.market.config",
    "MarketArrays": "bessgym.data.arrays", "MarketConfig": "bessgym.market.config", "Simulator": "bessgym.envs.core",
    "CoLocatedPVBESSEnv": "bessgym.envs.colocated", "Delegate": "bessgym.envs.delegates",
    "FixedCapacity": "bessgym.envs.delegates", "NoOp": "bessgym.envs.delegates",
    "SpreadTrader": "bessgym.envs.delegates", "Forecaster": "bessgym.envs.forecast",
    "NoisyForecast": "bessgym.envs.forecast", "PerfectForecast": "bessgym.envs.forecast",
    "EnvOptions": "bessgym.envs.options", "SingleBESSEnv": "bessgym.envs.single_bess",
}
__all__ = [
    "ACTION_WIDTH", "PRODUCTS", "CoLocatedPVBESSEnv", "Delegate", "EnvOptions", "FixedCapacity", "Forecaster",
    "MarketArrays", "MarketConfig", "NoOp", "NoisyForecast", "PerfectForecast", "Simulator", "SingleBESSEnv",
    "SpreadTrader",
]

if TYPE_CHECKING:
    from bessgym.data.arrays import MarketArrays
    from bessgym.envs.colocated import CoLocatedPVBESSEnv
    from bessgym.envs.core import Simulator
    from bessgym.envs.delegates import Delegate, FixedCapacity, NoOp, SpreadTrader
    from bessgym.envs.forecast import Forecaster, NoisyForecast, PerfectForecast
    from bessgym.envs.layout import ACTION_WIDTH
    from bessgym.envs.options import EnvOptions
    from bessgym.envs.single_bess import SingleBESSEnv
    from bessgym.market.config import PRODUCTS, MarketConfig


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'bessgym.envs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
