"""Cash flows of one delivery quarter-hour, per product [EUR] (positive = revenue).

Every function is a numpy ufunc over assets (numba-compiled, so the step kernels call the same functions on
scalars); the env's reward is the sum of these, and ``info`` carries them one by one, so the breakdown always
sums to the reward.
"""

from __future__ import annotations

from numba import float64, vectorize

# Order of the breakdown in info["cash_flow_eur"] and in ledgers.
CASH_FLOWS = (
    "fcr", "afrr_cap_pos", "afrr_cap_neg", "afrr_energy_pos", "afrr_energy_neg", "mfrr_cap_pos", "mfrr_cap_neg",
    "mfrr_energy_pos", "mfrr_energy_neg", "day_ahead",
    "ida1", "ida2", "ida3", "intraday", "imbalance", "penalty", "degradation",
)


_SIG2 = [float64(float64, float64)]
_SIG3 = [float64(float64, float64, float64)]


@vectorize(_SIG3, cache=True)
def energy_revenue(position_mw, price_eur_mwh, dt_h):
    """Sold energy (position > 0) earns, bought energy (< 0) pays, at the product's price."""
    return position_mw * price_eur_mwh * dt_h


@vectorize([float64(float64, float64, float64, float64)], cache=True)
def intraday_revenue(trade_mw, price_eur_mwh, fee_eur_mwh, dt_h):
    """A continuous trade at the ID1 price, less the exchange and clearing fee on |volume|."""
    return (trade_mw * price_eur_mwh - abs(trade_mw) * fee_eur_mwh) * dt_h


@vectorize(_SIG3, cache=True)
def netted_fee(fee_eur_mwh, net_mw, gross_mw):
    """The fee per MWh of each asset's trade when a portfolio nets its trades [EUR/MWh]: only the net reaches
    the exchange and pays the fee, shared pro rata to the assets' gross volume."""
    return fee_eur_mwh * net_mw / gross_mw if gross_mw > 1e-12 else 0.0


@vectorize(_SIG3, cache=True)
def capacity_revenue(capacity_mw, price_eur_mw_h, dt_h):
    """Reserve capacity is paid per MW and hour of availability."""
    return capacity_mw * price_eur_mw_h * dt_h


@vectorize(_SIG2, cache=True)
def afrr_pos_energy_revenue(activated_mwh, price_eur_mwh):
    """POS activation is sold to the TSO at the POS price."""
    return activated_mwh * price_eur_mwh


@vectorize(_SIG2, cache=True)
def afrr_neg_energy_revenue(activated_mwh, price_eur_mwh):
    """NEG activation is bought from the TSO: it pays the NEG price (a negative price pays the BSP)."""
    return -activated_mwh * price_eur_mwh


@vectorize(_SIG2, cache=True)
def imbalance_settlement(deviation_mwh, rebap_eur_mwh):
    """Delivered minus scheduled energy, settled at reBAP: surplus is paid reBAP, shortfall pays it."""
    return deviation_mwh * rebap_eur_mwh


@vectorize(_SIG2, cache=True)
def non_delivery_penalty(undelivered_mwh, penalty_eur_mwh):
    """Reserve activation that SoC could not serve [EUR, <= 0]."""
    return -undelivered_mwh * penalty_eur_mwh
