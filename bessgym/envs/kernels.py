"""The delivery step and the auction feasibility pass, compiled (numba), looping over assets.

Why compiled: a step over a few assets is dominated by numpy's per-call overhead (about 1 us per operation on
a short array, and a delivery quarter-hour takes about a hundred). These kernels do the same work in one call.
They are built from the scalar physics, clearing and settlement functions (:func:`~bessgym.assets.battery.soc_next`,
:func:`~bessgym.assets.battery.power_range`, :mod:`bessgym.market.settlement`), which are numpy ufuncs as well,
so numpy code and kernels share one definition of each rule.

Their inputs are named tuples of arrays (:class:`Batteries`, :class:`DayArrays`, :class:`MarketColumns`,
:class:`Terms`), passed as plain tuples (numba types a plain tuple on its fast path, a named one through Python,
which cost 2-3 us a step) and named again at the top of each kernel. Arrays (N, n_qh) are indexed at
quarter-hour ``q`` inside the kernels (no views made per step). Sign convention: + discharge / sell. Rows of
``cash`` are :data:`bessgym.market.settlement.CASH_FLOWS`, rows of ``report`` :data:`REPORT_ROWS`, both written
by name.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from bessgym.assets.battery import power_range, soc_next
from bessgym.assets.degradation import throughput_cost_eur
from bessgym.data.calendar import DT_H
from bessgym.envs.codec import energy_offer_eur_mwh, trade_mw
from bessgym.envs.layout import DELIVERY
from bessgym.envs.pooling import _pool_net, netting
from bessgym.market import settlement as st
from bessgym.market.clearing import GRID_TOLERANCE, accepted_buy, accepted_sell, round_volume
from bessgym.market.reserves import DOWN, ENERGY, HELD_DOWN, HELD_UP, RESERVES, UP

REPORT_ROWS = ("power_mw", "schedule_mw", "trade_mw", "deviation_mwh", "undelivered_mwh", "afrr_pos_mwh",
               "afrr_neg_mwh", "reserve_mwh", "charged_mwh", "discharged_mwh", "soc_mwh", "aux_mwh", "aux_grid_mwh",
               "unavailable_mw", "afrr_linked_mwh", "mfrr_pos_mwh", "mfrr_neg_mwh")
N_CASH, N_REPORT = len(st.CASH_FLOWS), len(REPORT_ROWS)  # compile-time constants in the kernels
# row numbers by name (a global named tuple is a compile-time constant in the kernels)
CASH = NamedTuple("CashRows", [(name, int) for name in st.CASH_FLOWS])(*range(N_CASH))
REPORT = NamedTuple("ReportRows", [(name, int) for name in REPORT_ROWS])(*range(N_REPORT))
A, N_ACTION = DELIVERY.indices(), len(DELIVERY)  # the delivery action's entries by name
R = NamedTuple("ReserveRows", [(p.name, int) for p in RESERVES])(*range(len(RESERVES)))  # rows of held_mw
MOVABLE_UP = tuple(k for k, p in enumerate(RESERVES) if p.direction == UP)  # one-way: can move by direction
MOVABLE_DOWN = tuple(k for k, p in enumerate(RESERVES) if p.direction == DOWN)
DIRECTION, N_RESERVES = tuple(p.direction for p in RESERVES), len(RESERVES)
CAPACITY_CASH = tuple(getattr(CASH, p.cash_flow("cap")) for p in RESERVES)  # each product's capacity payment
# per product whose held capacity's energy is offered and activated (reserves.ENERGY, rows of held_mw):
# its direction, its delivery action entries (-1: no energy-only offers), its cash and report rows
_ENERGY = tuple(RESERVES[k] for k in ENERGY)
ENERGY_UP = tuple(p.direction == UP for p in _ENERGY)
ENERGY_OFFER = tuple(getattr(A, f"{p.name}_offer") for p in _ENERGY)
ENERGY_ONLY_VOLUME = tuple(getattr(A, f"{p.name}_energy_only_volume") if p.energy_only else -1 for p in _ENERGY)
ENERGY_ONLY_PRICE = tuple(getattr(A, f"{p.name}_energy_only_price") if p.energy_only else -1 for p in _ENERGY)
ENERGY_CASH = tuple(getattr(CASH, p.cash_flow("energy")) for p in _ENERGY)
ENERGY_REPORT = tuple(getattr(REPORT, p.energy_column) for p in _ENERGY)
N_ENERGY = len(_ENERGY)
_POSITIONS = (CASH.day_ahead, CASH.ida1, CASH.ida2, CASH.ida3)  # the rows of DayArrays.positions_mw


class Batteries(NamedTuple):
    """The fleet's physics, arrays over assets (N,)."""

    soc_min_mwh: np.ndarray
    soc_max_mwh: np.ndarray
    power_mw: np.ndarray
    eta_charge: np.ndarray
    eta_discharge: np.ndarray
    aux_power_mw: np.ndarray
    max_discharge_mwh: np.ndarray  # trading discharge allowed per day
    degradation_eur_mwh: np.ndarray


