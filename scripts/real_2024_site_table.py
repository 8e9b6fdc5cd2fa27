"""The real 2024 contract table with a PV profile, for the co-location sizing study on real data.

Joins ``../shared/data/real/derived/real_2024_contract.parquet`` (day-ahead, ID1 stand-in, FCR and aFRR capacity)
with the national 2024 solar series of energy-charts (``de_hourly_price_load_solar_2024-01_2026-01_energycharts
.csv``, time-aligned with the prices), scaled to the 1,105 full-load hours of a single plant (the SimSES per-kWp
profile in the same folder): ``pv_per_mwp`` [MW/MWp]. The hour before the energy-charts series starts (night) is 0.

The derived table has no aFRR marginal capacity price. The study offers capacity at the average price, which a
pay-as-bid auction's marginal price (its highest accepted bid) is never below, so the script copies the average
under the marginal's name and says so: right for the study's price-taker bids, wrong for any strategy that
bids above the average (``bid_marginal`` LPs, learners), which this table must not be used for.

    python scripts/real_2024_site_table.py ../shared/data/real runs/real_2024_site.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.data.contract import validate
from bessgym.data.loaders import read_energy_charts

FULL_LOAD_HOURS = 1105.0  # the SimSES profile's yield per kWp


def main(real: Path, out: Path) -> None:
    table = pd.read_parquet(real / "derived" / "real_2024_contract.parquet")
    solar = read_energy_charts(real / "de_hourly_price_load_solar_2024-01_2026-01_energycharts.csv",
                               pv_capacity_mwp=1.0)["pv_per_mwp"]
    simses = np.loadtxt(real / "simses_pv_profile_normalized_hourly.csv", comments="#")
    assert abs(simses.sum() - FULL_LOAD_HOURS) < 1.0, "the SimSES profile's yield changed"
    solar = solar.reindex(table.index).fillna(0.0)
    table["pv_per_mwp"] = solar / (solar.sum() * 0.25 / FULL_LOAD_HOURS)
    for side in ("pos", "neg"):
        if f"afrr_cap_{side}_marginal" not in table:
            table[f"afrr_cap_{side}_marginal"] = table[f"afrr_cap_{side}_price"]
            print(f"afrr_cap_{side}_marginal: not in the derived table; the average price copied under its name "
                  "(accepts every bid up to the average: for the study's price-taker bids only)")
    validate(table, source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        table.to_parquet(tmp)
    print(f"{out}: {len(table)} quarter-hours, PV {table['pv_per_mwp'].sum() * 0.25:.0f} full-load hours, "
          f"peak {table['pv_per_mwp'].max():.2f} MW/MWp")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
