"""The battery LP of every baseline: one model over N batteries (and their sites) that bid as one actor.

One asset is the daily multi-market LP of a battery or a co-located site (:class:`BatteryLP`
wraps it), a year of one asset the horizon model (:mod:`agents.lp.horizon`), N assets the portfolio baseline.
The constraints are written once, here, as arrays over assets and steps. Per asset i and step t: charge
``ch``, discharge ``dis`` at the grid and intraday trade ``x`` (+ sell) [MW], SoC ``soc`` at the step's end
[MWh], day-ahead position ``da`` (one per hour with hourly products), reserves per product of the table
(:data:`bessgym.market.reserves.RESERVES`, the stacked column family ``reserve``) and block b(t) [MW], written
below for FCR ``fcr`` and aFRR ``pos``/``neg`` (every product held up stands beside ``pos``, every one held down
beside ``neg``, each with its hold time), planned PV output ``pv`` [MW]:

    dis - c_pos + fcr_b + pos_b <= P;  ch - c_neg + fcr_b + neg_b <= P       power with reserves
    fcr_b + pos_b <= s P;  fcr_b + neg_b <= s P;  fcr_b <= s_fcr P             ancillary shares
    c_pos = s_pos,t pos_b;  c_neg = s_neg,t neg_b                             held capacity called
    dis - ch + dev = held + da + x + a_pos - a_neg + f + c_pos - c_neg        trading balance
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

``c_pos``/``c_neg`` are the held capacity's energy called (one column family per product of
:data:`~bessgym.market.reserves.ENERGY`): the capacity's energy is offered at the price band's edge away from
the market and called, with the activation share, only where the marginal price passes that edge; ``s`` is that
share per step (``LPInputs.called_share``, 0 unless given), set per solve as the coefficient of the reserve
column, and the called energy is paid at the product's energy price. It is the reserve's power, not the
schedule's, so it comes off the power and connection rows.

``held`` is a position already committed (0 unless given: a sequential stage re-optimises around what earlier
auctions sold or bought, trading ``x`` only where ``intraday_open``). ``a_pos``/``a_neg`` are energy-only aFRR
activations (0 unless their bounds are given: the multi-market methodology offers free power after the
day-ahead result, and an offer that clears is activated with the quarter-hour's share). ``f`` is the
battery's intraday sale into a profile PPA's shortfall (0 unless a profile is given and intraday is traded:
at most what the PV forecast leaves of the profile, worth ``price_shortfall``; where it may, ``x >= 0``: the
battery does not buy while the profile is short, which would only buy the shortfall).

The actor: reserve totals per product and block ``total[k, b] = sum_i reserve[k, i, b]``, and the intraday net
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
100 assets are ~100k rows, which pyomo takes ~10 s to build and translate), one builder per constraint family
over the assets' arrays (``_add_power_limits``, ``_add_trading_balance``, ``_add_soc_balance``,
``_add_reserve_headroom``, ``_add_cycle_limit``, ``_add_terminal_soc``, ``_add_site``, ``_add_exclusive_charge``:
the pyomo oracle's ``add_*`` functions), and re-solved by the same HiGHS instance with the costs and bounds of
each solve's :class:`~agents.lp.terms.LPInputs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agents.lp.arrays import ArrayLP
from agents.lp.terms import (
    COMMIT_TIE_EUR_MWH,
    END_MISS_EUR_MWH,
    ENERGY_PRICES,
    PRICES,
    RESERVE_PRICES,
    LPInputs,
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
from bessgym.market.reserves import ENERGY, HELD_DOWN, HELD_UP, RESERVES, UP

Reserves = Sequence["np.ndarray | None"]  # volumes per block [MW] in the order of RESERVES (None: free)
# +1 for each energy product held up (its called energy is sold), -1 for each held down (bought)
CALLED_SIGN = tuple(1.0 if RESERVES[k].direction == UP else -1.0 for k in ENERGY)

# one battery's day: whole-MW reserves and binaries at negative prices make a small MILP, solved to 1e-6 of the
# optimum (HiGHS's default 1e-4 left up to 0.04 EUR a day); presolve on (MILPs 20 % faster, LP re-solves alike)
MILP_OPTIONS = {"presolve": "on", "mip_rel_gap": 1e-6}
PARAMETERS = (*PRICES, "soc0_mwh", "soc_end_mwh", "max_discharge_mwh", "pv_forecast_mw", "pv_value_eur_mwh",
              "held_mw", "intraday_open", "energy_only_pos_mw", "energy_only_neg_mw", "in_service", "profile_mw",
              "called_share", "soc_floor_mwh", "soc_ceiling_mwh")
PER_ASSET_STEPS = ("pv_forecast_mw", "pv_value_eur_mwh", "held_mw", "energy_only_pos_mw", "energy_only_neg_mw",
                   "profile_mw", "soc_floor_mwh", "soc_ceiling_mwh")


@dataclass(frozen=True)
class _Fleet:
    """The assets' arrays the constraint builders read: (N, 1), broadcasting over steps, unless noted."""

    power_mw: np.ndarray
    eta_charge: np.ndarray
    eta_discharge: np.ndarray
    soc_min_mwh: np.ndarray
    soc_max_mwh: np.ndarray
    grid_mw: np.ndarray
    import_base: np.ndarray  # what the connection imports beside PV: 0 at a green-only site
    aux_mwh: np.ndarray  # (N,): auxiliary consumption per step [MWh]
    degradation_eur_mwh: np.ndarray  # (N,)

    @classmethod
    def of(cls, sites: Sequence[SiteSpec], step_h: float) -> _Fleet:
        def column(values) -> np.ndarray:
            return np.array(values, dtype=float)[:, None]

        bat = [s.battery for s in sites]
        grid = column([s.grid_limit_mw for s in sites])
        return cls(*(column([getattr(b, name) for b in bat]) for name in (
            "power_mw", "eta_charge", "eta_discharge", "soc_min_mwh", "soc_max_mwh")), grid_mw=grid,
            import_base=np.where([[s.green_only] for s in sites], 0.0, grid),
            aux_mwh=column([b.aux_power_mw for b in bat])[:, 0] * step_h,
            degradation_eur_mwh=column([b.degradation_cost_eur_mwh for b in bat])[:, 0])


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
        n, pr = len(self.sites), products
        check_mode(mode, "ActorLP mode")
        self.mode, self.no_discharge_at_negative = mode, no_discharge_at_negative
        self.exact_integers = exact_integers and pr.integer_reserves
        self.hours = step_h == 1.0
        if step_h not in (DT_H, 1.0):
            raise ValueError(f"step_h must be 0.25 (quarter-hours) or 1.0 (hours), got {step_h}")
        if self.hours and (blocks is None or pr.intraday or any(s.pv_mwp > 0 for s in self.sites)):
            raise ValueError("an hourly model (step_h=1) needs its reserve blocks and trades neither intraday nor PV")
        self.blocks = blk = block_of(n_steps) if blocks is None else np.asarray(blocks, dtype=int)
        self.n, self.n_blocks = n, int(blk.max()) + 1
        self.block_start = np.flatnonzero(np.diff(blk, prepend=-1))
        self.fleet = _Fleet.of(self.sites, step_h)
        self.has_pv = np.array([s.pv_mwp > 0 for s in self.sites])  # its forecast widens the import room
        self.plans_pv = self.has_pv & (mode != "bess_priority")  # its output is planned
        self.commits = self.has_pv & (mode != "pv_priority")  # it may commit PV to the battery
        self.hourly = pr.day_ahead and pr.hourly_day_ahead and not self.hours  # one position per 4 quarter-hours
        # each product's cap per block [MW] (0 where not traded) and hold time [h], rows of the reserve table
        p = self.fleet.power_mw
        self.reserve_caps = np.stack([np.broadcast_to(pr.reserve_cap_share(product) * p, (n, self.n_blocks))
                                      for product in RESERVES])
        self.hold_h = pr.hold_h()
        self.layout = ArrayLP()
        self.v = self._add_columns()
        if pr.exclusive_charge:
            self._add_exclusive_charge()
        self._add_actor()
        self._add_called()
        self._add_power_limits()
        self._add_trading_balance()
        self._add_soc_balance()
        self._add_reserve_headroom()
        self._add_cycle_limit(budget_days)
        self._add_terminal_soc()
        self._add_site()
        self.highs = self.layout.highs(maximize=True)
        # a day: presolve off measured 25 % faster (and re-solves warm-start); a year wants it on
        for key, value in (highs_options or {"presolve": "off"}).items():
            self.highs.setOptionValue(key, value)
        self.bound_eur = self.objective_eur = float("nan")
        self._out = np.zeros(n, bool)  # assets out of service in the last solve

    # ------------------------------------------------------------------ builders, one per constraint family

    def _add_columns(self) -> dict[str, np.ndarray]:
        """The model's columns (see the module docstring); bounds a solve sets start at 0."""
        lp, n, t, pr, f = self.layout, self.n, self.n_steps, self.products, self.fleet
        p, n_b, n_h = f.power_mw, self.n_blocks, (t + 3) // 4
        return {
            "ch": lp.var((n, t), 0, p), "dis": lp.var((n, t), 0, p),
            "soc": lp.var((n, t), f.soc_min_mwh, f.soc_max_mwh),
            "da": lp.var((n, n_h if self.hourly else t), -p if pr.day_ahead else 0, p if pr.day_ahead else 0,
                         steps=4 * np.arange(n_h) if self.hourly else None),
            "x": lp.var((n, t), -2 * p if pr.intraday else 0, 2 * p if pr.intraday else 0),
            "sell": lp.var((t,)), "buy": lp.var((t,)),
            # each product's reserve per asset and block, then the actor's totals: rows of the reserve table
            "reserve": np.stack([lp.var((n, n_b), 0, cap, steps=self.block_start) for cap in self.reserve_caps]),
            "total": np.stack([lp.var((n_b,), steps=self.block_start, integer=self.exact_integers)
                               for _ in RESERVES]),
            "pv": lp.var((n, t), 0, 0),  # bounds: by the PV forecast, set per solve
            # energy-only aFRR activated in each step [MW]: bounds set per solve (0 unless offered)
            "act_pos": lp.var((n, t), 0, 0), "act_neg": lp.var((n, t), 0, 0),
            # each energy product's held capacity called in each step [MW]: its share is set per solve (0 unless
            # the held offer clears)
            "called": np.stack([lp.var((n, t)) for _ in ENERGY]),
            # the share of each block's PV committed to the battery
            "cur": lp.var((n, n_b), 0, self.commits[:, None].astype(float), steps=self.block_start),
            # the battery's intraday sale into a profile PPA's shortfall [MW]: bounds set per solve
            "fill": lp.var((n, t), 0, 0),
            # the end SoC's miss of its bounds [MWh], short (+) and over (-); the held schedule's [MW], set per solve
            "end_short": lp.var((n, 1), steps=np.array([t - 1])), "end_over": lp.var((n, 1), steps=np.array([t - 1])),
            "held_short": lp.var((n, t), 0, 0), "held_over": lp.var((n, t), 0, 0),
        }

    def _per_step(self, rows: tuple[int, ...]) -> list[np.ndarray]:
        """The reserves of the table's ``rows``, each (N, T): the value of each step's block."""
        return [self.v["reserve"][k][:, self.blocks] for k in rows]

    def _add_exclusive_charge(self) -> None:
        """ch <= P u, dis <= P (1 - u), u binary."""
        lp, v, p = self.layout, self.v, self.fleet.power_mw
        u = lp.var((self.n, self.n_steps), 0, 1, integer=True)
        lp.rows([(1, v["ch"]), (-p, u)], hi=0.0)
        lp.rows([(1, v["dis"]), (p, u)], hi=p)

    def _add_actor(self) -> None:
        """The actor's reserve totals per product and block, and its intraday net at the exchange."""
        lp, v = self.layout, self.v
        lp.rows([(1, v["reserve"].transpose(1, 0, 2)), (-1, v["total"])], 0, 0, shape=v["total"].shape)
        lp.rows([(1, v["x"]), (-1, v["sell"]), (1, v["buy"])], 0, 0, shape=(self.n_steps,))

    def _add_called(self) -> None:
        """called_e = s_e reserve_k(e),b(t): the held capacity's energy called (the share s per solve)."""
        self.called_rows = self.layout.rows([(1, self.v["called"])], 0, 0)
        self.called_cols = np.stack(self._per_step(ENERGY))  # (E, N, T): each step's block's reserve column
        self._called_share = np.zeros(self.called_rows.shape)

    def _called_of(self, up: bool) -> list[np.ndarray]:
        """The called columns (N, T) of the energy products held up (``up``) or down."""
        return [c for c, sign in zip(self.v["called"], CALLED_SIGN, strict=True) if (sign > 0) == up]

    def _called_net(self, sign: float) -> list[tuple[float, np.ndarray]]:
        """Terms of ``sign`` x (the called power up - the called power down)."""
        return [(sign, c) for c in self._called_of(True)] + [(-sign, c) for c in self._called_of(False)]

    def _add_power_limits(self) -> None:
        """Power with the reserves held each way (called capacity is the reserve's power, not the schedule's),
        and the ancillary share of the rating per block."""
        lp, v, p = self.layout, self.v, self.fleet.power_mw
        lp.rows([(1, v["dis"])] + [(-1, c) for c in self._called_of(True)] + [(1, r) for r in self._per_step(HELD_UP)],
                hi=p)
        lp.rows([(1, v["ch"])] + [(-1, c) for c in self._called_of(False)]
                + [(1, r) for r in self._per_step(HELD_DOWN)], hi=p)
        for rows in (HELD_UP, HELD_DOWN):
            lp.rows([(1, v["reserve"][k]) for k in rows], hi=self.products.ancillary_max_share * p)

    def _add_trading_balance(self) -> None:
        """dis - ch + dev = held + da + x + a_pos - a_neg + f + called up - called down (the held schedule is set
        per solve)."""
        v = self.v
        da = v["da"][:, np.arange(self.n_steps) // 4] if self.hourly else v["da"]
        self.balance_rows = self.layout.rows(
            [(1, v["dis"]), (-1, v["ch"]), (-1, da), (-1, v["x"]), (-1, v["act_pos"]), (1, v["act_neg"]),
             (-1, v["fill"]), (1, v["held_short"]), (-1, v["held_over"])] + self._called_net(-1), 0, 0)

    def _add_soc_balance(self) -> None:
        """soc_t = soc_{t-1} + (eta_c ch - dis / eta_d - aux) dt; the first step's SoC before is soc0, in the
        first row's bounds."""
        v, f, t, dt = self.v, self.fleet, self.n_steps, self.dt
        soc = v["soc"]
        before = np.where(np.arange(t) > 0, -1.0, 0.0), soc[:, np.maximum(np.arange(t) - 1, 0)]
        self.soc_first = self.layout.rows(
            [(1, soc), before, (-f.eta_charge * dt, v["ch"]), (dt / f.eta_discharge, v["dis"])],
            -f.aux_mwh[:, None], -f.aux_mwh[:, None])[:, :1]

    def _add_reserve_headroom(self) -> None:
        """The SoC before and after each step holds each block's reserves for their hold times: above the floor
        for those held up, below the ceiling for those held down."""
        lp, v, f, n = self.layout, self.v, self.fleet, self.n
        soc, lo, hi = v["soc"], f.soc_min_mwh, f.soc_max_mwh
        low = [(-self.hold_h[k] / f.eta_discharge, r) for k, r in zip(HELD_UP, self._per_step(HELD_UP), strict=True)]
        high = [(self.hold_h[k] * f.eta_charge, r) for k, r in zip(HELD_DOWN, self._per_step(HELD_DOWN), strict=True)]
        lp.rows([(1, soc)] + low, lo=lo)
        lp.rows([(1, soc)] + high, hi=hi)
        # a block's reserve is deliverable from its first moment: the SoC before its first step holds it too
        # (within a block that is the step before's own row); before the first step it is soc0, set per solve
        later = self.block_start[1:]
        if later.size:
            lp.rows([(1, soc[:, later - 1])] + [(c, cols[:, later]) for c, cols in low], lo=lo)
            lp.rows([(1, soc[:, later - 1])] + [(c, cols[:, later]) for c, cols in high], hi=hi)
        self.start_rows = (lp.rows([(-c, cols[:, :1]) for c, cols in low], shape=(n, 1)),
                           lp.rows([(c, cols[:, :1]) for c, cols in high], shape=(n, 1)))
        if self.hours:  # each block's first quarter-hour: w of the way from the SoC before it (soc0: in the bounds)
            first, w = self.block_start, DT_H / self.dt
            point = [((first > 0) * (1 - w), soc[:, np.maximum(first - 1, 0)]), (w, soc[:, first])]
            self.first_qh = (lp.rows(point + [(c, cols[:, first]) for c, cols in low], lo=lo),
                             lp.rows(point + [(c, cols[:, first]) for c, cols in high], hi=hi))
            self.w = w

    def _add_cycle_limit(self, budget_days: Sequence[int] | None) -> None:
        """The discharge budget of each period (default the whole horizon; a rolling plan has one per day)."""
        t = self.n_steps
        edges = np.cumsum([0, *(budget_days or [t])])
        if edges[-1] != t:
            raise ValueError(f"budget_days {list(budget_days)} do not add up to the {t} steps")
        dis = self.v["dis"]
        self.cycle_rows = np.concatenate([self.layout.rows([(self.dt, dis[:, a:b])], shape=(self.n, 1))
                                          for a, b in zip(edges[:-1], edges[1:], strict=True)], axis=1)

    def _add_terminal_soc(self) -> None:
        """end_lo <= soc_{T-1} + miss <= end_hi (bounds per solve)."""
        v = self.v
        self.end_rows = self.layout.rows([(1, v["soc"][:, -1:]), (1, v["end_short"]), (-1, v["end_over"])],
                                         shape=(self.n, 1))

    def _add_site(self) -> None:
        """Each site's connection where it can bind (a connection of at least the battery's power is implied by
        the power rows: a third of a year model's rows otherwise), its planned PV, and the losses of PV not fed
        in."""
        lp, v, f, t, mode = self.layout, self.v, self.fleet, self.n_steps, self.mode
        grid, p = f.grid_mw, f.power_mw
        narrow = grid[:, 0] < p[:, 0]
        self.up_sites = u = np.flatnonzero(narrow | self.has_pv)
        self.down_sites = d = np.flatnonzero(narrow | (f.import_base[:, 0] == 0))
        dis, ch, cur = v["dis"], v["ch"], v["cur"][:, self.blocks]  # (N, T): the commitment of each step's block
        up, down = self._per_step(HELD_UP), self._per_step(HELD_DOWN)
        # G - m + m c: the coefficient of c (1 until a solve sets -m) and the bound are the PV forecast's
        # as in the env, the reserves fit the connection beside the uncommitted PV on their own too (a schedule
        # that charges does not widen the room they are offered in before it is traded)
        held_up = [(1, r[u]) for r in up] + [(1, cur[u])]
        held_down = [(1, r[d]) for r in down]
        # the schedule's part of the battery's power: its called capacity stands within the reserves held
        called = self._called_net(-1)
        self.site_up = np.stack([lp.rows([(1, dis[u]), (-1, ch[u])] + [(c, x[u]) for c, x in called] + held_up,
                                         shape=(u.size, t)),
                                 lp.rows(held_up, shape=(u.size, t))])
        self.site_down = np.stack([lp.rows([(1, ch[d]), (-1, dis[d])] + [(-c, x[d]) for c, x in called] + held_down,
                                           shape=(d.size, t)),
                                   lp.rows(held_down, shape=(d.size, t))])
        self.import_base = np.broadcast_to(f.import_base[d], (d.size, t))
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

    def solve(self, inputs: LPInputs | None = None, *, fixed_reserves: Reserves | None = None,
              **parameters: np.ndarray) -> list[LPResult]:
        """Solve for ``inputs`` (or the parameters of :meth:`LPInputs.of`). Returns one schedule per asset; its
        ``objective_eur`` is the asset's share of the actor's (its own terms, the fee split pro rata to its
        |trade|), and they sum to ``objective_eur``. ``fixed_reserves``: each asset's reserves per block
        (N, blocks) [MW] in the order of :data:`~bessgym.market.reserves.RESERVES` (None: free), fixed for this
        solve only (awards won)."""
        with self._reserves_fixed(fixed_reserves):
            self.set_parameters(inputs, **parameters)
            self._solve()
            return self._results()

    def value(self, inputs: LPInputs | None = None, *, fixed_reserves: Reserves | None = None,
              **parameters: np.ndarray) -> float:
        """The optimal objective [EUR] for ``inputs`` (and ``fixed_reserves`` as in :meth:`solve`), without the
        schedules."""
        with self._reserves_fixed(fixed_reserves):
            self.set_parameters(inputs, **parameters)
            self._solve()
            return self.objective_eur

    @contextlib.contextmanager
    def _reserves_fixed(self, fixed: Reserves | None) -> Iterator[None]:
        if fixed is None:
            yield
            return
        self._fix_reserves(fixed)
        try:
            yield
        finally:
            self._fix_reserves((None,) * len(RESERVES))

    def inputs(self, **parameters: np.ndarray) -> LPInputs:
        """The :class:`~agents.lp.terms.LPInputs` of this model's assets, steps and budget periods from arrays
        (the keywords of :meth:`LPInputs.of <agents.lp.terms.LPInputs.of>`)."""
        return LPInputs.of(self.n, self.n_steps, self.cycle_rows.shape[1], **parameters)

    def set_parameters(self, inputs: LPInputs | None = None, **parameters: np.ndarray) -> None:
        """Set the costs and bounds of ``inputs`` (or of :meth:`inputs` of ``parameters``) for the next solve."""
        inp = inputs if inputs is not None else self.inputs(**parameters)
        if inp.shape != (self.n, self.n_steps, self.cycle_rows.shape[1]):
            raise ValueError(f"LPInputs of shape {inp.shape} (assets, steps, budget periods) for a model of "
                             f"{(self.n, self.n_steps, self.cycle_rows.shape[1])}")
        self._price, self._pv_value = inp.prices, inp.pv_value_eur_mwh
        pv_fc = np.where(self.has_pv[:, None], np.maximum(inp.pv_forecast_mw, 0.0), 0.0)
        fed = np.minimum(pv_fc, self.fleet.grid_mw)  # m: the PV the connection takes, what a commitment is a share of
        self._set_costs(inp, fed)
        self._set_column_bounds(inp, pv_fc, fed)
        self._set_row_bounds(inp, pv_fc, fed)
        self._set_called(inp)
        coefs = np.tile(-fed[self._coef_sites].ravel(), 2).tolist()
        for row, col, coef in zip(self._coef_rows, self._coef_cols, coefs, strict=True):
            self.highs.changeCoeff(row, col, coef)

    def _set_costs(self, inp: LPInputs, fed: np.ndarray) -> None:
        """Each column's revenue [EUR per MW] (the objective's terms)."""
        n, t, v, dt, price = self.n, self.n_steps, self.v, self.dt, inp.prices
        fee = self.products.intraday_fee_eur_mwh
        da_cost = price["price_da"] * dt
        if self.hourly:
            da_cost = np.bincount(np.arange(t) // 4, weights=da_cost)
        cost = [(v["da"], np.broadcast_to(da_cost, v["da"].shape)), (v["sell"], (price["price_id"] - fee) * dt),
                (v["buy"], -(price["price_id"] + fee) * dt), (v["pv"], inp.pv_value_eur_mwh * dt),
                (v["dis"], np.broadcast_to(-self.fleet.degradation_eur_mwh[:, None] * dt, (n, t))),
                (v["act_pos"], np.broadcast_to(price["price_energy_pos"] * dt, (n, t))),
                (v["act_neg"], np.broadcast_to(-price["price_energy_neg"] * dt, (n, t))),
                (v["fill"], np.broadcast_to(price["price_shortfall"] * dt, (n, t))),
                *((called, np.broadcast_to(sign * price[name] * dt, (n, t)))
                  for called, sign, name in zip(v["called"], CALLED_SIGN, ENERGY_PRICES, strict=True)),
                *((v[name], np.full((n, 1), -END_MISS_EUR_MWH)) for name in ("end_short", "end_over")),
                *((v[name], np.full((n, t), -END_MISS_EUR_MWH * dt)) for name in ("held_short", "held_over"))]
        for total, column in zip(v["total"], RESERVE_PRICES, strict=True):
            cost.append((total, np.bincount(self.blocks, weights=price[column] * dt, minlength=self.n_blocks)))
        committable = fed @ (self.blocks[:, None] == np.arange(self.n_blocks)) * dt  # (N, blocks) [MWh]
        cost.append((v["cur"], -COMMIT_TIE_EUR_MWH * committable))
        cost.append((self.cut, np.broadcast_to(-self.other_eur_mwh[:, None] * dt, self.cut.shape)))
        cols = np.concatenate([c.ravel() for c, _ in cost])
        self.highs.changeColsCost(cols.size, cols.astype(np.int32), np.concatenate([np.ravel(w) for _, w in cost]))

    def _set_column_bounds(self, inp: LPInputs, pv_fc: np.ndarray, fed: np.ndarray) -> None:
        """PV, power, trade, activation and profile bounds; reserves of assets out of service (or back); the SoC
        at each step's start."""
        n, t, v, h, power = self.n, self.n_steps, self.v, self.highs, self.fleet.power_mw
        planned = np.where(self.plans_pv[:, None], pv_fc, 0.0)
        pv_floor = fed if self.mode == "pv_priority" else np.zeros((n, t))  # PV priority feeds all it can
        traded = inp.prices["price_da"] if self.products.day_ahead else inp.prices["price_id"]
        dis_cap = np.where(self.no_discharge_at_negative & (traded < 0), 0.0, power)
        on = inp.in_service
        x_cap = 2 * power * inp.intraday_open * self.products.intraday * on[:, None]
        fill_cap = np.maximum(inp.profile_mw - pv_fc, 0.0) * (x_cap > 0)  # what the PV forecast leaves of the profile
        # while the profile is short the battery does not buy (its sale is what fills the profile, in the env too)
        x_lo = np.where(fill_cap > 0, 0.0, -x_cap)
        deviation = np.full(2 * n * t, np.inf if inp.holds_schedule else 0.0)  # only from a schedule held
        bounded = np.concatenate([v[name].ravel() for name in ("pv", "dis", "ch", "x", "act_pos", "act_neg", "fill",
                                                               "held_short", "held_over")])
        h.changeColsBounds(bounded.size, bounded.astype(np.int32),
                           np.concatenate([pv_floor.ravel(), np.zeros(2 * n * t), x_lo.ravel(), np.zeros(5 * n * t)]),
                           np.concatenate([planned.ravel(), dis_cap.ravel() * on.repeat(t),
                                           np.broadcast_to(power, (n, t)).ravel() * on.repeat(t), x_cap.ravel(),
                                           np.maximum(inp.energy_only_pos_mw, 0).ravel() * on.repeat(t),
                                           np.maximum(inp.energy_only_neg_mw, 0).ravel() * on.repeat(t),
                                           fill_cap.ravel(), deviation]))
        changed = ~on | self._out  # reserves of assets out now, or back: the others keep their bounds (awards)
        if changed.any():
            cols = v["reserve"][:, changed].ravel().astype(np.int32)
            caps = (self.reserve_caps[:, changed] * on[changed, None]).ravel()
            h.changeColsBounds(cols.size, cols, np.zeros(cols.size), caps)
        self._out = ~on
        window = [np.broadcast_to(edge, (n, t)) for edge in (self.fleet.soc_min_mwh, self.fleet.soc_max_mwh)]
        floor = window[0] if inp.soc_floor_mwh is None else inp.soc_floor_mwh
        ceiling = window[1] if inp.soc_ceiling_mwh is None else inp.soc_ceiling_mwh
        floor = np.maximum(floor[:, 1:], window[0][:, 1:])
        ceiling = np.maximum(np.minimum(ceiling[:, 1:], window[1][:, 1:]), floor)
        starts = v["soc"][:, :-1].ravel().astype(np.int32)  # the SoC before steps 1 .. T-1
        h.changeColsBounds(starts.size, starts, floor.ravel(), ceiling.ravel())

    def _set_row_bounds(self, inp: LPInputs, pv_fc: np.ndarray, fed: np.ndarray) -> None:
        """The start SoC, the held schedule, the budgets, the end state, the connection and the PV losses."""
        n, f, soc0 = self.n, self.fleet, inp.soc0_mwh
        soc_lo, soc_hi = f.soc_min_mwh[:, 0], f.soc_max_mwh[:, 0]
        rows, lo, hi = zip(
            (self.soc_first, soc0 - f.aux_mwh, soc0 - f.aux_mwh), (self.balance_rows, inp.held_mw, inp.held_mw),
            (self.cycle_rows, np.full(self.cycle_rows.shape, -np.inf), inp.max_discharge_mwh),
            (self.end_rows, *inp.soc_end_mwh),
            (self.site_down, np.full(self.site_down.shape, -np.inf),
             np.broadcast_to(self.import_base + pv_fc[self.down_sites], self.site_down.shape)),
            (self.site_up, np.full(self.site_up.shape, -np.inf),
             np.broadcast_to((f.grid_mw - fed)[self.up_sites], self.site_up.shape)),
            (self.start_rows[0], np.full(n, -np.inf), np.maximum(soc0 - soc_lo, 0.0)),
            (self.start_rows[1], np.full(n, -np.inf), np.maximum(soc_hi - soc0, 0.0)),
            (self.cut_rows, fed[self.lossy], np.full(self.cut_rows.shape, np.inf)),
            strict=True)
        if self.hours:  # the first block's first quarter-hour starts from soc0
            shift = (1 - self.w) * soc0
            rows, lo, hi = (rows + (self.first_qh[0][:, :1], self.first_qh[1][:, :1]),
                            lo + (soc_lo - shift, np.full(n, -np.inf)),
                            hi + (np.full(n, np.inf), soc_hi - shift))
        idx = np.concatenate([r.ravel() for r in rows]).astype(np.int32)
        self.highs.changeRowsBounds(idx.size, idx, np.concatenate([np.ravel(x) for x in lo]),
                                    np.concatenate([np.ravel(x) for x in hi]))

    def _set_called(self, inp: LPInputs) -> None:
        """The called shares' coefficients, -s, in the called rows; only those that changed (most are 0)."""
        share = inp.called_share if not self.hours else np.zeros_like(self._called_share)  # an hourly model: none
        changed = np.flatnonzero(share.ravel() != self._called_share.ravel())
        rows, cols = self.called_rows.ravel()[changed].tolist(), self.called_cols.ravel()[changed].tolist()
        for row, col, coef in zip(rows, cols, (-share.ravel()[changed]).tolist(), strict=True):
            self.highs.changeCoeff(row, col, coef)
        self._called_share = share.copy()

    def _fix_reserves(self, fixed: Reserves) -> None:
        """Fix each asset's reserves per block (N, blocks) [MW], one entry per product of the table (fewer: the
        rest free), or free them up to their caps again with None."""
        padded = [*fixed, *(None,) * (len(RESERVES) - len(fixed))]
        lo, hi = np.zeros(self.reserve_caps.shape), self.reserve_caps.copy()
        for k, (product, values) in enumerate(zip(RESERVES, padded, strict=True)):
            if values is not None:
                lo[k] = hi[k] = parameter(values, self.reserve_caps[k].shape, product.held_column)
        idx = self.v["reserve"].ravel().astype(np.int32)
        self.highs.changeColsBounds(idx.size, idx, lo.ravel(), hi.ravel())

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
        return self.v["total"].ravel().astype(np.int32)

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
        v, t, blk, val, dt = self.v, self.n_steps, self.blocks, self._value, self.dt
        da = val[v["da"]][:, np.arange(t) // 4] if self.hourly else val[v["da"]]
        x, dis, pv = val[v["x"]], val[v["dis"]], val[v["pv"]]
        reserve = val[v["reserve"]]  # (products, N, blocks)
        price = self._price
        # intraday as the env settles a netted portfolio: the net's fee shared over the gross |trade|
        fee = st.netted_fee(self.products.intraday_fee_eur_mwh, np.abs(x.sum(axis=0)), np.abs(x).sum(axis=0))
        intraday = st.intraday_revenue(x, price["price_id"], fee, dt)
        act_pos, act_neg, fill = val[v["act_pos"]], val[v["act_neg"]], val[v["fill"]]
        earned = (price["price_da"] * da + self._pv_value * pv - self.fleet.degradation_eur_mwh[:, None] * dis
                  + price["price_shortfall"] * fill
                  + price["price_energy_pos"] * act_pos - price["price_energy_neg"] * act_neg)
        for held, column in zip(reserve, RESERVE_PRICES, strict=True):
            earned = earned + price[column] * held[:, blk]
        for called, sign, name in zip(val[v["called"]], CALLED_SIGN, ENERGY_PRICES, strict=True):
            earned = earned + sign * price[name] * called
        own = (dt * earned + intraday).sum(axis=1)
        own[self.lossy] -= (self.other_eur_mwh[:, None] * val[self.cut] * dt).sum(axis=1)  # PV not fed in
        ch, soc = val[v["ch"]], val[v["soc"]]
        cur, miss, held_miss = val[v["cur"]], self._end_miss(), self._held_miss()
        return [LPResult(objective_eur=float(own[i]), charge_mw=ch[i], discharge_mw=dis[i], soc_mwh=soc[i],
                         day_ahead_mw=da[i], intraday_mw=x[i],
                         **{p.held_column: reserve[k, i] for k, p in enumerate(RESERVES)},
                         pv_out_mw=pv[i] if self.mode != "bess_priority" else None, afrr_energy_pos_mw=act_pos[i],
                         afrr_energy_neg_mw=act_neg[i], pv_commitment_share=cur[i], profile_fill_mw=fill[i],
                         end_miss_mwh=float(miss[i]), held_miss_mw=held_miss[i])
                for i in range(self.n)]


def _one_asset(fixed: Reserves | None) -> tuple[np.ndarray | None, ...] | None:
    """One asset's fixed reserves (blocks,) as the actor's (1, blocks) (fewer than the products: the rest free,
    as :meth:`ActorLP.solve` takes them)."""
    if fixed is None:
        return None
    return tuple(None if x is None else np.asarray(x, dtype=float)[None] for x in fixed)


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
            elif name == "called_share":  # (E, T): one row per energy product
                one[name] = np.asarray(value, dtype=float)[:, None]
            elif name == "max_discharge_mwh":  # one budget, or one per period of budget_days
                one[name] = np.atleast_1d(np.asarray(value, dtype=float))[None]
            else:
                one[name] = np.asarray(value, dtype=float)[None] if name in PER_ASSET_STEPS else value
        return one