class DayArrays(NamedTuple):
    """The day's commitments and what follows from them, (N, n_qh) unless noted."""

    committed_mw: np.ndarray  # net position [MW, + sell]
    positions_mw: np.ndarray  # (N, 4, n_qh): DA, IDA1, IDA2, IDA3
    prices: np.ndarray  # (4, n_qh): their prices [EUR/MWh]
    capacity_cash: np.ndarray  # (len(RESERVES), N, n_qh): each product's payment as won [EUR]
    capacity_price: np.ndarray  # (len(RESERVES), N, n_qh): the price of each [EUR/MW/h], for what is not available
    held_mw: np.ndarray  # (len(RESERVES), N, n_qh): each reserve product held [MW], rows as the table's
    up_cap_mw: np.ndarray  # power left for discharge after reserves
    down_cap_mw: np.ndarray  # power left for charge after reserves
    lo_mwh: np.ndarray  # SoC band keeping reserve headroom
    hi_mwh: np.ndarray
    discharged_mwh: np.ndarray  # (N,) trading discharge today, updated by deliver
    hold_h: np.ndarray  # (len(RESERVES),): energy held per MW of each product, per direction [h]


class MarketColumns(NamedTuple):
    """Market columns over the whole table, indexed at the step's row ``t``."""

    da_price: np.ndarray
    id1_price: np.ndarray
    imbalance_price: np.ndarray  # empty: imbalance settles at DA plus a markup
    energy_price: np.ndarray  # (N_ENERGY, rows): each energy product's marginal price [EUR/MWh]; 0 where not on
    activation: np.ndarray  # (N_ENERGY, rows): the activated share of its offered volume [-]; 0 where not on


class Terms(NamedTuple):
    """What the delivery step needs of :class:`~bessgym.envs.core.MarketConfig` and of the pooling."""

    intraday: bool
    pooled: bool  # the assets trade as one: only their net pays the intraday fee, shared over their gross
    intraday_fee_eur_mwh: float
    energy_price_band_eur_mwh: float
    energy_price_cap_eur_mwh: float
    imbalance_markup_eur_mwh: float
    non_delivery_penalty_eur_mwh: float
    unavailability_penalty_eur_mw_h: float  # on reserve that is held but cannot be delivered
    energy_only_backed: bool  # energy-only volumes are shares of the power the SoC backs, not of free power


@njit(cache=True)
def trade_bounds(q, soc, day, bat):
    """Range [t_lo, t_hi] of the intraday trade [MW] at quarter-hour ``q`` per asset, and the lower end of the
    net power that keeps SoC in the reserve band (see ``Simulator.trade_range``)."""
    day, bat = DayArrays(*day), Batteries(*bat)
    n = soc.shape[0]
    t_lo, t_hi, p_lo = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        lo_i, hi_i = power_range(soc[i], day.lo_mwh[i, q], day.hi_mwh[i, q], DT_H, bat.eta_charge[i],
                                 bat.eta_discharge[i], bat.aux_power_mw[i])
        budget = (bat.max_discharge_mwh[i] - day.discharged_mwh[i]) / DT_H
        committed = day.committed_mw[i, q]
        t_lo[i] = max(-day.down_cap_mw[i, q], lo_i) - committed
        # an exhausted cycle budget stops further discharge, but never blocks one the band requires
        t_hi[i] = min(min(day.up_cap_mw[i, q], hi_i), max(max(budget, 0.0), lo_i)) - committed
        p_lo[i] = lo_i
    return t_lo, t_hi, p_lo


