"""Writing the revenue index outputs: daily.csv, rolling.csv and charts (atomically)."""

from __future__ import annotations

from pathlib import Path

from agents.index import IndexResult
from bessgym._io import atomic_path


def write_index(result: IndexResult, out: Path) -> dict[str, Path]:
    """daily.csv (EUR/MW per day), rolling.csv (annualised EUR/MW/year) and a chart per window,
    rolling_30d.png and rolling_365d.png; where the period holds too few complete windows of a length
    (:func:`experiments.plots.rolling_series`: a year holds one 365-day window), running_mean.png instead, the
    mean from the first day, named for what it shows."""
    from experiments.plots import rolling_figure, rolling_series

    out.mkdir(parents=True, exist_ok=True)
    paths = {"daily": out / "daily.csv", "rolling": out / "rolling.csv"}
    with atomic_path(paths["daily"]) as tmp:
        result.daily.round(4).to_csv(tmp)
    with atomic_path(paths["rolling"]) as tmp:
        result.rolling().round(2).to_csv(tmp)
    days = f"{result.daily.index[0]} .. {result.daily.index[-1]} ({len(result.daily)} days)"
    for window in (30, 365):
        running = rolling_series(result.daily, window)[0].startswith("running")
        name = "running_mean" if running else f"rolling_{window}d"
        if name not in paths:
            paths[name] = rolling_figure(result.daily, out / f"{name}.png", windows=(window,),
                                         title=f"Revenue index strategies, annualised, {days}")
    return paths
