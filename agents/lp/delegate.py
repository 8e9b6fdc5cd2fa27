"""LP strategies as env policies: solve the delivery day, then answer every stage with the matching action.

:class:`DailyLPPolicy` implements the env's delegate protocol (``act(view, stage, q)``), so it can decide any
stage of ``SingleBESSEnv``/``BESSVectorEnv`` or drive a whole episode with :func:`run_episode`. At the first
stage of each day it solves one LP per asset on the env's forecasts (perfect foresight with
``forecast="perfect"``, the multi-market methodology's noisy prices with ``"noisy"``), from the asset's
current SoC, and maps the plan onto the env's normalised actions exactly (the inverse of the env's mapping).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from agents.base import DelegateAgent
from agents.lp.capacity_bids import capacity_offers
from agents.lp.energy_offers import band_edges, held_offers_called, plan_offers
from agents.lp.model import BatteryLP
from agents.lp.terms import RESERVE_PRICES, LPProducts, LPResult, SiteTerms, block_of
from bessgym.assets.battery import BatterySpec
from bessgym.envs.layout import ACTION_WIDTH
from bessgym.envs.view import DayView
from bessgym.market.clearing import round_volume
from bessgym.market.products import IDA3_FIRST_HOUR, N_BLOCKS, Stage
from bessgym.market.reserves import RESERVES

WHOLESALE = ("day_ahead", "intraday")
# the LP's pay-as-bid capacity prices by name, each with its product; the reserves per block as fixed
# (:meth:`ActorLP.solve`), in the table's order
CAPACITY_PRICES = {name: p for p, name in zip(RESERVES, RESERVE_PRICES, strict=True) if p.pricing == "pay_as_bid"}
AWARDS = tuple(p.held_column for p in RESERVES)


def awards(view: DayView) -> tuple[np.ndarray, ...]:
    """The day's reserve awards per block (N, 6) [MW], in the order of ``fixed_reserves`` (:meth:`ActorLP.solve`)."""
    return tuple(getattr(view, name) for name in AWARDS)


def lp_products_for(view: DayView, wholesale: str) -> LPProducts:
    """The LP products and terms that match an env's market configuration, trading one wholesale market.

    The env makes every auction's committed schedule physically feasible when it is bid, so a day-ahead
    sale that only an intraday buy-back would make feasible ("virtual" DA/ID spread) cannot be executed;
    the LP therefore trades either day-ahead or intraday continuous, as both reference methodologies do.
    aFRR and mFRR energy: the held capacity's energy is offered at the edge of the price band away from the
    market (``act``), where it is called only when the marginal price passes the edge; a plan counts on that
    energy (:func:`~agents.lp.energy_offers.held_offers_called`) unless the policy is told not to.
    """
    if wholesale not in WHOLESALE:
        raise ValueError(f"wholesale must be one of {WHOLESALE}, got {wholesale!r}")
    cfg = view.config
    if not cfg.has(wholesale):
        raise ValueError(f"the env's MarketConfig has no {wholesale!r} product for the LP to trade")
    return LPProducts(
        day_ahead=wholesale == "day_ahead", hourly_day_ahead=view.rules.da_resolution_min == 60,
        intraday=wholesale == "intraday", intraday_fee_eur_mwh=cfg.intraday_fee_eur_mwh,
        fcr=cfg.has("fcr"), afrr_capacity=cfg.has("afrr_capacity"),
        fcr_hold_h=cfg.fcr_hold(view.rules),
        afrr_hold_h=cfg.afrr_hold_h, ancillary_max_share=cfg.ancillary_max_share, fcr_max_share=cfg.fcr_max_share,
        mfrr_capacity=cfg.has("mfrr_capacity"), mfrr_hold_h=cfg.mfrr_hold_h,
        integer_reserves=not (view.pooled and view.n > 1),  # a portfolio rounds its total, not each asset
    )


