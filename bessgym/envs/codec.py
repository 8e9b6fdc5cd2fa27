"""Decisions in MW and EUR <-> the env's normalised actions, stage by stage: one definition for the env, which
decodes, and for every policy that plans in physical units (LP baselines, rules), which encodes.

Entries by name (:mod:`bessgym.envs.layout`; ``bessgym env describe ID`` prints them):

| stage | entries per asset | decoded |
|---|---|---|
| capacity | rows of ``CAPACITY`` x 6 blocks | ``fcr_volume``: a x ``fcr_max_share`` x power |
| capacity | | ``afrr_pos_volume``, ``afrr_neg_volume``: a x the room FCR leaves |
| capacity | | ``afrr_pos_price``, ``afrr_neg_price``: capacity offer price = forecast x (1 + band x a) |
| capacity | | ``mfrr_pos_volume``, ``mfrr_neg_volume``: a x the room FCR and aFRR leave; their prices as aFRR's |
| day-ahead, IDA1-3 | one per quarter-hour | change of position: a x power free to sell (a >= 0) or to buy |
| delivery | ``DELIVERY.intraday_trade`` | intraday trade: a x the room to sell (a >= 0) or to buy |
| delivery | ``afrr_pos_offer``, ``afrr_neg_offer`` | the aFRR capacity's energy offer price = DA + band x a, capped |
| delivery | ``afrr_*_energy_only_volume`` | energy-only aFRR POS, NEG volume: a x free power |
| delivery | ``afrr_*_energy_only_price`` | energy-only aFRR POS, NEG offer price = DA price + band x a, capped |
| delivery | ``mfrr_pos_offer``, ``mfrr_neg_offer`` | the mFRR capacity's energy offer price = DA + band x a, capped |

Encoding inverts decoding exactly where the decision is inside its room (a volume outside is clipped to it).
The scalar rules the delivery kernel applies (:func:`trade_mw`, :func:`energy_offer_eur_mwh`) are compiled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import float64, njit, vectorize

from bessgym.envs.layout import CAPACITY, DELIVERY
from bessgym.market.clearing import GRID_TOLERANCE
from bessgym.market.config import MarketConfig
from bessgym.market.products import N_BLOCKS
from bessgym.market.reserves import BOTH, DOWN, ENERGY, RESERVES, UP, ReserveProduct


@njit(cache=True)
def trade_mw(share, room_sell_mw, room_buy_mw):
    """The intraday trade [MW, + sell] of ``share`` in [-1, 1] of the room to sell (>= 0) or to buy."""
    return max(share, 0.0) * max(room_sell_mw, 0.0) + min(share, 0.0) * max(room_buy_mw, 0.0)


@vectorize([float64(float64, float64, float64, float64)], cache=True)
def energy_offer_eur_mwh(share, da_price_eur_mwh, band_eur_mwh, cap_eur_mwh):
    """An aFRR energy offer price [EUR/MWh] of ``share`` in [-1, 1] around the day-ahead price, within the
    product's price limits [-cap, cap]. A numpy ufunc that the delivery kernel calls on scalars."""
    return min(max(da_price_eur_mwh + band_eur_mwh * share, -cap_eur_mwh), cap_eur_mwh)


def share(value: np.ndarray, room: np.ndarray) -> np.ndarray:
    """``value`` / ``room`` in [-1, 1], 0 where the room is 0 (nothing to offer)."""
    den = np.broadcast_to(room, np.shape(value))
    out = np.divide(value, den, out=np.zeros(np.shape(value)), where=np.abs(den) > 1e-12)
    return np.clip(out, -1.0, 1.0)


PAY_AS_BID = tuple(p for p in RESERVES if p.pricing == "pay_as_bid")  # products whose offers carry a price
PRICE_ROWS = tuple(getattr(CAPACITY, f"{p.name}_price") for p in PAY_AS_BID)
VOLUME_ROWS = tuple(getattr(CAPACITY, f"{p.name}_volume") for p in RESERVES)
# each activated capacity's energy offer, with its direction
ENERGY_OFFERS = tuple((getattr(DELIVERY, f"{RESERVES[k].name}_offer"), RESERVES[k].direction) for k in ENERGY)
FREE = tuple(p for p in RESERVES if p.energy_only)  # energy-only offers: volumes, then prices, in this order
ENERGY_ONLY = [*(getattr(DELIVERY, f"{p.name}_energy_only_volume") for p in FREE),
               *(getattr(DELIVERY, f"{p.name}_energy_only_price") for p in FREE)]


