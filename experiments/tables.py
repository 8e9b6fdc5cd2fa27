"""Tables for the terminal and for logs: each column formatted by what it holds, nothing cut, no markup.

A column's name says its unit (``*_eur``, ``*_mw``, ``share_*``, ``*_pct``, ``cycles_per_day``), so the format
follows the name: shares as percentages with one decimal, percentages with one decimal, cycles, power and
energy with two, money in whole euros (two decimals below 100 EUR), whole numbers with thousands
separators. Cells and headings are escaped, so ``[soc_min, soc_max]`` stays text, and columns fold instead
of cutting a name short.
"""

from __future__ import annotations

import math
import numbers

import pandas as pd
from rich.markup import escape
from rich.table import Table

# Headings of the summary metrics (``bessgym compare``, the evaluation's comparison table).
SUMMARY_METRICS = {
    "annualised_eur_per_mw_year": "EUR/MW/year",
    "share_of_pf_lp": "share of PF LP",
    "share_of_index_trading": "share of index trading",
    "cycles_per_day": "cycles/day",
    "penalties_eur": "penalties EUR",
}
HEADINGS = {**SUMMARY_METRICS, "std_over_draws_eur_per_mw_year": "+- std over draws", "draws": "draws"}


def cell(column: str, value: object) -> str:
    """``value`` of ``column`` as table text (``-`` where missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return escape(str(value))
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    name = column.lower()
    if "share" in name:
        return f"{value:.1%}"
    if name.endswith("_pct"):
        return f"{value:,.1f}"
    if "eur" in name:  # before power: EUR per MW is money
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if "cycles" in name or name.endswith(("_mw", "_mwh", "_mwp", "_h")):
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def rich_table(frame: pd.DataFrame, title: str) -> Table:
    """``frame`` (its index as the first column) as a rich table; see the module docstring."""
    table = Table(title=escape(title))
    index_names = [n for n in frame.index.names if n is not None] or [""]
    for name in index_names:
        table.add_column(escape(str(name)), justify="left", overflow="fold")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(escape(HEADINGS.get(str(col), str(col))), justify="right" if numeric else "left",
                         overflow="fold")
    for key, row in frame.iterrows():
        keys = key if isinstance(key, tuple) else (key,)
        table.add_row(*(cell(str(n), k) for n, k in zip(index_names, keys, strict=False)),
                      *(cell(str(col), value) for col, value in row.items()))
    return table
