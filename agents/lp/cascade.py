"""The sequential trading baselines: the cascade LP and rolling intrinsic, as env policies.

A trading desk does not solve one market: it sells day-ahead, then re-optimises at every later market around
the positions it already holds (FlexPwr's bess-optimizer does the same). :class:`CascadeLPPolicy` plays the
env's stages that way:

1. capacity: the multi-market LP of the day (reserves and day-ahead), as :class:`DailyLPPolicy`;
2. day-ahead: the same LP with the reserves fixed to the awards, trading day-ahead only;
3. IDA1, IDA2, IDA3: the rest of the day re-optimised on the auction's price around the positions held
   (IDA3, at D 10:00, from the next delivery quarter-hour on and only for 12:00-24:00), trading the change;
4. intraday continuous: the rest of the day re-optimised on the ID1 price with the exchange fee, once when
   delivery starts and again after IDA3; each quarter-hour trades its planned change.

Every stage starts from a feasible plan (trading nothing keeps the held schedule), so on the same prices each
stage can only add to the LP's value: with perfect foresight the cascade earns at least the day-ahead-only
LP, and the same when the later prices equal day-ahead (then only fees remain to pay).

``rolling_intrinsic`` replaces step 4 by rolling intrinsic trading: every delivery quarter-hour re-optimises
the rest of the day from the SoC reached, on the prices then known (the traded quarter-hour's own price, the
continuous market's quote :meth:`~bessgym.envs.view.DayView.intraday_quote`, and the forecast for the later
ones), and trades the first quarter-hour's change. With perfect forecasts it equals the cascade; with noisy
ones it corrects the plan with every price it learns.

Each stage's day is pinned to the day's start SoC, as the daily LP's. A stage whose re-optimisation has no
feasible plan (a SoC pushed outside the reserves' band by activations) trades nothing (``fallbacks`` counts
them), and the env restores the band as it does for every policy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from agents.lp.delegate import DailyLPPolicy, auction_bid, auction_window, awards, lp_products_for
from agents.lp.model import BatteryLP
from agents.lp.terms import LPProducts, block_of
from bessgym.assets.battery import BatterySpec
from bessgym.data.calendar import DT_H
from bessgym.envs.view import DayView
from bessgym.market.products import Stage

AUCTIONS = {Stage.IDA1: "ida1_price", Stage.IDA2: "ida2_price", Stage.IDA3: "ida3_price"}


class CascadeLPPolicy(DailyLPPolicy):
    """Day-ahead, then the intraday auctions, then intraday continuous, each re-optimised around the positions
    held (see the module docstring); ``rolling_intrinsic`` re-optimises the continuous trades every quarter-hour.
    The auctions and continuous trading are played where the env has them. ``wholesale``: the market the day is
    first planned on, ``"day_ahead"`` (the cascade) or, in an env without day-ahead, ``"intraday"`` (then only
    the continuous re-optimisation follows: with ``rolling_intrinsic``, the daily LP re-planned every
    quarter-hour from the SoC reached)."""

    def __init__(self, *, rolling_intrinsic: bool = False, wholesale: str = "day_ahead") -> None:
        super().__init__(wholesale, reoptimise_after_capacity=True)
        self.rolling_intrinsic = rolling_intrinsic
        self._remainders: dict[tuple, BatteryLP] = {}
        self._trades: np.ndarray | None = None  # the continuous plan (N, n_qh) [MW, + sell], None: to be made
        self._soc_start = np.zeros(0)
        self.fallbacks = 0

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        self._ensure_plan(view)
        if stage in AUCTIONS:
            action = self._auction_action(view, stage)
            self._trades = None  # the continuous plan is re-made around the new positions
            return action
        if stage == Stage.DELIVERY and view.config.has("intraday"):
            return self._continuous_action(view, q)
        return super().act(view, stage, q)

    def _ensure_plan(self, view: DayView) -> None:
        if (id(view), view.serial) != self._day_key:
            self._soc_start, self._trades = view.soc_mwh.copy(), None
        super()._ensure_plan(view)

    def _auction_action(self, view: DayView, stage: Stage) -> np.ndarray:
        q_from, open_q = auction_window(view, stage)
        change = np.zeros((view.n, view.n_qh))
        # IDA3 trades around the continuous trades planned for the rest of the day too (10:00-12:00 stay open
        # to continuous trading only): they keep the held schedule feasible
        planned = self._trades[:, q_from:] if self._trades is not None else 0.0
        change[:, q_from:] = self._reoptimise(view, q_from, AUCTIONS[stage], fee_eur_mwh=0.0, open_q=open_q,
                                              planned=planned)
        return auction_bid(view, stage, change)

    def _continuous_action(self, view: DayView, q: int) -> np.ndarray:
        if self._trades is None or self.rolling_intrinsic:
            quote = view.intraday_quote(q) if self.rolling_intrinsic else None
            self._trades = np.zeros((view.n, view.n_qh))
            self._trades[:, q:] = self._reoptimise(view, q, "id1_price", view.config.intraday_fee_eur_mwh,
                                                   quote=quote)
        lo, hi = view.trade_range(q)
        return view.codec.delivery_action(self._trades[:, q], hi, -lo, hold_energy_offers=True)

    def _reoptimise(self, view: DayView, q_from: int, price: str, fee_eur_mwh: float, *,
                    open_q: np.ndarray | None = None, quote: float | None = None,
                    planned: np.ndarray | float = 0.0) -> np.ndarray:
        """Each asset's trade (N, n_qh - q_from) [MW, + sell] from ``q_from`` to the day's end on the forecast of
        ``price`` (the first quarter-hour at ``quote`` when given), around the positions held and the ``planned``
        trades [MW], with the reserves fixed, from the SoC now to the day's start SoC; none where no plan is
        feasible."""
        f, n = view.fleet, view.n_qh - q_from
        prices = np.array(view.forecasts.get(price, np.zeros((view.n, 2 * view.n_qh)))[:, q_from:view.n_qh])
        if quote is not None:
            prices[:, 0] = quote
        products = dataclasses.replace(lp_products_for(view, self.wholesale), day_ahead=False, intraday=True,
                                       intraday_fee_eur_mwh=fee_eur_mwh)
        blocks = block_of(view.n_qh)[q_from:]
        first = blocks[0]
        held = view.committed_mw[:, q_from:] + planned
        budget = f.max_daily_discharge_mwh - view.discharged_mwh
        out = np.zeros((view.n, n))
        open_q = np.ones(n, bool) if open_q is None else open_q
        for i in range(view.n):
            if not view.in_service[i]:  # out of service (a portfolio's outage): close what is held where open
                out[i] = -held[i] * open_q
                continue
            lp = self._remainder(f.specs[i], products, view.n_qh, q_from, bool((prices[i] < 0).any()))
            end = reachable_end(float(np.clip(self._soc_start[i], f.soc_min_mwh[i], f.soc_max_mwh[i])),
                                float(view.soc_mwh[i]), n, f.specs[i])
            try:
                plan = lp.solve(price_id=np.nan_to_num(prices[i]), soc0_mwh=float(view.soc_mwh[i]),
                                soc_end_mwh=(end, end), max_discharge_mwh=max(float(budget[i]), 0.0),
                                held_mw=held[i], intraday_open=open_q,
                                fixed_reserves=[x[i, first:] for x in awards(view)])
            except RuntimeError:  # no feasible plan from this SoC: trade nothing, the env restores the band
                self.fallbacks += 1
                continue
            out[i] = plan.intraday_mw
        return out

    def _remainder(self, spec: BatterySpec, products: LPProducts, n_qh: int, q_from: int, exclusive: bool) -> BatteryLP:
        """The persistent LP of a day's quarter-hours from ``q_from`` on (its blocks numbered from the first)."""
        key = (spec, products, n_qh, q_from, exclusive)
        if key not in self._remainders:
            blocks = block_of(n_qh)[q_from:]
            self._remainders[key] = BatteryLP(spec, dataclasses.replace(products, exclusive_charge=exclusive),
                                              n_qh - q_from, blocks=blocks - blocks[0])
        return self._remainders[key]


def reachable_end(target_mwh: float, soc_mwh: float, steps: int, spec: BatterySpec) -> float:
    """The day's end SoC [MWh] a re-optimisation can still reach from ``soc_mwh`` in ``steps`` quarter-hours at
    full power (net of the auxiliary load), nearest to ``target_mwh``. Trades on the 0.1 MW grid can leave the
    SoC short of a plan's last quarter-hours; pinned to the unreachable target the LP has no plan and the
    rest of the day would trade nothing, ending the day with the shortfall sold."""
    hours = steps * DT_H * (1.0 - 1e-6)  # a hair inside: the LP's own rounding
    highest = soc_mwh + ((spec.power_mw - spec.aux_power_mw) * spec.eta_charge) * hours
    lowest = soc_mwh - (spec.power_mw / spec.eta_discharge + spec.aux_power_mw) * hours
    return float(np.clip(target_mwh, lowest, highest))