@dataclass(frozen=True)
class ActionCodec:
    """The action mapping of one market configuration; arrays over N assets."""

    config: MarketConfig

    # ---------------------------------------------------------------------------------- capacity

    def capacity_volumes(self, action: np.ndarray, power_mw: np.ndarray, room_up_mw: np.ndarray,
                         room_down_mw: np.ndarray, nearest_step_mw: float = 0.0) -> np.ndarray:
        """Each product's volume (len(RESERVES), N, 6) [MW] of a capacity action (N, 54), in the table's order,
        within the rooms (N, 6) each direction has for reserves (before the energy window and the products'
        grids): a symmetric product (FCR) a x ``fcr_max_share`` x power within both rooms, a one-way product a x
        the room the products before it leave in its direction; 0 where its family is not configured. With
        ``nearest_step_mw`` each volume is put on that grid at the nearest step within its room
        (``MarketConfig.capacity_volumes_nearest``)."""
        cfg = self.config
        a = action.reshape(action.shape[0], len(CAPACITY), N_BLOCKS)
        out = np.empty((len(RESERVES), *np.shape(room_up_mw)))
        left_up, left_down = room_up_mw, room_down_mw
        for k, (product, row) in enumerate(zip(RESERVES, VOLUME_ROWS, strict=True)):
            wanted = np.clip(a[:, row], 0, 1)
            if product.direction == BOTH:
                most = np.minimum(cfg.fcr_max_share * power_mw[:, None], np.minimum(left_up, left_down))
                volume = np.minimum(wanted * cfg.fcr_max_share * power_mw[:, None], most)
            else:
                most = np.maximum(left_up if product.direction == UP else left_down, 0.0)
                volume = wanted * most
            if nearest_step_mw > 0:
                steps = np.minimum(np.floor(volume / nearest_step_mw + 0.5),
                                   np.floor(most / nearest_step_mw + GRID_TOLERANCE))
                volume = np.maximum(steps, 0.0) * nearest_step_mw
            out[k] = volume * cfg.has(product.family)
            left_up, left_down = _left(product, out[k], left_up, left_down)
        return out

    def capacity_prices(self, action: np.ndarray, *forecasts: np.ndarray) -> tuple[np.ndarray, ...]:
        """The pay-as-bid products' (:data:`PAY_AS_BID`: aFRR POS, NEG, mFRR POS, NEG) capacity offer prices
        (N, 6) [EUR/MW/h] around the blocks' forecast prices (``forecasts`` in that order)."""
        a = action.reshape(action.shape[0], len(CAPACITY), N_BLOCKS)
        band = self.config.capacity_price_band
        return tuple(np.maximum(fc * (1 + band * a[:, row]), 0.0)
                     for fc, row in zip(forecasts, PRICE_ROWS, strict=True))

    def with_capacity_prices(self, action: np.ndarray, offers_eur: Sequence[np.ndarray],
                             forecasts: Sequence[np.ndarray]) -> np.ndarray:
        """``action`` (N, 54) with the pay-as-bid products' offer prices ``offers_eur`` (N, 6) [EUR/MW/h] set (in
        the order of :data:`PAY_AS_BID`), read against the blocks' forecast prices ``forecasts`` (in that order;
        an offer outside the band is clipped to it, one on a forecast of 0 or less stays at the forecast)."""
        a = action.reshape(action.shape[0], len(CAPACITY), N_BLOCKS).copy()
        band = self.config.capacity_price_band
        for row, offer, fc in zip(PRICE_ROWS, offers_eur, forecasts, strict=True):
            if band > 0:
                ratio = np.divide(offer, fc, out=np.ones(fc.shape), where=fc > 0)
                a[:, row] = np.clip((ratio - 1.0) / band, -1.0, 1.0)
        return a.reshape(action.shape)

    def capacity_action(self, volumes_mw: Sequence[np.ndarray], power_mw: np.ndarray, room_up_mw: np.ndarray,
                        room_down_mw: np.ndarray) -> np.ndarray:
        """The capacity action (N, 54) that offers each product's volumes (N, 6) [MW] (``volumes_mw`` in the
        table's order) at the forecast prices: the inverse of :meth:`capacity_volumes`."""
        cfg = self.config
        a = np.zeros((len(power_mw), len(CAPACITY), N_BLOCKS))
        left_up, left_down = room_up_mw, room_down_mw
        for product, row, volume in zip(RESERVES, VOLUME_ROWS, volumes_mw, strict=True):
            volume = np.broadcast_to(volume, a[:, 0].shape)
            if product.direction == BOTH:
                a[:, row] = share(volume, cfg.fcr_max_share * power_mw[:, None])
            else:
                a[:, row] = share(volume, left_up if product.direction == UP else left_down)
            left_up, left_down = _left(product, volume, left_up, left_down)
        return a.reshape(len(power_mw), -1)

    # ---------------------------------------------------------------------------------- auctions

    @staticmethod
    def position_change(action: np.ndarray, up_cap_mw: np.ndarray, down_cap_mw: np.ndarray) -> np.ndarray:
        """Change of position [MW, + sell] of an auction action: a share of the power free to sell or buy."""
        return np.where(action >= 0, action * up_cap_mw, action * down_cap_mw)

    @staticmethod
    def auction_action(change_mw: np.ndarray, up_cap_mw: np.ndarray, down_cap_mw: np.ndarray) -> np.ndarray:
        """The auction action of a change of position [MW]."""
        return np.where(change_mw >= 0, share(change_mw, up_cap_mw), share(change_mw, down_cap_mw))

    # ---------------------------------------------------------------------------------- delivery

    def delivery_action(self, trade_mw: np.ndarray, room_sell_mw: np.ndarray, room_buy_mw: np.ndarray, *,
                        hold_energy_offers: bool = False,
                        energy_only: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        """The delivery action (N, len(DELIVERY)) of an intraday trade [MW] given the rooms to sell and buy (positive;
        :meth:`~bessgym.envs.core.Simulator.trade_range`); the capacity's aFRR energy offers at the day-ahead
        price, or with ``hold_energy_offers`` at the edges of the band away from the market (held: called only where
        the marginal price passes the edge).
        ``energy_only``: (POS, NEG volume share of free power, POS, NEG offer price [EUR/MWh]) and the
        quarter-hour's DA price, each (N,), for energy-only offers (:meth:`energy_only_action`)."""
        a, d = np.zeros((len(trade_mw), len(DELIVERY))), DELIVERY
        # inside the range first: a range that excludes 0 (a forced trade) has a negative room on one side
        trade_mw = np.clip(trade_mw, -np.asarray(room_buy_mw), room_sell_mw)
        a[:, d.intraday_trade] = np.where(trade_mw >= 0, share(trade_mw, room_sell_mw), share(trade_mw, room_buy_mw))
        if hold_energy_offers:  # up at DA + band, down at DA - band
            for entry, direction in ENERGY_OFFERS:
                a[:, entry] = 1.0 if direction == UP else -1.0
        if energy_only is not None:
            a[:, ENERGY_ONLY] = self.energy_only_action(*energy_only)
        return a

    def energy_only_action(self, pos_share: np.ndarray, neg_share: np.ndarray, pos_eur_mwh: np.ndarray,
                           neg_eur_mwh: np.ndarray, da_eur_mwh: np.ndarray) -> np.ndarray:
        """Entries 3-6 of a delivery action (N, 4): energy-only aFRR volumes (shares of free power) offered at
        these prices [EUR/MWh] (within DA +- band)."""
        band = self.config.energy_price_band_eur_mwh
        return np.stack([np.clip(pos_share, 0, 1), np.clip(neg_share, 0, 1),
                         np.clip((pos_eur_mwh - da_eur_mwh) / band, -1, 1),
                         np.clip((neg_eur_mwh - da_eur_mwh) / band, -1, 1)], axis=1)


def _left(product: ReserveProduct, volume_mw: np.ndarray, up_mw: np.ndarray,
          down_mw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rooms up and down [MW] a product's volume leaves to the products after it."""
    return (up_mw - volume_mw if product.direction != DOWN else up_mw,
            down_mw - volume_mw if product.direction != UP else down_mw)