@njit(cache=True)
def within_site(trade, q, committed, site_lo, site_hi, step_mw, within):
    """``trade`` moved into what the connection leaves the battery, [site_lo, site_hi] less the schedule,
    where that range holds a volume (on the exchange's grid when ``step_mw`` > 0), for the assets ``within``
    (N,) bool."""
    out = trade.copy()
    for i in range(trade.shape[0]):
        if not within[i]:
            continue
        lo, hi = site_lo[i] - committed[i, q], site_hi[i] - committed[i, q]
        if step_mw > 0:
            out[i] = on_grid(trade[i], lo, hi, step_mw)
        elif lo <= hi:
            out[i] = min(max(trade[i], lo), hi)
    return out


@njit(cache=True)
def intraday_trade(q, share, soc, day, bat, step_mw):
    """The intraday trade [MW] per asset for action ``share`` in [-1, 1] (a share of the room to sell or buy);
    when the band is out of reach it moves towards the band at full free power. ``step_mw`` > 0 rounds the
    volume down onto the exchange's grid."""
    t_lo, t_hi, p_lo = trade_bounds(q, soc, day, bat)
    trade = np.empty(soc.shape[0])
    for i in range(soc.shape[0]):
        a = share[i]
        wanted = trade_mw(a, t_hi[i], -t_lo[i])
        x = min(max(wanted, t_lo[i]), t_hi[i])
        if t_lo[i] > t_hi[i]:  # above the band: discharge; below: charge
            x = (day.up_cap_mw[i, q] if p_lo[i] > 0 else -day.down_cap_mw[i, q]) - day.committed_mw[i, q]
        trade[i] = on_grid(x, t_lo[i], t_hi[i], step_mw) if step_mw > 0 else x
    return trade


@njit(cache=True)
def on_grid(x, lo, hi, step_mw):
    """``x`` [MW] rounded towards zero onto the exchange's grid, but kept inside [lo, hi] where the grid has a
    point there: a trade the band or the cycle budget forces (a range that excludes 0) is rounded outwards, not
    lost to the rounding."""
    out = round_volume(x, step_mw, step_mw)
    tol = GRID_TOLERANCE * step_mw
    if out > hi + tol:
        out = np.floor(hi / step_mw + GRID_TOLERANCE) * step_mw
    elif out < lo - tol:
        out = np.ceil(lo / step_mw - GRID_TOLERANCE) * step_mw
    if out < lo - tol or out > hi + tol:  # no grid point inside the range: as close to zero as the grid allows
        out = round_volume(x, step_mw, step_mw)
    return out


@njit(cache=True)
def delivery_step(q, t, action, fcr_response, soc, day, placed, bat, market, terms, site_lo, site_hi, bounded,
                  plan_step_mw, pool_step_mw):
    """One delivery quarter-hour ``q`` (market row ``t``) of every asset, in one call: the intraday trade of
    ``action[:, 0]`` (:func:`intraday_trade`, on the grid of ``plan_step_mw`` > 0), the pooled net on the grid
    of ``pool_step_mw`` > 0 (:func:`bessgym.envs.pooling.pool_net`), moved into the connection's bounds
    [site_lo, site_hi] for the assets ``bounded`` (N,) bool (:func:`within_site`), the fee, then
    :func:`deliver`. ``placed`` (N,) [MW]: a trade already placed stands as it is, unbounded (a portfolio's
    asset that failed after the gate); NaN: none. Returns ``cash`` and ``report``."""
    day, bat, market, terms = DayArrays(*day), Batteries(*bat), MarketColumns(*market), Terms(*terms)
    n = soc.shape[0]
    if terms.intraday:
        trade = intraday_trade(q, np.ascontiguousarray(action[:, A.intraday_trade]), soc, day, bat, plan_step_mw)
        stands = ~np.isnan(placed)
        if stands.any():
            trade = np.where(stands, placed, trade)
            bounded = bounded & ~stands
        if pool_step_mw > 0:
            trade = _pool_net(trade.reshape(n, 1), pool_step_mw)[:, 0].copy()  # C-ordered: one signature
        if bounded.any():
            trade = within_site(trade, q, day.committed_mw, site_lo, site_hi, plan_step_mw, bounded)
    else:
        trade = np.zeros(n)
    fee = np.full(n, terms.intraday_fee_eur_mwh)
    if terms.pooled:
        gross, net = netting(trade)
        fee[:] = st.netted_fee(terms.intraday_fee_eur_mwh, net, gross)
    return deliver(q, t, trade, action, fcr_response, soc, day, bat, market, terms, site_lo, site_hi, fee)


