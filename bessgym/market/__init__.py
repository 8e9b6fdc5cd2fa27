"""Markets: products and gates, clearing rules and settlement (pure functions over arrays of assets)."""

from bessgym.market.clearing import accepted_buy, accepted_sell, round_volume, settlement_price
from bessgym.market.products import MAX_QUARTER_HOURS, N_BLOCKS, STAGE_NAMES, Stage, day_timeline
from bessgym.market.settlement import (
    CASH_FLOWS,
    afrr_neg_energy_revenue,
    afrr_pos_energy_revenue,
    capacity_revenue,
    energy_revenue,
    imbalance_settlement,
    intraday_revenue,
    non_delivery_penalty,
)

__all__ = [
    "CASH_FLOWS",
    "MAX_QUARTER_HOURS",
    "N_BLOCKS",
    "STAGE_NAMES",
    "Stage",
    "accepted_buy",
    "accepted_sell",
    "afrr_neg_energy_revenue",
    "afrr_pos_energy_revenue",
    "capacity_revenue",
    "day_timeline",
    "energy_revenue",
    "imbalance_settlement",
    "intraday_revenue",
    "non_delivery_penalty",
    "round_volume",
    "settlement_price",
]
