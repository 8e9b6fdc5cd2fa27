"""German market rules keyed by delivery date, so that 2019 and 2026 are each simulated under their own rules.

Sources: ../shared/MARKET_FACTS.md (BNetzA, EPEX, regelleistung.net). The data layer uses the day-ahead
resolution and product availability; the market layer reads the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

DA_15MIN_FROM = dt.date(2025, 10, 1)  # SDAC 15-minute MTU, first delivery day
IDA_FROM = dt.date(2024, 6, 13)  # pan-European intraday auctions IDA1-3
FCR_4H_BLOCKS_FROM = dt.date(2020, 7, 1)  # FCR 4 h blocks, D-1 auction
AFRR_SEPARATE_ENERGY_MARKET_FROM = dt.date(2020, 11, 3)  # aFRR energy market separate from capacity
PICASSO_FROM = dt.date(2022, 6, 22)  # German aFRR energy via PICASSO, cross-border marginal price


@dataclass(frozen=True)
class MarketRules:
    """The rules in force on one delivery day.

    Attributes
    ----------
    da_resolution_min : day-ahead market time unit [min] (60 before 1 Oct 2025, 15 after).
    da_price_min_eur_mwh, da_price_max_eur_mwh : harmonised SDAC price limits [EUR/MWh].
    id_price_min_eur_mwh, id_price_max_eur_mwh : intraday price limits [EUR/MWh].
    afrr_energy_price_cap_eur_mwh : transitional aFRR energy price cap, both directions [EUR/MWh].
    has_ida : intraday auctions IDA1/IDA2/IDA3 exist.
    fcr_block_h : FCR product length [h] (24 h before Jul 2020).
    afrr_block_h : aFRR capacity product length [h].
    fcr_energy_reserve_min : energy a limited-energy unit holds per direction for FCR [min] (BK6-17-234: 15).
    min_bid_mw, bid_step_mw : balancing products' minimum bid and increment [MW].
    wholesale_min_bid_mw : DA/ID minimum volume and step [MW].
    afrr_energy_separate : aFRR energy is bid separately from capacity (since Nov 2020).
    """

    da_resolution_min: int
    da_price_min_eur_mwh: float = -500.0
    da_price_max_eur_mwh: float = 4_000.0
    id_price_min_eur_mwh: float = -9_999.0
    id_price_max_eur_mwh: float = 9_999.0
    afrr_energy_price_cap_eur_mwh: float = 15_000.0
    has_ida: bool = True
    fcr_block_h: int = 4
    afrr_block_h: int = 4
    fcr_energy_reserve_min: float = 15.0
    min_bid_mw: float = 1.0
    bid_step_mw: float = 1.0
    wholesale_min_bid_mw: float = 0.1
    afrr_energy_separate: bool = True


def rules_for(day: dt.date | str | pd.Timestamp) -> MarketRules:
    """The :class:`MarketRules` in force on Berlin delivery day ``day``."""
    d = pd.Timestamp(day).date()
    return MarketRules(
        da_resolution_min=15 if d >= DA_15MIN_FROM else 60,
        da_price_max_eur_mwh=4_000.0 if d >= dt.date(2022, 5, 10) else 3_000.0,
        has_ida=d >= IDA_FROM,
        fcr_block_h=4 if d >= FCR_4H_BLOCKS_FROM else 24,
        afrr_energy_separate=d >= AFRR_SEPARATE_ENERGY_MARKET_FROM,
    )
