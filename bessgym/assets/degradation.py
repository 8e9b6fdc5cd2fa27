"""Battery degradation: a throughput cost for the reward, and a rainflow state-of-health model for reporting.

The SoH model counts cycles in the SoC trace with rainflow (ASTM E1049) and sums damage with a Woehler
curve, the standard approach for stationary Li-ion storage (e.g. Xu et al., IEEE Trans. Smart Grid 2018)::

    N(d) = N_100 * d**(-k)           cycles to end of life at depth of discharge d (0..1]
    dSoH = (1 - SoH_eol) * sum_i n_i / N(d_i)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import float64, vectorize


@dataclass(frozen=True)
class CycleAgeing:
    """Woehler-curve parameters.

    Attributes
    ----------
    cycles_at_full_depth : full (100 % DoD) cycles until end of life [-].
    depth_exponent : k in N(d) = N_100 d^-k; > 1 makes shallow cycles cheaper per MWh [-].
    soh_end_of_life : state of health at end of life [-].
    """

    cycles_at_full_depth: float = 6_000.0
    depth_exponent: float = 1.3
    soh_end_of_life: float = 0.8

    def __post_init__(self) -> None:
        if self.cycles_at_full_depth <= 0 or self.depth_exponent <= 0 or not 0 < self.soh_end_of_life < 1:
            raise ValueError(f"CycleAgeing: invalid parameters {self}")


@vectorize([float64(float64, float64)], cache=True)
def throughput_cost_eur(discharged_mwh, cost_eur_mwh):
    """Degradation cost of a step [EUR]: discharged energy times the throughput cost (a numpy ufunc)."""
    return discharged_mwh * cost_eur_mwh


def soh_loss(soc_fraction: np.ndarray, ageing: CycleAgeing = CycleAgeing()) -> float:
    """State-of-health decrement [-] caused by the cycles in one SoC trace (fractions of nameplate)."""
    import rainflow  # small, imported where used

    trace = np.asarray(soc_fraction, dtype=float)
    if trace.size < 3 or np.ptp(trace) < 1e-9:
        return 0.0
    damage = 0.0
    for depth, _mean, count, _i, _j in rainflow.extract_cycles(trace):
        if depth > 1e-6:
            damage += count / (ageing.cycles_at_full_depth * min(depth, 1.0) ** (-ageing.depth_exponent))
    return (1.0 - ageing.soh_end_of_life) * damage
