"""Writing the revenue index outputs: daily.csv, rolling.csv and charts (atomically)."""

from __future__ import annotations

from pathlib import Path

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
        cols = [c for c in rolling.columns if c.endswith(f"_{window}")]
        fig, ax = plt.subplots(figsize=(11, 5))
        for col in cols:
            series = rolling[col].dropna()
            if len(series):
                ax.plot(series.index, series / 1000, label=col.removesuffix(f"_{window}"))
        if not ax.lines:  # fewer days than the window: show the running mean instead of an empty chart
            for col in result.daily.columns:
                ax.plot(result.daily.index, result.daily[col].expanding().mean() * 365 / 1000, label=col)
            ax.set_title(f"Annualised revenue, running mean (fewer than {window.removesuffix('d')} days)")
        else:
            ax.set_title(f"Annualised revenue, {window} rolling average")
        ax.set(ylabel="kEUR/MW/year")
        ax.legend(ncol=3, fontsize=8)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        paths[f"rolling_{window}"] = out / f"rolling_{window}.png"
        with atomic_path(paths[f"rolling_{window}"]) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
    return paths
