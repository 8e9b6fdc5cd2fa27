"""Price forecasts the agent observes before a product's gate.

A forecaster turns the realised values of one column over a window into an (n_assets, window) forecast.
It is called once per delivery day (not per step), with the env's own random generator.

- :class:`PerfectForecast`: the realised prices (perfect foresight).
- :class:`NoisyForecast`: realised prices times (1 + sigma * e), e ~ N(0, 1) i.i.d., as in the multi-market
  methodology (sigma = 10 %); activation shares plus sigma * e of full activation, clipped to [0, 1] (a
  multiplicative error would keep every quarter-hour without activation at zero: its timing known exactly).
- Any object with a matching ``forecast`` method (e.g. a user's statistical model) can be passed instead; its
  ``sigma`` attribute, where it has one, tells bidders how far to trust it (:func:`forecast_sigma`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np


class Forecaster(Protocol):
    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        """Forecast of ``realised`` (shape (window,)) as an array of shape (n_assets, window)."""
        ...


@dataclass(frozen=True)
class PerfectForecast:
    """Perfect foresight: the forecast is the realised price."""

    sigma: ClassVar[float] = 0.0

    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(realised, (n_assets, realised.shape[0]))


PRICE_SIGMA = 0.10  # default relative error of noisy price forecasts [-]
# the columns forecast each day, in the order they draw noise (the intraday auctions, aFRR energy, mFRR and the
# capacity auctions' marginal prices last: added later, they leave the draws of the others as they were)
FORECAST_COLUMNS = ("da_price", "id1_price", "fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price",
                    "ida1_price", "ida2_price", "ida3_price", "afrr_energy_pos_price", "afrr_energy_neg_price",
                    "afrr_activation_pos", "afrr_activation_neg", "mfrr_cap_pos_price", "mfrr_cap_neg_price",
                    "afrr_cap_pos_marginal", "afrr_cap_neg_marginal", "mfrr_cap_pos_marginal",
                    "mfrr_cap_neg_marginal")
SHARE_COLUMNS = frozenset({"afrr_activation_pos", "afrr_activation_neg"})  # shares of full activation [-]


@dataclass(frozen=True)
class NoisyForecast:
    """Realised price with multiplicative Gaussian noise of relative std ``sigma`` [-], independent per value;
    an activation share with additive noise of std ``sigma`` [-], clipped to [0, 1]."""

    sigma: float = PRICE_SIGMA

    def __post_init__(self) -> None:
        if not 0 <= self.sigma < 5:  # NaN fails too
            raise ValueError(f"NoisyForecast: sigma (forecast_sigma) must be in [0, 5), got {self.sigma}")

    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((n_assets, realised.shape[0]))
        if column in SHARE_COLUMNS:
            return np.clip(realised + self.sigma * noise, 0.0, 1.0)
        return realised * (1.0 + self.sigma * noise)


def forecast_sigma(forecaster: Forecaster) -> float:
    """The relative error [-] a bidder should expect of ``forecaster``'s prices: its ``sigma`` (0 for perfect
    foresight), the multi-market methodology's 10 % for a forecaster that does not state one."""
    return float(getattr(forecaster, "sigma", PRICE_SIGMA))


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
