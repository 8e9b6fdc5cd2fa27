"""Energy-only aFRR offers of a battery's free power, planned around the day's schedule and awards.

Once a day's schedule is fixed (its day-ahead positions and the intraday trades a plan will make) and its
reserves are awarded, the power they leave free may be offered as aFRR energy. An offer clears where the
(forecast) marginal price reaches it, is then activated with the quarter-hour's (forecast) activation share,
is paid (POS) or pays (NEG) the marginal price, and moves the SoC. Per asset one LP re-solves the day around
the schedule and the awards, with each quarter-hour's activation a column bounded by the free power times the
share of a clearing offer; the volume offered is the activation planned, as a share of what the share calls.

Where offers are priced decides what clears: the multi-market methodology offers at DA +- 50 % of |DA|
(:mod:`agents.multimarket`); a plan on perfect forecasts offers at the edges of the env's price band, where every
activation clears, and lets the LP choose each quarter-hour's volume (``DailyLPPolicy(energy_offers=True)``).
The held capacity's own offers stand at the band's other edge, away from the market, and are called only where
the marginal price passes it (:func:`held_offers_called`): energy a plan counts on, beside the offers.
"""

from __future__ import annotations

import numpy as np

from agents.lp.model import BatteryLP
from agents.lp.terms import ENERGY_PRICES, LPProducts
from bessgym.data.calendar import DT_H
from bessgym.envs.codec import energy_offer_eur_mwh
from bessgym.envs.view import DayView
from bessgym.market.clearing import accepted_buy, accepted_sell
from bessgym.market.reserves import ENERGY, RESERVES, UP

FORECASTS = ("afrr_energy_pos_price", "afrr_energy_neg_price", "afrr_activation_pos", "afrr_activation_neg")


