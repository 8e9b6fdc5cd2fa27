"""The battery LP stated in pyomo, one constraint family per builder with its equation: the readable oracle
that tests hold the array-built model (:mod:`agents.lp.model`) to.

Sets: quarter-hours t = 0..T-1, hours h (for hourly day-ahead), blocks b. Decisions [MW]: charge ``ch`` and
discharge ``dis`` at the grid, day-ahead position ``da`` (hourly or per quarter-hour), intraday buys/sells
``id_buy``/``id_sell``, reserves ``fcr``/``pos``/``neg`` and mFRR ``mpos``/``mneg`` per block, PV output
``pv_out`` behind a site's connection; ``held`` is a position already committed (a later stage of a
cascade). SoC ``soc`` [MWh] is the end-of-step state. Prices and the start SoC are mutable parameters:
:class:`PyomoBatteryLP` keeps the model and the persistent HiGHS instance and only updates them between
solves.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from agents.lp.terms import (
    COMMIT_TIE_EUR_MWH,
    END_MISS_EUR_MWH,
    ENERGY_PRICES,
    LPProducts,
    LPResult,
    SiteTerms,
    block_of,
    parameter,
)
from bessgym.assets.battery import BatterySpec
from bessgym.data.calendar import DT_H

CALLED = ("pos", "neg", "mpos", "mneg")  # the reserves whose energy is called, in the order of reserves.ENERGY


def up(m: pyo.ConcreteModel, b: int):
    """The reserve that needs discharge power in block b: FCR, aFRR POS, mFRR POS."""
    return m.fcr[b] + m.pos[b] + m.mpos[b]


def down(m: pyo.ConcreteModel, b: int):
    """The reserve that needs charge power in block b: FCR, aFRR NEG, mFRR NEG."""
    return m.fcr[b] + m.neg[b] + m.mneg[b]


def called_net(m: pyo.ConcreteModel, t: int):
    """The held capacity called at step t, up (aFRR POS, mFRR POS) minus down (aFRR NEG, mFRR NEG) [MW]."""
    return m.c_pos[t] + m.c_mpos[t] - m.c_neg[t] - m.c_mneg[t]


def add_called(m: pyo.ConcreteModel) -> None:
    """c_t = s_t r_b(t) for each reserve whose energy is activated (r: pos, neg, mpos, mneg): the held
    capacity's energy called at step t, s_t its called share (where its held offer clears; 0 by default)."""
    for name in CALLED:
        setattr(m, f"s_{name}", pyo.Param(m.T, mutable=True, initialize=0.0))
        setattr(m, f"c_{name}", pyo.Var(m.T, bounds=(0, None)))
        setattr(m, f"called_{name}", pyo.Constraint(m.T, rule=lambda m, t, name=name: getattr(m, f"c_{name}")[t]
                                                    == getattr(m, f"s_{name}")[t] * getattr(m, name)[m.blk[t]]))


def add_power_limits(m: pyo.ConcreteModel) -> None:
    """dis_t - c_pos,t - c_mpos,t + fcr_b(t) + pos_b(t) + mpos_b(t) <= P;
    ch_t - c_neg,t - c_mneg,t + fcr_b(t) + neg_b(t) + mneg_b(t) <= P (called capacity is the reserve's power);
    fcr_b + pos_b + mpos_b <= s P;  fcr_b + neg_b + mneg_b <= s P  (s: ancillary share)."""
    m.up_limit = pyo.Constraint(m.T, rule=lambda m, t: m.dis[t] - m.c_pos[t] - m.c_mpos[t] + up(m, m.blk[t]) <= m.P)
    m.down_limit = pyo.Constraint(m.T, rule=lambda m, t: m.ch[t] - m.c_neg[t] - m.c_mneg[t] + down(m, m.blk[t])
                                  <= m.P)
    m.anc_up = pyo.Constraint(m.B, rule=lambda m, b: up(m, b) <= m.anc_share * m.P)
    m.anc_down = pyo.Constraint(m.B, rule=lambda m, b: down(m, b) <= m.anc_share * m.P)


