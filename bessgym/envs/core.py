"""The simulation core: sequential German markets for N batteries, stepped as numpy arrays over assets.

The single env is N = 1, the vector env N = num_envs, the portfolio env (later) N assets with one reward.
All N assets run in lock-step through the same delivery days and stages; they differ by battery, forecasts,
actions and activations.

Decisions arrive as normalised actions (one row per asset, width ``ACTION_WIDTH[stage]``), are mapped onto
MW and EUR, made feasible (clipped) and booked. Cash flows are realised at delivery, one quarter-hour at a
time, so every step's reward is that quarter-hour's money and the breakdown sums to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bessgym.assets.battery import Fleet, reserve_energy, soc_next
from bessgym.data.arrays import MarketArrays
from bessgym.data.calendar import DT_H
from bessgym.data.rules import MarketRules, rules_for
from bessgym.envs import kernels
from bessgym.envs.codec import PAY_AS_BID, ActionCodec
from bessgym.envs.forecast import FORECAST_COLUMNS, Forecaster
from bessgym.envs.layout import ACTION_WIDTH
from bessgym.envs.pooling import Alone, Pooled
from bessgym.market import settlement as st
from bessgym.market.clearing import accepted_sell
from bessgym.market.config import MarketConfig
from bessgym.market.products import IDA3_FIRST_HOUR, MAX_QUARTER_HOURS, N_BLOCKS, Stage, day_timeline
from bessgym.market.reserves import ENERGY, HELD_DOWN, HELD_UP, RESERVES


def frozen(values: np.ndarray) -> np.ndarray:
    """A read-only view of ``values``."""
    view = np.asarray(values).view()
    view.flags.writeable = False
    return view


@dataclass
class DayState:
    """Commitments of all assets for the current delivery day (arrays (N, ...)) and what follows from them.

    The per-quarter-hour arrays (``*_q``, ``lo``, ``hi``) are derived once whenever commitments change, so
    a delivery step only indexes them.
    """

    n_qh: int
    start: int  # position of the day's first quarter-hour in the market arrays
    rules: MarketRules
    timeline: list[tuple[Stage, int]]
    block: np.ndarray  # (n_qh,)
    fcr_mw: np.ndarray  # (N, 6)
    afrr_pos_mw: np.ndarray
    afrr_neg_mw: np.ndarray
    afrr_pos_price: np.ndarray  # paid price (pay-as-bid) [EUR/MW/h]
    afrr_neg_price: np.ndarray
    mfrr_pos_mw: np.ndarray  # (N, 6)
    mfrr_neg_mw: np.ndarray
    mfrr_pos_price: np.ndarray  # paid price (pay-as-bid) [EUR/MW/h]
    mfrr_neg_price: np.ndarray
    positions: np.ndarray  # (N, 4, n_qh): DA, IDA1, IDA2, IDA3 [MW, + = sell]
    committed_mw: np.ndarray  # (N, n_qh): positions summed
    prices: np.ndarray  # (4, n_qh): DA, IDA1, IDA2, IDA3 prices [EUR/MWh] (0 where the product is absent)
    discharged_mwh: np.ndarray  # (N,) trading discharge today, for the cycle limit
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)  # (N, up to 2 days of quarter-hours)
    # derived from the reserves:
    held_q: np.ndarray = field(default=None)  # (len(RESERVES), N, n_qh): each product held [MW]
    room_up_mw: np.ndarray = field(default=None)  # (N, n_qh) discharge and charge power for planning [MW]:
    room_down_mw: np.ndarray = field(default=None)  # the rating, or what a connection leaves of it
    up_cap: np.ndarray = field(default=None)  # power left for discharge after reserves [MW]
    down_cap: np.ndarray = field(default=None)  # power left for charge after reserves [MW]
    lo: np.ndarray = field(default=None)  # SoC band keeping reserve headroom [MWh]
    hi: np.ndarray = field(default=None)
    capacity_cash: np.ndarray = field(default=None)  # (5, N, n_qh): FCR, aFRR POS, NEG, mFRR POS, NEG [EUR]
    capacity_price: np.ndarray = field(default=None)  # (5, N, n_qh): their prices [EUR/MW/h]
    hold_h: np.ndarray = field(default=None)  # per product (RESERVES): energy held per MW and direction [h]
    version: int = 0  # bumped whenever commitments change (observation caches key on it)
    _arrays: tuple[int, kernels.DayArrays, tuple] | None = field(default=None, repr=False)

    @property
    def arrays(self) -> kernels.DayArrays:
        """The kernels' view of the day (made again only when the version changes)."""
        return self._kernel_view()[1]

    @property
    def packed(self) -> tuple:
        """:attr:`arrays` as the plain tuple the kernels are called with."""
        return self._kernel_view()[2]

    def _kernel_view(self) -> tuple[int, kernels.DayArrays, tuple]:
        if self._arrays is None or self._arrays[0] != self.version:
            named = kernels.DayArrays(self.committed_mw, self.positions, self.prices, self.capacity_cash,
                                      self.capacity_price, self.held_q, self.up_cap, self.down_cap, self.lo, self.hi,
                                      self.discharged_mwh, self.hold_h)
            self._arrays = (self.version, named, tuple(named))
        return self._arrays


