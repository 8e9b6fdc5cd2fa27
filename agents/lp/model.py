"""The battery LP of every baseline: one model over N batteries (and their sites) that bid as one actor.

One asset is the daily multi-market LP of a battery or a co-located site (:class:`BatteryLP`
wraps it), a year of one asset the horizon model (:mod:`agents.lp.horizon`), N assets the portfolio baseline.
The constraints are written once, here, as arrays over assets and steps. Per asset i and step t: charge
``ch``, discharge ``dis`` at the grid and intraday trade ``x`` (+ sell) [MW], SoC ``soc`` at the step's end
[MWh], day-ahead position ``da`` (one per hour with hourly products), reserves ``fcr``/``pos``/``neg`` per
block b(t) [MW] (mFRR ``mpos``/``mneg`` stand beside ``pos``/``neg`` in every row below, with their own
hold time), planned PV output ``pv`` [MW]:

    dis + fcr_b + pos_b <= P;  ch + fcr_b + neg_b <= P                       power with reserves
    fcr_b + pos_b <= s P;  fcr_b + neg_b <= s P;  fcr_b <= s_fcr P             ancillary shares
    dis - ch + dev = held + da + x + a_pos - a_neg + f                        trading balance
    soc_t = soc_{t-1} + (eta_c ch - dis / eta_d - aux) dt,  soc_{-1} = soc0    SoC balance
    s >= soc_min + (h_f fcr_b + h_a pos_b) / eta_d                             reserve headroom, for
    s <= soc_max - (h_f fcr_b + h_a neg_b) eta_c                               s = soc_{t-1} and soc_t
    sum_t dis dt <= budget;  end_lo <= soc_{T-1} + miss <= end_hi              cycles, end state

Behind a connection G with PV forecast pvf (``mode``, :class:`~agents.lp.terms.SiteTerms`), where
``m = min(pvf, G)`` is the PV the connection takes: the battery with its reserves
``dis - ch + fcr_b + pos_b <= G - m + m c_b`` and ``ch - dis + fcr_b + neg_b <= G + pvf`` (grey) or ``pvf``
(green-only), and the reserves on their own within the same bounds (as the env offers them). ``c_b`` in
[0, 1] is the share of block b's PV committed day-ahead to the battery (PV priority commits none). Joint
operation plans ``pv <= pvf`` with ``pv + dis - ch <= G``: PV yields where the battery's plan uses the
connection and loses ``pv_value``, and each MWh of ``m`` it does not feed in, ``cut >= m - pv``, loses the
site's other losses ``o`` beside it (as the env settles it, :func:`bessgym.assets.site.site_flows`: committed
PV the battery did not need is fed in after all and loses nothing). PV priority never curtails
(``pv >= min(pvf, G)``); BESS priority plans no PV and commits what its plan needs. A commitment costs only a
tie-breaking ``COMMIT_TIE_EUR_MWH``: what the site loses is the PV it does not feed in, planned as ``pv``.
Rows a connection cannot bind (no PV and at least the battery's power) are left out.

The end state and a schedule already held are targets, not walls: the end state's ``miss`` and the held
schedule's deviation ``dev`` (0 unless a schedule is held; either sign) cost ``END_MISS_EUR_MWH``, above every
price a MWh can earn, so a plan misses them only where no schedule meets them (the env rounds an auction's
schedule to 0.1 MW, which can leave a block's reserve headroom a few kWh short, as the env will deliver it);
``LPResult.end_miss_mwh`` and ``held_miss_mw`` report them, and the objective is the revenue without that cost.

``held`` is a position already committed (0 unless given: a sequential stage re-optimises around what earlier
auctions sold or bought, trading ``x`` only where ``intraday_open``). ``a_pos``/``a_neg`` are energy-only aFRR
activations (0 unless their bounds are given: the multi-market methodology offers free power after the
day-ahead result, and an offer that clears is activated with the quarter-hour's share). ``f`` is the
battery's intraday sale into a profile PPA's shortfall (0 unless a profile is given and intraday is traded:
at most what the PV forecast leaves of the profile, worth ``price_shortfall``; where it may, ``x >= 0``: the
battery does not buy while the profile is short, which would only buy the shortfall).

The actor: reserve totals per block ``k_fcr[b] = sum_i fcr[i,b]`` (likewise POS/NEG), and the intraday net
``sum_i x[i,t] = sell[t] - buy[t]``: only the net reaches the exchange and pays the fee (internal netting).
The objective is its revenue: day-ahead and intraday at their prices, reserve totals at the capacity
prices, PV output at what its contract pays, minus throughput cost (:mod:`agents.lp.reference` states the
same model for one asset in pyomo, the oracle the tests hold this one to).

Whole-MW reserves (``integer_reserves``): with ``exact_integers`` the totals are integer columns (a MILP; the
single battery's model). Otherwise the LP is solved with continuous totals, each total is rounded down to
the grid and fixed, and the LP is solved again (rounding down is always feasible: less reserve only frees
power and energy); ``bound_eur`` keeps the first solve's objective, an upper bound on the whole-MW optimum,
so the rounding's cost is known (``gap_eur``). A MILP over the 18 integer totals gave the same to within that
gap but took HiGHS minutes on 100 assets (the per-asset split is massively degenerate).

Charging and discharging at once wastes energy, which pays only at negative prices, and the env executes
only the net: ``exclusive_charge`` forbids it with binaries (one battery); ``no_discharge_at_negative``
(a portfolio, a year) instead plans no discharge where the traded price is negative, an LP bound.

The model is built once per (assets, products, steps) from arrays (:class:`~agents.lp.arrays.ArrayLP`;
100 assets are ~100k rows, which pyomo takes ~10 s to build and translate) and re-solved by the same HiGHS
instance with new costs and bounds.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from agents.lp.arrays import ArrayLP
from agents.lp.terms import (
    COMMIT_TIE_EUR_MWH,
    END_MISS_EUR_MWH,
    LPProducts,
    LPResult,
    SiteTerms,
    block_of,
    check_mode,
    parameter,
)
from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import SiteSpec
from bessgym.data.calendar import DT_H
from bessgym.market import settlement as st

PRICES = ("price_da", "price_id", "price_fcr", "price_pos", "price_neg", "price_mpos", "price_mneg", "price_energy_pos",
          "price_energy_neg", "price_shortfall")
RESERVES = ("fcr", "pos", "neg", "mpos", "mneg")  # FCR, aFRR POS, NEG, mFRR POS, NEG per block
Reserves = Sequence["np.ndarray | None"]  # volumes per block [MW] in the order of RESERVES (None: free)

# one battery's day: whole-MW reserves and binaries at negative prices make a small MILP, solved to 1e-6 of the
# optimum (HiGHS's default 1e-4 left up to 0.04 EUR a day); presolve on (MILPs 20 % faster, LP re-solves alike)
MILP_OPTIONS = {"presolve": "on", "mip_rel_gap": 1e-6}
PARAMETERS = (*PRICES, "soc0_mwh", "soc_end_mwh", "max_discharge_mwh", "pv_forecast_mw", "pv_value_eur_mwh",
              "held_mw", "intraday_open", "energy_only_pos_mw", "energy_only_neg_mw", "in_service", "profile_mw",
              "soc_floor_mwh", "soc_ceiling_mwh")
PER_ASSET_STEPS = ("pv_forecast_mw", "pv_value_eur_mwh", "held_mw", "energy_only_pos_mw", "energy_only_neg_mw",
                   "profile_mw", "soc_floor_mwh", "soc_ceiling_mwh")


class ActorLP:
    """A persistent model of ``sites`` bidding as one actor (see the module docstring); :meth:`solve` sets
    parameters and re-solves.

    ``mode``: how sites with PV plan it (joint, PV or BESS priority). ``exact_integers``: whole-MW reserve
    totals as integer columns (else rounded after a continuous solve). ``no_discharge_at_negative``: no
    discharge where the traded price is negative (else only ``exclusive_charge`` binaries keep charge and
    discharge apart). ``blocks``: the reserve block of each step (default: a Berlin day's six 4 h blocks; a
    longer horizon numbers its blocks on). ``highs_options``: HiGHS options (default: presolve off).
    ``layout``: the model's :class:`~agents.lp.arrays.ArrayLP`, whose families place a window's basis into a
    longer model.

    ``step_h``: the time step [h]. Quarter-hours (the default) model every market. Whole hours (1.0) model
    hourly day-ahead positions without intraday trade or PV, where the env holds each hour's power constant:
    the SoC is then linear between hour ends, so a bound that holds at both ends of an hour holds at its
    quarter-hours, and the first quarter-hour of a block (whose hour starts at a SoC the block before
    bounded) gets rows of its own. The same year then has a quarter of the columns and solves ~4x faster.
    """

    def __init__(self, sites: Sequence[SiteSpec], products: LPProducts, n_steps: int, *,
                 blocks: np.ndarray | None = None, step_h: float = DT_H, mode: str = "joint",
                 exact_integers: bool = False, no_discharge_at_negative: bool = True,
                 budget_days: Sequence[int] | None = None,
                 highs_options: Mapping[str, object] | None = None) -> None:
        self.sites, self.products, self.n_steps, self.dt = tuple(sites), products, n_steps, step_h
        n, t, pr = len(self.sites), n_steps, products
        check_mode(mode, "ActorLP mode")
        self.mode, self.no_discharge_at_negative = mode, no_discharge_at_negative
        self.exact_integers = exact_integers and pr.integer_reserves
        hours = step_h == 1.0
        if step_h not in (DT_H, 1.0):
            raise ValueError(f"step_h must be 0.25 (quarter-hours) or 1.0 (hours), got {step_h}")
        if hours and (blocks is None or pr.intraday or any(s.pv_mwp > 0 for s in self.sites)):
            raise ValueError("an hourly model (step_h=1) needs its reserve blocks and trades neither intraday nor PV")
        blk = block_of(n_steps) if blocks is None else np.asarray(blocks, dtype=int)
        n_b = int(blk.max()) + 1
        self.n, self.blocks, self.n_blocks = n, blk, n_b
        bat = [s.battery for s in self.sites]

        def arr(name: str) -> np.ndarray:
            return np.array([getattr(b, name) for b in bat], dtype=float)[:, None]  # (N, 1): broadcasts over time

        p, eta_c, eta_d = arr("power_mw"), arr("eta_charge"), arr("eta_discharge")
        soc_lo, soc_hi = arr("soc_min_mwh"), arr("soc_max_mwh")
        self.aux_mwh = arr("aux_power_mw")[:, 0] * step_h
        self.deg = arr("degradation_cost_eur_mwh")[:, 0]
        grid = np.array([s.grid_limit_mw for s in self.sites])[:, None]
        import_base = np.where([[s.green_only] for s in self.sites], 0.0, grid)
        self.has_pv = np.array([s.pv_mwp > 0 for s in self.sites])  # its forecast widens the import room
        self.plans_pv = self.has_pv & (mode != "bess_priority")  # its output is planned
        self.commits = self.has_pv & (mode != "pv_priority")  # it may commit PV to the battery
        self.hourly = pr.day_ahead and pr.hourly_day_ahead and not hours  # one position per 4 quarter-hours
        n_h = (n_steps + 3) // 4
        block_start = np.flatnonzero(np.diff(blk, prepend=-1))

        self.reserve_caps = {name: np.broadcast_to(cap, (n, n_b)) for name, cap in (
            ("fcr", pr.fcr_max_share * p if pr.fcr else 0.0), ("pos", p if pr.afrr_capacity else 0.0),
            ("neg", p if pr.afrr_capacity else 0.0), ("mpos", p if pr.mfrr_capacity else 0.0),
            ("mneg", p if pr.mfrr_capacity else 0.0))}
        lp = self.layout = ArrayLP()
        v = self.v = {
            "ch": lp.var((n, t), 0, p), "dis": lp.var((n, t), 0, p), "soc": lp.var((n, t), soc_lo, soc_hi),
            "da": lp.var((n, n_h if self.hourly else t), -p if pr.day_ahead else 0, p if pr.day_ahead else 0,
                         steps=4 * np.arange(n_h) if self.hourly else None),
            "x": lp.var((n, t), -2 * p if pr.intraday else 0, 2 * p if pr.intraday else 0),
            "sell": lp.var((t,)), "buy": lp.var((t,)),
            **{name: lp.var((n, n_b), 0, cap, steps=block_start) for name, cap in self.reserve_caps.items()},
            **{f"k_{name}": lp.var((n_b,), steps=block_start, integer=self.exact_integers)
               for name in RESERVES},
            "pv": lp.var((n, t), 0, 0),  # bounds: by the PV forecast, set per solve
            # energy-only aFRR activated in each step [MW]: bounds set per solve (0 unless offered)
            "act_pos": lp.var((n, t), 0, 0), "act_neg": lp.var((n, t), 0, 0),
            # the share of each block's PV committed to the battery
            "cur": lp.var((n, n_b), 0, self.commits[:, None].astype(float), steps=block_start),
            # the battery's intraday sale into a profile PPA's shortfall [MW]: bounds set per solve
            "fill": lp.var((n, t), 0, 0),
            # the end SoC's miss of its bounds [MWh], short (+) and over (-); the held schedule's [MW], set per solve
            "end_short": lp.var((n, 1), steps=np.array([t - 1])), "end_over": lp.var((n, 1), steps=np.array([t - 1])),
            "held_short": lp.var((n, t), 0, 0), "held_over": lp.var((n, t), 0, 0),
        }
        ch, dis, soc, x = v["ch"], v["dis"], v["soc"], v["x"]
        # (N, T): each quarter-hour's block; up and down: the reserves that need power each way beside FCR
        fcr, pos, neg, mpos, mneg = (v[name][:, blk] for name in RESERVES)
        up_res, down_res = [(1, pos), (1, mpos)], [(1, neg), (1, mneg)]
        da = v["da"][:, np.arange(t) // 4] if self.hourly else v["da"]
        if pr.exclusive_charge:  # ch <= P u, dis <= P (1 - u), u binary
            u = lp.var((n, t), 0, 1, integer=True)
            lp.rows([(1, ch), (-p, u)], hi=0.0)
            lp.rows([(1, dis), (p, u)], hi=p)
        # the actor: reserve totals, intraday net at the exchange
        for name in RESERVES:
            lp.rows([(1, v[name]), (-1, v[f"k_{name}"])], 0, 0, shape=(n_b,))
        lp.rows([(1, x), (-1, v["sell"]), (1, v["buy"])], 0, 0, shape=(t,))
        # each asset: power with reserves, ancillary share, trading balance, SoC, headroom, cycles, end SoC
        lp.rows([(1, dis), (1, fcr)] + up_res, hi=p)
        lp.rows([(1, ch), (1, fcr)] + down_res, hi=p)
        lp.rows([(1, v["fcr"]), (1, v["pos"]), (1, v["mpos"])], hi=pr.ancillary_max_share * p)
        lp.rows([(1, v["fcr"]), (1, v["neg"]), (1, v["mneg"])], hi=pr.ancillary_max_share * p)
        self.balance_rows = lp.rows([(1, dis), (-1, ch), (-1, da), (-1, x), (-1, v["act_pos"]), (1, v["act_neg"]),
                                     (-1, v["fill"]), (1, v["held_short"]), (-1, v["held_over"])], 0, 0)  # = held
        # the SoC balance; the first step's SoC before is soc0, in the first row's bounds
        before = np.where(np.arange(t) > 0, -1.0, 0.0), soc[:, np.maximum(np.arange(t) - 1, 0)]
        self.soc_first = lp.rows([(1, soc), before, (-eta_c * step_h, ch), (step_h / eta_d, dis)],
                                 -self.aux_mwh[:, None], -self.aux_mwh[:, None])[:, :1]
        low = [(-pr.fcr_hold_h / eta_d, fcr), (-pr.afrr_hold_h / eta_d, pos), (-pr.mfrr_hold_h / eta_d, mpos)]
        high = [(pr.fcr_hold_h * eta_c, fcr), (pr.afrr_hold_h * eta_c, neg), (pr.mfrr_hold_h * eta_c, mneg)]
        lp.rows([(1, soc)] + low, lo=soc_lo)
        lp.rows([(1, soc)] + high, hi=soc_hi)
        # a block's reserve is deliverable from its first moment: the SoC before its first step holds it too
        # (within a block that is the step before's own row); before the first step it is soc0, set per solve
        later = block_start[1:]
        if later.size:
            lp.rows([(1, soc[:, later - 1])] + [(c, cols[:, later]) for c, cols in low], lo=soc_lo)
            lp.rows([(1, soc[:, later - 1])] + [(c, cols[:, later]) for c, cols in high], hi=soc_hi)
        self.start_rows = (lp.rows([(-c, cols[:, :1]) for c, cols in low], shape=(n, 1)),
                           lp.rows([(c, cols[:, :1]) for c, cols in high], shape=(n, 1)))
        self.soc_window = (soc_lo[:, 0], soc_hi[:, 0])
        if hours:  # each block's first quarter-hour: w of the way from the SoC before it (soc0: in the bounds)
            first, w = block_start, DT_H / step_h
            point = [((first > 0) * (1 - w), soc[:, np.maximum(first - 1, 0)]), (w, soc[:, first])]
            self.first_qh = (lp.rows(point + [(c, cols[:, first]) for c, cols in low], lo=soc_lo),
                             lp.rows(point + [(c, cols[:, first]) for c, cols in high], hi=soc_hi))
            self.w = w
        # the discharge budget of each period (default the whole horizon; a rolling plan has one per day)
        edges = np.cumsum([0, *(budget_days or [t])])
        if edges[-1] != t:
            raise ValueError(f"budget_days {list(budget_days)} do not add up to the {t} steps")
        self.cycle_rows = np.concatenate([lp.rows([(step_h, dis[:, a:b])], shape=(n, 1))
                                          for a, b in zip(edges[:-1], edges[1:], strict=True)], axis=1)
        self.end_rows = lp.rows([(1, soc[:, -1:]), (1, v["end_short"]), (-1, v["end_over"])], shape=(n, 1))
        # each site's connection where it can bind: a connection of at least the battery's power is implied by
        # the power rows (a third of a year model's rows otherwise)
        narrow = grid[:, 0] < p[:, 0]
        self.up_sites = u = np.flatnonzero(narrow | self.has_pv)
        self.down_sites = d = np.flatnonzero(narrow | (import_base[:, 0] == 0))
        cur = v["cur"][:, blk]  # (N, T): the commitment of each step's block
        # G - m + m c: the coefficient of c (1 until a solve sets -m) and the bound are the PV forecast's
        # as in the env, the reserves fit the connection beside the uncommitted PV on their own too (a schedule
        # that charges does not widen the room they are offered in before it is traded)
        self.site_up = np.stack([lp.rows([(1, dis[u]), (-1, ch[u]), (1, fcr[u]), (1, pos[u]), (1, mpos[u]),
                                          (1, cur[u])], shape=(u.size, t)),
                                 lp.rows([(1, fcr[u]), (1, pos[u]), (1, mpos[u]), (1, cur[u])], shape=(u.size, t))])
        self.site_down = np.stack([lp.rows([(1, ch[d]), (-1, dis[d]), (1, fcr[d]), (1, neg[d]), (1, mneg[d])],
                                           shape=(d.size, t)),
                                   lp.rows([(1, fcr[d]), (1, neg[d]), (1, mneg[d])], shape=(d.size, t))])
        self.import_base = np.broadcast_to(import_base[d], (d.size, t))
        s = np.flatnonzero(self.plans_pv)
        lp.rows([(1, v["pv"][s]), (1, dis[s]), (-1, ch[s])], hi=grid[s])
        # the entries of the commitment's coefficient in the connection's rows (-m, set per solve)
        uc = self.commits[u]
        self._coef_rows = self.site_up[:, uc].ravel().tolist()
        self._coef_cols = np.tile(cur[u][uc].ravel(), 2).tolist()
        self._coef_sites = u[uc]
        # joint: a MWh of the connection's PV not fed in costs the site's other losses, cut >= m - pv (m per solve)
        other = np.array([x.curtailment_other_eur_mwh for x in self.sites])
        self.lossy = np.flatnonzero(self.plans_pv & (mode == "joint") & (other > 0))
        self.other_eur_mwh = other[self.lossy]
        self.cut = lp.var((self.lossy.size, t))
        self.cut_rows = lp.rows([(1, self.cut), (1, v["pv"][self.lossy])], shape=(self.lossy.size, t))
        self.power_mw, self.grid_mw = np.broadcast_to(p, (n, t)), grid
        self.highs = lp.highs(maximize=True)
        # a day: presolve off measured 25 % faster (and re-solves warm-start); a year wants it on
        for key, value in (highs_options or {"presolve": "off"}).items():
            self.highs.setOptionValue(key, value)
        self.bound_eur = self.objective_eur = float("nan")
        self._out = np.zeros(n, bool)  # assets out of service in the last solve

    def solve(self, *, fixed_reserves: Reserves | None = None, **parameters: np.ndarray) -> list[LPResult]:
        """Solve for the parameters of :meth:`set_parameters`. Returns one schedule per asset; its
        ``objective_eur`` is the asset's share of the actor's (its own terms, the fee split pro rata to its
        |trade|), and they sum to ``objective_eur``. ``fixed_reserves``: each asset's FCR, aFRR POS, NEG and
        mFRR POS, NEG per block (N, blocks) [MW] (None: free), fixed for this solve only (awards won)."""
        with self._reserves_fixed(fixed_reserves):
            self.set_parameters(**parameters)
            self._solve()
            return self._results()

    def value(self, *, fixed_reserves: Reserves | None = None, **parameters: np.ndarray) -> float:
        """The optimal objective [EUR] for the parameters of :meth:`set_parameters` (and ``fixed_reserves`` as
        in :meth:`solve`), without the schedules."""
        with self._reserves_fixed(fixed_reserves):
            self.set_parameters(**parameters)
            self._solve()
            return self.objective_eur

    @contextlib.contextmanager
    def _reserves_fixed(self, fixed: Reserves | None) -> Iterator[None]:
        if fixed is None:
            yield
            return
        self._fix_reserves(*fixed)
        try:
            yield
        finally:
            self._fix_reserves(*(None,) * len(RESERVES))

    def set_parameters(self, *, soc0_mwh: np.ndarray, soc_end_mwh: tuple[np.ndarray, np.ndarray],
                       max_discharge_mwh: np.ndarray, pv_forecast_mw: np.ndarray | None = None,
                       pv_value_eur_mwh: np.ndarray | None = None, held_mw: np.ndarray | None = None,
                       intraday_open: np.ndarray | None = None, energy_only_pos_mw: np.ndarray | None = None,
                       energy_only_neg_mw: np.ndarray | None = None, in_service: np.ndarray | None = None,
                       profile_mw: np.ndarray | None = None, soc_floor_mwh: np.ndarray | None = None,
                       soc_ceiling_mwh: np.ndarray | None = None, **prices: np.ndarray) -> None:
        """``prices`` by name (``price_da`` ... ``price_neg``, per step; omitted ones are 0), per asset the
        start SoC, end bounds and discharge budget [MWh], per site the PV forecast [MW] and PV value
        [EUR/MWh], arrays (N, T); per asset the positions already held (N, T) [MW, + sell; default none] and
        where intraday trade is open (T,) bool (default everywhere); per asset the most power energy-only aFRR
        offers can have activated in each step (N, T) [MW] (default none), paid ``price_energy_pos`` (charged
        ``price_energy_neg``) per MWh; which assets are in service (N,) bool (default all): one that is not plans
        neither power nor reserves (an asset in outage when the next day is planned); per site the profile a
        profile PPA owes (N, T) [MW] (default none): with intraday trading the battery's sales fill what PV
        leaves of it, worth ``price_shortfall``; per asset bounds on the SoC at each step's start (N, T) [MWh]
        (default the battery's window; the first step starts at ``soc0``): the env runs a held schedule before
        it activates energy-only offers, so the SoC must carry each step's schedule alone."""
        n, t, v, h, dt = self.n, self.n_steps, self.v, self.highs, self.dt
        unknown = set(prices) - set(PRICES)
        if unknown:
            raise ValueError(f"unknown price {sorted(unknown)[0]!r}; expected one of {PRICES}")
        price = {k: parameter(prices.get(k, np.zeros(t)), (t,), k) for k in PRICES}
        pv_fc = parameter(pv_forecast_mw if pv_forecast_mw is not None else np.zeros((n, t)), (n, t), "pv_forecast_mw")
        pv_fc = np.where(self.has_pv[:, None], np.maximum(pv_fc, 0.0), 0.0)
        fed = np.minimum(pv_fc, self.grid_mw)  # m: the PV the connection takes, what a commitment is a share of
        planned = np.where(self.plans_pv[:, None], pv_fc, 0.0)
        pv_floor = fed if self.mode == "pv_priority" else np.zeros((n, t))  # PV priority feeds all it can
        pv_value = parameter(pv_value_eur_mwh if pv_value_eur_mwh is not None else np.zeros((n, t)), (n, t),
                           "pv_value_eur_mwh")
        soc0 = parameter(soc0_mwh, (n,), "soc0_mwh")
        self._price, self._pv_value = price, pv_value
        # costs [EUR per MW of each column]
        fee = self.products.intraday_fee_eur_mwh
        da_cost = price["price_da"] * dt
        if self.hourly:
            da_cost = np.bincount(np.arange(t) // 4, weights=da_cost)
        cost = [(v["da"], np.broadcast_to(da_cost, v["da"].shape)), (v["sell"], (price["price_id"] - fee) * dt),
                (v["buy"], -(price["price_id"] + fee) * dt), (v["pv"], pv_value * dt),
                (v["dis"], np.broadcast_to(-self.deg[:, None] * dt, (n, t))),
                (v["act_pos"], np.broadcast_to(price["price_energy_pos"] * dt, (n, t))),
                (v["act_neg"], np.broadcast_to(-price["price_energy_neg"] * dt, (n, t))),
                (v["fill"], np.broadcast_to(price["price_shortfall"] * dt, (n, t))),
                *((v[name], np.full((n, 1), -END_MISS_EUR_MWH)) for name in ("end_short", "end_over")),
                *((v[name], np.full((n, t), -END_MISS_EUR_MWH * dt)) for name in ("held_short", "held_over"))]
        for name, column in zip(RESERVES, ("price_fcr", "price_pos", "price_neg", "price_mpos", "price_mneg"),
                                strict=True):
            per_block = np.bincount(self.blocks, weights=price[column] * dt, minlength=self.n_blocks)
            cost.append((v[f"k_{name}"], per_block))
        committable = fed @ (self.blocks[:, None] == np.arange(self.n_blocks)) * dt  # (N, blocks) [MWh]
        cost.append((v["cur"], -COMMIT_TIE_EUR_MWH * committable))
        cost.append((self.cut, np.broadcast_to(-self.other_eur_mwh[:, None] * dt, self.cut.shape)))
        cols = np.concatenate([c.ravel() for c, _ in cost])
        h.changeColsCost(cols.size, cols.astype(np.int32), np.concatenate([np.ravel(w) for _, w in cost]))
        traded = price["price_da"] if self.products.day_ahead else price["price_id"]
        dis_cap = np.where(self.no_discharge_at_negative & (traded < 0), 0.0, self.power_mw)
        open_q = np.ones(t, bool) if intraday_open is None else np.asarray(intraday_open, dtype=bool)
        if open_q.shape != (t,):
            raise ValueError(f"intraday_open has shape {open_q.shape}, expected ({t},)")
        on = np.ones(n, bool) if in_service is None else np.asarray(in_service, dtype=bool)
        if on.shape != (n,):
            raise ValueError(f"in_service has shape {on.shape}, expected ({n},)")
        x_cap = 2 * self.power_mw * open_q * self.products.intraday * on[:, None]
        act_cap = [parameter(cap if cap is not None else np.zeros((n, t)), (n, t), name) for cap, name in
                   ((energy_only_pos_mw, "energy_only_pos_mw"), (energy_only_neg_mw, "energy_only_neg_mw"))]
        owed = parameter(profile_mw if profile_mw is not None else np.zeros((n, t)), (n, t), "profile_mw")
        fill_cap = np.maximum(owed - pv_fc, 0.0) * (x_cap > 0)  # what the PV forecast leaves of the profile
        # while the profile is short the battery does not buy (its sale is what fills the profile, in the env too)
        x_lo = np.where(fill_cap > 0, 0.0, -x_cap)
        deviation = np.full(2 * n * t, np.inf if held_mw is not None else 0.0)  # only from a schedule held
        bounded = np.concatenate([v[name].ravel() for name in ("pv", "dis", "ch", "x", "act_pos", "act_neg", "fill",
                                                               "held_short", "held_over")])
        h.changeColsBounds(bounded.size, bounded.astype(np.int32),
                           np.concatenate([pv_floor.ravel(), np.zeros(2 * n * t), x_lo.ravel(), np.zeros(5 * n * t)]),
                           np.concatenate([planned.ravel(), dis_cap.ravel() * on.repeat(t),
                                           self.power_mw.ravel() * on.repeat(t), x_cap.ravel(),
                                           np.maximum(act_cap[0], 0).ravel() * on.repeat(t),
                                           np.maximum(act_cap[1], 0).ravel() * on.repeat(t), fill_cap.ravel(),
                                           deviation]))
        changed = ~on | self._out  # reserves of assets out now, or back: the others keep their bounds (awards)
        if changed.any():
            cols = np.concatenate([v[name][changed].ravel() for name in RESERVES]).astype(np.int32)
            caps = np.concatenate([(self.reserve_caps[name][changed] * on[changed, None]).ravel()
                                   for name in RESERVES])
            h.changeColsBounds(cols.size, cols, np.zeros(cols.size), caps)
        self._out = ~on
        window = [np.broadcast_to(edge[:, None], (n, t)) for edge in self.soc_window]
        floor = parameter(soc_floor_mwh if soc_floor_mwh is not None else window[0], (n, t), "soc_floor_mwh")
        ceiling = parameter(soc_ceiling_mwh if soc_ceiling_mwh is not None else window[1], (n, t), "soc_ceiling_mwh")
        floor = np.maximum(floor[:, 1:], window[0][:, 1:])
        ceiling = np.maximum(np.minimum(ceiling[:, 1:], window[1][:, 1:]), floor)
        starts = v["soc"][:, :-1].ravel().astype(np.int32)  # the SoC before steps 1 .. T-1
        h.changeColsBounds(starts.size, starts, floor.ravel(), ceiling.ravel())
        held = parameter(held_mw if held_mw is not None else np.zeros((n, t)), (n, t), "held_mw")
        rows, lo, hi = zip(
            (self.soc_first, soc0 - self.aux_mwh, soc0 - self.aux_mwh), (self.balance_rows, held, held),
            (self.cycle_rows, np.full(self.cycle_rows.shape, -np.inf),
             parameter(np.reshape(max_discharge_mwh, (n, -1)), self.cycle_rows.shape, "max_discharge_mwh")),
            (self.end_rows, parameter(soc_end_mwh[0], (n,), "soc_end_mwh"),
             parameter(soc_end_mwh[1], (n,), "soc_end_mwh")),
            (self.site_down, np.full(self.site_down.shape, -np.inf),
             np.broadcast_to(self.import_base + pv_fc[self.down_sites], self.site_down.shape)),
            (self.site_up, np.full(self.site_up.shape, -np.inf),
             np.broadcast_to((self.grid_mw - fed)[self.up_sites], self.site_up.shape)),
            (self.start_rows[0], np.full(n, -np.inf), np.maximum(soc0 - self.soc_window[0], 0.0)),
            (self.start_rows[1], np.full(n, -np.inf), np.maximum(self.soc_window[1] - soc0, 0.0)),
            (self.cut_rows, fed[self.lossy], np.full(self.cut_rows.shape, np.inf)),
            strict=True)
        if self.dt > DT_H:  # the first block's first quarter-hour starts from soc0
            shift = (1 - self.w) * soc0
            rows, lo, hi = (rows + (self.first_qh[0][:, :1], self.first_qh[1][:, :1]),
                            lo + (self.soc_window[0] - shift, np.full(n, -np.inf)),
                            hi + (np.full(n, np.inf), self.soc_window[1] - shift))
        idx = np.concatenate([r.ravel() for r in rows]).astype(np.int32)
        h.changeRowsBounds(idx.size, idx, np.concatenate([np.ravel(x) for x in lo]),
                           np.concatenate([np.ravel(x) for x in hi]))
        coefs = np.tile(-fed[self._coef_sites].ravel(), 2).tolist()
        for row, col, coef in zip(self._coef_rows, self._coef_cols, coefs, strict=True):
            h.changeCoeff(row, col, coef)

    def _fix_reserves(self, fcr_mw: np.ndarray | None, pos_mw: np.ndarray | None, neg_mw: np.ndarray | None,
                      mfrr_pos_mw: np.ndarray | None = None, mfrr_neg_mw: np.ndarray | None = None) -> None:
        """Fix each asset's reserves per block (N, blocks) [MW], or free them up to their caps again with None."""
        cols, lo, hi = [], [], []
        for name, values in zip(RESERVES, (fcr_mw, pos_mw, neg_mw, mfrr_pos_mw, mfrr_neg_mw), strict=True):
            cap = self.reserve_caps[name]
            fixed = None if values is None else parameter(values, cap.shape, f"{name}_mw")
            cols.append(self.v[name].ravel())
            lo.append(np.zeros(cap.size) if fixed is None else fixed.ravel())
            hi.append(cap.ravel() if fixed is None else fixed.ravel())
        idx = np.concatenate(cols).astype(np.int32)
        self.highs.changeColsBounds(idx.size, idx, np.concatenate(lo), np.concatenate(hi))

    @property
    def gap_eur(self) -> float:
        """What rounding the reserve totals to whole MW cost against the continuous optimum [EUR]."""
        return self.bound_eur - self.objective_eur

    def _solve(self) -> None:
        if self.products.integer_reserves and not self.exact_integers:  # continuous, then rounded totals
            self._free_totals()
            self.bound_eur = self._run()
            self._fix_totals()
            self.objective_eur = self._run()
        else:
            self.objective_eur = self.bound_eur = self._run()

    def _totals(self) -> np.ndarray:
        return np.concatenate([self.v[f"k_{name}"] for name in RESERVES]).astype(np.int32)

    def _free_totals(self) -> None:
        k = self._totals()
        self.highs.changeColsBounds(k.size, k, np.zeros(k.size), np.full(k.size, np.inf))

    def _fix_totals(self) -> None:
        k = self._totals()
        whole = np.floor(self._value[k] + 1e-6)
        self.highs.changeColsBounds(k.size, k, whole, whole)

    def _run(self) -> float:
        import highspy

        h = self.highs
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS did not find an optimum ({h.modelStatusToString(status)}); check the start "
                               "SoC, the end bounds and the budget")
        self._value = np.asarray(h.getSolution().col_value)
        # the revenue: what missing the end state or the held schedule costs is a priority, not money
        miss = np.abs(self._end_miss()).sum() + np.abs(self._held_miss()).sum() * self.dt
        return float(h.getInfo().objective_function_value) + END_MISS_EUR_MWH * miss

    def _end_miss(self) -> np.ndarray:
        """(N,) [MWh]: how far each asset's end SoC is below (+) or above (-) its end bounds."""
        return self._value[self.v["end_short"][:, 0]] - self._value[self.v["end_over"][:, 0]]

    def _held_miss(self) -> np.ndarray:
        """(N, T) [MW]: the held schedule's net sale not delivered (+) or exceeded (-)."""
        return self._value[self.v["held_short"]] - self._value[self.v["held_over"]]

    def _results(self) -> list[LPResult]:
        v, t, blk, val = self.v, self.n_steps, self.blocks, self._value
        da = val[v["da"]][:, np.arange(t) // 4] if self.hourly else val[v["da"]]
        x, dis, pv = val[v["x"]], val[v["dis"]], val[v["pv"]]
        fcr, pos, neg, mpos, mneg = (val[v[name]] for name in RESERVES)
        price = self._price
        # intraday as the env settles a netted portfolio: the net's fee shared over the gross |trade|
        fee = st.netted_fee(self.products.intraday_fee_eur_mwh, np.abs(x.sum(axis=0)), np.abs(x).sum(axis=0))
        intraday = st.intraday_revenue(x, price["price_id"], fee, self.dt)
        act_pos, act_neg, fill = val[v["act_pos"]], val[v["act_neg"]], val[v["fill"]]
        own = (self.dt * (price["price_da"] * da + self._pv_value * pv - self.deg[:, None] * dis
                          + price["price_shortfall"] * fill
                          + price["price_energy_pos"] * act_pos - price["price_energy_neg"] * act_neg
                          + price["price_fcr"] * fcr[:, blk] + price["price_pos"] * pos[:, blk]
                          + price["price_neg"] * neg[:, blk] + price["price_mpos"] * mpos[:, blk]
                          + price["price_mneg"] * mneg[:, blk]) + intraday).sum(axis=1)
        own[self.lossy] -= (self.other_eur_mwh[:, None] * val[self.cut] * self.dt).sum(axis=1)  # PV not fed in
        ch, soc = val[v["ch"]], val[v["soc"]]
        cur, miss, held_miss = val[v["cur"]], self._end_miss(), self._held_miss()
        return [LPResult(objective_eur=float(own[i]), charge_mw=ch[i], discharge_mw=dis[i], soc_mwh=soc[i],
                         day_ahead_mw=da[i], intraday_mw=x[i], fcr_mw=fcr[i], afrr_pos_mw=pos[i], afrr_neg_mw=neg[i],
                         pv_out_mw=pv[i] if self.mode != "bess_priority" else None, afrr_energy_pos_mw=act_pos[i],
                         afrr_energy_neg_mw=act_neg[i], mfrr_pos_mw=mpos[i], mfrr_neg_mw=mneg[i],
                         pv_commitment_share=cur[i], profile_fill_mw=fill[i], end_miss_mwh=float(miss[i]),
                         held_miss_mw=held_miss[i])
                for i in range(self.n)]


def _one_asset(fixed: Reserves | None) -> tuple[np.ndarray | None, ...] | None:
    """One asset's fixed reserves (blocks,) as the actor's (1, blocks); fewer than five: the rest free."""
    if fixed is None:
        return None
    padded = [*fixed, *(None,) * (len(RESERVES) - len(fixed))]
    return tuple(None if x is None else np.asarray(x, dtype=float)[None] for x in padded)


class BatteryLP:
    """One battery, or one co-located site behind ``site``'s connection: :class:`ActorLP` of one asset, with
    whole-MW reserves as integers and, with ``exclusive_charge``, charge and discharge kept apart by binaries.

    A persistent daily (or any-length) model: :meth:`solve` sets the given parameters (those of
    :meth:`ActorLP.set_parameters`, scalars and arrays over steps for the one asset) and re-solves; omitted
    ones keep their values from the previous solve (at first: the battery's initial SoC, its whole window at
    the end, a day's cycle budget, no prices and no PV).
    """

    def __init__(self, battery: BatterySpec, products: LPProducts, n_qh: int, *, blocks: np.ndarray | None = None,
                 site: SiteTerms | None = None, budget_days: Sequence[int] | None = None) -> None:
        self.battery, self.products, self.n_qh, self.site = battery, products, n_qh, site
        grid = site.grid_limit_mw if site is not None else battery.power_mw
        # a site's PV output is bounded by the forecast given to solve; a peak > 0 marks the site as one with PV
        spec = SiteSpec(grid_limit_mw=grid, pv_mwp=grid if site is not None else 0.0, battery=battery,
                        green_only=site is not None and site.green_only,
                        curtailment_other_eur_mwh=site.curtailment_other_eur_mwh if site is not None else 0.0)
        self.lp = ActorLP([spec], products, n_qh, blocks=blocks, mode=site.mode if site is not None else "joint",
                          exact_integers=True, no_discharge_at_negative=False, budget_days=budget_days,
                          highs_options=MILP_OPTIONS)
        self.n_blocks = self.lp.n_blocks
        b = battery
        self._parameters: dict[str, object] = {
            "soc0_mwh": b.soc_initial_mwh, "soc_end_mwh": (b.soc_min_mwh, b.soc_max_mwh),
            "max_discharge_mwh": b.max_daily_discharge_mwh}

    def value(self, *, fixed_reserves: Reserves | None = None, **parameters) -> float:
        """The optimal objective [EUR] for the given parameters (as :meth:`solve`), without the schedule."""
        return self.lp.value(fixed_reserves=_one_asset(fixed_reserves), **self._merged(parameters))

    def solve(self, *, fixed_reserves: Reserves | None = None, **parameters) -> LPResult:
        """Set the given parameters, solve, and return the objective [EUR] and the schedule. ``fixed_reserves``:
        FCR, aFRR POS, NEG and mFRR POS, NEG per block [MW] (None: free; fewer: the rest free), fixed for this
        solve only (awards already won)."""
        (result,) = self.lp.solve(fixed_reserves=_one_asset(fixed_reserves), **self._merged(parameters))
        return dataclasses.replace(result, objective_eur=self.lp.objective_eur,
                                   pv_out_mw=result.pv_out_mw if self.site is not None else None)

    def _merged(self, parameters: dict[str, object]) -> dict[str, object]:
        """The previous solve's parameters updated with ``parameters``, shaped for one asset."""
        unknown = set(parameters) - set(PARAMETERS)
        if unknown:
            raise TypeError(f"unknown LP parameter {sorted(unknown)[0]!r}; expected one of {PARAMETERS}")
        self._parameters.update({name: value for name, value in parameters.items() if value is not None})
        one = {}
        for name, value in self._parameters.items():
            if name == "soc_end_mwh":
                one[name] = (np.array([float(value[0])]), np.array([float(value[1])]))
            elif name == "soc0_mwh":
                one[name] = np.array([float(value)])
            elif name == "max_discharge_mwh":  # one budget, or one per period of budget_days
                one[name] = np.atleast_1d(np.asarray(value, dtype=float))[None]
            else:
                one[name] = np.asarray(value, dtype=float)[None] if name in PER_ASSET_STEPS else value
        return one
