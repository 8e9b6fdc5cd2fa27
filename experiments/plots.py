"""Charts of an evaluation: the six-panel dispatch view of the co-location study and the rolling index."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from bessgym._io import atomic_path
from bessgym.data.calendar import MARKET_TZ


def save_figure(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def dispatch_figure(dispatch: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Price, SoC, wholesale positions, FCR, aFRR up and aFRR down over the quarter-hours of ``dispatch``
    (Berlin time on the axis)."""
    d = dispatch.copy()
    d.index = d.index.tz_convert(MARKET_TZ)
    fig, axes = plt.subplots(6, 1, figsize=(12, 13), sharex=True)
    ax = axes[0]
    ax.step(d.index, d["da_price"], where="post", label="day-ahead")
    if "id1_price" in d:
        ax.step(d.index, d["id1_price"], where="post", label="ID1", alpha=0.8)
    ax.set(ylabel="EUR/MWh", title=title)
    ax.legend(fontsize=8, ncol=2)
    axes[1].plot(d.index, d["soc_mwh"], color="tab:green")
    axes[1].set(ylabel="SoC [MWh]")
    ax = axes[2]
    for col, label in (("day_ahead_mw", "day-ahead"), ("ida_mw", "intraday auctions"),
                       ("intraday_mw", "intraday continuous"), ("power_mw", "metered power")):
        ax.step(d.index, d[col], where="post", label=label, lw=1.6 if col == "power_mw" else 1.0)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(ylabel="MW (+ sell)")
    ax.legend(fontsize=8, ncol=4)
    for ax, col, label in ((axes[3], "fcr_mw", "FCR [MW]"), (axes[4], "afrr_pos_mw", "aFRR up [MW]"),
                           (axes[5], "afrr_neg_mw", "aFRR down [MW]")):
        ax.fill_between(d.index, d[col], step="post", alpha=0.5)
        ax.set(ylabel=label)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)


def rolling_figure(daily_per_mw: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Annualised revenue [kEUR/MW/year] of each column of ``daily_per_mw`` (EUR/MW per day): the 30-day
    rolling average, and the 365-day one where the period is long enough."""
    fig, ax = plt.subplots(figsize=(11, 5))
    for window in (30, 365):
        if len(daily_per_mw) < window:
            continue
        rolled = daily_per_mw.rolling(window, min_periods=window).mean() * 365 / 1000
        for col in rolled.columns:
            ax.plot(rolled.index, rolled[col], lw=1.8 if window == 365 else 0.9,
                    ls="-" if window == 365 else "--", label=f"{col} ({window} d)")
    if not ax.lines:  # shorter than a month: the running mean
        for col in daily_per_mw.columns:
            ax.plot(daily_per_mw.index, daily_per_mw[col].expanding().mean() * 365 / 1000, label=f"{col} (running)")
    ax.set(ylabel="kEUR/MW/year", title=title)
    ax.legend(fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return save_figure(fig, path)
