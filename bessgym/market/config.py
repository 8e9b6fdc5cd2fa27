"""What the markets are: the products an env trades, the columns each needs, and :class:`MarketConfig`, their
terms."""

from __future__ import annotations

from dataclasses import dataclass, fields

from bessgym._checks import finite
from bessgym.data.rules import MarketRules
from bessgym.market import reserves

PRODUCTS = ("fcr", "afrr_capacity", "afrr_energy", "mfrr_capacity", "mfrr_energy", "day_ahead", "ida", "intraday",
            "imbalance")
RESERVES = ("fcr", "afrr_capacity", "afrr_energy", "mfrr_capacity", "mfrr_energy")
# Columns each product needs from the market table.
PRODUCT_COLUMNS: dict[str, tuple[str, ...]] = {
    "fcr": ("fcr_price",),
    # pay-as-bid: a bid is accepted at or below the block's marginal price and paid its own price
    "afrr_capacity": ("afrr_cap_pos_price", "afrr_cap_neg_price", "afrr_cap_pos_marginal", "afrr_cap_neg_marginal"),
    "afrr_energy": ("afrr_energy_pos_price", "afrr_energy_neg_price", "afrr_activation_pos", "afrr_activation_neg"),
    "mfrr_capacity": ("mfrr_cap_pos_price", "mfrr_cap_neg_price", "mfrr_cap_pos_marginal", "mfrr_cap_neg_marginal"),
    "mfrr_energy": ("mfrr_energy_pos_price", "mfrr_energy_neg_price", "mfrr_activation_pos", "mfrr_activation_neg"),
    "day_ahead": ("da_price",),
    "ida": ("ida1_price", "ida2_price", "ida3_price"),
    "intraday": ("id1_price",),
    "imbalance": ("imbalance_price",),
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
    mfrr_hold_h : energy held per direction per MW of mFRR capacity [h] (as for aFRR; configurable).
    ancillary_max_share : largest share of power offered as reserves in one direction [-].
    fcr_max_share : largest share of power offered as FCR (0.8 = derated 20 % for prequalification) [-].
    fcr_activation : ``"neutral"`` (energy-neutral, as the multi-market methodology assumes) or
        ``"frequency"`` (a stochastic frequency deviation with linear droop moves SoC).
    capacity_price_band : aFRR and mFRR capacity offer = forecast average price x (1 + band x a), a in [-1, 1] [-].
    energy_price_band_eur_mwh : aFRR and mFRR energy offer = DA price + band x a [EUR/MWh].
    afrr_energy_price_cap_eur_mwh : the balancing energy price limits, +- [EUR/MWh]; aFRR and mFRR offers are
        kept within them (the PICASSO transitional cap of 15,000 EUR/MWh).
    non_delivery_penalty_eur_mwh : penalty per MWh of activation the battery could not serve [EUR/MWh].
    unavailability_penalty_eur_mw_h : penalty per MW and hour of reserve capacity held but not available (an
        asset out of service, or one whose SoC or power cannot deliver it for the held duration) [EUR/MW/h],
        on top of losing that capacity's payment. 0 by default: the TSO's contractual penalties are set per
        case; the payment is withheld either way (see the README, "Reserve availability").
    imbalance_markup_eur_mwh : markup on |deviation| when no reBAP column is used [EUR/MWh].
    wholesale_increments : round day-ahead, intraday-auction and continuous volumes to the exchange's 0.1 MW
        increment (the rule). False trades continuous volumes: a research switch for comparing with
        continuous LPs, whose optimum is not on the grid.
    energy_only_backed : an energy-only aFRR offer's volume is a share of the power the SoC backs for the whole
        quarter-hour beside the schedule, inside the reserves' SoC band, instead of a share of the free power:
        a safe action parametrisation, whose offers are never undelivered (the learners' default, see
        ``train.backed_energy_offers``; a plan that knows the activated share may offer more than the SoC
        backs, as only that share is called).
    capacity_volumes_nearest : a capacity offer's volume is put on the product's grid at the step nearest the
        action's (never above the room) instead of rounded down: 0.6 of a 1 MW battery's room offers 1 MW,
        0.4 offers nothing, so a policy whose mean action only leans towards offering still offers (a learner's
        option, ``train.nearest_capacity_volumes``; a pooled portfolio puts its totals on the grid as before).
        An action exactly on the grid offers the same either way.
    """

    products: frozenset[str] = frozenset(PRODUCTS)
    intraday_fee_eur_mwh: float = 0.2
    fcr_hold_h: float | None = None
    afrr_hold_h: float = 1.0
    mfrr_hold_h: float = 1.0
    ancillary_max_share: float = 1.0
    fcr_max_share: float = 1.0
    fcr_activation: str = "neutral"
    capacity_price_band: float = 0.5
    energy_price_band_eur_mwh: float = 250.0
    afrr_energy_price_cap_eur_mwh: float = 15_000.0
    non_delivery_penalty_eur_mwh: float = 1_000.0
    unavailability_penalty_eur_mw_h: float = 0.0
    imbalance_markup_eur_mwh: float = 50.0
    wholesale_increments: bool = True
    energy_only_backed: bool = False
    capacity_volumes_nearest: bool = False

    def __post_init__(self) -> None:
        finite("MarketConfig", **{f.name: getattr(self, f.name) for f in fields(self)
                                  if f.name not in ("products", "fcr_activation", "wholesale_increments",
                                                     "energy_only_backed", "capacity_volumes_nearest")})
        if self.fcr_hold_h is not None and self.fcr_hold_h < 0:
            raise ValueError(f"MarketConfig.fcr_hold_h must be >= 0 (None: the dated rule), got {self.fcr_hold_h}")
        unknown = set(self.products) - set(PRODUCTS)
        if unknown:
            raise ValueError(f"MarketConfig.products: unknown {sorted(unknown)}; choose from {PRODUCTS}")
        if "day_ahead" not in self.products and "intraday" not in self.products and not (
            set(RESERVES) & set(self.products)
        ):
            raise ValueError("MarketConfig.products: at least one market is needed")
        if self.fcr_activation not in ("neutral", "frequency"):
            raise ValueError(f"MarketConfig.fcr_activation must be 'neutral' or 'frequency', "
                             f"got {self.fcr_activation!r}")
        for name in ("ancillary_max_share", "fcr_max_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"MarketConfig.{name} must be in [0, 1]")
        for name in ("intraday_fee_eur_mwh", "afrr_hold_h", "mfrr_hold_h", "non_delivery_penalty_eur_mwh",
                     "imbalance_markup_eur_mwh", "energy_price_band_eur_mwh", "unavailability_penalty_eur_mw_h",
                     "afrr_energy_price_cap_eur_mwh"):
            if getattr(self, name) < 0:
                raise ValueError(f"MarketConfig.{name} must be >= 0")
        if self.afrr_energy_price_cap_eur_mwh <= 0:
            raise ValueError("MarketConfig.afrr_energy_price_cap_eur_mwh must be > 0")
        if not 0 <= self.capacity_price_band < 1:
            raise ValueError("MarketConfig.capacity_price_band must be in [0, 1)")

    def fcr_hold(self, rules: MarketRules) -> float:
        """Energy held per direction per MW of FCR [h]: ``fcr_hold_h``, or the dated rule's minutes."""
        return self.fcr_hold_h if self.fcr_hold_h is not None else rules.fcr_energy_reserve_min / 60

    def hold_h(self, rules: MarketRules) -> tuple[float, ...]:
        """Energy held per direction per MW [h] of each product of :data:`~bessgym.market.reserves.RESERVES`,
        by its family: FCR's dated rule (:meth:`fcr_hold`), ``afrr_hold_h``, ``mfrr_hold_h``."""
        by_family = {"fcr": self.fcr_hold(rules), "afrr_capacity": self.afrr_hold_h, "mfrr_capacity": self.mfrr_hold_h}
        return tuple(by_family[p.family] for p in reserves.RESERVES)

    def required_columns(self) -> dict[str, tuple[str, ...]]:
        """The market table's columns each configured product needs."""
        return {product: PRODUCT_COLUMNS[product] for product in self.products}

    def has(self, product: str) -> bool:
        return product in self.products