@njit(cache=True)
def deliver(q, t, trade, action, fcr_response, soc, day, bat, market, terms, site_lo, site_hi, fee_eur_mwh):
    """One delivery quarter-hour ``q`` (market row ``t``) of every asset, after its intraday ``trade`` [MW]
    (named tuples; :func:`delivery_step` is the call from Python).

    Entries of ``action`` by name (:data:`bessgym.envs.layout.DELIVERY`). Each product with activated energy
    (:data:`~bessgym.market.reserves.ENERGY`: aFRR and mFRR) must offer its held capacity, at DA +- band x
    ``<product>_offer``; where the table allows (aFRR), free power may be offered too (volume share
    ``<product>_energy_only_volume`` at DA +- band x ``<product>_energy_only_price``). Each offer clears against
    the product's marginal price on its own, and the product's activated share of an accepted offer is called (a
    product not configured has zero prices and shares). FCR moves SoC by ``fcr_response`` x FCR (an empty
    array: energy-neutral). The battery runs schedule plus reserve within the
    SoC limits, the rating and the site bounds (:func:`physical_range`); where that is out of reach the
    schedule gives way first (:func:`serve`), and what reserves still cannot serve is undelivered (penalised,
    unpaid). Reserve capacity is paid for what is available at the quarter-hour's start
    (:func:`available_share`): the unavailable share is not paid and pays the unavailability penalty.
    Imbalance is settled at reBAP when the market has it, else at DA plus a markup. The intraday fee is per
    asset (a portfolio shares the fee of its net). Updates ``day.discharged_mwh`` in place; returns ``cash``
    (len(CASH_FLOWS), N) [EUR] and ``report``
    (len(REPORT_ROWS), N).
    """
    if action.shape[1] < N_ACTION:  # compiled code reads entries unchecked
        raise ValueError("a delivery action has len(DELIVERY) entries per asset (bessgym.envs.layout)")
    band, cap = terms.energy_price_band_eur_mwh, terms.energy_price_cap_eur_mwh
    n = soc.shape[0]
    cash = np.empty((N_CASH, n))
    report = np.empty((N_REPORT, n))
    da = market.da_price[t]
    held, hold = day.held_mw, day.hold_h
    act = np.empty(N_ENERGY)  # each energy product's activated power [MW]
    for i in range(n):
        schedule = day.committed_mw[i, q] + trade[i]
        free_up = max(day.up_cap_mw[i, q] - max(schedule, 0.0), 0.0)
        free_down = max(day.down_cap_mw[i, q] - max(-schedule, 0.0), 0.0)
        if terms.energy_only_backed:  # no more than the SoC delivers over the whole quarter-hour beside the
            # schedule, within the reserves' band: an offer that can never be undelivered
            backed_lo, backed_hi = power_range(soc[i], min(day.lo_mwh[i, q], soc[i]), max(day.hi_mwh[i, q], soc[i]),
                                               DT_H, bat.eta_charge[i], bat.eta_discharge[i], bat.aux_power_mw[i])
            free_up = max(min(free_up, backed_hi - schedule), 0.0)
            free_down = max(min(free_down, schedule - backed_lo), 0.0)
        act_up = act_down = linked = 0.0
        for e in range(N_ENERGY):
            up, marginal, called = ENERGY_UP[e], market.energy_price[e, t], market.activation[e, t]
            act[e] = held[ENERGY[e], i, q] * _won(action[i, ENERGY_OFFER[e]], da, band, cap, marginal, up) * called
            if ENERGY_ONLY_VOLUME[e] >= 0:  # the capacity's offer and the energy-only offer clear apart
                linked += act[e]
                free = free_up if up else free_down
                act[e] = act[e] + (max(action[i, ENERGY_ONLY_VOLUME[e]], 0.0) * free
                                   * _won(action[i, ENERGY_ONLY_PRICE[e]], da, band, cap, marginal, up) * called)
            if up:
                act_up += act[e]
            else:
                act_down += act[e]
        room_up = max(min(bat.power_mw[i], site_hi[i]) - schedule, 0.0)
        room_down = max(schedule - max(-bat.power_mw[i], site_lo[i]), 0.0)
        held_up = held_down = 0.0  # the power the reserves hold each way [MW]
        for k in HELD_UP:
            held_up += held[k, i, q]
        for k in HELD_DOWN:
            held_down += held[k, i, q]
        share_up = available_share(held_up, room_up, held_need(held, q, i, hold, HELD_UP) / bat.eta_discharge[i],
                                   soc[i] - bat.soc_min_mwh[i])
        share_down = available_share(held_down, room_down, held_need(held, q, i, hold, HELD_DOWN) * bat.eta_charge[i],
                                     bat.soc_max_mwh[i] - soc[i])
        reserve = act_up
        for e in range(N_ENERGY):
            if not ENERGY_UP[e]:
                reserve -= act[e]
        if fcr_response.shape[0] > 0:
            reserve = reserve + held[R.fcr, i, q] * fcr_response[i, q]
        h_lo, h_hi = physical_range(soc[i], bat.soc_min_mwh[i], bat.soc_max_mwh[i], bat.power_mw[i], site_lo[i],
                                    site_hi[i], bat.eta_charge[i], bat.eta_discharge[i], bat.aux_power_mw[i])
        served_reserve, served = serve(reserve, schedule, h_lo, h_hi)
        p = served_reserve + served
        undelivered = abs(reserve - served_reserve) * DT_H
        # undelivered activation is not paid: it comes off the direction the net reserve ran in, pro rata
        short_up = undelivered / max(act_up, 1e-12) / DT_H if reserve > 0 else 0.0
        short_down = undelivered / max(act_down, 1e-12) / DT_H if reserve < 0 else 0.0
        # auxiliaries the battery cannot carry without a charge the connection forbids are drawn from the grid
        soc_after = soc_next(soc[i], p, DT_H, bat.eta_charge[i], bat.eta_discharge[i], bat.aux_power_mw[i])
        aux_grid = max(min(soc[i], bat.soc_min_mwh[i]) - soc_after, 0.0)
        deviation = (served - schedule) * DT_H - aux_grid  # the grid's aux supply is unscheduled consumption
        out_mwh = max(p, 0.0) * DT_H
        day.discharged_mwh[i] = day.discharged_mwh[i] + max(served, 0.0) * DT_H

        unavailable = 0.0
        for k in range(N_RESERVES):
            side = DIRECTION[k]
            share = share_up if side == UP else share_down if side == DOWN else min(share_up, share_down)
            missing = held[k, i, q] * (1.0 - share)
            cash[CAPACITY_CASH[k], i] = day.capacity_cash[k, i, q] - missing * day.capacity_price[k, i, q] * DT_H
            unavailable += missing
        for e in range(N_ENERGY):
            if ENERGY_UP[e]:
                energy = act[e] * DT_H * max(1.0 - short_up, 0.0)
                cash[ENERGY_CASH[e], i] = st.afrr_pos_energy_revenue(energy, market.energy_price[e, t])
            else:
                energy = act[e] * DT_H * max(1.0 - short_down, 0.0)
                cash[ENERGY_CASH[e], i] = st.afrr_neg_energy_revenue(energy, market.energy_price[e, t])
            report[ENERGY_REPORT[e], i] = energy
        for k in range(4):
            cash[_POSITIONS[k], i] = st.energy_revenue(day.positions_mw[i, k, q], day.prices[k, q], DT_H)
        cash[CASH.intraday, i] = st.intraday_revenue(trade[i], market.id1_price[t], fee_eur_mwh[i], DT_H)
        if market.imbalance_price.shape[0] > 0:
            cash[CASH.imbalance, i] = st.imbalance_settlement(deviation, market.imbalance_price[t])
        else:
            cash[CASH.imbalance, i] = (st.imbalance_settlement(deviation, da)
                                       - abs(deviation) * terms.imbalance_markup_eur_mwh)
        cash[CASH.penalty, i] = (st.non_delivery_penalty(undelivered, terms.non_delivery_penalty_eur_mwh)
                                 - unavailable * terms.unavailability_penalty_eur_mw_h * DT_H)
        cash[CASH.degradation, i] = -throughput_cost_eur(out_mwh, bat.degradation_eur_mwh[i])
        r = report[:, i]
        r[REPORT.power_mw], r[REPORT.schedule_mw], r[REPORT.trade_mw] = p, schedule, trade[i]
        r[REPORT.deviation_mwh], r[REPORT.undelivered_mwh] = deviation, undelivered
        r[REPORT.reserve_mwh], r[REPORT.charged_mwh] = served_reserve * DT_H, max(-p, 0.0) * DT_H
        r[REPORT.discharged_mwh], r[REPORT.soc_mwh] = out_mwh, soc_after + aux_grid
        r[REPORT.aux_mwh], r[REPORT.aux_grid_mwh] = bat.aux_power_mw[i] * DT_H - aux_grid, aux_grid
        r[REPORT.unavailable_mw] = unavailable
        r[REPORT.afrr_linked_mwh] = linked * DT_H  # the capacity's offers called, beside energy-only ones
    return cash, report


