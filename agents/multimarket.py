"""The multi-market methodology (../shared/MARKET_FACTS.md) as a named strategy in the env.

10 MW with 10/20/40 MWh, 95 % charge and discharge efficiency, at most 2 cycles a day, SoC 10-90 % rolling
from day to day; price-taker; at most 80 % of power in ancillary services; FCR derated 20 % with 30 min of
energy reserved; aFRR capacity with 1 h reserved; sequence: ancillary capacity first (fixed once won), then
day-ahead (re-optimised around the awards). Perfect hindsight uses the realised prices; imperfect hindsight
decides on prices with 10 % Gaussian noise and is settled on the realised ones (``forecast="noisy"``).

The capacity's obligatory energy offers are placed "high enough not to be activated": at the aFRR energy price
limit (+-15,000 EUR/MWh, ``MarketConfig.afrr_energy_price_cap_eur_mwh``; the offer band reaches it), so they
are called only in the rare quarter-hours whose marginal price is at the limit itself.
:func:`run_multi_market` reports that share (``attrs["activated_share"]``: quarter-hours with aFRR capacity
held in which its energy was activated; near zero).

The methodology's energy-only bids: once the day-ahead result is known, free power (what the day-ahead
schedule and the reserves leave) is offered as aFRR energy at DA + 50 % (POS) and DA - 50 % (NEG) of |DA|
(so a POS offer is above and a NEG offer below the day-ahead price at negative prices too), with a volume per
quarter-hour the LP chooses: the day re-solved around the day-ahead schedule and the awards, where an offer that
clears on the (forecast) marginal price is activated with the (forecast) activation share, paid (or charged)
the marginal price, and moves the SoC. ``energy_only=False`` leaves them out (the figures before they were
placed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agents.lp.delegate import DailyLPPolicy, run_policy
from bessgym.assets.battery import BatterySpec
from bessgym.envs.view import DayView
from bessgym.market.config import MarketConfig

ENERGY_OPTIONS_MWH = (10.0, 20.0, 40.0)
ENERGY_ONLY_MARKUP = 0.5  # energy-only offers at DA +- 50 % of |DA|


def battery(energy_mwh: float = 20.0) -> BatterySpec:
    return BatterySpec(power_mw=10.0, energy_mwh=energy_mwh, eta_charge=0.95, eta_discharge=0.95, soc_min=0.1,
                       soc_max=0.9, soc_initial=0.5, max_cycles_per_day=2.0)


def market_config() -> MarketConfig:
    cap = MarketConfig.afrr_energy_price_cap_eur_mwh
    return MarketConfig(products=frozenset({"fcr", "afrr_capacity", "afrr_energy", "day_ahead", "imbalance"}),
                        fcr_hold_h=0.5, afrr_hold_h=1.0, ancillary_max_share=0.8, fcr_max_share=0.8,
                        energy_price_band_eur_mwh=2 * cap)  # an offer at the band's edge is at the limit


class MultiMarketPolicy(DailyLPPolicy):
    """Preliminary LP of capacity and day-ahead; awards fixed; day-ahead re-solved around them; then the
    energy-only aFRR offers of free power at DA +- 50 % of |DA| (``energy_only``; see the module docstring).
    Capacity is offered at the forecast average price, a price-taker's 100 % acceptance as the methodology has it,
    and its energy is planned as never called (``value_called=False``)."""

    def __init__(self, *, energy_only: bool = True) -> None:
        super().__init__("day_ahead", end_soc=None, reoptimise_after_capacity=True, energy_offers=energy_only,
                         bid_marginal=False, value_called=False)

    def _offer_prices(self, view: DayView, da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return da + ENERGY_ONLY_MARKUP * np.abs(da), da - ENERGY_ONLY_MARKUP * np.abs(da)


def run_multi_market(market: pd.DataFrame, *, energy_mwh: float = 20.0, days: int | None = None,
                     start_day=None, forecast: str = "perfect", seed: int = 0,
                     energy_only: bool = True) -> pd.DataFrame:
    """Daily revenues by product [EUR] of the methodology on ``market`` (perfect or ``"noisy"`` hindsight);
    ``attrs["activated_share"]``: the share of quarter-hours with aFRR capacity held in which its energy offers,
    priced not to be activated, were activated."""
    from bessgym.envs import SingleBESSEnv

    env = SingleBESSEnv(market, battery(energy_mwh), market_config(), forecast=forecast, track_soh=False,
                        agent_stages=("capacity", "day_ahead", "delivery"),
                        episode_days=days or _whole_days(market), start_day=start_day)
    with env.runner.recording() as log:
        daily = run_policy(env, MultiMarketPolicy(energy_only=energy_only), seed=seed, start_day=start_day)
    held = np.array([r["afrr_pos_mw"][0] + r["afrr_neg_mw"][0] > 0 for r in log])
    called = np.array([r["afrr_linked_mwh"][0] > 0 for r in log])  # the capacity's own offers
    daily.attrs["activated_share"] = float((held & called).sum() / max(held.sum(), 1))
    return daily


def _whole_days(market: pd.DataFrame) -> int:
    from bessgym.data.arrays import MarketArrays

    return len(MarketArrays.from_frame(market).dates)
