"""Charts of the experiments: dispatch, rolling revenue against the index, the strategy comparison and the
learning curve. Each is written atomically as a PNG; legends sit outside the data, a strategy keeps its
colour in every panel, the strategy a chart is about is drawn on top."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.data.calendar import DT_H, MARKET_TZ
from bessgym.market.reserves import RESERVES as RESERVE_PRODUCTS

REFERENCE = "perfect-foresight LP (100 %)"  # the in-env LP every share of a comparison refers to
MIN_CHART_POINTS = 30  # fewer complete windows than this draw as a dot or a stub: show the running mean
MARKETS = (  # what carried the battery's power, (dispatch column, label, colour); + = sold / discharged
    ("day_ahead_mw", "day-ahead", "tab:blue"), ("ida_mw", "intraday auctions", "tab:cyan"),
    ("intraday_mw", "intraday continuous", "tab:orange"), ("activation_mw", "reserve activation", "tab:purple"),
    ("other_mw", "deviation from schedule", "tab:gray"),
)
COLOURS = {"fcr": "tab:red", "afrr_pos": "tab:green", "afrr_neg": "tab:olive", "mfrr_pos": "tab:cyan",
           "mfrr_neg": "tab:brown"}  # by reserve product; one not named here takes the next of the cycle
RESERVES = tuple((p.held_column, p.label, COLOURS.get(p.name)) for p in RESERVE_PRODUCTS)


def save_figure(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def rolling_series(daily_per_mw: pd.DataFrame, window: int) -> tuple[str, pd.DataFrame]:
    """The annualised series [EUR/MW/year] a rolling chart draws of daily values [EUR/MW], and its label:
    the ``window``-day rolling mean where the period holds at least :data:`MIN_CHART_POINTS` complete
    windows, else the running mean from the first day (a 365-day year holds one 365-day window)."""
    rolled = daily_per_mw.rolling(window, min_periods=window).mean().dropna(how="all") * 365
    if len(rolled) >= MIN_CHART_POINTS:
        return f"{window}-day rolling mean", rolled
    return (f"running mean from the first day ({len(daily_per_mw)} days: {len(rolled)} complete {window}-day "
            "window(s))", daily_per_mw.expanding().mean() * 365)


def strategy_colours(names: list[str], highlight: str | None = None) -> dict[str, str]:
    """One colour per name, the same in every panel; the highlighted one black."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    others = [n for n in names if n != highlight]
    colours = {n: cycle[i % len(cycle)] for i, n in enumerate(others)}
    if highlight is not None:
        colours[highlight] = "black"
    return colours


def rolling_figure(daily_per_mw: pd.DataFrame, path: Path, *, title: str, highlight: str | None = None,
                   windows: tuple[int, ...] = (30, 365)) -> Path:
    """Annualised revenue [kEUR/MW/year] of each column of ``daily_per_mw`` (EUR/MW per Berlin delivery day),
    one panel per window (:func:`rolling_series`); ``highlight`` (the evaluated strategy) thick and black, the
    others thin over it, so a line that runs along it stays visible; a column named :data:`REFERENCE` dashed."""
    colours = strategy_colours(list(daily_per_mw.columns), highlight)
    panels: list[tuple[str, pd.DataFrame]] = []
    for window in windows:  # windows too long for the period all fall back to one running-mean panel
        label, series = rolling_series(daily_per_mw, window)
        running = label.startswith("running")
        if not (running and any(p[0].startswith("running") for p in panels)):
            panels.append((f"running mean from the first day ({len(daily_per_mw)} days)" if running else label,
                           series))
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 3.6 * len(panels)), sharex=True, squeeze=False,
                             layout="constrained")  # room for the suptitle above a panel's title
    for ax, (label, series) in zip(axes[:, 0], panels, strict=True):
        for col in series.columns:
            mine = col == highlight
            ax.plot(pd.to_datetime(series.index), series[col] / 1000, color=colours[col], label=col,
                    lw=3.2 if mine else 1.2, zorder=2 if mine else 3, alpha=0.75 if mine else 0.95,
                    ls="--" if col == REFERENCE else "-")
        ax.set(ylabel="kEUR/MW/year", title=label)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("delivery day (Berlin)")
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.suptitle(title)
    for ax in axes[:, 0]:  # a month or a year: ticks that never overlap, the year and month said once
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return save_figure(fig, path)


def carried_by_market(dispatch: pd.DataFrame) -> pd.DataFrame:
    """The metered power [MW, + discharge] split by what carried it: auction and intraday positions, the
    reserve activation served (aFRR, and FCR with frequency activation), and the rest (the schedule giving
    way at the SoC or power limits)."""
    out = pd.DataFrame({col: dispatch[col] for col in ("day_ahead_mw", "ida_mw", "intraday_mw")})
    out["activation_mw"] = dispatch["reserve_mwh"] / DT_H
    out["other_mw"] = dispatch["power_mw"] - out.sum(axis=1)
    return out


