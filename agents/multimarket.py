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

import dataclasses

import numpy as np
import pandas as pd

from agents.lp.delegate import DailyLPPolicy, awards, lp_products_for, run_policy
from agents.lp.model import BatteryLP
from bessgym.assets.battery import BatterySpec
from bessgym.envs.core import MarketConfig
from bessgym.envs.view import DayView
from bessgym.market.products import Stage

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
    energy-only aFRR offers of free power (``energy_only``; see the module docstring)."""

    def __init__(self, *, energy_only: bool = True) -> None:
        super().__init__("day_ahead", end_soc=None, reoptimise_after_capacity=True)
        self.energy_only = energy_only
        self._offers: tuple[np.ndarray, ...] = ()
        self._offers_key: tuple | None = None
        self._energy_models: dict[tuple, BatteryLP] = {}

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        if stage != Stage.DELIVERY or not (self.energy_only and view.config.has("afrr_energy")):
            return super().act(view, stage, q)
        self._ensure_plan(view)
        if self._offers_key != (id(view), view.serial):
            self._offers_key, self._offers = (id(view), view.serial), self._energy_only_offers(view)
        lo, hi = view.trade_range(q)
        return view.codec.delivery_action(np.zeros(view.n), hi, -lo, hold_energy_offers=True,
                                          energy_only=tuple(x[:, q] for x in self._offers))

    def _energy_only_offers(self, view: DayView) -> tuple[np.ndarray, ...]:
        """Per asset and quarter-hour (N, n_qh): the POS and NEG volume shares of free power, their offer prices
        [EUR/MWh] and the DA price, from the LP around the day-ahead schedule and the awards."""
        f, n_qh = view.fleet, view.n_qh
        da = np.broadcast_to(view.day_ahead_price, (view.n, n_qh))
        offer_pos, offer_neg = da + ENERGY_ONLY_MARKUP * np.abs(da), da - ENERGY_ONLY_MARKUP * np.abs(da)
        zero = np.zeros((view.n, 2 * n_qh))
        fc = {name: np.nan_to_num(view.forecasts.get(name, zero)[:, :n_qh]) for name in (
            "afrr_energy_pos_price", "afrr_energy_neg_price", "afrr_activation_pos", "afrr_activation_neg")}
        share_pos = np.clip(fc["afrr_activation_pos"], 0, 1) * (fc["afrr_energy_pos_price"] >= offer_pos)
        share_neg = np.clip(fc["afrr_activation_neg"], 0, 1) * (fc["afrr_energy_neg_price"] <= offer_neg)
        committed = view.committed_mw
        free_pos = np.maximum(view.up_cap - np.maximum(committed, 0), 0)
        free_neg = np.maximum(view.down_cap - np.maximum(-committed, 0), 0)
        # binaries keep charge and discharge apart: burning energy in both at once (to make room for paid NEG
        # activations) is what the env, which runs the net, cannot do
        products = dataclasses.replace(lp_products_for(view, "day_ahead"), day_ahead=False, exclusive_charge=True)
        vol_pos, vol_neg = np.zeros((view.n, n_qh)), np.zeros((view.n, n_qh))
        for i in range(view.n):
            key = (f.specs[i], products, n_qh)
            if key not in self._energy_models:
                self._energy_models[key] = BatteryLP(f.specs[i], products, n_qh)
            lp = self._energy_models[key]
            lp.fix_reserves(*(x[i] for x in awards(view)))
            soc = float(view.soc_mwh[i])
            plan = lp.solve(soc0_mwh=soc, soc_end_mwh=(soc, soc), held_mw=committed[i],
                            max_discharge_mwh=float(f.max_daily_discharge_mwh[i] - view.discharged_mwh[i]),
                            price_energy_pos=fc["afrr_energy_pos_price"][i],
                            price_energy_neg=fc["afrr_energy_neg_price"][i],
                            energy_only_pos_mw=free_pos[i] * share_pos[i],
                            energy_only_neg_mw=free_neg[i] * share_neg[i])
            # the activated power planned, as a share of the free power that the activation share calls; a hair
            # less (1e-6), as the plan may reach a SoC limit within HiGHS's 1e-7 feasibility tolerance
            vol_pos[i] = _ratio(plan.afrr_energy_pos_mw, free_pos[i] * share_pos[i]) * (1 - 1e-6)
            vol_neg[i] = _ratio(plan.afrr_energy_neg_mw, free_neg[i] * share_neg[i]) * (1 - 1e-6)
        return vol_pos, vol_neg, offer_pos, offer_neg, da


def _ratio(value: np.ndarray, room: np.ndarray) -> np.ndarray:
    return np.clip(np.divide(value, room, out=np.zeros_like(room), where=room > 1e-9), 0.0, 1.0)


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
    from bessgym.envs.core import MarketArrays

    return len(MarketArrays.from_frame(market).dates)