@njit(cache=True)
def _won(share, da_price, band, cap, marginal, up):
    """1.0 if an energy offer at DA + band x ``share`` (within [-cap, cap]) clears at the ``marginal`` price as a
    sale (``up``) or a purchase, else 0.0."""
    offer = energy_offer_eur_mwh(share, da_price, band, cap)
    return 1.0 if (accepted_sell(offer, marginal) if up else accepted_buy(offer, marginal)) else 0.0


@njit(cache=True)
def held_need(held, q, i, hold, rows):
    """SoC energy [MWh, before the efficiency] the reserves ``rows`` (of ``held``, one row per product) of asset
    ``i`` hold at quarter-hour ``q``: each for its product's held duration (``hold``, per product)."""
    need = 0.0
    for k in rows:
        need += held[k, i, q] * hold[k]
    return need


@njit(cache=True)
def available_share(held_mw, room_mw, need_mwh, stored_mwh):
    """The share [0, 1] of ``held_mw`` of reserve in one direction that can be delivered from the quarter-hour's
    start: the power left beside the schedule (``room_mw``) and the SoC energy for the held duration
    (``need_mwh`` of ``stored_mwh`` above the floor or below the ceiling). Nothing held is fully available."""
    if held_mw <= 1e-12:
        return 1.0
    share = 1.0 if room_mw >= held_mw - 1e-9 else room_mw / held_mw
    if need_mwh > stored_mwh + 1e-9:
        share = min(share, max(stored_mwh, 0.0) / need_mwh)
    return share


