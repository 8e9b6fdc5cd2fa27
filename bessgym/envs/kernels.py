"""The delivery step and the auction feasibility pass, compiled (numba), looping over assets.

Why compiled: a step over a few assets is dominated by numpy's per-call overhead (about 1 us per operation on
a short array, and a delivery quarter-hour takes about a hundred). These kernels do the same work in one call.
They are built from the scalar physics, clearing and settlement functions (:func:`~bessgym.assets.battery.soc_next`,
:func:`~bessgym.assets.battery.power_range`, :mod:`bessgym.market.settlement`), which are numpy ufuncs as well,
so numpy code and kernels share one definition of each rule.

Arrays (N, n_qh) are indexed at quarter-hour ``q`` inside the kernels (no views made per step). Sign convention:
+ discharge / sell. The row order of ``cash`` is :data:`bessgym.market.settlement.CASH_FLOWS`, that of
``report`` is :data:`REPORT_ROWS`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bessgym.assets.battery import power_range, soc_next
from bessgym.assets.degradation import throughput_cost_eur
from bessgym.data.calendar import DT_H
from bessgym.market import settlement as st
from bessgym.market.clearing import GRID_TOLERANCE, accepted_buy, accepted_sell, round_volume

REPORT_ROWS = ("power_mw", "schedule_mw", "trade_mw", "deviation_mwh", "undelivered_mwh", "afrr_pos_mwh",
               "afrr_neg_mwh", "reserve_mwh", "charged_mwh", "discharged_mwh", "soc_mwh", "aux_mwh", "aux_grid_mwh")
N_CASH, N_REPORT = len(st.CASH_FLOWS), len(REPORT_ROWS)  # compile-time constants in the kernels


@njit(cache=True)
def trade_bounds(q, soc, committed, lo, hi, up_cap, down_cap, discharged, max_discharge, eta_c, eta_d, aux_mw):
    """Range [t_lo, t_hi] of the intraday trade [MW] at quarter-hour ``q`` per asset, and the lower end of the
    net power that keeps SoC in the reserve band (see ``Simulator.trade_range``)."""
    n = soc.shape[0]
    t_lo, t_hi, p_lo = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        lo_i, hi_i = power_range(soc[i], lo[i, q], hi[i, q], DT_H, eta_c[i], eta_d[i], aux_mw[i])
        budget = (max_discharge[i] - discharged[i]) / DT_H
        t_lo[i] = max(-down_cap[i, q], lo_i) - committed[i, q]
        # an exhausted cycle budget stops further discharge, but never blocks one the band requires
        t_hi[i] = min(min(up_cap[i, q], hi_i), max(max(budget, 0.0), lo_i)) - committed[i, q]
        p_lo[i] = lo_i
    return t_lo, t_hi, p_lo


@njit(cache=True)
def within_site(trade, q, committed, site_lo, site_hi, step_mw):
    """``trade`` moved into what the connection leaves the battery, [site_lo, site_hi] less the schedule,
    where that range holds a volume (on the exchange's grid when ``step_mw`` > 0)."""
    out = trade.copy()
    for i in range(trade.shape[0]):
        lo, hi = site_lo[i] - committed[i, q], site_hi[i] - committed[i, q]
        if step_mw > 0:
            out[i] = on_grid(trade[i], lo, hi, step_mw)
        elif lo <= hi:
            out[i] = min(max(trade[i], lo), hi)
    return out


@njit(cache=True)
def intraday_trade(q, share, soc, committed, lo, hi, up_cap, down_cap, discharged, max_discharge, eta_c, eta_d,
                   aux_mw, step_mw):
    """The intraday trade [MW] per asset for action ``share`` in [-1, 1] (a share of the room to sell or buy);
    when the band is out of reach it moves towards the band at full free power. ``step_mw`` > 0 rounds the
    volume down onto the exchange's grid."""
    t_lo, t_hi, p_lo = trade_bounds(q, soc, committed, lo, hi, up_cap, down_cap, discharged, max_discharge,
                                    eta_c, eta_d, aux_mw)
    trade = np.empty(soc.shape[0])
    for i in range(soc.shape[0]):
        a = share[i]
        wanted = max(a, 0.0) * max(t_hi[i], 0.0) + min(a, 0.0) * max(-t_lo[i], 0.0)
        x = min(max(wanted, t_lo[i]), t_hi[i])
        if t_lo[i] > t_hi[i]:  # above the band: discharge; below: charge
            x = (up_cap[i, q] if p_lo[i] > 0 else -down_cap[i, q]) - committed[i, q]
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
def deliver(q, t, trade, action, afrr, fcr_response, soc, committed, positions, prices, capacity_cash, fcr_q,
            pos_q, neg_q, up_cap, down_cap, site_lo, site_hi, discharged, soc_min, soc_max, power, eta_c, eta_d,
            aux_mw, degradation_eur_mwh, da, id1, rebap, afrr_cols, params):
    """One delivery quarter-hour ``q`` (market row ``t``) of every asset, after its intraday ``trade`` [MW].

    aFRR energy (``afrr``): awarded capacity must be offered, free power may be offered too; the offer prices
    (DA +- band x action[:, 1:3]) clear against the marginal prices, activation follows the shares
    (``afrr_cols``: POS and NEG marginal price, POS and NEG share). FCR moves SoC by ``fcr_response`` x FCR
    (an empty array: energy-neutral). The battery runs schedule plus reserve within the SoC limits, the
    rating and the site bounds (:func:`physical_range`); where that is out of reach the schedule gives way
    first (:func:`serve`), and what reserves still cannot serve is undelivered (penalised, unpaid).
    Imbalance is settled at ``rebap`` when it is given, else at DA plus a markup. ``params``: aFRR energy
    price band, intraday fee, imbalance markup, non-delivery penalty. Updates ``discharged`` (the day's
    trading discharge) in place; returns ``cash`` (len(CASH_FLOWS), N) [EUR] and ``report`` (len(REPORT_ROWS), N).
    """
    band, fee, markup, penalty = params[0], params[1], params[2], params[3]
    n = soc.shape[0]
    cash = np.empty((N_CASH, n))
    report = np.empty((N_REPORT, n))
    marg_pos = afrr_cols[0][t] if afrr else 0.0
    marg_neg = afrr_cols[1][t] if afrr else 0.0
    for i in range(n):
        schedule = committed[i, q] + trade[i]
        act_pos = act_neg = 0.0
        if afrr:
            free_pos = max(up_cap[i, q] - max(schedule, 0.0), 0.0)
            free_neg = max(down_cap[i, q] - max(-schedule, 0.0), 0.0)
            won_pos = 1.0 if accepted_sell(da[t] + band * action[i, 1], marg_pos) else 0.0
            won_neg = 1.0 if accepted_buy(da[t] + band * action[i, 2], marg_neg) else 0.0
            act_pos = (pos_q[i, q] + max(action[i, 3], 0.0) * free_pos) * won_pos * afrr_cols[2][t]
            act_neg = (neg_q[i, q] + max(action[i, 4], 0.0) * free_neg) * won_neg * afrr_cols[3][t]
        reserve = act_pos - act_neg
        if fcr_response.shape[0] > 0:
            reserve = reserve + fcr_q[i, q] * fcr_response[i, q]
        h_lo, h_hi = physical_range(soc[i], soc_min[i], soc_max[i], power[i], site_lo[i], site_hi[i], eta_c[i],
                                    eta_d[i], aux_mw[i])
        served_reserve, served = serve(reserve, schedule, h_lo, h_hi)
        p = served_reserve + served
        undelivered = abs(reserve - served_reserve) * DT_H
        # undelivered activation is not paid: it comes off the direction the net reserve ran in
        e_pos = max(act_pos * DT_H - (undelivered if reserve > 0 else 0.0), 0.0)
        e_neg = max(act_neg * DT_H - (undelivered if reserve < 0 else 0.0), 0.0)
        # auxiliaries the battery cannot carry without a charge the connection forbids are drawn from the grid
        soc_after = soc_next(soc[i], p, DT_H, eta_c[i], eta_d[i], aux_mw[i])
        aux_grid = max(min(soc[i], soc_min[i]) - soc_after, 0.0)
        deviation = (served - schedule) * DT_H - aux_grid  # the grid's aux supply is unscheduled consumption
        out_mwh = max(p, 0.0) * DT_H
        discharged[i] = discharged[i] + max(served, 0.0) * DT_H

        for k in range(3):
            cash[k, i] = capacity_cash[k, i, q]
        cash[3, i] = st.afrr_pos_energy_revenue(e_pos, marg_pos)
        cash[4, i] = st.afrr_neg_energy_revenue(e_neg, marg_neg)
        for k in range(4):
            cash[5 + k, i] = st.energy_revenue(positions[i, k, q], prices[k, q], DT_H)
        cash[9, i] = st.intraday_revenue(trade[i], id1[t], fee, DT_H)
        if rebap.shape[0] > 0:
            cash[10, i] = st.imbalance_settlement(deviation, rebap[t])
        else:
            cash[10, i] = st.imbalance_settlement(deviation, da[t]) - abs(deviation) * markup
        cash[11, i] = st.non_delivery_penalty(undelivered, penalty)
        cash[12, i] = -throughput_cost_eur(out_mwh, degradation_eur_mwh[i])
        r = report[:, i]
        r[0], r[1], r[2], r[3], r[4], r[5], r[6] = p, schedule, trade[i], deviation, undelivered, e_pos, e_neg
        r[7], r[8], r[9] = served_reserve * DT_H, max(-p, 0.0) * DT_H, out_mwh
        r[10], r[11], r[12] = soc_after + aux_grid, aux_mw[i] * DT_H - aux_grid, aux_grid
    return cash, report


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
def feasible_plan(wanted, committed, soc0, budget0, up_cap, down_cap, lo, hi, q_from, mtu, step_mw, eta_c, eta_d,
                  aux_mw):
    """Clip a wanted net schedule (N, n_qh) so that SoC, reserve headroom, power and the cycle limit hold.

    Simulated forward from ``soc0`` (no activations assumed) one market time unit of ``mtu`` quarter-hours at
    a time, with the MTU's tightest power rooms and band; quarter-hours before ``q_from`` keep ``committed``.
    Out of reach of the band, it moves towards it as fast as free power allows. ``step_mw`` > 0 rounds each
    power towards zero onto the exchange's grid, so the result is feasible and tradable.
    """
    n, n_qh = committed.shape
    out = committed.copy()
    dur = mtu * DT_H
    first = q_from - q_from % mtu
    for i in range(n):
        soc, budget = soc0[i], budget0[i]
        for q0 in range(first, n_qh, mtu):
            if q0 < q_from:
                p = out[i, q0]
            else:
                up, down, lo_mtu, hi_mtu = np.inf, np.inf, -np.inf, np.inf
                for q in range(q0, q0 + mtu):
                    up, down = min(up, up_cap[i, q]), min(down, down_cap[i, q])
                    lo_mtu, hi_mtu = max(lo_mtu, lo[i, q]), min(hi_mtu, hi[i, q])
                p_lo, p_hi = power_range(soc, lo_mtu, hi_mtu, dur, eta_c[i], eta_d[i], aux_mw[i])
                p_hi = min(min(p_hi, up), max(budget, 0.0) / dur)
                p_lo = max(p_lo, -down)
                p = min(max(wanted[i, q0], p_lo), p_hi)
                if p_lo > p_hi:
                    p = -down if p_hi < 0 else min(up, max(p_lo, 0.0))
                if step_mw > 0:
                    p = round_volume(p, step_mw, step_mw)
                for q in range(q0, q0 + mtu):
                    out[i, q] = p
            soc = soc_next(soc, p, dur, eta_c[i], eta_d[i], aux_mw[i])
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
