"""The balancing-capacity products as rows of one table (../shared/MARKET_FACTS.md): what each holds, in which
direction, how it is priced and where its prices and activations are in the market table.

The action layouts, the codec, the delivery kernel, the portfolio's re-dispatch, the LPs, records, charts,
deploy schedules and the fuzz oracle iterate over :data:`RESERVES`, so a product added here appears in each of
them (docs/architecture.md lists the few places it must be written besides). The minimum bid and its step are
dated rules (:class:`bessgym.data.rules.MarketRules`), common to the products today.
"""

from __future__ import annotations

from dataclasses import dataclass

UP, DOWN, BOTH = 1, -1, 0


@dataclass(frozen=True)
class ReserveProduct:
    """One reserve product.

    name : the stem of its columns: ``<name>_mw`` held [MW], ``<name>_mwh`` activated energy [MWh].
    label : how charts and tables name it.
    direction : :data:`UP` (discharge), :data:`DOWN` (charge) or :data:`BOTH` (symmetric: FCR).
    family : the configuration's product that offers it (``MarketConfig.products``: ``fcr``, ``afrr_capacity``,
        ``mfrr_capacity``), whose hold time [h] per MW its SoC headroom keeps.
    pricing : ``"pay_as_cleared"`` (the bidder takes the clearing price) or ``"pay_as_bid"``.
    price_column : capacity price in the market table [EUR/MW/h]; ``marginal_column`` the marginal price a
        pay-as-bid offer must not exceed to be accepted.
    activation_column : share of the held capacity activated per quarter-hour [-] (None: FCR, activated by the
        frequency or energy-neutral).
    energy_price_column : price its activated energy is paid at [EUR/MWh] (None: not paid separately).
    energy_family : the configuration's product under which its held capacity's energy is offered and
        activated (``afrr_energy``, ``mfrr_energy``; None: FCR).
    energy_only : free power may be offered as energy alone, without capacity (aFRR's free bids).
    block_h : length of a capacity block [h].
    """

    name: str
    label: str
    direction: int
    family: str
    pricing: str
    price_column: str
    marginal_column: str | None = None
    activation_column: str | None = None
    energy_price_column: str | None = None
    energy_family: str | None = None
    energy_only: bool = False
    block_h: float = 4.0

    @property
    def held_column(self) -> str:
        """The dispatch record's column of the capacity held [MW]."""
        return f"{self.name}_mw"

    def cash_flow(self, kind: str) -> str:
        """Its row of :data:`bessgym.market.settlement.CASH_FLOWS` for ``kind`` ``"cap"`` (capacity) or
        ``"energy"``: ``afrr_pos`` -> ``afrr_cap_pos``, ``afrr_energy_pos``; FCR's capacity is ``fcr``."""
        stem, _, side = self.name.rpartition("_")
        return f"{stem}_{kind}_{side}" if stem else self.name

    @property
    def energy_column(self) -> str | None:
        """The dispatch record's column of the activated energy [MWh] (None where not settled apart)."""
        return None if self.activation_column is None else f"{self.name}_mwh"


RESERVES: tuple[ReserveProduct, ...] = (
    ReserveProduct("fcr", "FCR", BOTH, "fcr", "pay_as_cleared", "fcr_price"),
    ReserveProduct("afrr_pos", "aFRR up", UP, "afrr_capacity", "pay_as_bid", "afrr_cap_pos_price",
                   "afrr_cap_pos_marginal", "afrr_activation_pos", "afrr_energy_pos_price", "afrr_energy",
                   energy_only=True),
    ReserveProduct("afrr_neg", "aFRR down", DOWN, "afrr_capacity", "pay_as_bid", "afrr_cap_neg_price",
                   "afrr_cap_neg_marginal", "afrr_activation_neg", "afrr_energy_neg_price", "afrr_energy",
                   energy_only=True),
    ReserveProduct("mfrr_pos", "mFRR up", UP, "mfrr_capacity", "pay_as_bid", "mfrr_cap_pos_price",
                   "mfrr_cap_pos_marginal", "mfrr_activation_pos", "mfrr_energy_pos_price", "mfrr_energy"),
    ReserveProduct("mfrr_neg", "mFRR down", DOWN, "mfrr_capacity", "pay_as_bid", "mfrr_cap_neg_price",
                   "mfrr_cap_neg_marginal", "mfrr_activation_neg", "mfrr_energy_neg_price", "mfrr_energy"),
)
# the rows of the table whose held capacity's energy is offered, activated and paid (aFRR, mFRR)
ENERGY = tuple(k for k, p in enumerate(RESERVES) if p.energy_price_column is not None)
# the rows of the table (a stacked reserve axis) that hold power up (discharge) and down; FCR is in both
HELD_UP = tuple(k for k, p in enumerate(RESERVES) if p.direction != DOWN)
HELD_DOWN = tuple(k for k, p in enumerate(RESERVES) if p.direction != UP)
