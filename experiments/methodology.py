"""The multi-market methodology's result table (:mod:`agents.multimarket`): revenue by product per battery size.

``bessgym multimarket`` runs the methodology's 10 MW battery with each energy option (10/20/40 MWh) over a
market table, with perfect or noisy hindsight, and writes ``daily_<E>mwh.csv`` (EUR per day and product) and
``multimarket.csv`` (``<group>_eur_per_mw_year``: EUR/MW/year by product group, annualised as mean daily revenue
x 365, the revenue index's unit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from bessgym._io import atomic_path

# the table's columns: the env's cash flows grouped as the methodology reports them
GROUPS = {"capacity": ("fcr", "afrr_cap_pos", "afrr_cap_neg"), "afrr_energy": ("afrr_energy_pos", "afrr_energy_neg"),
          "day_ahead": ("day_ahead",), "penalty": ("penalty",)}


def methodology_table(market: pd.DataFrame, out: Path, *, energies_mwh: Sequence[float], forecast: str = "perfect",
                      days: int | None = None, start_day=None, seed: int = 0,
                      progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per energy option [MWh]: EUR/MW/year in total and by group (:data:`GROUPS`) and the other cash
    flows (``other``), the days run and the share of held aFRR capacity whose energy was activated; daily tables
    and the table written to ``out``."""
    from agents.multimarket import battery, run_multi_market

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, energy in enumerate(energies_mwh):
        daily = run_multi_market(market, energy_mwh=energy, days=days, start_day=start_day, forecast=forecast,
                                 seed=seed)
        with atomic_path(out / f"daily_{energy:g}mwh.csv") as tmp:
            daily.round(4).to_csv(tmp)
        per_mw_year = daily.mean() * 365 / battery(energy).power_mw
        grouped = {name: sum(per_mw_year.get(c, 0.0) for c in columns) for name, columns in GROUPS.items()}
        values = {"total": per_mw_year["total"], **grouped, "other": per_mw_year["total"] - sum(grouped.values())}
        rows.append({"energy_mwh": energy, **{f"{k}_eur_per_mw_year": v for k, v in values.items()},
                     "days": len(daily), "activated_share": daily.attrs["activated_share"]})
        if progress is not None:
            progress(k + 1, len(energies_mwh))
    table = pd.DataFrame(rows).set_index("energy_mwh")
    with atomic_path(out / "multimarket.csv") as tmp:
        table.round(4).to_csv(tmp)
    return table
