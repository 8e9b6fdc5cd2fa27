"""Price forecasts the agent observes before a product's gate.

A forecaster turns the realised values of one column over a window into an (n_assets, window) forecast.
It is called once per delivery day (not per step), with the env's own random generator.

- :class:`PerfectForecast`: the realised prices (perfect foresight).
- :class:`NoisyForecast`: realised prices times (1 + sigma * e), e ~ N(0, 1) i.i.d., as in the multi-market
  methodology (sigma = 10 %).
- Any object with a matching ``forecast`` method (e.g. a user's statistical model) can be passed instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Forecaster(Protocol):
    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        """Forecast of ``realised`` (shape (window,)) as an array of shape (n_assets, window)."""
        ...


@dataclass(frozen=True)
class PerfectForecast:
    """Perfect foresight: the forecast is the realised price."""

    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(realised, (n_assets, realised.shape[0]))


PRICE_SIGMA = 0.10  # default relative error of noisy price forecasts [-]
# the columns forecast each day, in the order they draw noise (the intraday auctions, aFRR energy and mFRR last:
# added later, they leave the draws of the others as they were)
FORECAST_COLUMNS = ("da_price", "id1_price", "fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price",
                    "ida1_price", "ida2_price", "ida3_price", "afrr_energy_pos_price", "afrr_energy_neg_price",
                    "afrr_activation_pos", "afrr_activation_neg", "mfrr_cap_pos_price", "mfrr_cap_neg_price")


@dataclass(frozen=True)
class NoisyForecast:
    """Realised price with multiplicative Gaussian noise of relative std ``sigma`` [-], independent per value."""

    sigma: float = PRICE_SIGMA

    def __post_init__(self) -> None:
        if not 0 <= self.sigma < 5:  # NaN fails too
            raise ValueError(f"NoisyForecast: sigma (forecast_sigma) must be in [0, 5), got {self.sigma}")

    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((n_assets, realised.shape[0]))
        return realised * (1.0 + self.sigma * noise)


def make_forecaster(spec: str | Forecaster, sigma: float = PRICE_SIGMA) -> Forecaster:
    """``"perfect"``, ``"noisy"`` or a forecaster object."""
    if isinstance(spec, str):
        if spec == "perfect":
            return PerfectForecast()
        if spec == "noisy":
            return NoisyForecast(sigma)
        raise ValueError(f"forecast must be 'perfect', 'noisy' or a Forecaster, got {spec!r}")
    if not callable(getattr(spec, "forecast", None)):
        raise TypeError(f"forecast object {spec!r} has no forecast(column, realised, n_assets, rng) method")
    return spec
