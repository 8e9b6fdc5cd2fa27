"""Gymnasium environments on one simulation core (see :mod:`bessgym.envs.core`)."""

from bessgym.envs.colocated import CoLocatedPVBESSEnv
from bessgym.envs.core import ACTION_WIDTH, PRODUCTS, MarketArrays, MarketConfig, Simulator
from bessgym.envs.delegates import Delegate, FixedCapacity, NoOp, SpreadTrader
from bessgym.envs.forecast import Forecaster, NoisyForecast, PerfectForecast
from bessgym.envs.options import EnvOptions
from bessgym.envs.single_bess import SingleBESSEnv

__all__ = [
    "ACTION_WIDTH",
    "PRODUCTS",
    "CoLocatedPVBESSEnv",
    "Delegate",
    "EnvOptions",
    "FixedCapacity",
    "Forecaster",
    "MarketArrays",
    "MarketConfig",
    "NoOp",
    "NoisyForecast",
    "PerfectForecast",
    "Simulator",
    "SingleBESSEnv",
    "SpreadTrader",
]
