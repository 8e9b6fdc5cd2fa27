"""Assets: battery physics and degradation (array functions over N assets)."""

from bessgym.assets.battery import BatterySpec, Fleet, reserve_energy, soc_next, split_flows
from bessgym.assets.degradation import CycleAgeing, soh_loss, throughput_cost_eur

__all__ = [
    "BatterySpec",
    "CycleAgeing",
    "Fleet",
    "reserve_energy",
    "soc_next",
    "soh_loss",
    "split_flows",
    "throughput_cost_eur",
]