@njit(cache=True)
def physical_range(soc, soc_min, soc_max, power, site_lo, site_hi, eta_c, eta_d, aux_mw):
    """Net power range [MW] of one battery in a quarter-hour: the SoC window, the rating and the connection
    (``site_lo``/``site_hi``, [0, 0] for an asset out of service). The rating and the connection are hard;
    where keeping SoC at ``soc_min`` needs a charge they forbid (auxiliaries at the floor of a green-only site
    at night, a failed asset), the battery charges what they allow and the rest of the auxiliary load comes
    from the grid (:func:`deliver`)."""
    hard_lo, hard_hi = max(-power, site_lo), min(power, site_hi)
    s_lo, s_hi = power_range(soc, soc_min, soc_max, DT_H, eta_c, eta_d, aux_mw)
    lo, hi = max(s_lo, hard_lo), min(s_hi, hard_hi)
    if lo > hi:
        lo = hi = min(max(s_hi if s_hi < hard_lo else s_lo, hard_lo), hard_hi)
    return lo, hi


@njit(cache=True)
def serve(reserve, schedule, lo, hi):
    """Split net power in [lo, hi] between an activated ``reserve`` and the ``schedule`` [MW], reserves first.

    The battery runs ``schedule + reserve`` where that is feasible: a schedule can offset an activation (a
    sale at full SoC makes room for a NEG call). Where it is not, the schedule gives way first, back to what
    the battery does with no obligation (0, or the charge its auxiliaries force), and only what that cannot
    cover is undelivered reserve. Returns (served reserve, served schedule); their sum lies in [lo, hi].
    """
    idle = min(max(0.0, lo), hi)
    served_reserve = min(max(reserve, lo - max(schedule, idle)), hi - min(schedule, idle))
    served = min(max(schedule, lo - served_reserve), hi - served_reserve)
    return served_reserve, served


