"""Calibrated synthetic German market: a complete contract table for any date range from a seed.

The model is structural where it matters for storage revenue and statistical elsewhere:

- PV (pvlib, :mod:`bessgym.data.pv`) is generated first; its smooth national counterpart pushes the day-ahead
  price down at midday, so the trough, negative prices and summer spreads come from the sun, not from a table.
- Day-ahead [EUR/MWh]: a daily log-level (AR(1), monthly and weekday factors) times an hour-of-day shape, minus
  the PV effect, plus an hourly AR(1) residual; prices below zero are compressed (renewables bid near zero)
  and the top end is convex (scarcity). Hourly before 1 Oct 2025, quarter-hourly after (rules_for).
- Intraday [EUR/MWh]: information arrives gate by gate, so IDA1, IDA2, IDA3 and ID1 are DA plus the
  quarter-hour ramp plus cumulative, heavy-tailed forecast-error increments. IDA exists from 13 Jun 2024;
  IDA3 covers 12:00-24:00 only (NaN elsewhere, as in real data).
- Reserve capacity [EUR/MW/h]: log-normal per 4 h block with the 2024 block shapes and monthly seasonality,
  a common daily factor that makes FCR and aFRR NEG move together, and AR(1) persistence.
- aFRR energy [EUR/MWh]: a system-imbalance process sets the activation shares; marginal prices are ID1 plus
  heavy-tailed premia (POS) or minus discounts (NEG), capped at +-15,000 EUR/MWh. reBAP follows the
  activated energy prices.

Default parameters were fitted to 2024 (SMARD day-ahead, regelleistung.net reserve results); see
``bessgym data calibrate`` and the README for the measured agreement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bessgym.data._noise import ar1
from bessgym.data.calendar import MARKET_TZ, block_of_hour, quarter_hours
from bessgym.data.contract import validate
from bessgym.data.pv import PVSite, clear_sky_and_geometry, daily_clearness, intraday_clearness, pv_per_mwp
from bessgym.data.rules import DA_15MIN_FROM, IDA_FROM


@dataclass(frozen=True)
class DayAheadModel:
    """Parameters of the day-ahead price model (fitted to DE-LU 2024).

    Attributes
    ----------
    level_eur_mwh : median daily price level [EUR/MWh].
    month_factor : level multipliers January..December (fuel prices, demand and wind seasons) [-].
    level_sigma, level_persistence : std [-] and daily AR(1) coefficient of the log-level.
    weekday_factor : level multipliers Monday..Sunday (public holidays count as Sunday) [-].
    hour_shape : level multipliers by local hour 0..23 before the PV effect [-].
    pv_sensitivity : price drop per unit of national PV capacity factor, as a share of the level [-].
    pv_floor_eur_mwh : PV-driven prices fall towards this value rather than the level scaling them [EUR/MWh].
    noise_sigma, noise_persistence : hourly AR(1) residual, as a share of the level [-], and its coefficient.
    zero_stickiness_eur_mwh : width of the band around 0 EUR/MWh where prices bunch (p - k tanh(p/k))
        because renewables bid at zero [EUR/MWh].
    negative_slope : prices below zero are multiplied by this (renewables curtail near zero) [-].
    spike_threshold_eur_mwh, spike_scale_eur_mwh : above the threshold prices rise quadratically [EUR/MWh].
    """

    level_eur_mwh: float = 67.81
    month_factor: tuple[float, ...] = (0.768, 0.752, 0.834, 0.913, 1.084, 1.207, 1.085, 1.144, 1.074, 0.970, 1.183,
                                       0.986)
    level_sigma: float = 0.237
    level_persistence: float = 0.612
    weekday_factor: tuple[float, ...] = (1.04, 1.08, 1.10, 1.08, 1.02, 0.86, 0.74)
    hour_shape: tuple[float, ...] = (
        1.211, 1.132, 1.088, 1.060, 1.069, 1.148, 1.383, 1.707, 1.913, 2.045, 2.194, 2.291,
        2.243, 2.089, 1.954, 1.954, 1.986, 2.049, 2.020, 1.997, 1.845, 1.572, 1.421, 1.263,
    )
    pv_sensitivity: float = 1.825
    pv_floor_eur_mwh: float = -5.0
    noise_sigma: float = 0.223
    noise_persistence: float = 0.686
    zero_stickiness_eur_mwh: float = 9.10
    negative_slope: float = 0.484
    spike_threshold_eur_mwh: float = 160.2
    spike_scale_eur_mwh: float = 250.0


@dataclass(frozen=True)
class IntradayModel:
    """Forecast-error increments between gates, as std [EUR/MWh] = base + share of the DA level.

    ``increment_base_eur_mwh`` and ``vol_of_vol`` are fitted to the continuous-intraday spread over the 15-min
    day-ahead price of real 2026 H1 (the EPEX ID3 index; its quantiles 1-99 % within the calibration
    tolerances); ID1, which the column stands for, is somewhat more volatile than ID3, so the synthetic spread
    is if anything narrow.

    Attributes
    ----------
    increment_base_eur_mwh : per-gate increment std at a zero price level [EUR/MWh].
    increment_share : per-gate increment std per EUR/MWh of level [-].
    gate_weights : relative size of the increments DA->IDA1, ->IDA2, ->IDA3, ->ID1 [-].
    persistence : quarter-hourly AR(1) coefficient of each increment [-].
    vol_of_vol : std of the hourly log-volatility multiplier (heavy tails) [-].
    """

    increment_base_eur_mwh: float = 9.0
    increment_share: float = 0.10
    gate_weights: tuple[float, float, float, float] = (0.5, 0.4, 0.5, 0.8)
    persistence: float = 0.6
    vol_of_vol: float = 0.7


@dataclass(frozen=True)
class ReserveProduct:
    """Log-normal 4 h block prices of one reserve product [EUR/MW/h]."""

    mean_eur_mw_h: float
    block_factor: tuple[float, ...]  # 00-04 ... 20-24 local, mean 1
    month_factor: tuple[float, ...]  # Jan ... Dec, mean 1
    sigma: float  # log-std of the residual [-]
    common_loading: float  # share of the residual driven by the common daily factor [-]
    marginal_markup: float  # mean marginal/average - 1 [-]


@dataclass(frozen=True)
class ReserveModel:
    """Reserve capacity prices (fitted to Germany 2024, regelleistung.net)."""

    fcr: ReserveProduct = ReserveProduct(
        65.1 / 4, (0.62, 0.78, 1.20, 1.59, 1.10, 0.71),
        (0.67, 0.51, 0.52, 1.13, 1.31, 1.58, 1.34, 1.30, 1.25, 0.87, 0.77, 0.74), 0.42, 0.85, 0.0,
    )
    afrr_pos: ReserveProduct = ReserveProduct(
        13.1, (0.37, 0.73, 1.29, 0.77, 1.62, 1.21),
        (0.48, 0.37, 0.45, 0.96, 1.14, 1.59, 1.20, 1.15, 1.14, 1.11, 1.26, 1.16), 0.55, 0.20, 0.9,
    )
    afrr_neg: ReserveProduct = ReserveProduct(
        10.8, (0.68, 0.58, 1.25, 2.45, 0.80, 0.23),
        (0.58, 0.47, 0.48, 0.94, 1.28, 1.83, 1.41, 1.56, 1.49, 0.93, 0.45, 0.56), 0.55, 0.85, 0.9,
    )
    daily_persistence: float = 0.6
    block_persistence: float = 0.6


@dataclass(frozen=True)
class BalancingModel:
    """System imbalance, aFRR activation and energy prices, reBAP.

    Premium, discount, their log-std and the spike probability are fitted to reBAP against the 15-min
    day-ahead price of real 2026 H1 (netztransparenz via flex-depot): the spread's quantiles 1-99 % are within
    the calibration tolerances; its correlation with day-ahead is about 20 % off (a few spikes decorrelate it
    in a half-year, seed to seed).

    Attributes
    ----------
    imbalance_persistence : quarter-hourly AR(1) coefficient of the standardised system imbalance [-].
    activation_gain : activation share per unit of standardised imbalance [-].
    premium_median_eur_mwh : median POS premium over ID1 [EUR/MWh].
    discount_median_eur_mwh : median NEG discount below ID1 [EUR/MWh] (reBAP is skewed: its spikes above
        day-ahead are about twice as far as those below, real 2026 H1).
    premium_sigma : log-std of premium and discount [-].
    spike_probability : chance per quarter-hour of a scarcity spike in either direction [-].
    spike_tail_index : Pareto tail index of spike multipliers [-] (smaller = heavier).
    price_cap_eur_mwh : aFRR energy price cap, both directions [EUR/MWh].
    """

    imbalance_persistence: float = 0.85
    activation_gain: float = 0.35
    premium_median_eur_mwh: float = 28.0
    discount_median_eur_mwh: float = 25.0
    premium_sigma: float = 0.8
    spike_probability: float = 0.0005
    spike_tail_index: float = 1.3
    price_cap_eur_mwh: float = 15_000.0


@dataclass(frozen=True)
class MfrrModel:
    """mFRR: capacity (D-1, six 4 h blocks, pay-as-bid) and energy (MARI, 15 min, marginal price).

    Not fitted: the shared real data hold no mFRR file. The capacity levels are the order of magnitude of the
    German 2024 results on regelleistung.net (averages of a few EUR/MW/h, NEG below POS, with rare blocks
    tens of times the mean), drawn as the other reserves (log-normal around block and month profiles, here
    flat) with a heavier tail (``sigma``). mFRR is called when the system imbalance outgrows aFRR: a
    direction is activated where the standardised imbalance (the aFRR model's) passes ``threshold``, so about
    8 % of quarter-hours each way, with a share of the offered volume that grows with the excess. The MARI
    price is the day-ahead price plus a heavy-tailed premium (minus a discount for NEG) every quarter-hour.

    Attributes
    ----------
    pos, neg : capacity price models [EUR/MW/h].
    threshold : standardised imbalance beyond which mFRR is activated [-].
    share_gain : activated share of the offered volume per unit of imbalance beyond the threshold [-].
    premium_median_eur_mwh, discount_median_eur_mwh : median MARI premium over (discount below) day-ahead.
    premium_sigma : log-std of premium and discount [-].
    """

    pos: ReserveProduct = ReserveProduct(5.0, (1.0,) * 6, (1.0,) * 12, 0.9, 0.3, 0.6)
    neg: ReserveProduct = ReserveProduct(4.0, (1.0,) * 6, (1.0,) * 12, 0.9, 0.3, 0.6)
    threshold: float = 1.4
    share_gain: float = 0.6
    premium_median_eur_mwh: float = 60.0
    discount_median_eur_mwh: float = 50.0
    premium_sigma: float = 0.7


@dataclass(frozen=True)
class SyntheticMarketConfig:
    """Everything the synthetic market depends on besides the date range and the seed."""

    day_ahead: DayAheadModel = field(default_factory=DayAheadModel)
    intraday: IntradayModel = field(default_factory=IntradayModel)
    reserve: ReserveModel = field(default_factory=ReserveModel)
    balancing: BalancingModel = field(default_factory=BalancingModel)
    mfrr: MfrrModel = field(default_factory=MfrrModel)
    pv_site: PVSite = field(default_factory=PVSite)


_HOLIDAYS_MD = {(1, 1), (5, 1), (10, 3), (12, 25), (12, 26)}  # fixed-date national holidays


@dataclass(frozen=True)
class _Calendar:
    """Positions of each quarter-hour in local days, hours and blocks (computed once per table)."""

    index: pd.DatetimeIndex
    days: pd.DatetimeIndex  # local midnight of each delivery day (naive)
    day: np.ndarray  # day position of each quarter-hour
    hour: np.ndarray  # local hour 0-23
    hour_id: np.ndarray  # position of the quarter-hour's UTC hour
    block: np.ndarray  # 4 h block 0-5

    @classmethod
    def of(cls, index: pd.DatetimeIndex) -> _Calendar:
        local = index.tz_convert(MARKET_TZ)
        naive_day = local.tz_localize(None).normalize()
        days, day = np.unique(naive_day.to_numpy(), return_inverse=True)
        hours_utc = index.as_unit("ns").asi8 // (3_600 * 10**9)
        hour_id = hours_utc - hours_utc[0]
        hour = local.hour.to_numpy()
        return cls(index, pd.DatetimeIndex(days), day, hour, hour_id, block_of_hour(hour))


DEFAULT_YEAR = ("2024-01-01", "2025-01-01")  # delivery days of the built-in market


def default_year() -> pd.DataFrame:
    """The built-in market that envs and commands use when given none: synthetic 2024 (seed 0)."""
    return generate(*DEFAULT_YEAR, seed=0)


def generate(
    start: dt.date | str,
    end: dt.date | str,
    *,
    seed: int = 0,
    config: SyntheticMarketConfig | None = None,
) -> pd.DataFrame:
    """A validated contract table for delivery days ``start`` (inclusive) to ``end`` (exclusive).

    Deterministic for a given seed and config. Each component draws from its own spawned random stream,
    so changing one model does not reshuffle the others.
    """
    cfg = config or SyntheticMarketConfig()
    cal = _Calendar.of(quarter_hours(start, end))
    # children of one seed sequence: the k-th stream is the same however many are spawned, so mFRR (added last)
    # left every other column as it was
    streams = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6))
    rng_pv, rng_da, rng_id, rng_res, rng_bal, rng_mfrr = streams

    pv_site, pv_national = _pv(cal, cfg.pv_site, rng_pv)
    da, level = _day_ahead(cal, pv_national, cfg.day_ahead, rng_da)
    ida1, ida2, ida3, id1 = _intraday(cal, da, level, cfg.intraday, rng_id)
    table = {"da_price": da, "ida1_price": ida1, "ida2_price": ida2, "ida3_price": ida3, "id1_price": id1}
    table |= _reserves(cal, cfg.reserve, rng_res)
    balancing, imbalance = _balancing(cal, id1, cfg.balancing, rng_bal)
    table |= balancing | _mfrr(cal, da, imbalance, cfg.mfrr, rng_mfrr)
    table["pv_per_mwp"] = pv_site
    df = pd.DataFrame(table, index=cal.index)
    return validate(df, source=f"synthetic(seed={seed})")


def _pv(cal: _Calendar, site: PVSite, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Site PV [MW/MWp] and a smooth national PV capacity factor that drives prices [-]."""
    geometry = clear_sky_and_geometry(cal.index, site)
    k_day = daily_clearness(cal.days, rng)
    k_qh = intraday_clearness(k_day, cal.day, rng)
    site_pv = pv_per_mwp(cal.index, k_qh, site, geometry=geometry)
    national = pv_per_mwp(cal.index, k_day[cal.day], site, geometry=geometry)
    return site_pv, national


def _hourly_mean(values: np.ndarray, hour_id: np.ndarray) -> np.ndarray:
    """Mean over each UTC hour, broadcast back onto the quarter-hours."""
    sums = np.bincount(hour_id, weights=values)
    counts = np.bincount(hour_id)
    return (sums / np.maximum(counts, 1))[hour_id]


def _intra_hour_ramp(hourly: np.ndarray, cal: _Calendar) -> np.ndarray:
    """Quarter-hour offsets [EUR/MWh] along the slope between neighbouring hours (-3/8 ... +3/8 of it).

    ``hourly`` holds each quarter-hour's hourly value; the slope is taken over one value per hour.
    """
    per_hour = np.bincount(cal.hour_id, weights=hourly) / np.maximum(np.bincount(cal.hour_id), 1)
    slope = np.gradient(per_hour) if len(per_hour) > 1 else np.zeros(1)  # EUR/MWh per hour
    position = cal.index.minute.to_numpy() / 15.0 - 1.5
    return slope[cal.hour_id] * position / 4.0


def _day_ahead(
    cal: _Calendar, pv_national: np.ndarray, m: DayAheadModel, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Day-ahead price [EUR/MWh] per quarter-hour and the daily level behind it [EUR/MWh]."""
    days = cal.days
    weekday = days.day_of_week.to_numpy().copy()
    holiday = np.array([(d.month, d.day) in _HOLIDAYS_MD for d in days])
    weekday[holiday] = 6
    log_level = m.level_sigma * ar1(rng, len(days), m.level_persistence)
    level_day = m.level_eur_mwh * np.exp(log_level) * np.asarray(m.month_factor)[days.month.to_numpy() - 1]
    level_day *= np.asarray(m.weekday_factor)[weekday]
    level = level_day[cal.day]

    n_hours = int(cal.hour_id[-1]) + 1
    noise = (m.noise_sigma * ar1(rng, n_hours, m.noise_persistence))[cal.hour_id]
    shape = np.asarray(m.hour_shape)[cal.hour]
    # PV pulls the price from the level's shape towards a floor near zero, in proportion to its output.
    pv_pull = np.clip(m.pv_sensitivity * pv_national, 0.0, 1.5)
    fundamental = level * (shape + noise) * (1 - pv_pull) + m.pv_floor_eur_mwh * pv_pull
    hourly = _hourly_mean(fundamental, cal.hour_id)
    # A 15-minute product prices the ramp within the hour that an hourly product leaves to intraday.
    quarter_hourly = cal.index.tz_convert(MARKET_TZ).date >= DA_15MIN_FROM
    price = np.where(quarter_hourly, fundamental + _intra_hour_ramp(hourly, cal), hourly)
    k = m.zero_stickiness_eur_mwh
    price = price - k * np.tanh(price / k) if k > 0 else price
    price = np.where(price < 0, price * m.negative_slope, price)
    over = np.maximum(price - m.spike_threshold_eur_mwh, 0.0)
    price = price + over**2 / m.spike_scale_eur_mwh
    return np.clip(price, -500.0, 4_000.0), level


def _intraday(
    cal: _Calendar, da: np.ndarray, level: np.ndarray, m: IntradayModel, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """IDA1, IDA2, IDA3 and ID1 [EUR/MWh]: DA plus the intra-hour ramp plus cumulative gate increments."""
    n = len(da)
    hourly = _hourly_mean(da, cal.hour_id)
    ramp = np.where(cal.index.tz_convert(MARKET_TZ).date >= DA_15MIN_FROM, 0.0, _intra_hour_ramp(hourly, cal))
    vol = np.exp(m.vol_of_vol * rng.standard_normal(int(cal.hour_id[-1]) + 1) - m.vol_of_vol**2 / 2)[cal.hour_id]
    scale = (m.increment_base_eur_mwh + m.increment_share * np.abs(level)) * vol
    increments = [w * scale * ar1(rng, n, m.persistence) for w in m.gate_weights]
    ida1 = da + ramp + increments[0]
    ida2 = ida1 + increments[1]
    ida3_all = ida2 + increments[2]
    id1 = np.clip(ida3_all + increments[3], -9_999.0, 9_999.0)
    exists = cal.index.tz_convert(MARKET_TZ).date >= IDA_FROM
    ida1 = np.where(exists, ida1, np.nan)
    ida2 = np.where(exists, ida2, np.nan)
    ida3 = np.where(exists & (cal.hour >= 12), ida3_all, np.nan)
    return ida1, ida2, ida3, id1


def _reserves(cal: _Calendar, m: ReserveModel, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Reserve capacity average and marginal prices [EUR/MW/h] per quarter-hour (constant within a block)."""
    n_days = len(cal.days)
    month = cal.days.month.to_numpy() - 1
    common = ar1(rng, n_days, m.daily_persistence)[:, None]
    out: dict[str, np.ndarray] = {}
    products = {"fcr": m.fcr, "afrr_cap_pos": m.afrr_pos, "afrr_cap_neg": m.afrr_neg}
    for name, p in products.items():  # three products, each fully vectorised over days and blocks
        own_day = ar1(rng, n_days, m.daily_persistence)[:, None]
        own_block = ar1(rng, n_days * 6, m.block_persistence).reshape(n_days, 6)
        c = p.common_loading
        z = c * common + np.sqrt(1 - c**2) * (0.7 * own_day + np.sqrt(1 - 0.7**2) * own_block)
        base = p.mean_eur_mw_h * np.asarray(p.month_factor)[month][:, None] * np.asarray(p.block_factor)[None, :]
        blocks = base * np.exp(p.sigma * z - p.sigma**2 / 2)
        avg = blocks[cal.day, cal.block]
        out[f"{name}_price"] = avg
        if p.marginal_markup > 0:
            markup = p.marginal_markup * np.exp(0.5 * rng.standard_normal((n_days, 6)) - 0.125)
            out[f"{name}_marginal"] = avg * (1 + markup[cal.day, cal.block])
    return out


def _balancing(cal: _Calendar, id1: np.ndarray, m: BalancingModel,
               rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """aFRR activation shares [-], aFRR energy marginal prices [EUR/MWh] and reBAP [EUR/MWh]; and the
    standardised system imbalance [-] (+ = short: POS needed)."""
    n = len(id1)
    imbalance = ar1(rng, n, m.imbalance_persistence)
    # Schedules step at full hours while load ramps: imbalance kicks at the hour change.
    imbalance += 0.4 * np.where(cal.index.minute.to_numpy() == 0, rng.standard_normal(n), 0.0)
    act_pos = np.clip(0.5 + m.activation_gain * imbalance + 0.1 * rng.standard_normal(n), 0.0, 1.0)
    act_neg = np.clip(0.5 - m.activation_gain * imbalance + 0.1 * rng.standard_normal(n), 0.0, 1.0)

    def heavy_tail(share: np.ndarray, median_eur_mwh: float) -> np.ndarray:
        body = median_eur_mwh * np.exp(m.premium_sigma * rng.standard_normal(n)) * (0.5 + share)
        spike = rng.random(n) < m.spike_probability * 2 * share
        return body * np.where(spike, 10 * (1 + rng.pareto(m.spike_tail_index, n)), 1.0)

    cap = m.price_cap_eur_mwh
    pos = np.clip(id1 + heavy_tail(act_pos, m.premium_median_eur_mwh), -cap, cap)
    neg = np.clip(id1 - heavy_tail(act_neg, m.discount_median_eur_mwh), -cap, cap)
    rebap = np.clip(id1 + (pos - id1) * act_pos - (id1 - neg) * act_neg, -cap, cap)
    return {
        "afrr_energy_pos_price": pos,
        "afrr_energy_neg_price": neg,
        "afrr_activation_pos": act_pos,
        "afrr_activation_neg": act_neg,
        "imbalance_price": rebap,
    }, imbalance


def _mfrr(cal: _Calendar, da: np.ndarray, imbalance: np.ndarray, m: MfrrModel,
          rng: np.random.Generator) -> dict[str, np.ndarray]:
    """mFRR capacity prices [EUR/MW/h], MARI energy prices [EUR/MWh] and activated shares [-] (:class:`MfrrModel`)."""
    capacity = _reserves(cal, ReserveModel(fcr=m.pos, afrr_pos=m.pos, afrr_neg=m.neg), rng)
    out = {f"mfrr_cap_{d}_{stat}": capacity[f"afrr_cap_{d}_{stat}"] for d in ("pos", "neg")
           for stat in ("price", "marginal")}
    n = len(da)
    for d, sign, median in (("pos", 1.0, m.premium_median_eur_mwh), ("neg", -1.0, m.discount_median_eur_mwh)):
        excess = np.maximum(sign * imbalance - m.threshold, 0.0)
        out[f"mfrr_activation_{d}"] = np.clip(m.share_gain * excess + 0.1 * (excess > 0), 0.0, 1.0)
        spread = median * np.exp(m.premium_sigma * rng.standard_normal(n)) * (1.0 + excess)
        out[f"mfrr_energy_{d}_price"] = np.clip(da + sign * spread, -15_000.0, 15_000.0)
    return out
