"""Cash flows of one delivery quarter-hour, per product [EUR] (positive = revenue).

Every function is array-in/array-out over assets; the env's reward is the sum of these, and ``info``
carries them one by one, so the breakdown always sums to the reward.
"""

from __future__ import annotations

import numpy as np

# Order of the breakdown in info["cash_flow_eur"] and in ledgers.
CASH_FLOWS = (
    "fcr", "afrr_cap_pos", "afrr_cap_neg", "afrr_energy_pos", "afrr_energy_neg", "day_ahead",
    "ida1", "ida2", "ida3", "intraday", "imbalance", "penalty", "degradation",
)


def energy_revenue(position_mw: np.ndarray, price_eur_mwh: np.ndarray, dt_h: float) -> np.ndarray:
    """Sold energy (position > 0) earns, bought energy (< 0) pays, at the product's price."""
    return position_mw * price_eur_mwh * dt_h


def intraday_revenue(trade_mw: np.ndarray, price_eur_mwh: np.ndarray, fee_eur_mwh: float, dt_h: float) -> np.ndarray:
    """A continuous trade at the ID1 price, less the exchange and clearing fee on |volume|."""
    return (trade_mw * price_eur_mwh - np.abs(trade_mw) * fee_eur_mwh) * dt_h


def capacity_revenue(capacity_mw: np.ndarray, price_eur_mw_h: np.ndarray, dt_h: float) -> np.ndarray:
    """Reserve capacity is paid per MW and hour of availability."""
    return capacity_mw * price_eur_mw_h * dt_h


def afrr_energy_revenue(
    activated_pos_mwh: np.ndarray, activated_neg_mwh: np.ndarray, pos_price: np.ndarray, neg_price: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """POS activation is paid the POS price; NEG activation pays the NEG price (a negative price pays the BSP)."""
    return activated_pos_mwh * pos_price, -activated_neg_mwh * neg_price


def imbalance_settlement(deviation_mwh: np.ndarray, rebap_eur_mwh: np.ndarray) -> np.ndarray:
    """Delivered minus scheduled energy, settled at reBAP: surplus is paid reBAP, shortfall pays it."""
    return deviation_mwh * rebap_eur_mwh


def non_delivery_penalty(undelivered_mwh: np.ndarray, penalty_eur_mwh: float) -> np.ndarray:
    """Reserve activation that SoC could not serve [EUR, <= 0]."""
    return -undelivered_mwh * penalty_eur_mwh