class DailyLPPolicy:
    """Perfect- or imperfect-hindsight multi-market LP, one delivery day at a time.

    ``wholesale``: ``"day_ahead"`` or ``"intraday"`` (see :func:`lp_products_for`). ``end_soc``: the SoC
    fraction the plan must end at (None keeps the day's start SoC), so revenue is not bought by emptying the
    battery at the horizon. ``rolling``: plan today and tomorrow on the forecasts the env has (two days of
    them), end the two days at ``end_soc`` and execute today: today's end SoC is then valued by tomorrow's
    prices instead of pinned, and the next day plans again from the SoC reached (a rolling horizon).
    ``energy_offers``: where the env pays aFRR energy, offer the power the day's schedule and reserves leave
    free as energy-only aFRR (:mod:`agents.lp.energy_offers`), priced by :meth:`_offer_prices` (the band's
    edges: every activation clears, the forecasts decide the volume). ``objectives`` collects each solved
    plan's LP objective [EUR] per asset, to compare with what the env paid. ``bid_marginal``: offer pay-as-bid
    capacity on the forecast marginal price, valued at its expected pay (:mod:`agents.lp.capacity_bids`); False
    offers it at the forecast average price, valued at that price (a price-taker's 100 % acceptance, as the
    published methodologies have it). ``value_called``: count on the held capacity's energy being called where the
    (forecast) marginal price passes its offer at the band's edge, paid and moving the SoC (the env does both);
    False plans as if it were never called, as the multi-market methodology does.
    """

    def __init__(self, wholesale: str = "day_ahead", end_soc: float | None = None, *,
                 reoptimise_after_capacity: bool = False, rolling: bool = False, energy_offers: bool = False,
                 bid_marginal: bool = True, value_called: bool = True) -> None:
        if wholesale not in WHOLESALE:
            raise ValueError(f"wholesale must be one of {WHOLESALE}, got {wholesale!r}")
        self.wholesale, self.end_soc, self.rolling, self.bid_marginal = wholesale, end_soc, rolling, bid_marginal
        self.reoptimise_after_capacity, self.energy_offers = reoptimise_after_capacity, energy_offers
        self.value_called = value_called
        self._offers: tuple[np.ndarray, ...] | None = None
        self._offers_key: tuple | None = None
        self._energy_models: dict[tuple, BatteryLP] = {}
        self._models: dict[tuple, BatteryLP] = {}
        self._plan: list[LPResult] = []
        self._day_key: tuple | None = None
        self.objectives: list[np.ndarray] = []

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        self._ensure_plan(view)
        if stage == Stage.CAPACITY:
            return self._capacity_action(view)
        if stage == Stage.DAY_AHEAD:
            if self.reoptimise_after_capacity:
                self._plan_day(view, awarded=True)
            return self._day_ahead_action(view)
        if stage == Stage.DELIVERY:
            return self._delivery_action(view, q)
        return auction_bid(view, stage, close_out(view, stage))  # the plan needs no change but after an outage

    # ------------------------------------------------------------------------------------ planning

    def _ensure_plan(self, view: DayView) -> None:
        key = (id(view), view.serial)
        if key == self._day_key:
            return
        self._day_key = key
        self.objectives.append(np.zeros(view.n))
        self._plan_day(view, awarded=False)

    def _plan_day(self, view: DayView, *, awarded: bool) -> None:
        """Solve each asset's day on the env's forecasts from its current SoC; with ``awarded`` the reserves
        are fixed to what the capacity auction gave (the methodology's sequential step)."""
        f = view.fleet
        products = lp_products_for(view, self.wholesale)
        self._whole_mw = products.integer_reserves  # the plan's reserves are bid as planned (whole MW or pooled)
        days = (view.n_qh,) + ((view.next_n_qh,) if self.rolling and view.next_n_qh else ())
        prices, soc0, end, budget = self._day_inputs(view, sum(days))
        called, energy_prices = self._called(view, sum(days))
        budget = np.stack([budget] + [f.max_daily_discharge_mwh] * (len(days) - 1), axis=1)  # each day its own
        plans = []
        for i in range(view.n):  # one LP per asset, once or twice a day
            if not view.in_service[i]:  # out when the day is planned (a portfolio's outage): it bids nothing
                plans.append(idle(view.n_qh, float(soc0[i]), self._site_parameters(view, i).get("pv_forecast_mw")))
                continue
            mine = {name: values[i] for name, values in prices.items()}
            negative = bool((mine["price_da"] < 0).any() or (mine["price_id"] < 0).any())
            lp = self._model(f.specs[i], products, days, negative, self._site_terms(view, i))
            fixed = [np.pad(x[i], (0, lp.n_blocks - x.shape[1])) for x in awards(view)] if awarded else None
            plan = lp.solve(**mine, **{name: price[i] for name, price in energy_prices.items()},
                            soc0_mwh=float(soc0[i]), soc_end_mwh=(float(end[i]), float(end[i])),
                            max_discharge_mwh=budget[i], fixed_reserves=fixed, called_share=called[:, i],
                            **self._site_parameters(view, i))
            plans.append(today(plan, view.n_qh))
        self._plan = plans
        self.objectives[-1] = np.array([p.objective_eur for p in plans])

    def _day_inputs(self, view: DayView, n_steps: int | None = None) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                                               np.ndarray, np.ndarray]:
        """The LP inputs on the env's forecasts over ``n_steps`` from the day's start (default the day): prices by
        LP parameter name (N, n_steps; a product without a forecast is 0), and per asset the start SoC, the
        end SoC and the discharge budget left today [MWh]."""
        f, n = view.fleet, n_steps or view.n_qh
        fc = {name: values[:, :n] for name, values in view.forecasts.items()}
        zero = np.zeros((view.n, n))
        prices = {"price_da": fc["da_price"], "price_id": fc.get("id1_price", zero),
                  "price_fcr": fc.get("fcr_price", zero),
                  **{name: pay for name, (_, pay) in self._capacity_offers(view, n).items()}}
        soc0 = view.soc_mwh
        end = soc0 if self.end_soc is None else self.end_soc * f.energy_mwh
        return prices, soc0, np.clip(end, f.soc_min_mwh, f.soc_max_mwh), f.max_daily_discharge_mwh - view.discharged_mwh

    def _called(self, view: DayView, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The held capacity's called shares (E, N, n) and energy prices the plan counts on over ``n`` steps
        (:func:`~agents.lp.energy_offers.held_offers_called`); none without ``value_called``."""
        shares, prices = held_offers_called(view, n)
        return (shares, prices) if self.value_called else (np.zeros_like(shares), prices)

    def _capacity_offers(self, view: DayView, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Pay-as-bid capacity offers and their expected pay [EUR/MW/h] by LP price name, per step (N, n): each
        block's offer on the forecasts at its start, as the env reads them (:mod:`agents.lp.capacity_bids`);
        with ``bid_marginal`` False, or without a marginal price, at the forecast average (a share of 0)."""
        days = (view.n_qh, view.next_n_qh) if n > view.n_qh else (view.n_qh,)
        blocks = np.concatenate([block_of(k) + N_BLOCKS * d for d, k in enumerate(days)])[:n]
        first = np.searchsorted(blocks, blocks)  # each step's block start, where the env reads the forecasts
        out = {}
        for name, product in CAPACITY_PRICES.items():
            average = view.forecasts.get(product.price_column, np.zeros((view.n, n)))[:, first]
            marginal = view.forecasts.get(product.marginal_column)
            if self.bid_marginal and marginal is not None:
                out[name] = capacity_offers(marginal[:, first], average, view.config.capacity_price_band,
                                            view.forecast_sigma)
            else:
                out[name] = (average, average)
        return out

    def _model(self, spec: BatterySpec, products: LPProducts, days: tuple[int, ...], exclusive: bool,
               site: SiteTerms | None = None) -> BatteryLP:
        """The persistent LP of days of ``days`` quarter-hours (each with its six reserve blocks)."""
        key = (spec, products, days, exclusive, site)
        if key not in self._models:
            blocks = np.concatenate([block_of(n) + N_BLOCKS * k for k, n in enumerate(days)])
            self._models[key] = BatteryLP(spec, LPProducts(**{**products.__dict__, "exclusive_charge": exclusive}),
                                          sum(days), blocks=blocks, site=site, budget_days=days)
        return self._models[key]

    def _site_terms(self, view: DayView, i: int) -> SiteTerms | None:
        """The asset's grid connection for the LP (a battery alone has none)."""
        return None

    def _site_parameters(self, view: DayView, i: int) -> dict[str, np.ndarray]:
        return {}

    # ------------------------------------------------------------------------- plan -> env actions

    def _capacity_action(self, view: DayView) -> np.ndarray:
        whole = np.round if self._whole_mw else np.asarray  # a portfolio rounds its total, not each asset
        volumes = [whole([getattr(p, name) for p in self._plan]) for name in AWARDS]
        action = view.codec.capacity_action(volumes, view.fleet.power_mw, *self._capacity_rooms(view))
        starts = np.searchsorted(view.block, np.arange(N_BLOCKS))
        offers = self._capacity_offers(view, view.n_qh)
        return view.codec.with_capacity_prices(
            action, [offers[name][0][:, starts] for name in CAPACITY_PRICES],
            [view.forecasts.get(p.price_column, np.zeros((view.n, view.n_qh)))[:, starts]
             for p in CAPACITY_PRICES.values()])

    def _capacity_rooms(self, view: DayView) -> tuple[np.ndarray, np.ndarray]:
        """The rooms the capacity action's reserve shares are read against."""
        return view.capacity_rooms()

    def _day_ahead_action(self, view: DayView) -> np.ndarray:
        a = np.zeros((view.n, ACTION_WIDTH[Stage.DAY_AHEAD]))
        a[:, :view.n_qh] = view.codec.auction_action(np.array([p.day_ahead_mw for p in self._plan]),
                                                     *view.auction_rooms(Stage.DAY_AHEAD))
        return a

    def _delivery_action(self, view: DayView, q: int) -> np.ndarray:
        lo, hi = view.trade_range(q)
        offers = self._energy_only_offers(view)
        # capacity held at the band's edge (called only where the marginal price passes it, as the plan counted);
        # energy-only offers of free power where planned
        return view.codec.delivery_action(self._trades(q), hi, -lo, hold_energy_offers=True,
                                          energy_only=None if offers is None else tuple(x[:, q] for x in offers))

    def _trades(self, q: int | slice = slice(None)) -> np.ndarray:
        """The plan's intraday trades at quarter-hour(s) ``q`` (N, ...) [MW, + sell] (default the day): a sale
        into a profile PPA's shortfall is an intraday sale the site delivers into the profile."""
        return np.array([p.intraday_mw[q] + (0.0 if p.profile_fill_mw is None else p.profile_fill_mw[q])
                         for p in self._plan])

    def _energy_only_offers(self, view: DayView) -> tuple[np.ndarray, ...] | None:
        """The day's energy-only offers (:func:`~agents.lp.energy_offers.plan_offers`), planned at its first
        delivery around the positions held and the trades planned; None without them."""
        if not (self.energy_offers and view.config.has("afrr_energy")):
            return None
        if self._offers_key != (id(view), view.serial):
            products = dataclasses.replace(lp_products_for(view, self.wholesale), day_ahead=False, intraday=False,
                                           exclusive_charge=True)  # the env runs the net: no burning in both
            self._offers_key = (id(view), view.serial)
            end_mwh = np.array([p.soc_mwh[-1] for p in self._plan])
            da = np.broadcast_to(view.day_ahead_price, (view.n, view.n_qh))
            step = view.trade_step_mw  # the trades as the env will execute them: the offers use the power left
            trades = self._trades()
            trades = round_volume(trades, step, step) if step > 0 else trades
            self._offers = plan_offers(view, self._energy_models, products, awards(view), *self._offer_prices(view, da),
                                       view.committed_mw + trades, end_mwh, self._called(view, view.n_qh))
        return self._offers

    def _offer_prices(self, view: DayView, da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """POS and NEG offer prices [EUR/MWh] of the energy-only offers, shaped as the DA prices ``da``."""
        return band_edges(view, da)


def auction_window(view: DayView, stage: Stage) -> tuple[int, np.ndarray]:
    """The first quarter-hour an intraday auction can still change, and where from there it trades
    (n_qh - q_from,) bool: IDA3 is decided during the day (from the next delivery on) and covers 12:00-24:00."""
    if stage != Stage.IDA3:
        return 0, np.ones(view.n_qh, bool)
    q_from = view.delivery_q
    return q_from, view.local_hour[q_from:] >= IDA3_FIRST_HOUR


def close_out(view: DayView, stage: Stage) -> np.ndarray:
    """The position change (N, n_qh) [MW, + sell] that closes, where an intraday auction trades, the schedule of
    every asset out of service now (the control loop's new bid after an outage; 0 for the others)."""
    q_from, open_q = auction_window(view, stage)
    change = np.zeros((view.n, view.n_qh))
    out = ~view.in_service
    change[out, q_from:] = -view.committed_mw[out, q_from:] * open_q
    return change


def auction_bid(view: DayView, stage: Stage, change_mw: np.ndarray) -> np.ndarray:
    """The action of an intraday auction that changes the positions by ``change_mw`` (N, n_qh) [MW, + sell]."""
    a = np.zeros((view.n, ACTION_WIDTH[stage]))
    a[:, :view.n_qh] = view.codec.auction_action(change_mw, *view.auction_rooms(stage))
    return a


def idle(n_qh: int, soc_mwh: float, pv_mw: np.ndarray | None = None) -> LPResult:
    """The plan of an asset that does nothing all day (out of service): no position, no reserve; its PV, if it
    has any, feeds in as forecast (``pv_mw``)."""
    zero, blocks = np.zeros(n_qh), np.zeros(N_BLOCKS)
    return LPResult(0.0, zero, zero, np.full(n_qh, soc_mwh), zero, zero, blocks, blocks, blocks,
                    pv_out_mw=None if pv_mw is None else np.asarray(pv_mw, dtype=float),
                    mfrr_pos_mw=blocks, mfrr_neg_mw=blocks)


def today(plan: LPResult, n_qh: int) -> LPResult:
    """The first day of a plan: its first ``n_qh`` quarter-hours and reserve blocks."""
    steps = {name: getattr(plan, name)[:n_qh] for name in ("charge_mw", "discharge_mw", "soc_mwh", "day_ahead_mw",
                                                           "intraday_mw")}
    blocks = {name: getattr(plan, name)[:N_BLOCKS] for name in AWARDS}
    optional = {name: getattr(plan, name)[:n_qh] for name in ("pv_out_mw", "afrr_energy_pos_mw", "afrr_energy_neg_mw",
                                                              "profile_fill_mw") if getattr(plan, name) is not None}
    if plan.pv_commitment_share is not None:
        optional["pv_commitment_share"] = plan.pv_commitment_share[:N_BLOCKS]
    return dataclasses.replace(plan, **steps, **blocks, **optional)


def run_policy(env, policy, *, seed: int | None = None, start_day=None) -> pd.DataFrame:
    """Drive every agent decision of a SingleBESSEnv with a delegate-protocol policy.

    Returns a tidy table: one row per delivery day, one column per cash flow [EUR] and their ``total``.
    """
    options = {"start_day": start_day} if start_day is not None else None
    obs, info = env.reset(seed=seed, options=options)
    agent = DelegateAgent(policy, name=type(policy).__name__)
    agent.reset(env)
    rows: dict[str, dict[str, float]] = {}
    done = False
    while not done:
        delivery_date = info["delivery_date"]
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        row = rows.setdefault(delivery_date, dict.fromkeys(info["cash_flow_eur"], 0.0))
        for product, eur in info["cash_flow_eur"].items():
            row[product] += eur
        done = terminated or truncated
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.Index([pd.Timestamp(d).date() for d in table.index], name="delivery_date")
    table["total"] = table.sum(axis=1)
    return table
