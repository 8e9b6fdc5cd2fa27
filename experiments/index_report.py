"""Writing the revenue index outputs: daily.csv, rolling.csv and charts (atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from agents.index import IndexResult
from bessgym._io import atomic_path


def write_index(result: IndexResult, out: Path) -> dict[str, Path]:
    """daily.csv (EUR/MW per day), rolling.csv (annualised EUR/MW/year), rolling_30d.png, rolling_365d.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = {"daily": out / "daily.csv", "rolling": out / "rolling.csv"}
    with atomic_path(paths["daily"]) as tmp:
        result.daily.round(4).to_csv(tmp)
    rolling = result.rolling()
    with atomic_path(paths["rolling"]) as tmp:
        rolling.round(2).to_csv(tmp)
    for window in ("30d", "365d"):
        title, series = chart_series(result, window)
        fig, ax = plt.subplots(figsize=(11, 5))
        for col in series.columns:
            ax.plot(series.index, series[col] / 1000, label=col)
        ax.set(ylabel="kEUR/MW/year", xlabel="delivery day", title=title)
        ax.legend(ncol=3, fontsize=8)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        paths[f"rolling_{window}"] = out / f"rolling_{window}.png"
        with atomic_path(paths[f"rolling_{window}"]) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
    return paths


MIN_CHART_POINTS = 30  # fewer complete windows than this draw as a dot or a flat stub: show the running mean


def chart_series(result: IndexResult, window: str) -> tuple[str, pd.DataFrame]:
    """The annualised series a rolling chart draws [EUR/MW/year] per strategy, and its title: the ``window``
    ('30d' or '365d') rolling average where the period holds at least :data:`MIN_CHART_POINTS` complete
    windows, else the running mean from the first day (a 365- or 366-day year holds one or two 365-day
    windows)."""
    rolling = result.rolling()
    cols = [c for c in rolling.columns if c.endswith(f"_{window}")]
    complete = rolling[cols].dropna(how="all")
    if len(complete) >= MIN_CHART_POINTS:
        return f"Annualised revenue, {window} rolling average", complete.rename(
            columns=lambda c: c.removesuffix(f"_{window}"))
    days = len(result.daily)
    return (f"Annualised revenue, running mean from the first day ({days} days: {len(complete)} complete "
            f"{window} window(s))", result.daily.expanding().mean() * 365)
