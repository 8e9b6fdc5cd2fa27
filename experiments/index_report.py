"""Writing the revenue index outputs: daily.csv, rolling.csv and charts (atomically)."""

from __future__ import annotations

from pathlib import Path

from agents.index import IndexResult
from bessgym._io import atomic_path


def write_index(result: IndexResult, out: Path) -> dict[str, Path]:
    """daily.csv (EUR/MW per day), rolling.csv (annualised EUR/MW/year), rolling_30d.png, rolling_365d.png
    (:func:`experiments.plots.rolling_figure`: the running mean where the period holds too few windows)."""
    from experiments.plots import rolling_figure

    out.mkdir(parents=True, exist_ok=True)
    paths = {"daily": out / "daily.csv", "rolling": out / "rolling.csv"}
    with atomic_path(paths["daily"]) as tmp:
        result.daily.round(4).to_csv(tmp)
    with atomic_path(paths["rolling"]) as tmp:
        result.rolling().round(2).to_csv(tmp)
    days = f"{result.daily.index[0]} .. {result.daily.index[-1]} ({len(result.daily)} days)"
    for window in (30, 365):
        paths[f"rolling_{window}d"] = rolling_figure(result.daily, out / f"rolling_{window}d.png", windows=(window,),
                                                     title=f"Revenue index strategies, annualised, {days}")
    return paths
