"""What every env takes besides its market and its assets: one frozen, validated options type.

The single, co-located, portfolio and vector envs and the PettingZoo view all accept ``options=EnvOptions(...)``
and, for convenience, the same fields as keyword arguments (``gym.make(id, episode_days=7)``), which override
the options given.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bessgym._checks import finite
from bessgym.assets.degradation import CycleAgeing
from bessgym.envs.delegates import Delegate
from bessgym.envs.forecast import PRICE_SIGMA, Forecaster
from bessgym.envs.observation import check_features
from bessgym.market.config import MarketConfig


@dataclass(frozen=True)
class EnvOptions:
    """Episode, agent, forecast and reward options of an env.

    Attributes
    ----------
    market_config : products and their parameters (:class:`~bessgym.envs.core.MarketConfig`).
    episode_days : delivery days per episode (truncation after them).
    start_day : first delivery day (ISO date); None: a random whole day from ``reset(seed=...)``.
    agent_stages : names of the stages the agent decides (None: all); ``delegates``: stage name -> delegate
        for the others (default: day-ahead by the spread trader, nothing elsewhere).
    forecast : ``"perfect"``, ``"noisy"`` (relative error ``forecast_sigma``) or a forecaster object.
    pv_forecast_sigma : relative PV forecast error of sites (None: 0 with perfect forecasts, 0.2 otherwise).
    horizon_qh : quarter-hours of positions and prices in the observation.
    observation_features : optional features appended to the observation, from ``relative_prices``,
        ``quantile_spreads``, ``time_to_gate`` (:mod:`bessgym.envs.observation`).
    reward_scale : the reward is the step's cash flow in EUR times this.
    track_soh : rainflow state of health in ``info`` (single batteries), with ``ageing``.
    """

    market_config: MarketConfig = MarketConfig()
    episode_days: int = 1
    start_day: dt.date | str | None = None
    agent_stages: tuple[str, ...] | None = None
    delegates: Mapping[str, Delegate] | None = None
    forecast: str | Forecaster = "perfect"
    forecast_sigma: float = PRICE_SIGMA
    pv_forecast_sigma: float | None = None
    horizon_qh: int = 96
    observation_features: tuple[str, ...] = ()
    reward_scale: float = 1.0
    track_soh: bool = True
    ageing: CycleAgeing = CycleAgeing()

    def __post_init__(self) -> None:
        finite("EnvOptions", forecast_sigma=self.forecast_sigma, pv_forecast_sigma=self.pv_forecast_sigma,
               reward_scale=self.reward_scale)
        if not isinstance(self.market_config, MarketConfig):
            raise TypeError(f"EnvOptions.market_config must be a MarketConfig, got {type(self.market_config).__name__}")
        if self.horizon_qh < 1:
            raise ValueError(f"horizon_qh must be >= 1, got {self.horizon_qh}")
        if self.pv_forecast_sigma is not None and self.pv_forecast_sigma < 0:
            raise ValueError(f"pv_forecast_sigma must be >= 0, got {self.pv_forecast_sigma}")
        if self.agent_stages is not None:
            object.__setattr__(self, "agent_stages", tuple(self.agent_stages))
        object.__setattr__(self, "observation_features", check_features(tuple(self.observation_features)))

    @classmethod
    def of(cls, options: EnvOptions | None, market_config: MarketConfig | None = None, **fields: Any) -> EnvOptions:
        """``options`` (default: the defaults) with ``market_config`` and ``fields`` replacing theirs; an unknown
        field name is a TypeError that lists the known ones."""
        unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unexpected arguments {sorted(unknown)}; env options are "
                            f"{[f.name for f in dataclasses.fields(cls)]}")
        if market_config is not None:
            fields["market_config"] = market_config
        return dataclasses.replace(options or cls(), **fields)
