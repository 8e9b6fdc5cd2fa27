"""Monthly distribution checks of a contract table against the German markets' history.

The contract's per-value ranges (:mod:`bessgym.data.contract`) let a whole table in the wrong unit through: day-ahead
prices 10x too high (a January mean of 907 EUR/MWh) are each plausible on their own. A month whose mean lies
outside what the market has ever shown is flagged here; the CLI refuses such a table unless ``--accept-unusual``.

History (monthly means, Germany): day-ahead and intraday about 17 .. 470 EUR/MWh (April 2020 the lowest,
August 2022 the highest), reBAP up to about 500 EUR/MWh (2022); FCR and aFRR capacity up to about 60-80 EUR/MW/h
(2021-2022). The bounds below leave room around that history, so a record month passes and a unit error does not
where it lands outside: EUR/kWh read as EUR/MWh (a factor of 1,000) always, a factor of 10 on every month
averaging above 60 EUR/MWh (most months since 2021; a cheaper month x 10 looks like 2022 and passes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bessgym.data.calendar import MARKET_TZ


@dataclass(frozen=True)
class MonthlyRange:
    low: float  # plausible monthly mean [unit]
    high: float
    unit: str


_ENERGY = MonthlyRange(-50.0, 600.0, "EUR/MWh")
_CAPACITY = MonthlyRange(0.0, 250.0, "EUR/MW/h")
MONTHLY_MEAN = {
    "da_price": _ENERGY, "id1_price": _ENERGY, "ida1_price": _ENERGY, "ida2_price": _ENERGY, "ida3_price": _ENERGY,
    "imbalance_price": MonthlyRange(-200.0, 2_000.0, "EUR/MWh"), "fcr_price": _CAPACITY,
    **{f"{p}_cap_{d}_{s}": _CAPACITY for p in ("afrr", "mfrr") for d in ("pos", "neg") for s in ("price", "marginal")},
}
# a unit error by 1,000 (EUR/kWh read as EUR/MWh) leaves energy prices of a few cents: no month of the history
# averages below 5 EUR/MWh in absolute value
MIN_ABS_ENERGY_MEAN = 5.0


def unusual_months(table: pd.DataFrame) -> list[str]:
    """One line per (column, Berlin month) whose mean is outside :data:`MONTHLY_MEAN` (with the unit), empty when
    every month is within the market's history."""
    months = table.index.tz_convert(MARKET_TZ).strftime("%Y-%m")
    found = []
    for column, bounds in MONTHLY_MEAN.items():
        if column not in table.columns:
            continue
        means = table[column].groupby(months).mean().dropna()
        for month, mean in means.items():
            tiny = bounds is _ENERGY and abs(mean) < MIN_ABS_ENERGY_MEAN
            if not bounds.low <= mean <= bounds.high or tiny:
                expected = f"{bounds.low:g} .. {bounds.high:g} {bounds.unit}" + (
                    f", at least {MIN_ABS_ENERGY_MEAN:g} in absolute value" if bounds is _ENERGY else "")
                found.append(f"{column} in {month}: mean {mean:,.2f} {bounds.unit}, outside the market's history "
                             f"({expected}); a unit or scale error?")
    return found
