"""The simulation core: sequential German markets for N batteries, stepped as numpy arrays over assets.

The single env is N = 1, the vector env N = num_envs, the portfolio env (later) N assets with one reward.
All N assets run in lock-step through the same delivery days and stages; they differ by battery, forecasts,
actions and activations.

Decisions arrive as normalised actions (one row per asset, width ``ACTION_WIDTH[stage]``), are mapped onto
MW and EUR, made feasible (clipped) and booked. Cash flows are realised at delivery, one quarter-hour at a
time, so every step's reward is that quarter-hour's money and the breakdown sums to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bessgym.assets.battery import Fleet, reserve_energy, soc_next
from bessgym.data.calendar import MARKET_TZ, split_days
from bessgym.data.contract import MarketDataError, validate
from bessgym.data.rules import MarketRules, rules_for
from bessgym.envs.forecast import Forecaster
from bessgym.market import settlement as st
from bessgym.market.clearing import round_volume
from bessgym.market.products import IDA3_FIRST_HOUR, MAX_QUARTER_HOURS, N_BLOCKS, Stage, day_timeline

DT_H = 0.25
PRODUCTS = ("fcr", "afrr_capacity", "afrr_energy", "day_ahead", "ida", "intraday", "imbalance")
# Columns each product needs from the market table.
PRODUCT_COLUMNS: dict[str, tuple[str, ...]] = {
    "fcr": ("fcr_price",),
    "afrr_capacity": ("afrr_cap_pos_price", "afrr_cap_neg_price"),
    "afrr_energy": ("afrr_energy_pos_price", "afrr_energy_neg_price", "afrr_activation_pos", "afrr_activation_neg"),
    "day_ahead": ("da_price",),
    "ida": ("ida1_price", "ida2_price", "ida3_price"),
    "intraday": ("id1_price",),
    "imbalance": ("imbalance_price",),
}
ACTION_WIDTH = {
    Stage.CAPACITY: 5 * N_BLOCKS,  # FCR, aFRR POS, aFRR NEG volume shares; aFRR POS, NEG capacity price offers
    Stage.DAY_AHEAD: MAX_QUARTER_HOURS,  # position per quarter-hour, share of free power
    Stage.IDA1: MAX_QUARTER_HOURS,
    Stage.IDA2: MAX_QUARTER_HOURS,
    Stage.IDA3: MAX_QUARTER_HOURS,
    Stage.DELIVERY: 5,  # ID trade; aFRR energy POS and NEG offer prices; free POS and NEG energy offer shares
}


@dataclass(frozen=True)
class MarketConfig:
    """Which products the battery takes part in, and their parameters.

    Attributes
    ----------
    products : subset of ``PRODUCTS``; imbalance settlement applies to every deviation regardless (at reBAP if
        ``imbalance`` is on, else at the DA price plus ``imbalance_markup_eur_mwh``).
    intraday_fee_eur_mwh : exchange and clearing fee per MWh traded continuously [EUR/MWh].
    fcr_hold_h : energy held per direction per MW of FCR [h]; None = the dated rule (15 min).
    afrr_hold_h : energy held per direction per MW of aFRR capacity [h].
    ancillary_max_share : largest share of power offered as reserves in one direction [-].
    fcr_max_share : largest share of power offered as FCR (0.8 = derated 20 % for prequalification) [-].
    fcr_activation : ``"neutral"`` (energy-neutral, as the multi-market methodology assumes) or
        ``"frequency"`` (a stochastic frequency deviation with linear droop moves SoC).
    capacity_price_band : aFRR capacity offer = forecast average price x (1 + band x a), a in [-1, 1] [-].
    energy_price_band_eur_mwh : aFRR energy offer = DA price + band x a [EUR/MWh].
    non_delivery_penalty_eur_mwh : penalty per MWh of activation the battery could not serve [EUR/MWh].
    imbalance_markup_eur_mwh : markup on |deviation| when no reBAP column is used [EUR/MWh].
    """

    products: frozenset[str] = frozenset(PRODUCTS)
    intraday_fee_eur_mwh: float = 0.2
    fcr_hold_h: float | None = None
    afrr_hold_h: float = 1.0
    ancillary_max_share: float = 1.0
    fcr_max_share: float = 1.0
    fcr_activation: str = "neutral"
    capacity_price_band: float = 0.5
    energy_price_band_eur_mwh: float = 250.0
    non_delivery_penalty_eur_mwh: float = 1_000.0
    imbalance_markup_eur_mwh: float = 50.0

    def __post_init__(self) -> None:
        unknown = set(self.products) - set(PRODUCTS)
        if unknown:
            raise ValueError(f"MarketConfig.products: unknown {sorted(unknown)}; choose from {PRODUCTS}")
        if "day_ahead" not in self.products and "intraday" not in self.products and not (
            {"fcr", "afrr_capacity", "afrr_energy"} & set(self.products)
        ):
            raise ValueError("MarketConfig.products: at least one market is needed")
        if self.fcr_activation not in ("neutral", "frequency"):
            raise ValueError(f"MarketConfig.fcr_activation must be 'neutral' or 'frequency', "
                             f"got {self.fcr_activation!r}")
        for name in ("ancillary_max_share", "fcr_max_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"MarketConfig.{name} must be in [0, 1]")
        for name in ("intraday_fee_eur_mwh", "afrr_hold_h", "non_delivery_penalty_eur_mwh", "imbalance_markup_eur_mwh",
                     "energy_price_band_eur_mwh"):
            if getattr(self, name) < 0:
                raise ValueError(f"MarketConfig.{name} must be >= 0")
        if not 0 <= self.capacity_price_band < 1:
            raise ValueError("MarketConfig.capacity_price_band must be in [0, 1)")

    def has(self, product: str) -> bool:
        return product in self.products


@dataclass(frozen=True)
class MarketArrays:
    """A contract table as plain arrays, cut into Berlin delivery days (built once per env)."""

    index: pd.DatetimeIndex
    columns: dict[str, np.ndarray]
    day_slices: list[slice]
    dates: list[dt.date]
    local_hour: np.ndarray
    local_minute: np.ndarray
    block: np.ndarray
    day_of_week: np.ndarray
    day_of_year: np.ndarray

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, source: str = "market") -> MarketArrays:
        df = validate(df, source=source)
        local = df.index.tz_convert(MARKET_TZ)
        slices = split_days(df.index)
        # Only whole delivery days are simulated: drop a partial first or last day.
        full = [s for s in slices if (s.stop - s.start) in (92, 96, 100)
                and local[s.start].hour == 0 and local[s.start].minute == 0]
        if not full:
            raise MarketDataError("the table holds no complete Berlin delivery day", source=source)
        cols = {c: df[c].to_numpy(dtype=float) for c in df.columns}
        return cls(df.index, cols, full, [local[s.start].date() for s in full], local.hour.to_numpy(),
                   local.minute.to_numpy(), local.hour.to_numpy() // 4, local.day_of_week.to_numpy(),
                   local.day_of_year.to_numpy())

    def require(self, config: MarketConfig, *, user: str) -> None:
        """Raise a MarketDataError naming the first column a configured product needs but the table lacks."""
        for product in config.products:
            for column in PRODUCT_COLUMNS[product]:
                if column not in self.columns:
                    raise MarketDataError(f"{user} with product {product!r} needs this column "
                                          f"(drop the product from MarketConfig.products to run without it)",
                                          column=column)
        if "da_price" not in self.columns:
            raise MarketDataError(f"{user} needs this column", column="da_price")


@dataclass
class DayState:
    """Commitments of all assets for the current delivery day (arrays (N, ...))."""

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
    positions: np.ndarray  # (N, 4, n_qh): DA, IDA1, IDA2, IDA3 [MW, + = sell]
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)  # (N, 2 days of quarter-hours)
    discharged_mwh: np.ndarray | None = None  # (N,) trading discharge today, for the cycle limit

    @property
    def committed_mw(self) -> np.ndarray:
        return self.positions.sum(axis=1)


class Simulator:
    """Markets and batteries for N assets; see the module docstring."""

    def __init__(self, market: MarketArrays, fleet: Fleet, config: MarketConfig, forecaster: Forecaster) -> None:
        self.market, self.fleet, self.config, self.forecaster = market, fleet, config, forecaster
        self.n = len(fleet)
        self.soc_mwh = fleet.soc_initial_mwh.copy()
        self.day: DayState | None = None
        self.day_number = 0
        self.rng = np.random.default_rng(0)
        cols = market.columns
        self._da = cols["da_price"]
        self._rebap = cols.get("imbalance_price") if config.has("imbalance") else None
        self._zeros = np.zeros(len(market.index))

    def col(self, name: str) -> np.ndarray:
        """A market column, or zeros when the product is not configured."""
        return self.market.columns.get(name, self._zeros)

    # ----------------------------------------------------------------------------------------- days

    def start_day(self, day_number: int, rng: np.random.Generator) -> DayState:
        """Open delivery day ``day_number`` of the market arrays: empty commitments, fresh forecasts."""
        self.rng = rng
        self.day_number = day_number
        sl = self.market.day_slices[day_number]
        n_qh = sl.stop - sl.start
        rules = rules_for(self.market.dates[day_number])
        timeline = day_timeline(self.market.local_hour[sl], rules)
        if not (self.config.has("ida") and rules.has_ida):
            timeline = [t for t in timeline if t[0] not in (Stage.IDA1, Stage.IDA2, Stage.IDA3)]
        if not self.config.has("day_ahead"):
            timeline = [t for t in timeline if t[0] != Stage.DAY_AHEAD]
        if not ({"fcr", "afrr_capacity"} & set(self.config.products)):
            timeline = [t for t in timeline if t[0] != Stage.CAPACITY]
        zeros6 = np.zeros((self.n, N_BLOCKS))
        self.day = DayState(
            n_qh=n_qh, start=sl.start, rules=rules, timeline=timeline, block=self.market.block[sl],
            fcr_mw=zeros6.copy(), afrr_pos_mw=zeros6.copy(), afrr_neg_mw=zeros6.copy(),
            afrr_pos_price=zeros6.copy(), afrr_neg_price=zeros6.copy(),
            positions=np.zeros((self.n, 4, n_qh)), discharged_mwh=np.zeros(self.n),
        )
        window = slice(sl.start, min(sl.start + 2 * MAX_QUARTER_HOURS, len(self.market.index)))
        for name in ("da_price", "id1_price", "fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price"):
            if name in self.market.columns:
                realised = self.market.columns[name][window]
                self.day.forecasts[name] = self.forecaster.forecast(name, realised, self.n, rng)
        self._fcr_response = self._frequency_response(n_qh) if self.config.fcr_activation == "frequency" else None
        return self.day

    def _frequency_response(self, n_qh: int) -> np.ndarray:
        """Mean FCR response per quarter-hour in [-1, 1] (+ = discharge) from an OU frequency deviation."""
        # 10 s resolution, 90 per quarter-hour; std ~ 25 mHz with a few-minute memory; linear droop,
        # full activation at 200 mHz, 10 mHz deadband. Positive response when frequency is low.
        steps = n_qh * 90
        phi = np.exp(-10.0 / 300.0)
        eps = self.rng.standard_normal((self.n, steps)) * 0.025 * np.sqrt(1 - phi**2)
        from scipy.signal import lfilter

        df_hz = lfilter([1.0], [1.0, -phi], eps, axis=1)
        dead = np.sign(df_hz) * np.maximum(np.abs(df_hz) - 0.010, 0.0)
        response = np.clip(-dead / 0.190, -1.0, 1.0)
        return response.reshape(self.n, n_qh, 90).mean(axis=2)

    # ------------------------------------------------------------------------------------- stages

    def free_power(self) -> tuple[np.ndarray, np.ndarray]:
        """Power left for energy markets per quarter-hour after reserves: (discharge, charge) [MW], (N, n_qh)."""
        d = self.day
        up = self.fleet.power_mw[:, None] - (d.fcr_mw + d.afrr_pos_mw)[:, d.block]
        down = self.fleet.power_mw[:, None] - (d.fcr_mw + d.afrr_neg_mw)[:, d.block]
        return np.maximum(up, 0.0), np.maximum(down, 0.0)

    def soc_band(self, q: slice | int) -> tuple[np.ndarray, np.ndarray]:
        """SoC band [MWh] that keeps the reserve headroom of the blocks of quarter-hours ``q``."""
        d, f = self.day, self.fleet
        blocks = d.block[q]
        fcr = d.fcr_mw[:, blocks]
        shape = (-1, *([1] * (fcr.ndim - 1)))  # per-asset arrays broadcast against (N,) or (N, n)
        up, down = reserve_energy(fcr, d.afrr_pos_mw[:, blocks], d.afrr_neg_mw[:, blocks], self._fcr_hold_h(),
                                  self.config.afrr_hold_h, f.eta_charge.reshape(shape), f.eta_discharge.reshape(shape))
        lo = f.soc_min_mwh.reshape(shape) + up
        hi = f.soc_max_mwh.reshape(shape) - down
        return lo, np.maximum(hi, lo)

    def _fcr_hold_h(self) -> float:
        hold = self.config.fcr_hold_h
        return hold if hold is not None else self.day.rules.fcr_energy_reserve_min / 60

    def apply_capacity(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Offer FCR and aFRR capacity for the 6 blocks; price-taker FCR, pay-as-bid aFRR."""
        d, f, cfg = self.day, self.fleet, self.config
        a = action.reshape(self.n, 5, N_BLOCKS)
        p = f.power_mw[:, None]
        cap = p * cfg.ancillary_max_share
        fcr = (np.clip(a[:, 0], 0, 1) * cfg.fcr_max_share * p) if cfg.has("fcr") else np.zeros_like(a[:, 0])
        fcr = np.minimum(fcr, cap)
        on = cfg.has("afrr_capacity")
        pos = np.clip(a[:, 1], 0, 1) * (cap - fcr) * on
        neg = np.clip(a[:, 2], 0, 1) * (cap - fcr) * on
        # Energy: the reserves of a block must fit the usable window together.
        up, down = reserve_energy(fcr, pos, neg, self._fcr_hold_h(), cfg.afrr_hold_h, f.eta_charge[:, None],
                                  f.eta_discharge[:, None])
        usable = (f.soc_max_mwh - f.soc_min_mwh)[:, None]
        scale = np.minimum(1.0, usable / np.maximum(up + down, 1e-12))
        rules = d.rules
        fcr = round_volume(fcr * scale, rules.min_bid_mw, rules.bid_step_mw)
        pos = round_volume(pos * scale, rules.min_bid_mw, rules.bid_step_mw)
        neg = round_volume(neg * scale, rules.min_bid_mw, rules.bid_step_mw)
        starts = self._block_starts()
        band = cfg.capacity_price_band
        offer_pos = d.forecasts.get("afrr_cap_pos_price", np.zeros((self.n, 1)))[:, starts - d.start] if on else 0
        offer_neg = d.forecasts.get("afrr_cap_neg_price", np.zeros((self.n, 1)))[:, starts - d.start] if on else 0
        offer_pos = np.maximum(offer_pos * (1 + band * a[:, 3]), 0.0)
        offer_neg = np.maximum(offer_neg * (1 + band * a[:, 4]), 0.0)
        clear_pos = self.market.columns.get("afrr_cap_pos_marginal", self.col("afrr_cap_pos_price"))[starts]
        clear_neg = self.market.columns.get("afrr_cap_neg_marginal", self.col("afrr_cap_neg_price"))[starts]
        won_pos, won_neg = offer_pos <= clear_pos, offer_neg <= clear_neg
        d.fcr_mw = fcr
        d.afrr_pos_mw, d.afrr_neg_mw = np.where(won_pos, pos, 0.0), np.where(won_neg, neg, 0.0)
        d.afrr_pos_price, d.afrr_neg_price = np.where(won_pos, offer_pos, 0.0), np.where(won_neg, offer_neg, 0.0)
        return {"fcr_mw": fcr, "afrr_pos_mw": d.afrr_pos_mw, "afrr_neg_mw": d.afrr_neg_mw,
                "afrr_pos_offered_mw": pos, "afrr_neg_offered_mw": neg}

    def _block_starts(self) -> np.ndarray:
        d = self.day
        return d.start + np.searchsorted(d.block, np.arange(N_BLOCKS))

    def apply_auction(self, stage: Stage, action: np.ndarray, q_from: int = 0) -> dict[str, np.ndarray]:
        """Day-ahead or intraday-auction positions, as shares of free power, made feasible along the day.

        ``q_from``: first quarter-hour that can still change (IDA3 is decided during the day).
        """
        d = self.day
        k = {Stage.DAY_AHEAD: 0, Stage.IDA1: 1, Stage.IDA2: 2, Stage.IDA3: 3}[stage]
        a = np.clip(action[:, : d.n_qh], -1.0, 1.0)
        free_up, free_down = self.free_power()
        mtu = 4 if (stage == Stage.DAY_AHEAD and d.rules.da_resolution_min == 60) else 1
        if mtu == 4:  # hourly product: one value per hour
            a = a.reshape(self.n, -1, 4).mean(axis=2).repeat(4, axis=1)
        open_q = np.zeros(d.n_qh, bool)
        open_q[q_from:] = True
        if stage == Stage.IDA3:
            open_q &= self.market.local_hour[d.start:d.start + d.n_qh] >= IDA3_FIRST_HOUR
        before = d.committed_mw
        wanted = before + np.where(open_q, np.where(a >= 0, a * free_up, a * free_down), 0.0)
        feasible = self._feasible_plan(wanted, before, q_from, mtu)
        delta = round_volume(feasible - before, d.rules.wholesale_min_bid_mw, d.rules.wholesale_min_bid_mw)
        d.positions[:, k] += np.where(open_q, delta, 0.0)
        return {"position_mw": d.positions[:, k]}

    def _feasible_plan(self, wanted: np.ndarray, before: np.ndarray, q_from: int, mtu: int) -> np.ndarray:
        """Clip a wanted net schedule so that SoC, reserve headroom, power and the cycle limit hold.

        Simulated forward from the current SoC (no activations assumed), one market time unit at a time.
        Quarter-hours before ``q_from`` keep ``before``. Returns the feasible schedule (N, n_qh).
        """
        d, f = self.day, self.fleet
        out = before.copy()
        soc = self.soc_mwh.copy()
        budget = f.max_daily_discharge_mwh - d.discharged_mwh
        free_up, free_down = self.free_power()
        lo_band, hi_band = self.soc_band(slice(0, d.n_qh))
        for q0 in range(q_from - q_from % mtu, d.n_qh, mtu):  # <= 100 steps per decision, vectorised over assets
            q = slice(q0, q0 + mtu)
            dur = mtu * DT_H
            lo, hi = lo_band[:, q0], hi_band[:, q0]
            p_lo, p_hi = _net_power_range(soc, lo, hi, dur, f)
            p_hi = np.minimum(np.minimum(p_hi, free_up[:, q].min(axis=1)), budget / dur)
            p_lo = np.maximum(p_lo, -free_down[:, q].min(axis=1))
            p = np.clip(wanted[:, q0], np.minimum(p_lo, 0.0), np.maximum(p_hi, 0.0))
            if q0 < q_from:
                p = before[:, q0]
            out[:, q] = p[:, None]
            soc = soc_next(soc, p, dur, f.eta_charge, f.eta_discharge, f.aux_power_mw)
            budget = budget - np.maximum(p, 0.0) * dur
        return out

    # ---------------------------------------------------------------------------------- delivery

    def deliver(self, q: int, action: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """One delivery quarter-hour. Returns (reward (N,), cash flows by product, physical report)."""
        d, f, cfg, m = self.day, self.fleet, self.config, self.market
        t = d.start + q
        b = d.block[q]
        da = self._da[t]
        fcr_mw, pos_cap, neg_cap = d.fcr_mw[:, b], d.afrr_pos_mw[:, b], d.afrr_neg_mw[:, b]
        scheduled = d.positions[:, :, q].sum(axis=1)

        # Room for an intraday trade: power after reserves and positions, energy within the reserve band.
        lo, hi = self.soc_band(q)
        p_lo, p_hi = _net_power_range(self.soc_mwh, lo, hi, DT_H, f)
        budget = (f.max_daily_discharge_mwh - d.discharged_mwh) / DT_H
        up_room = np.maximum(np.minimum(np.minimum(f.power_mw - fcr_mw - pos_cap, p_hi), budget) - scheduled, 0.0)
        down_room = np.maximum(scheduled - np.maximum(-(f.power_mw - fcr_mw - neg_cap), p_lo), 0.0)
        a = action
        trade = np.where(a[:, 0] >= 0, a[:, 0] * up_room, a[:, 0] * down_room) if cfg.has("intraday") else 0.0 * da
        trade = round_volume(trade, d.rules.wholesale_min_bid_mw, d.rules.wholesale_min_bid_mw)
        schedule = scheduled + trade

        # aFRR energy: awarded capacity must be offered; free power may be offered too.
        if cfg.has("afrr_energy"):
            free_pos = np.maximum(f.power_mw - fcr_mw - pos_cap - np.maximum(schedule, 0.0), 0.0)
            free_neg = np.maximum(f.power_mw - fcr_mw - neg_cap - np.maximum(-schedule, 0.0), 0.0)
            vol_pos = pos_cap + np.clip(a[:, 3], 0, 1) * free_pos
            vol_neg = neg_cap + np.clip(a[:, 4], 0, 1) * free_neg
            price_pos = da + cfg.energy_price_band_eur_mwh * a[:, 1]
            price_neg = da + cfg.energy_price_band_eur_mwh * a[:, 2]
            marg_pos, marg_neg = m.columns["afrr_energy_pos_price"][t], m.columns["afrr_energy_neg_price"][t]
            act_pos = np.where(price_pos <= marg_pos, vol_pos, 0.0) * m.columns["afrr_activation_pos"][t]
            act_neg = np.where(price_neg >= marg_neg, vol_neg, 0.0) * m.columns["afrr_activation_neg"][t]
        else:
            marg_pos = marg_neg = 0.0
            act_pos = act_neg = np.zeros(self.n)
        fcr_power = fcr_mw * self._fcr_response[:, q] if self._fcr_response is not None else np.zeros(self.n)
        reserve = act_pos - act_neg + fcr_power

        # Physics: SoC within its hard limits, power within rating. Reserves first, then the schedule.
        h_lo, h_hi = _net_power_range(self.soc_mwh, f.soc_min_mwh, f.soc_max_mwh, DT_H, f)
        h_lo, h_hi = np.maximum(h_lo, -f.power_mw), np.minimum(h_hi, f.power_mw)
        served_reserve = np.clip(reserve, h_lo, h_hi)
        served_schedule = np.clip(schedule, h_lo - served_reserve, h_hi - served_reserve)
        power = served_reserve + served_schedule
        undelivered = np.abs(reserve - served_reserve) * DT_H
        # Undelivered activation is not paid: take it off the direction the net reserve ran in.
        short_pos = np.where(reserve > 0, undelivered, 0.0)
        short_neg = np.where(reserve < 0, undelivered, 0.0)
        e_pos = np.maximum(act_pos * DT_H - short_pos, 0.0)
        e_neg = np.maximum(act_neg * DT_H - short_neg, 0.0)
        deviation = (served_schedule - schedule) * DT_H

        soc_before = self.soc_mwh
        self.soc_mwh = soc_next(soc_before, power, DT_H, f.eta_charge, f.eta_discharge, f.aux_power_mw)
        charged, discharged = np.maximum(-power, 0.0) * DT_H, np.maximum(power, 0.0) * DT_H
        d.discharged_mwh = d.discharged_mwh + np.maximum(served_schedule, 0.0) * DT_H

        cash = self._settle(t, q, b, trade, e_pos, e_neg, marg_pos, marg_neg, deviation, undelivered, discharged)
        reward = np.sum(list(cash.values()), axis=0)
        report = {"power_mw": power, "schedule_mw": schedule, "trade_mw": trade, "deviation_mwh": deviation,
                  "undelivered_mwh": undelivered, "afrr_pos_mwh": e_pos, "afrr_neg_mwh": e_neg,
                  "reserve_mwh": served_reserve * DT_H, "charged_mwh": charged,
                  "discharged_mwh": discharged, "aux_mwh": f.aux_power_mw * DT_H, "soc_before_mwh": soc_before,
                  "soc_mwh": self.soc_mwh}
        return reward, cash, report

    def _settle(self, t, q, b, trade, e_pos, e_neg, marg_pos, marg_neg, deviation, undelivered, discharged):
        d, cfg, f = self.day, self.config, self.fleet
        pos = d.positions[:, :, q]
        zero = np.zeros(self.n)
        da = self._da[t]
        if self._rebap is not None:
            imbalance = st.imbalance_settlement(deviation, self._rebap[t])
        else:
            imbalance = st.imbalance_settlement(deviation, da) - np.abs(deviation) * cfg.imbalance_markup_eur_mwh
        e_pos_rev, e_neg_rev = st.afrr_energy_revenue(e_pos, e_neg, marg_pos, marg_neg)
        return {
            "fcr": st.capacity_revenue(d.fcr_mw[:, b], self.col("fcr_price")[t], DT_H),
            "afrr_cap_pos": st.capacity_revenue(d.afrr_pos_mw[:, b], d.afrr_pos_price[:, b], DT_H),
            "afrr_cap_neg": st.capacity_revenue(d.afrr_neg_mw[:, b], d.afrr_neg_price[:, b], DT_H),
            "afrr_energy_pos": e_pos_rev + zero,
            "afrr_energy_neg": e_neg_rev + zero,
            "day_ahead": st.energy_revenue(pos[:, 0], da, DT_H),
            "ida1": st.energy_revenue(pos[:, 1], self.col("ida1_price")[t], DT_H) if pos[:, 1].any() else zero,
            "ida2": st.energy_revenue(pos[:, 2], self.col("ida2_price")[t], DT_H) if pos[:, 2].any() else zero,
            "ida3": st.energy_revenue(pos[:, 3], self.col("ida3_price")[t], DT_H) if pos[:, 3].any() else zero,
            "intraday": st.intraday_revenue(trade, self.col("id1_price")[t], cfg.intraday_fee_eur_mwh, DT_H) + zero,
            "imbalance": imbalance,
            "penalty": st.non_delivery_penalty(undelivered, cfg.non_delivery_penalty_eur_mwh),
            "degradation": -discharged * f.degradation_cost_eur_mwh,
        }


def _net_power_range(
    soc: np.ndarray, lower: np.ndarray, upper: np.ndarray, dur_h: float, f: Fleet,
) -> tuple[np.ndarray, np.ndarray]:
    """Range [p_lo, p_hi] of net power (+ discharge) that keeps SoC in [lower, upper] after ``dur_h``.

    Auxiliary consumption is included; when it alone would push SoC below ``lower``, p_hi is negative
    (the battery must charge). Assumes lower <= upper.
    """
    aux = f.aux_power_mw * dur_h
    room_down = soc - aux - lower  # energy that may leave the cells
    room_up = upper - soc + aux  # energy that may enter
    p_hi = np.where(room_down >= 0, room_down * f.eta_discharge, room_down / f.eta_charge) / dur_h
    p_lo = -np.where(room_up >= 0, room_up / f.eta_charge, room_up * f.eta_discharge) / dur_h
    return p_lo, np.maximum(p_hi, p_lo)