@njit(cache=True)
def feasible_plan(wanted, soc0, day, bat, q_from, mtu, step_mw):
    """Clip a wanted net schedule (N, n_qh) so that SoC, reserve headroom, power and the cycle limit hold.

    Simulated forward from ``soc0`` (no activations assumed) one market time unit of ``mtu`` quarter-hours at
    a time, with the MTU's tightest power rooms and band; quarter-hours before ``q_from`` keep the committed
    schedule. Out of reach of the band, it moves towards it as fast as free power allows. ``step_mw`` > 0
    rounds each power towards zero onto the exchange's grid, so the result is feasible and tradable.
    """
    day, bat = DayArrays(*day), Batteries(*bat)
    n, n_qh = day.committed_mw.shape
    out = day.committed_mw.copy()
    dur = mtu * DT_H
    first = q_from - q_from % mtu
    for i in range(n):
        soc, budget = soc0[i], bat.max_discharge_mwh[i] - day.discharged_mwh[i]
        for q0 in range(first, n_qh, mtu):
            if q0 < q_from:
                p = out[i, q0]
            else:
                up, down, lo_mtu, hi_mtu = np.inf, np.inf, -np.inf, np.inf
                for q in range(q0, q0 + mtu):
                    up, down = min(up, day.up_cap_mw[i, q]), min(down, day.down_cap_mw[i, q])
                    lo_mtu, hi_mtu = max(lo_mtu, day.lo_mwh[i, q]), min(hi_mtu, day.hi_mwh[i, q])
                p_lo, p_hi = power_range(soc, lo_mtu, hi_mtu, dur, bat.eta_charge[i], bat.eta_discharge[i],
                                         bat.aux_power_mw[i])
                p_hi = min(min(p_hi, up), max(budget, 0.0) / dur)
                p_lo = max(p_lo, -down)
                p = min(max(wanted[i, q0], p_lo), p_hi)
                if p_lo > p_hi:
                    p = -down if p_hi < 0 else min(up, max(p_lo, 0.0))
                if step_mw > 0:
                    p = round_volume(p, step_mw, step_mw)
                for q in range(q0, q0 + mtu):
                    out[i, q] = p
            soc = soc_next(soc, p, dur, bat.eta_charge[i], bat.eta_discharge[i], bat.aux_power_mw[i])
            budget = budget - max(p, 0.0) * dur
    return out


@njit(cache=True)
def reachable_band(lo, hi, charge_in, discharge_out):
    """Tighten the SoC band (N, n_qh) [MWh] in place, backwards in time, so that the end-of-step band of each
    quarter-hour leaves the next one's reachable with the energy that can go in (``charge_in``) or out
    (``discharge_out``) during it [MWh]: a block with larger reserves needs its headroom in time."""
    n, n_qh = lo.shape
    for i in range(n):
        for q in range(n_qh - 2, -1, -1):
            lo[i, q] = max(lo[i, q], lo[i, q + 1] - charge_in[i, q + 1])
            hi[i, q] = min(hi[i, q], hi[i, q + 1] + discharge_out[i, q + 1])