class Simulator:
    """Markets and batteries for N assets; see the module docstring.

    ``pooled``: the assets bid as one actor (:mod:`bessgym.envs.pooling`). A subclass can put the batteries
    behind grid connections (:mod:`bessgym.envs.site`): :meth:`start_day` takes the discharge and charge power
    they leave for the day's planning and reserves, and :meth:`deliver` the bounds of the battery's power in
    the coming quarter-hour [MW].
    """

    cash_flows: tuple[str, ...] = st.CASH_FLOWS
    action_width: dict[Stage, int] = ACTION_WIDTH
    record_keys: tuple[str, ...] = ()  # report entries a subclass adds to recorded dispatch
    # action entries a subclass appends to a stage's layout (bessgym.envs.layout), (name, size, meaning)
    action_parts: dict[Stage, tuple[tuple[str, int, str], ...]] = {}
    commits_pv = False  # whether the capacity stage also commits PV (a site's), so it is played without reserves

    def __init__(self, market: MarketArrays, fleet: Fleet, config: MarketConfig, forecaster: Forecaster, *,
                 pooled: bool = False) -> None:
        self.market, self.fleet, self.config, self.forecaster = market, fleet, config, forecaster
        self.n = len(fleet)
        self.pooling = (Pooled if pooled else Alone)(config.wholesale_increments)
        self.codec = ActionCodec(config)
        self.soc_mwh = fleet.soc_initial_mwh.copy()
        self.day: DayState | None = None
        self.day_number = 0
        self.days_opened = 0  # tells days apart for policies that plan once a day (the same day number recurs)
        self.rng = np.random.default_rng(0)
        self._zeros = np.zeros(len(market.index))
        self._filled: dict[str, np.ndarray] = {}
        self._da = market.columns["da_price"]
        # the kernels' inputs that do not change within an episode, as the plain tuples they are called with
        self._batteries = tuple(kernels.Batteries(
            fleet.soc_min_mwh, fleet.soc_max_mwh, fleet.power_mw, fleet.eta_charge, fleet.eta_discharge,
            fleet.aux_power_mw, fleet.max_daily_discharge_mwh, fleet.degradation_cost_eur_mwh))
        # reBAP where imbalance is settled at it; empty: at DA plus the markup (the delivery kernel's rule)
        rebap = market.columns.get("imbalance_price") if config.has("imbalance") else None
        # each energy product's price and activation, zeros where it is not configured
        energy = [(RESERVES[k], config.has(RESERVES[k].energy_family)) for k in ENERGY]
        # all read-only (a shared table's columns are): one compiled signature of the kernels, not one per mix
        self._market_columns = tuple(frozen(np.ascontiguousarray(x)) for x in kernels.MarketColumns(
            self._da, self.col("id1_price"), np.zeros(0) if rebap is None else rebap,
            np.stack([self.col(p.energy_price_column) if on else self._zeros for p, on in energy]),
            np.stack([self.col(p.activation_column) if on else self._zeros for p, on in energy])))
        self._terms = tuple(kernels.Terms(config.has("intraday"), pooled, config.intraday_fee_eur_mwh,
                                          config.energy_price_band_eur_mwh, config.afrr_energy_price_cap_eur_mwh,
                                          config.imbalance_markup_eur_mwh,
                                          config.non_delivery_penalty_eur_mwh, config.unavailability_penalty_eur_mw_h,
                                          config.energy_only_backed))
        self._empty = np.zeros((0, 0))
        self._unbounded = (np.full(self.n, -np.inf), np.full(self.n, np.inf))
        self._all, self._none = np.ones(self.n, dtype=bool), np.zeros(self.n, dtype=bool)
        self._no_trade = np.full(self.n, np.nan)

    def reset_state(self) -> None:
        """Assets back to their initial state at an episode's start."""
        self.soc_mwh = self.fleet.soc_initial_mwh.copy()

    def col(self, name: str) -> np.ndarray:
        """A market column with NaN as 0 (products absent at a timestamp), or zeros when it is not there.
        Made once per column (a year's column is 35k values; days and capacity decisions ask again)."""
        if name not in self._filled:
            values = self.market.columns.get(name)
            self._filled[name] = self._zeros if values is None else np.nan_to_num(values, nan=0.0)
        return self._filled[name]

    # ----------------------------------------------------------------------------------------- days

    def start_day(self, day_number: int, rng: np.random.Generator, *,
                  rooms: tuple[np.ndarray, np.ndarray] | None = None) -> DayState:
        """Open delivery day ``day_number`` of the market arrays: empty commitments, fresh forecasts.
        ``rooms``: the discharge and charge power (N, n_qh) [MW] a connection leaves the batteries for planning
        (default: their rating)."""
        self.rng = rng
        self.day_number = day_number
        m, cfg = self.market, self.config
        sl = m.day_slices[day_number]
        n_qh = sl.stop - sl.start
        rules = rules_for(m.dates[day_number])
        timeline = day_timeline(m.local_hour[sl], rules)
        skip = set()
        if not (cfg.has("ida") and rules.has_ida):
            skip |= {Stage.IDA1, Stage.IDA2, Stage.IDA3}
        if not cfg.has("day_ahead"):
            skip.add(Stage.DAY_AHEAD)
        if not ({"fcr", "afrr_capacity", "mfrr_capacity"} & set(cfg.products)) and not self.commits_pv:
            skip.add(Stage.CAPACITY)
        timeline = [t for t in timeline if t[0] not in skip]
        zeros6 = np.zeros((self.n, N_BLOCKS))
        rating = np.broadcast_to(self.fleet.power_mw[:, None], (self.n, n_qh))
        room_up, room_down = (rating, rating) if rooms is None else (np.minimum(rating, r) for r in rooms)
        prices = np.stack([self._da[sl]] + [self.col(f"ida{k}_price")[sl] for k in (1, 2, 3)])
        self.day = DayState(
            n_qh=n_qh, start=sl.start, rules=rules, timeline=timeline, block=m.block[sl], room_up_mw=room_up,
            room_down_mw=room_down,
            fcr_mw=zeros6.copy(), afrr_pos_mw=zeros6.copy(), afrr_neg_mw=zeros6.copy(),
            afrr_pos_price=zeros6.copy(), afrr_neg_price=zeros6.copy(), mfrr_pos_mw=zeros6.copy(),
            mfrr_neg_mw=zeros6.copy(), mfrr_pos_price=zeros6.copy(), mfrr_neg_price=zeros6.copy(),
            positions=np.zeros((self.n, 4, n_qh)),
            committed_mw=np.zeros((self.n, n_qh)), prices=prices, discharged_mwh=np.zeros(self.n),
        )
        window = slice(sl.start, min(sl.start + 2 * MAX_QUARTER_HOURS, len(m.index)))
        for name in FORECAST_COLUMNS:
            if name in m.columns:
                self.day.forecasts[name] = self.forecaster.forecast(name, m.columns[name][window], self.n, rng)
        self._fcr_response = self._frequency_response(n_qh) if cfg.fcr_activation == "frequency" else None
        self.days_opened += 1
        self._derive()
        return self.day

    def _derive(self) -> None:
        """Per-quarter-hour reserves, power rooms, SoC bands and capacity payments of the day."""
        d, f, cfg = self.day, self.fleet, self.config
        b = d.block
        # take, not x[:, b] (Fortran-ordered): the kernels are compiled for C-ordered arrays only
        d.held_q = np.stack([getattr(d, p.held_column).take(b, axis=1) for p in RESERVES])
        up_cap, down_cap = d.room_up_mw, d.room_down_mw
        for k in HELD_UP:
            up_cap = up_cap - d.held_q[k]
        for k in HELD_DOWN:
            down_cap = down_cap - d.held_q[k]
        d.up_cap, d.down_cap = np.maximum(up_cap, 0.0), np.maximum(down_cap, 0.0)
        hold = cfg.hold_h(d.rules)
        up, down = reserve_energy(d.held_q, hold, f.eta_charge[:, None], f.eta_discharge[:, None])
        lo = f.soc_min_mwh[:, None] + up
        hi = np.maximum(f.soc_max_mwh[:, None] - down, lo)
        # a block's reserve is deliverable from its first moment: the SoC at the end of the step before (its
        # start) holds the block's headroom too
        lo[:, :-1] = np.maximum(lo[:, :-1], lo[:, 1:])
        hi[:, :-1] = np.maximum(np.minimum(hi[:, :-1], hi[:, 1:]), lo[:, :-1])
        # Backward pass: the end-of-step band of q must leave the band of q+1 reachable with the power that
        # is free for energy markets (a block with larger reserves needs its headroom in time).
        charge_in = (d.down_cap * f.eta_charge[:, None] - f.aux_power_mw[:, None]) * DT_H
        discharge_out = (d.up_cap / f.eta_discharge[:, None] + f.aux_power_mw[:, None]) * DT_H
        kernels.reachable_band(lo, hi, charge_in, discharge_out)
        # inside the SoC window: where no charge can keep ahead of the auxiliaries, their load at the floor
        # comes from the grid (kernels.physical_range), so the band need not rise above soc_max
        d.lo = np.minimum(lo, f.soc_max_mwh[:, None])
        d.hi = np.maximum(hi, d.lo)
        # pay-as-cleared: the market's price; pay-as-bid: the accepted bid's, per block
        d.capacity_price = np.stack([
            np.broadcast_to(self.col(p.price_column)[d.start:d.start + d.n_qh], up.shape)
            if p.pricing == "pay_as_cleared" else getattr(d, f"{p.name}_price").take(b, axis=1) for p in RESERVES])
        d.capacity_cash = st.capacity_revenue(d.held_q, d.capacity_price, DT_H)
        d.hold_h = np.array(hold)
        d.version += 1

    def _frequency_response(self, n_qh: int) -> np.ndarray:
        """Mean FCR response per quarter-hour in [-1, 1] (+ = discharge) from an OU frequency deviation."""
        from scipy.signal import lfilter

        # 10 s resolution, 90 per quarter-hour; std ~ 25 mHz with a few minutes of memory; linear droop with
        # full activation at 200 mHz and a 10 mHz deadband. Low frequency -> discharge.
        phi = np.exp(-10.0 / 300.0)
        eps = self.rng.standard_normal((self.n, n_qh * 90)) * 0.025 * np.sqrt(1 - phi**2)
        df_hz = lfilter([1.0], [1.0, -phi], eps, axis=1)
        dead = np.sign(df_hz) * np.maximum(np.abs(df_hz) - 0.010, 0.0)
        return np.clip(-dead / 0.190, -1.0, 1.0).reshape(self.n, n_qh, 90).mean(axis=2)

    # ------------------------------------------------------------------------------------- stages

    def apply_capacity(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Offer FCR, aFRR and mFRR capacity for the 6 blocks; price-taker FCR, pay-as-bid aFRR and mFRR."""
        d, f, cfg = self.day, self.fleet, self.config
        rules = d.rules
        nearest = rules.bid_step_mw if cfg.capacity_volumes_nearest and not self.pooling.pooled else 0.0
        volumes = self.codec.capacity_volumes(action, f.power_mw, *self.capacity_rooms(), nearest_step_mw=nearest)
        # The reserves of a block must fit the usable energy window together.
        up, down = reserve_energy(volumes, cfg.hold_h(d.rules), f.eta_charge[:, None], f.eta_discharge[:, None])
        scale = np.minimum(1.0, (f.soc_max_mwh - f.soc_min_mwh)[:, None] / np.maximum(up + down, 1e-12))
        starts = d.start + np.searchsorted(d.block, np.arange(N_BLOCKS))
        no_forecast = np.zeros((self.n, d.n_qh))
        offers = dict(zip((p.name for p in PAY_AS_BID), self.codec.capacity_prices(action, *(
            d.forecasts.get(p.price_column, no_forecast)[:, starts - d.start] for p in PAY_AS_BID)), strict=True))
        out = {}
        for product, volume in zip(RESERVES, volumes, strict=True):
            offer = offers.get(product.name)  # FCR has none
            # a bid is a volume at one price: pay-as-bid volumes go to the grid per price
            bid = self.pooling.reserves(volume * scale, rules.min_bid_mw, rules.bid_step_mw, offer)
            if offer is None:
                setattr(d, product.held_column, bid)
            else:  # the marginal price is required where the product is offered (MarketArrays.require)
                won = accepted_sell(offer, self.col(product.marginal_column)[starts])
                setattr(d, product.held_column, np.where(won, bid, 0.0))
                setattr(d, f"{product.name}_price", np.where(won, offer, 0.0))
                out[f"{product.name}_offered_mw"] = bid
            out[product.held_column] = getattr(d, product.held_column)
        self._derive()
        return out

    def capacity_rooms(self, room_up_mw: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Power each asset can offer as reserves up and down in each block (N, 6) [MW]: the ancillary share
        of its rating, and at a site what the connection leaves in every quarter-hour of the block (the day's
        discharge room, or ``room_up_mw`` (N, n_qh))."""
        d, f = self.day, self.fleet
        cap = f.power_mw[:, None] * self.config.ancillary_max_share
        return (np.minimum(cap, _block_min(d.room_up_mw if room_up_mw is None else room_up_mw, d.block)),
                np.minimum(cap, _block_min(d.room_down_mw, d.block)))

    def apply_auction(self, stage: Stage, action: np.ndarray, q_from: int = 0) -> dict[str, np.ndarray]:
        """Day-ahead or intraday-auction positions, as shares of free power, made feasible along the day.

        ``q_from``: first quarter-hour that can still change (IDA3 is decided during the day).
        """
        d = self.day
        k = {Stage.DAY_AHEAD: 0, Stage.IDA1: 1, Stage.IDA2: 2, Stage.IDA3: 3}[stage]
        a = np.clip(action[:, : d.n_qh], -1.0, 1.0)
        mtu = self._mtu(stage)
        if mtu == 4:  # hourly product: one value per hour
            a = a.reshape(self.n, -1, 4).mean(axis=2).repeat(4, axis=1)
        open_q = np.zeros(d.n_qh, bool)
        open_q[q_from:] = True
        if stage == Stage.IDA3:
            open_q &= self.market.local_hour[d.start:d.start + d.n_qh] >= IDA3_FIRST_HOUR
        before = d.committed_mw
        wanted = before + np.where(open_q, self.codec.position_change(a, *self.auction_rooms(stage)), 0.0)
        step_mw = self.pooling.wholesale_step(d.rules)
        if self._is_feasible(wanted, q_from, step_mw):  # e.g. an unchanged or delegated schedule
            feasible = wanted
        else:
            feasible = kernels.feasible_plan(np.ascontiguousarray(wanted, dtype=float), self.soc_mwh, d.packed,
                                             self._batteries, q_from, mtu, step_mw or 0.0)
        delta = self.pooling.wholesale(np.where(open_q, feasible - before, 0.0), d.rules.wholesale_min_bid_mw)
        d.positions[:, k] += delta
        d.committed_mw = before + delta
        d.version += 1
        clipped = np.abs(wanted - before - delta).sum(axis=1)  # requested minus booked, MW over quarter-hours
        return {"position_mw": d.positions[:, k], "clipped_mw": clipped}

    def _mtu(self, stage: Stage) -> int:
        """Quarter-hours per product of an auction (4: the hourly day-ahead before 1 October 2025)."""
        return 4 if (stage == Stage.DAY_AHEAD and self.day.rules.da_resolution_min == 60) else 1

    def auction_rooms(self, stage: Stage) -> tuple[np.ndarray, np.ndarray]:
        """The power free to sell and to buy (N, n_qh) [MW] that an auction action's shares are read against:
        each quarter-hour's, or for an hourly product the hour's smallest (a PV forecast can vary inside it)."""
        d = self.day
        if self._mtu(stage) == 1:
            return d.up_cap, d.down_cap
        return tuple(x.reshape(self.n, -1, 4).min(axis=2).repeat(4, axis=1) for x in (d.up_cap, d.down_cap))

    def _is_feasible(self, schedule: np.ndarray, q_from: int, step_mw: float | None) -> bool:
        """Whether a schedule already meets every constraint of :func:`kernels.feasible_plan` for all assets.

        Checked at once with cumulative sums, so the sequential plan only runs when something must change.
        """
        d, f = self.day, self.fleet
        p = schedule[:, q_from:]
        if step_mw is not None and not np.allclose(p, np.round(p / step_mw) * step_mw, atol=1e-6 * step_mw):
            return False
        if (p > d.up_cap[:, q_from:] + 1e-9).any() or (p < -d.down_cap[:, q_from:] - 1e-9).any():
            return False
        steps = soc_next(0.0, p, DT_H, f.eta_charge[:, None], f.eta_discharge[:, None], f.aux_power_mw[:, None])
        soc = self.soc_mwh[:, None] + np.cumsum(steps, axis=1)
        discharged = np.cumsum(np.maximum(p, 0.0), axis=1) * DT_H
        budget = (f.max_daily_discharge_mwh - d.discharged_mwh)[:, None]
        return bool((soc >= d.lo[:, q_from:] - 1e-9).all() and (soc <= d.hi[:, q_from:] + 1e-9).all()
                    and (discharged <= budget + 1e-9).all())

    # ---------------------------------------------------------------------------------- delivery

    def trade_range(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Range [lo, hi] of the intraday trade [MW] (+ sell) at delivery quarter-hour ``q`` for each asset.

        Power after reserves and positions, SoC within the reserve band, the cycle budget. When the schedule
        itself leaves the band (e.g. after activations) the range excludes 0: the trade is forced towards the
        band, as an operator restores headroom on the intraday market.
        """
        t_lo, t_hi, _ = self._trade_range(q)
        return t_lo, t_hi

    def _trade_range(self, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return kernels.trade_bounds(q, self.soc_mwh, self.day.packed, self._batteries)

    def placed_trades(self, q: int, action: np.ndarray, assets: np.ndarray) -> np.ndarray:
        """The intraday trade [MW] each of ``assets`` (N,) bool placed for quarter-hour ``q`` on the day as bid
        (NaN for the others): what stands when the asset fails after the gate."""
        placed = self._no_trade.copy()
        if self.config.has("intraday"):
            trade = kernels.intraday_trade(q, np.ascontiguousarray(action[:, 0]), self.soc_mwh, self.day.arrays,
                                           kernels.Batteries(*self._batteries),
                                           self.pooling.delivery_steps(self.day.rules)[0])
            placed[assets] = trade[assets]
        return placed

    def deliver(self, q: int, action: np.ndarray, *, bounds: tuple[np.ndarray, np.ndarray] | None = None,
                day: kernels.DayArrays | None = None,
                placed: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One delivery quarter-hour (:func:`bessgym.envs.kernels.delivery_step`). ``bounds`` (lo, hi) [MW]: what a
        connection leaves each battery in this quarter-hour (a site's PV, an asset out of service); the intraday
        trade is moved into them, so the schedule is what the battery can run. ``day``: the day's commitments as
        this quarter-hour delivers them (a portfolio's re-dispatch), else as bid; ``placed`` (N,) [MW]: trades
        that stand as placed before the quarter-hour's gate (:meth:`placed_trades`; NaN: none). Returns the cash
        flows (len(CASH_FLOWS), N) [EUR] and a physical report."""
        d = self.day
        plan_step, pool_step = self.pooling.delivery_steps(d.rules)
        site_lo, site_hi = bounds if bounds is not None else self._unbounded
        response = self._fcr_response if self._fcr_response is not None else self._empty
        action = np.ascontiguousarray(action, dtype=np.float64)  # a slice of a wider action: one signature
        cash, rows = kernels.delivery_step(q, d.start + q, action, response, self.soc_mwh,
                                           d.packed if day is None else tuple(day),
                                           self._no_trade if placed is None else placed, self._batteries,
                                           self._market_columns, self._terms, site_lo, site_hi,
                                           self._none if bounds is None else self._all, plan_step, pool_step)
        report = dict(zip(kernels.REPORT_ROWS, rows, strict=True))
        report["soc_before_mwh"] = self.soc_mwh  # every entry is the step's own array: records keep them as they are
        self.soc_mwh = report["soc_mwh"]
        return cash, report


def _block_min(values: np.ndarray, block: np.ndarray) -> np.ndarray:
    """(N, n_qh) -> (N, 6): the smallest value of each 4 h block."""
    out = np.full((values.shape[0], N_BLOCKS), np.inf)
    for k in range(N_BLOCKS):
        out[:, k] = values[:, block == k].min(axis=1, initial=np.inf)
    return out