def add_trading_balance(m: pyo.ConcreteModel, hourly: bool) -> None:
    """dis_t - ch_t + short_t - over_t = held_t + da_t + sell_t - buy_t + fill_t + c_t (:func:`called_net`), where
    fill_t <= what the PV forecast leaves of a profile PPA's profile (the battery's intraday sale into it; 0
    without intraday trade); with hourly day-ahead da_t = da_h(t). The held schedule's miss ``short``, ``over``
    >= 0 [MW] (0 until a schedule is held) costs ``END_MISS_EUR_MWH`` per MWh in the objective."""
    if hourly:
        m.da_link = pyo.Constraint(m.T, rule=lambda m, t: m.da[t] == m.da_hour[t // 4])
    m.fill_cap = pyo.Param(m.T, mutable=True, initialize=0.0)
    m.fill = pyo.Var(m.T, bounds=(0, None))
    m.fill_limit = pyo.Constraint(m.T, rule=lambda m, t: m.fill[t] <= m.fill_cap[t])
    # no net intraday buy while the profile is short: sell - buy >= 0 there (buy_open 0), else no bound
    m.buy_open = pyo.Param(m.T, mutable=True, initialize=1.0)
    m.no_buy_short = pyo.Constraint(m.T, rule=lambda m, t: m.id_sell[t] - m.id_buy[t] >= -4 * m.P * m.buy_open[t])
    m.held_room = pyo.Param(mutable=True, initialize=0.0)  # [MW]: unbounded once a schedule is held
    m.held_short = pyo.Var(m.T, bounds=(0, None))
    m.held_over = pyo.Var(m.T, bounds=(0, None))
    m.held_room_short = pyo.Constraint(m.T, rule=lambda m, t: m.held_short[t] <= m.held_room)
    m.held_room_over = pyo.Constraint(m.T, rule=lambda m, t: m.held_over[t] <= m.held_room)
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: m.dis[t] - m.ch[t] + m.held_short[t] - m.held_over[t]
                               == m.held[t] + m.da[t] + m.id_sell[t] - m.id_buy[t] + m.fill[t] + called_net(m, t))


def add_soc_balance(m: pyo.ConcreteModel) -> None:
    """soc_t = soc_{t-1} + (eta_c ch_t - dis_t / eta_d - aux) dt, soc_{-1} = soc0."""

    def rule(m, t):
        prev = m.soc0 if t == 0 else m.soc[t - 1]
        return m.soc[t] == prev + (m.eta_c * m.ch[t] - m.dis[t] / m.eta_d - m.aux) * DT_H

    m.soc_balance = pyo.Constraint(m.T, rule=rule)


def add_reserve_headroom(m: pyo.ConcreteModel) -> None:
    """The SoC at both ends of every step (soc_{t-1}, soc0 before the first, and soc_t) holds the step's block's
    headroom, so a reserve is deliverable from its block's first moment:
    s >= soc_min + (h_f fcr_b + h_a pos_b + h_m mpos_b) / eta_d;
    s <= soc_max - (h_f fcr_b + h_a neg_b + h_m mneg_b) eta_c."""

    def low(m, t, s):
        b = m.blk[t]
        return s >= m.soc_min + (m.hold_f * m.fcr[b] + m.hold_a * m.pos[b] + m.hold_m * m.mpos[b]) / m.eta_d

    def high(m, t, s):
        b = m.blk[t]
        return s <= m.soc_max - (m.hold_f * m.fcr[b] + m.hold_a * m.neg[b] + m.hold_m * m.mneg[b]) * m.eta_c

    def before(m, t):
        return m.soc0 if t == 0 else m.soc[t - 1]

    m.headroom_low = pyo.Constraint(m.T, rule=lambda m, t: low(m, t, m.soc[t]))
    m.headroom_high = pyo.Constraint(m.T, rule=lambda m, t: high(m, t, m.soc[t]))
    m.start_low = pyo.Constraint(m.T, rule=lambda m, t: low(m, t, before(m, t)))
    m.start_high = pyo.Constraint(m.T, rule=lambda m, t: high(m, t, before(m, t)))


def add_cycle_limit(m: pyo.ConcreteModel) -> None:
    """sum_t dis_t dt <= cycles * usable energy (trading discharge of the day)."""
    m.cycles = pyo.Constraint(expr=sum(m.dis[t] for t in m.T) * DT_H <= m.max_discharge_mwh)


def add_terminal_soc(m: pyo.ConcreteModel) -> None:
    """soc_end_min <= soc_{T-1} + short - over <= soc_end_max (equal bounds fix the end state, e.g. 50 % for the
    index); the miss ``short``, ``over`` >= 0 [MWh] costs ``END_MISS_EUR_MWH`` each in the objective."""
    last = m.T.last()
    m.end_short = pyo.Var(bounds=(0, None))
    m.end_over = pyo.Var(bounds=(0, None))
    m.end_low = pyo.Constraint(expr=m.soc[last] + m.end_short - m.end_over >= m.soc_end_min)
    m.end_high = pyo.Constraint(expr=m.soc[last] + m.end_short - m.end_over <= m.soc_end_max)


def add_site(m: pyo.ConcreteModel, site: SiteTerms) -> None:
    """The connection G shared with PV output pv_t <= pvf_t (the forecast), of which the connection takes
    m_t = min(pvf_t, G); c_b in [0, 1] is the share of block b's PV committed to the battery (none with PV
    priority; each committed MWh costs ``COMMIT_TIE_EUR_MWH``). Planned jointly, each MWh of m_t not fed in,
    cut_t >= m_t - pv_t, costs the site's other losses beside its value.

    The battery, reserves included, in what the uncommitted PV leaves:
    dis_t - ch_t + up_b <= G - m_t + m_t c_b;  ch_t - dis_t + down_b <= G + pvf_t (grey) or pvf_t (green)
    (:func:`up`, :func:`down`), and the reserves on their own within the same bounds (as the env offers
    them). With planned PV output (joint and PV priority): pv_t + dis_t - ch_t <= G; PV priority never
    curtails, pv_t >= m_t, with the reserves beside it: pv_t + dis_t - ch_t + fcr_b + pos_b <= G. BESS priority
    plans no PV output: PV takes what is left at delivery.
    """
    m.G = site.grid_limit_mw
    m.pv_fc = pyo.Param(m.T, mutable=True, initialize=0.0)
    m.pv_m = pyo.Param(m.T, mutable=True, initialize=0.0)
    m.pv_value = pyo.Param(m.T, mutable=True, initialize=0.0)
    m.cur = pyo.Var(m.B, bounds=(0, 0 if site.mode == "pv_priority" else 1))
    m.site_up = pyo.Constraint(m.T, rule=lambda m, t: m.dis[t] - m.ch[t] - called_net(m, t) + up(m, m.blk[t])
                               <= m.G - m.pv_m[t] + m.pv_m[t] * m.cur[m.blk[t]])
    m.site_up_reserve = pyo.Constraint(m.T, rule=lambda m, t: up(m, m.blk[t])
                                       <= m.G - m.pv_m[t] + m.pv_m[t] * m.cur[m.blk[t]])
    import_room = (lambda m, t: m.pv_fc[t]) if site.green_only else (lambda m, t: m.G + m.pv_fc[t])
    m.site_down = pyo.Constraint(m.T, rule=lambda m, t: m.ch[t] - m.dis[t] + called_net(m, t) + down(m, m.blk[t])
                                 <= import_room(m, t))
    m.site_down_reserve = pyo.Constraint(m.T, rule=lambda m, t: down(m, m.blk[t]) <= import_room(m, t))
    if site.mode == "bess_priority":
        return
    m.pv_out = pyo.Var(m.T, bounds=(0, None))
    m.pv_cap = pyo.Constraint(m.T, rule=lambda m, t: m.pv_out[t] <= m.pv_fc[t])
    if site.mode == "pv_priority":
        m.pv_floor = pyo.Param(m.T, mutable=True, initialize=0.0)
        m.pv_first = pyo.Constraint(m.T, rule=lambda m, t: m.pv_out[t] >= m.pv_floor[t])
        m.site_pv = pyo.Constraint(m.T, rule=lambda m, t: m.pv_out[t] + m.dis[t] - m.ch[t] + up(m, m.blk[t]) <= m.G)
    else:
        m.site_pv = pyo.Constraint(m.T, rule=lambda m, t: m.pv_out[t] + m.dis[t] - m.ch[t] <= m.G)
        m.other = site.curtailment_other_eur_mwh
        m.cut = pyo.Var(m.T, bounds=(0, None))
        m.cut_floor = pyo.Constraint(m.T, rule=lambda m, t: m.cut[t] >= m.pv_m[t] - m.pv_out[t])


def add_exclusive_charge(m: pyo.ConcreteModel) -> None:
    """ch_t <= P u_t, dis_t <= P (1 - u_t), u binary: no simultaneous charge and discharge."""
    m.u = pyo.Var(m.T, domain=pyo.Binary)
    m.ch_excl = pyo.Constraint(m.T, rule=lambda m, t: m.ch[t] <= m.P * m.u[t])
    m.dis_excl = pyo.Constraint(m.T, rule=lambda m, t: m.dis[t] <= m.P * (1 - m.u[t]))


def _objective(m: pyo.ConcreteModel, products: LPProducts, degradation_eur_mwh: float, pv: bool = False):
    """Revenue [EUR]: energy trades, reserve capacity, PV output, minus throughput cost.

    Only the enabled products contribute terms, so a re-solve updates no more coefficients than needed.
    """
    terms = []
    for t in m.T:
        b = m.blk[t]
        term = -degradation_eur_mwh * m.dis[t]
        if products.day_ahead:
            term += m.price_da[t] * m.da[t]
        if products.intraday:
            fee = products.intraday_fee_eur_mwh
            term += (m.price_id[t] - fee) * m.id_sell[t] - (m.price_id[t] + fee) * m.id_buy[t]
        if products.fcr:
            term += m.price_fcr[t] * m.fcr[b]
        if products.afrr_capacity:
            term += m.price_pos[t] * m.pos[b] + m.price_neg[t] * m.neg[b]
        if products.mfrr_capacity:
            term += m.price_mpos[t] * m.mpos[b] + m.price_mneg[t] * m.mneg[b]
        if pv:
            term += m.pv_value[t] * m.pv_out[t]
        if hasattr(m, "cur"):
            term -= COMMIT_TIE_EUR_MWH * m.pv_m[t] * m.cur[b]
        if hasattr(m, "cut"):
            term -= m.other * m.cut[t]
        term += (m.price_energy_pos[t] * m.c_pos[t] - m.price_energy_neg[t] * m.c_neg[t]
                 + m.price_energy_mpos[t] * m.c_mpos[t] - m.price_energy_mneg[t] * m.c_mneg[t])
        if products.intraday:
            term += m.price_shortfall[t] * m.fill[t]
        terms.append(term * DT_H)
    return sum(terms) - END_MISS_EUR_MWH * (m.end_short + m.end_over + _held_miss_mwh(m))


def _held_miss_mwh(m: pyo.ConcreteModel):
    return sum(m.held_short[t] + m.held_over[t] for t in m.T) * DT_H


class PyomoBatteryLP:
    """A persistent daily (or any-length) battery model in pyomo; :meth:`solve` updates parameters and
    re-solves."""

    def __init__(self, battery: BatterySpec, products: LPProducts, n_qh: int, *, blocks: np.ndarray | None = None,
                 site: SiteTerms | None = None):
        from pyomo.contrib.appsi.solvers import Highs

        self.battery, self.products, self.n_qh, self.site = battery, products, n_qh, site
        blocks = block_of(n_qh) if blocks is None else np.asarray(blocks)
        self.n_blocks = int(blocks.max()) + 1
        m = pyo.ConcreteModel()
        m.T = pyo.RangeSet(0, n_qh - 1)
        m.B = pyo.RangeSet(0, self.n_blocks - 1)
        m.H = pyo.RangeSet(0, (n_qh + 3) // 4 - 1)
        m.blk = {t: int(blocks[t]) for t in range(n_qh)}
        b = battery
        m.P, m.eta_c, m.eta_d, m.aux = b.power_mw, b.eta_charge, b.eta_discharge, b.aux_power_mw
        m.soc_min, m.soc_max = b.soc_min_mwh, b.soc_max_mwh
        m.hold_f, m.hold_a, m.hold_m = products.fcr_hold_h, products.afrr_hold_h, products.mfrr_hold_h
        m.anc_share = products.ancillary_max_share
        m.max_discharge_mwh = pyo.Param(mutable=True, initialize=b.max_daily_discharge_mwh)
        for name in ("price_da", "price_id", "price_fcr", "price_pos", "price_neg", "price_mpos", "price_mneg",
                     *ENERGY_PRICES, "price_shortfall", "held"):
            setattr(m, name, pyo.Param(m.T, mutable=True, initialize=0.0))
        m.soc0 = pyo.Param(mutable=True, initialize=b.soc_initial_mwh)
        m.soc_end_min = pyo.Param(mutable=True, initialize=m.soc_min)
        m.soc_end_max = pyo.Param(mutable=True, initialize=m.soc_max)
        p = b.power_mw
        m.ch = pyo.Var(m.T, bounds=(0, p))
        m.dis = pyo.Var(m.T, bounds=(0, p))
        m.soc = pyo.Var(m.T, bounds=(m.soc_min, m.soc_max))
        m.da = pyo.Var(m.T, bounds=(-p, p) if products.day_ahead else (0, 0))
        if products.day_ahead and products.hourly_day_ahead:
            m.da_hour = pyo.Var(m.H, bounds=(-p, p))
        id_cap = (0, 2 * p) if products.intraday else (0, 0)
        m.id_buy = pyo.Var(m.T, bounds=id_cap)
        m.id_sell = pyo.Var(m.T, bounds=id_cap)
        reserve_domain = pyo.NonNegativeIntegers if products.integer_reserves else pyo.NonNegativeReals
        fcr_cap = products.fcr_max_share * p if products.fcr else 0.0
        afrr_cap = p if products.afrr_capacity else 0.0
        mfrr_cap = p if products.mfrr_capacity else 0.0
        if products.integer_reserves:  # whole MW: a 0.4 MW battery offers none alone (HiGHS wants integral bounds)
            fcr_cap, afrr_cap, mfrr_cap = (float(np.floor(c + 1e-9)) for c in (fcr_cap, afrr_cap, mfrr_cap))
        m.fcr = pyo.Var(m.B, domain=reserve_domain, bounds=(0, fcr_cap))
        m.pos = pyo.Var(m.B, domain=reserve_domain, bounds=(0, afrr_cap))
        m.neg = pyo.Var(m.B, domain=reserve_domain, bounds=(0, afrr_cap))
        m.mpos = pyo.Var(m.B, domain=reserve_domain, bounds=(0, mfrr_cap))
        m.mneg = pyo.Var(m.B, domain=reserve_domain, bounds=(0, mfrr_cap))

        reserves = products.fcr or products.afrr_capacity or products.mfrr_capacity
        add_called(m)
        if reserves:  # without reserves both families are plain variable bounds
            add_power_limits(m)
        add_trading_balance(m, hourly=products.day_ahead and products.hourly_day_ahead)
        add_soc_balance(m)
        if reserves:
            add_reserve_headroom(m)
        add_cycle_limit(m)
        add_terminal_soc(m)
        if products.exclusive_charge:
            add_exclusive_charge(m)
        if site is not None:
            add_site(m, site)
        pv = site is not None and site.mode != "bess_priority"
        m.obj = pyo.Objective(sense=pyo.maximize, expr=_objective(m, products, b.degradation_cost_eur_mwh, pv))
        self.model = m
        self.solver = Highs()
        self.solver.config.stream_solver = False
        self.solver.config.load_solution = True
        self.solver.config.mip_gap = 1e-6  # as the array model's MILP_OPTIONS: both at the optimum, not near it
        # Between solves only mutable parameters change: skip appsi's structural checks.
        update = self.solver.update_config
        update.check_for_new_or_removed_constraints = False
        update.check_for_new_or_removed_vars = False
        update.check_for_new_or_removed_params = False
        update.check_for_new_objective = False
        update.update_constraints = False
        update.update_vars = False
        update.update_named_expressions = False

    def _fix_reserves(self, fcr_mw: np.ndarray | None = None, pos_mw: np.ndarray | None = None,
                      neg_mw: np.ndarray | None = None, mfrr_pos_mw: np.ndarray | None = None,
                      mfrr_neg_mw: np.ndarray | None = None) -> None:
        """Fix the reserve volumes per block, or free them again with None."""
        m = self.model
        for var, values in ((m.fcr, fcr_mw), (m.pos, pos_mw), (m.neg, neg_mw), (m.mpos, mfrr_pos_mw),
                            (m.mneg, mfrr_neg_mw)):
            for b in m.B:
                if values is None:
                    var[b].unfix()
                else:
                    var[b].fix(float(values[b]))
        self.solver.update_config.update_vars = True  # appsi must look at variable bounds/fixing again

    def value(self, *, fixed_reserves=None, **parameters) -> float:
        """The optimal objective [EUR] for the given parameters (as :meth:`solve`), without loading the schedule."""
        self.solver.config.load_solution = False
        try:
            return self._run(fixed_reserves, **parameters)
        finally:
            self.solver.config.load_solution = True

    def solve(self, *, fixed_reserves=None, **parameters) -> LPResult:
        """Set the given parameters (see :meth:`_set`), solve, and return the objective and the schedule.
        ``fixed_reserves``: FCR, aFRR POS, NEG, mFRR POS, NEG per block (None: free), for this solve only."""
        return self._result(self._run(fixed_reserves, **parameters))

    def _run(self, fixed_reserves=None, **parameters) -> float:
        if fixed_reserves is not None:
            self._fix_reserves(*fixed_reserves)
            try:
                return self._run(None, **parameters)
            finally:
                self._fix_reserves()
        self._set(**parameters)
        result = self.solver.solve(self.model)
        status = str(result.termination_condition)
        if "optimal" not in status.lower():
            raise RuntimeError(f"HiGHS did not find an optimum ({status}); check the start SoC and end bounds")
        m = self.model  # the revenue, without the end miss's cost (a priority, not money)
        misses = [m.end_short, m.end_over, *m.held_short.values(), *m.held_over.values()]
        result.solution_loader.load_vars(misses)  # also where value() loads no schedule
        return float(result.best_feasible_objective) + END_MISS_EUR_MWH * pyo.value(
            m.end_short + m.end_over + _held_miss_mwh(m))

    def _set(
        self,
        *,
        price_da: np.ndarray | None = None,
        price_id: np.ndarray | None = None,
        price_fcr: np.ndarray | None = None,
        price_pos: np.ndarray | None = None,
        price_neg: np.ndarray | None = None,
        price_mpos: np.ndarray | None = None,
        price_mneg: np.ndarray | None = None,
        price_energy_pos: np.ndarray | None = None,
        price_energy_neg: np.ndarray | None = None,
        price_energy_mpos: np.ndarray | None = None,
        price_energy_mneg: np.ndarray | None = None,
        called_share: np.ndarray | None = None,
        held_mw: np.ndarray | None = None,
        soc0_mwh: float | None = None,
        soc_end_mwh: tuple[float, float] | None = None,
        max_discharge_mwh: float | None = None,
        pv_forecast_mw: np.ndarray | None = None,
        pv_value_eur_mwh: np.ndarray | None = None,
        profile_mw: np.ndarray | None = None,
        price_shortfall: np.ndarray | None = None,
    ) -> None:
        """Set parameters: per quarter-hour arrays (prices, positions held [MW]), start SoC, end SoC bounds,
        discharge budget [MWh], the called share of each energy product's held capacity (4, T) in the order
        of :data:`CALLED`, and with a site the PV forecast [MW], what a MWh of PV output earns [EUR/MWh]
        and a profile PPA's profile [MW] with the price of its shortfall [EUR/MWh].

        Omitted ones keep their values from the previous solve."""
        m = self.model
        if profile_mw is not None and self.products.intraday:
            pv = np.zeros(self.n_qh)  # the forecast given now, else the one set before
            if pv_forecast_mw is not None:
                pv = np.asarray(pv_forecast_mw, dtype=float)
            elif hasattr(m, "pv_fc"):
                pv = np.array([m.pv_fc[t].value for t in m.T])
            cap = np.maximum(parameter(profile_mw, (self.n_qh,), "profile_mw") - pv, 0.0)
            m.fill_cap.store_values(dict(enumerate(cap.tolist())))
            m.buy_open.store_values(dict(enumerate((cap <= 0).astype(float).tolist())))
        fed = None
        if pv_forecast_mw is not None and self.site is not None:
            fed = np.minimum(pv_forecast_mw, self.site.grid_limit_mw)
        for name, values in (("price_da", price_da), ("price_id", price_id), ("price_fcr", price_fcr),
                             ("price_pos", price_pos), ("price_neg", price_neg), ("price_mpos", price_mpos),
                             ("price_mneg", price_mneg), ("price_energy_pos", price_energy_pos),
                             ("price_energy_neg", price_energy_neg), ("price_energy_mpos", price_energy_mpos),
                             ("price_energy_mneg", price_energy_mneg), ("price_shortfall", price_shortfall),
                             ("held", held_mw),
                             ("pv_fc", pv_forecast_mw),
                             ("pv_value", pv_value_eur_mwh), ("pv_floor", fed), ("pv_m", fed)):
            if values is not None and hasattr(m, name):
                values = parameter(values, (self.n_qh,), name)
                getattr(m, name).store_values(dict(enumerate(values.tolist())))
        if called_share is not None:
            shares = parameter(called_share, (len(CALLED), self.n_qh), "called_share")
            for name, values in zip(CALLED, np.clip(shares, 0.0, 1.0), strict=True):
                getattr(m, f"s_{name}").store_values(dict(enumerate(values.tolist())))
        if held_mw is not None:
            m.held_room.set_value(1e6)
        if soc0_mwh is not None:
            m.soc0.set_value(float(soc0_mwh))
        if soc_end_mwh is not None:
            m.soc_end_min.set_value(float(soc_end_mwh[0]))
            m.soc_end_max.set_value(float(soc_end_mwh[1]))
        if max_discharge_mwh is not None:
            m.max_discharge_mwh.set_value(float(max_discharge_mwh))

    def _result(self, objective: float) -> LPResult:
        m = self.model

        def arr(var, index) -> np.ndarray:
            return np.array([var[i].value or 0.0 for i in index])

        return LPResult(
            objective_eur=objective, charge_mw=arr(m.ch, m.T), discharge_mw=arr(m.dis, m.T), soc_mwh=arr(m.soc, m.T),
            day_ahead_mw=arr(m.da, m.T), intraday_mw=arr(m.id_sell, m.T) - arr(m.id_buy, m.T),
            fcr_mw=arr(m.fcr, m.B), afrr_pos_mw=arr(m.pos, m.B), afrr_neg_mw=arr(m.neg, m.B),
            mfrr_pos_mw=arr(m.mpos, m.B), mfrr_neg_mw=arr(m.mneg, m.B),
            pv_out_mw=arr(m.pv_out, m.T) if hasattr(m, "pv_out") else None,
            pv_commitment_share=arr(m.cur, m.B) if hasattr(m, "cur") else None, profile_fill_mw=arr(m.fill, m.T),
            end_miss_mwh=(m.end_short.value or 0.0) - (m.end_over.value or 0.0),
            held_miss_mw=arr(m.held_short, m.T) - arr(m.held_over, m.T),
        )