def held_offers_called(view: DayView, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """What the held capacity's energy earns on the env's forecasts over the first ``n`` steps: the share of each
    energy product's held capacity called in each step (E, N, n), in the order of
    :data:`~bessgym.market.reserves.ENERGY`, and each product's energy price by LP price name (N, n) [EUR/MWh].

    The held capacity is offered at the band's edge away from the market (DA + band up, DA - band down, within
    the price limits; the codec's ``hold_energy_offers``), so it is called, with the activation share, only
    where the marginal price passes that edge; a product whose energy the env does not configure is never
    called."""
    cfg, zero = view.config, np.zeros((view.n, n))
    band, cap = cfg.energy_price_band_eur_mwh, cfg.afrr_energy_price_cap_eur_mwh
    da = np.asarray(view.forecasts["da_price"])[:, :n]
    shares, prices = [], {}
    for k, name in zip(ENERGY, ENERGY_PRICES, strict=True):
        product = RESERVES[k]
        if not cfg.has(product.energy_family):
            shares.append(zero)
            prices[name] = zero
            continue
        price = np.nan_to_num(np.asarray(view.forecasts.get(product.energy_price_column, zero))[:, :n])
        activation = np.clip(np.nan_to_num(np.asarray(view.forecasts.get(product.activation_column, zero))[:, :n]),
                             0.0, 1.0)
        up = product.direction == UP
        offer = energy_offer_eur_mwh(1.0 if up else -1.0, da, band, cap)  # as the codec holds it
        shares.append(activation * (accepted_sell(offer, price) if up else accepted_buy(offer, price)))
        prices[name] = price
    return np.stack(shares), prices


def band_edges(view: DayView, da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offer prices [EUR/MWh] that clear whatever the marginal price, for DA prices ``da``: POS at DA - band, NEG
    at DA + band (an offer of the codec is DA + band x a, a in [-1, 1])."""
    band = view.config.energy_price_band_eur_mwh
    return da - band, da + band


def plan_offers(view: DayView, models: dict[tuple, BatteryLP], products: LPProducts,
                reserves: tuple[np.ndarray, ...], offer_pos: np.ndarray, offer_neg: np.ndarray,
                held_mw: np.ndarray, end_mwh: np.ndarray,
                called: tuple[np.ndarray, dict[str, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """The day's energy-only offers per asset and quarter-hour (N, n_qh): POS and NEG volumes as shares of free
    power, the offer prices [EUR/MWh] and the DA price (the codec's
    :meth:`~bessgym.envs.codec.ActionCodec.energy_only_action`), planned from the assets' SoC now.

    ``models``: the caller's persistent LPs by (spec, products, steps); ``products``: the LP's products, with
    no trading (the schedule is held); ``reserves``: the awards per block (:func:`agents.lp.delegate.awards`);
    ``held_mw``: the schedule (N, n_qh) [MW, + sell]; ``end_mwh``: the SoC the day ends at (N,) [MWh], as
    planned for the schedule (activations, which move the SoC both ways, must not change what the plan
    left to tomorrow); ``called``: the held capacity's called shares and energy prices the plan counts on
    (:func:`held_offers_called`, or none), which move the SoC beside the offers."""
    f, n_qh = view.fleet, view.n_qh
    zero = np.zeros((view.n, n_qh))
    fc = {name: np.nan_to_num(view.forecasts[name][:, :n_qh]) if name in view.forecasts else zero
          for name in FORECASTS}
    share_pos = np.clip(fc["afrr_activation_pos"], 0, 1) * (fc["afrr_energy_pos_price"] >= offer_pos)
    share_neg = np.clip(fc["afrr_activation_neg"], 0, 1) * (fc["afrr_energy_neg_price"] <= offer_neg)
    free_pos = np.maximum(view.up_cap - np.maximum(held_mw, 0), 0)  # as the env frees it (kernels.deliver)
    free_neg = np.maximum(view.down_cap - np.maximum(-held_mw, 0), 0)
    unbounded = np.full(n_qh, -np.inf), np.full(n_qh, np.inf)  # the SoC before a step: the battery's window
    # with intraday trade at delivery the env bounds each step's schedule by the SoC before the activations
    floor, ceiling = (schedule_room(view, held_mw) if view.config.has("intraday")
                      else (np.broadcast_to(unbounded[0], held_mw.shape), np.broadcast_to(unbounded[1], held_mw.shape)))
    vol_pos, vol_neg = np.zeros((view.n, n_qh)), np.zeros((view.n, n_qh))
    for i in range(view.n):
        key = (f.specs[i], products, n_qh)
        if key not in models:
            models[key] = BatteryLP(f.specs[i], products, n_qh)
        lp = models[key]
        fixed = [x[i] for x in reserves]
        end = float(end_mwh[i])
        day = {"soc0_mwh": float(view.soc_mwh[i]), "soc_end_mwh": (end, end), "held_mw": held_mw[i],
               "max_discharge_mwh": float(f.max_daily_discharge_mwh[i] - view.discharged_mwh[i]),
               **{name: price[i] for name, price in called[1].items()}, "called_share": called[0][:, i],
               "energy_only_pos_mw": free_pos[i] * share_pos[i], "energy_only_neg_mw": free_neg[i] * share_neg[i]}
        try:
            plan = lp.solve(**day, soc_floor_mwh=floor[i], soc_ceiling_mwh=ceiling[i], fixed_reserves=fixed)
        except RuntimeError:  # a schedule the SoC cannot carry alone somewhere: offer as if it could
            plan = lp.solve(**day, soc_floor_mwh=unbounded[0], soc_ceiling_mwh=unbounded[1], fixed_reserves=fixed)
        # the activated power planned, as a share of the free power that the activation share calls; a hair
        # less (1e-6), as the plan may reach a SoC limit within HiGHS's 1e-7 feasibility tolerance
        vol_pos[i] = _ratio(plan.afrr_energy_pos_mw, free_pos[i] * share_pos[i]) * (1 - 1e-6)
        vol_neg[i] = _ratio(plan.afrr_energy_neg_mw, free_neg[i] * share_neg[i]) * (1 - 1e-6)
    da = np.broadcast_to(view.day_ahead_price, (view.n, n_qh))
    return vol_pos, vol_neg, offer_pos, offer_neg, da


def schedule_room(view: DayView, held_mw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The SoC range (N, n_qh) [MWh] at each quarter-hour's start that carries its schedule ``held_mw`` [MW,
    + sell] alone within the reserves' band, as the env's intraday trade range asks (it is computed before the
    activations; a schedule outside it is traded back towards the band)."""
    f, dt = view.fleet, DT_H
    sell, buy = np.maximum(held_mw, 0.0), np.maximum(-held_mw, 0.0)
    aux = f.aux_power_mw[:, None] * dt
    return (view.lo + aux + sell * dt / f.eta_discharge[:, None],
            view.hi + aux - buy * dt * f.eta_charge[:, None])


def _ratio(value: np.ndarray, room: np.ndarray) -> np.ndarray:
    return np.clip(np.divide(value, room, out=np.zeros_like(room), where=room > 1e-9), 0.0, 1.0)