def reserves_held(dispatch: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The reserve products (column, label, colour) held at any quarter-hour of ``dispatch``."""
    return [(c, label, colour) for c, label, colour in RESERVES if c in dispatch and (dispatch[c].abs() > 1e-6).any()]


def _stacked(ax, index: pd.DatetimeIndex, parts: pd.DataFrame) -> None:
    """Positive parts stacked up from 0, negative ones down, as steps; only the parts that are used."""
    up, down = np.zeros(len(index)), np.zeros(len(index))
    for col, label, colour in MARKETS:
        values = parts[col].to_numpy()
        if np.abs(values).max(initial=0.0) < 1e-6:
            continue
        pos, neg = np.maximum(values, 0.0), np.minimum(values, 0.0)
        ax.fill_between(index, up, up + pos, step="post", color=colour, alpha=0.6, lw=0, label=label)
        ax.fill_between(index, down, down + neg, step="post", color=colour, alpha=0.6, lw=0)
        up, down = up + pos, down + neg


def dispatch_figure(dispatch: pd.DataFrame, path: Path, *, title: str, energy_mwh: float, power_mw: float) -> Path:
    """Prices, power by the market that carried it with the metered power (on an axis of at least the rated
    +-``power_mw``, so an idle battery reads as idle, not as noise), SoC [% of ``energy_mwh``] and, where any
    is held, the reserves over the quarter-hours of ``dispatch`` (Berlin time)."""
    d = dispatch.copy()
    d.index = d.index.tz_convert(MARKET_TZ)
    reserves = reserves_held(d)
    n = 4 if reserves else 3
    fig, axes = plt.subplots(n, 1, figsize=(12, 2.6 * n + 1), sharex=True,
                             gridspec_kw={"height_ratios": [1, 1.4, 1] + ([0.8] if reserves else [])})
    ax = axes[0]
    ax.step(d.index, d["da_price"], where="post", label="day-ahead", color="tab:blue")
    if "id1_price" in d:
        ax.step(d.index, d["id1_price"], where="post", label="intraday ID1", color="tab:orange", alpha=0.8)
    ax.set(ylabel="EUR/MWh", title=title)
    ax = axes[1]
    _stacked(ax, d.index, carried_by_market(d))
    ax.step(d.index, d["power_mw"], where="post", color="black", lw=1.0, label="metered power")
    ax.axhline(0, color="grey", lw=0.5)
    low, high = ax.get_ylim()
    ax.set(ylabel="MW (+ discharge)", ylim=(min(low, -1.05 * power_mw), max(high, 1.05 * power_mw)))
    axes[2].plot(d.index, 100 * d["soc_mwh"] / energy_mwh, color="tab:green", label="state of charge")
    axes[2].set(ylabel="SoC [%]", ylim=(-2, 102))
    if reserves:
        for col, label, colour in reserves:
            axes[3].step(d.index, d[col], where="post", color=colour, label=f"{label} held")
        axes[3].set(ylabel="reserve [MW]")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    axes[-1].set_xlabel("Berlin time")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def comparison_figure(comparison: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Annualised revenue [kEUR/MW/year] of every strategy (dark) and index strategy (light), best on top,
    each bar labelled with its share of the perfect-foresight LP; a strategy on forecast draws shows their mean
    with +- one standard deviation."""
    table = comparison.dropna(subset=["annualised_eur_per_mw_year"]).sort_values("annualised_eur_per_mw_year")
    index = table.index.str.startswith("index: ")
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(table) + 1.5))
    values = table["annualised_eur_per_mw_year"].to_numpy() / 1000
    spread = table.get("std_over_draws_eur_per_mw_year", pd.Series(np.nan, index=table.index)).to_numpy(float)
    ax.barh(table.index, values, color=np.where(index, "#b8c7dd", "#2f5d8a"),
            xerr=np.nan_to_num(spread / 1000), error_kw={"ecolor": "black", "capsize": 3, "lw": 1})
    for y, (value, share) in enumerate(zip(values, table["share_of_pf_lp"], strict=True)):
        if share == share and share is not None:
            ax.text(value, y, f" {share:.0%} of PF LP", va="center", fontsize=8)
    ax.set(xlabel="kEUR/MW/year (annualised)", title=title)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="#2f5d8a"), plt.Rectangle((0, 0), 1, 1, color="#b8c7dd")],
              labels=["evaluated in the env", "revenue index (its own markets)"], loc="lower right", fontsize=8)
    ax.margins(x=0.18)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def learning_curve_figure(history: pd.DataFrame, path: Path, *, title: str, lp_eur_per_mw_year: float,
                          index_trading_eur_per_mw_year: float | None = None) -> Path:
    """The agent's share of the perfect-foresight LP on the evaluation days at each evaluation [%] over
    training steps, from 0 with the LP's 100 % and the index's trading strategy on the same days as lines. Of
    two evaluations closer than 1 % of the steps (the last scheduled one and the final model's) the later is
    drawn."""
    steps = history["steps"].to_numpy(dtype=float)
    keep = np.append(np.diff(steps) >= 0.01 * max(steps.max(initial=0.0), 1.0), True)
    shown = history[keep]
    share = 100 * shown["annualised_eur_per_mw_year"] / lp_eur_per_mw_year
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(shown["steps"], share, marker="o", color="black", label="agent")
    ax.axhline(100, color="tab:green", ls="--", label=f"perfect-foresight LP ({lp_eur_per_mw_year / 1000:,.1f} "
                                                      "kEUR/MW/year)")
    top = max(110.0, float(share.max()) + 5)
    if index_trading_eur_per_mw_year is not None:
        index_share = 100 * index_trading_eur_per_mw_year / lp_eur_per_mw_year
        ax.axhline(index_share, color="tab:blue", ls=":", label="index: trading (daily LP on ID1)")
        top = max(top, index_share + 5)
    ax.set(xlabel="training steps", ylabel="share of the perfect-foresight LP [%]", title=title, xlim=(0, None),
           ylim=(min(0.0, float(share.min()) - 5), top))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save_figure(fig, path)
