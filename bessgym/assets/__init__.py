"""Assets: battery physics and degradation, co-located sites and PV contracts (array functions over N assets)."""

from bessgym.assets.battery import BatterySpec, Fleet, reserve_energy, soc_next
from bessgym.assets.degradation import CycleAgeing, soh_loss, throughput_cost_eur
from bessgym.assets.site import EEGMarketPremium, PayAsProducedPPA, ProfilePPA, SiteSpec

__all__ = [
    "BatterySpec",
    "CycleAgeing",
    "EEGMarketPremium",
    "Fleet",
    "PayAsProducedPPA",
    "ProfilePPA",
    "SiteSpec",
    "reserve_energy",
    "soc_next",
    "soh_loss",
    "throughput_cost_eur",
]
