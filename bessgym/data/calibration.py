"""Statistics that describe a market year, and their comparison between a synthetic and a real table.

Day-ahead statistics are computed on hourly means in Berlin local time (as published); reserve statistics on
4 h block values (FCR in EUR/MW per block, aFRR in EUR/MW/h), so a contract table and the published figures
in ../shared/MARKET_FACTS.md are compared like for like.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.data.calendar import DT_H, MARKET_TZ, block_of_hour

# Published 2024 figures (shared/MARKET_FACTS.md: SMARD DE-LU hourly, regelleistung.net 4 h blocks).
TARGETS_2024: dict[str, float] = {
    "da_mean": 78.5, "da_std": 52.7, "da_p5": 0.0, "da_p95": 143.2, "da_negative_hours": 457,
    "da_daily_spread": 111.2, "da_top4_minus_bottom4": 88.6, "da_autocorr_1h": 0.92, "da_autocorr_24h": 0.65,
    **{f"da_hour_{h:02d}": v for h, v in enumerate(
        [74.1, 68.7, 65.9, 64.3, 65.0, 70.5, 84.9, 99.1, 96.2, 81.4, 67.8, 58.5,
         51.3, 47.4, 49.1, 58.7, 73.2, 94.2, 109.9, 121.4, 117.0, 99.4, 88.8, 77.6])},
    # monthly means from the SMARD 2024 file (not in MARKET_FACTS.md; informational, used by the fit)
    **{f"da_month_{m:02d}": v for m, v in enumerate(
        [76.6, 61.3, 64.7, 62.4, 67.2, 72.9, 67.7, 82.0, 78.3, 86.1, 113.9, 108.3], start=1)},
    "fcr_block_mean": 65.1, "afrr_cap_pos_mean": 13.1, "afrr_cap_neg_mean": 10.8,
    "fcr_block_std": 45.4, "afrr_cap_pos_std": 13.6, "afrr_cap_neg_std": 13.1,
    "corr_fcr_afrr_neg": 0.83, "corr_fcr_afrr_pos": 0.28,
}

# Tolerances of issue 2: DA statistics 15 %, negative hours 25 %, reserve means 10 %. The others are shown
# for information (tolerance None). Relative errors use max(|real|, 10) as the denominator for prices in
# EUR/MWh so that a target at 0 EUR/MWh (the 2024 p5) gets a band of +-1.5 EUR/MWh instead of none.
TOLERANCES: dict[str, float | None] = {
    **{k: 0.15 for k in TARGETS_2024 if k.startswith("da_") and not k.startswith("da_month_")},
    "da_negative_hours": 0.25,
    "fcr_block_mean": 0.10, "afrr_cap_pos_mean": 0.10, "afrr_cap_neg_mean": 0.10,
    # reBAP and intraday against day-ahead (checked against real 2026 H1 in the 15-min day-ahead era): the
    # spread's quantiles 25 % (on the 10 EUR/MWh floor), its 1 % and 99 % tails 35 % (a few hundred
    # quarter-hours set them), the correlation 15 %, the mean within +-5 EUR/MWh (50 % of the floor)
    **{f"{name}_minus_da_{stat}": tol for name in ("rebap", "id")
       for stat, tol in (("mean", 0.5), ("p1", 0.35), ("p5", 0.25), ("p25", 0.25), ("p50", 0.25), ("p75", 0.25),
                         ("p95", 0.25), ("p99", 0.35))},
    "rebap_da_corr": 0.15, "id_da_corr": 0.15,
}
_PRICE_FLOOR_EUR_MWH = 10.0
SPREAD_QUANTILES = (1, 5, 25, 50, 75, 95, 99)  # [%]


def hourly_local(series: pd.Series) -> pd.Series:
    """Hourly means of a quarter-hourly UTC series, indexed in Berlin local time."""
    return series.resample("h").mean().dropna().tz_convert(MARKET_TZ)


def day_ahead_statistics(da_price: pd.Series) -> dict[str, float]:
    """Yearly DA statistics of a quarter-hourly UTC price series [EUR/MWh]."""
    h = hourly_local(da_price)
    day = h.index.tz_localize(None).normalize()
    grouped = h.groupby(day)
    ordered = grouped.transform(lambda s: s.rank(method="first"))
    size = grouped.transform("size")
    top4 = h[ordered > size - 4].groupby(day[ordered > size - 4]).mean()
    bottom4 = h[ordered <= 4].groupby(day[ordered <= 4]).mean()
    stats = {
        "da_mean": h.mean(), "da_std": h.std(), "da_p5": h.quantile(0.05), "da_p95": h.quantile(0.95),
        "da_min": h.min(), "da_max": h.max(), "da_negative_hours": float((h < 0).sum()),
        "da_daily_spread": (grouped.max() - grouped.min()).mean(),
        "da_top4_minus_bottom4": (top4 - bottom4).mean(),
        "da_autocorr_1h": h.autocorr(1), "da_autocorr_24h": h.autocorr(24),
    }
    profile = h.groupby(h.index.hour).mean()
    stats |= {f"da_hour_{hour:02d}": value for hour, value in profile.items()}
    monthly = h.groupby(h.index.month).mean()
    stats |= {f"da_month_{month:02d}": value for month, value in monthly.items()}
    return {k: float(v) for k, v in stats.items()}


def reserve_statistics(df: pd.DataFrame) -> dict[str, float]:
    """Block-level reserve statistics of whichever reserve columns ``df`` has."""
    local = df.index.tz_convert(MARKET_TZ)
    key = [local.tz_localize(None).normalize(), block_of_hour(local.hour)]
    blocks = {}
    if "fcr_price" in df:
        blocks["fcr_block"] = df["fcr_price"].groupby(key).first() * 4.0  # EUR/MW per 4 h block
    for col in ("afrr_cap_pos", "afrr_cap_neg"):
        if f"{col}_price" in df:
            blocks[col] = df[f"{col}_price"].groupby(key).first()
    stats: dict[str, float] = {}
    for name, b in blocks.items():
        stats |= {f"{name}_mean": b.mean(), f"{name}_std": b.std(), f"{name}_median": b.median()}
    if "fcr_block" in blocks:
        for col in ("afrr_cap_neg", "afrr_cap_pos"):
            if col in blocks:
                direction = col.removeprefix("afrr_cap_")
                stats[f"corr_fcr_afrr_{direction}"] = float(np.corrcoef(blocks["fcr_block"], blocks[col])[0, 1])
    return {k: float(v) for k, v in stats.items()}


def market_statistics(df: pd.DataFrame) -> dict[str, float]:
    """All statistics available for ``df`` (DA always; reserves and PV when present)."""
    stats = day_ahead_statistics(df["da_price"]) | reserve_statistics(df)
    if "pv_per_mwp" in df:
        years = (df.index[-1] - df.index[0]) / pd.Timedelta(days=365.25)
        stats["pv_full_load_hours_per_year"] = float(df["pv_per_mwp"].sum() * DT_H / years)
    return stats | spread_statistics(df)


def spread_statistics(df: pd.DataFrame) -> dict[str, float]:
    """reBAP and continuous intraday against day-ahead, per quarter-hour [EUR/MWh]: the spread's mean,
    quantiles (1, 5, 25, 50, 75, 95, 99 %) and standard deviation, and the correlation of the two prices
    (where the columns exist). Quantiles describe a heavy-tailed spread stably; its standard deviation, set
    by a handful of spikes, is shown for information."""
    stats: dict[str, float] = {}
    for col, name in (("imbalance_price", "rebap"), ("id1_price", "id")):
        if col not in df:
            continue
        both = df[[col, "da_price"]].dropna()
        spread = both[col] - both["da_price"]
        stats |= {f"{name}_minus_da_mean": spread.mean(), f"{name}_minus_da_std": spread.std(),
                  **{f"{name}_minus_da_p{q}": spread.quantile(q / 100) for q in SPREAD_QUANTILES},
                  f"{name}_da_corr": both[col].corr(both["da_price"])}
    return {k: float(v) for k, v in stats.items()}


@dataclass(frozen=True)
class Comparison:
    """A statistic-by-statistic comparison; ``table`` has synthetic, real, rel_error, tolerance, within."""

    table: pd.DataFrame

    @property
    def all_within(self) -> bool:
        checked = self.table["tolerance"].notna()
        return bool(self.table.loc[checked, "within"].all())

    def failures(self) -> list[str]:
        checked = self.table[self.table["tolerance"].notna()]
        return list(checked.index[~checked["within"].astype(bool)])


def compare(synthetic: dict[str, float], real: dict[str, float]) -> Comparison:
    """Compare two statistic dicts on their common keys against :data:`TOLERANCES`."""
    rows = []
    for key in [k for k in real if k in synthetic]:
        s, r = synthetic[key], real[key]
        price_like = (key.startswith(("da_", "rebap_minus", "id_minus")) and key != "da_negative_hours"
                      and "autocorr" not in key)
        denom = max(abs(r), _PRICE_FLOOR_EUR_MWH) if price_like else max(abs(r), 1e-9)
        err = abs(s - r) / denom
        tol = TOLERANCES.get(key)
        rows.append({"statistic": key, "synthetic": s, "real": r, "rel_error": err, "tolerance": tol,
                     "within": (err <= tol) if tol is not None else None})
    return Comparison(pd.DataFrame(rows).set_index("statistic"))


RESERVE_LABELS = {"fcr_block_mean": "FCR (block / 4)", "afrr_cap_pos_mean": "aFRR POS", "afrr_cap_neg_mean": "aFRR NEG"}


def reserve_bars(table: pd.DataFrame) -> pd.DataFrame:
    """The reserve means the comparison holds [EUR/MW/h] (FCR's block mean over its 4 hours), labelled (real,
    synthetic)."""
    present = [k for k in RESERVE_LABELS if k in table.index]
    bars = table.loc[present, ["real", "synthetic"]].astype(float)
    if "fcr_block_mean" in bars.index:
        bars.loc["fcr_block_mean"] /= 4.0
    return bars.rename(index=RESERVE_LABELS)


def span_mismatch(synthetic: pd.DataFrame, real: pd.DataFrame) -> str | None:
    """Why two tables' statistics do not compare like for like (None when they do): they cover other calendar
    months, or more than 5 % more days one than the other. Means, quantiles and counts such as negative
    hours follow the season, so a year against 8 months differs by what it covers, not by how it is made."""
    def span(df: pd.DataFrame) -> tuple[set[int], float, str]:
        local = df.index.tz_convert(MARKET_TZ)
        days = len(df) * DT_H / 24.0
        return set(local.month), days, f"{local[0].date()} .. {local[-1].date()}, {days:,.0f} days"

    (syn_months, syn_days, syn_label), (real_months, real_days, real_label) = span(synthetic), span(real)
    if syn_months == real_months and abs(syn_days - real_days) <= 0.05 * max(syn_days, real_days):
        return None
    return (f"the synthetic table covers {syn_label}, the real one {real_label}: seasonal statistics (means, "
            "quantiles, negative hours) differ by what each covers; synthesise the same span (data synth "
            "--start/--end) to compare like with like")


def plot_comparison(synthetic: pd.DataFrame, real: pd.DataFrame | None, comparison: Comparison,
                    path: str | os.PathLike[str]) -> Path:
    """A four-panel PNG: DA hour profile, DA duration curve, reserve block means, statistic errors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = comparison.table
    checked = t[t["tolerance"].notna() & ~t.index.str.startswith("da_hour_")]
    fig, ax = plt.subplots(2, 2, figsize=(13, max(8.5, 4.5 + 0.22 * len(checked))))
    hours = [k for k in t.index if k.startswith("da_hour_")]
    ax[0, 0].plot(range(len(hours)), t.loc[hours, "real"], "k-o", ms=3, label="real")
    ax[0, 0].plot(range(len(hours)), t.loc[hours, "synthetic"], "C1-o", ms=3, label="synthetic")
    ax[0, 0].set(title="Day-ahead mean by local hour", xlabel="hour", ylabel="EUR/MWh")
    ax[0, 0].legend()
    syn_h = np.sort(hourly_local(synthetic["da_price"]).to_numpy())[::-1]
    ax[0, 1].plot(np.linspace(0, 100, len(syn_h)), syn_h, "C1", label="synthetic")
    if real is not None:
        real_h = np.sort(hourly_local(real["da_price"]).to_numpy())[::-1]
        ax[0, 1].plot(np.linspace(0, 100, len(real_h)), real_h, "k", label="real")
    ax[0, 1].set(title="Day-ahead duration curve (every hour, extremes included)", xlabel="% of hours",
                 ylabel="EUR/MWh")
    ax[0, 1].legend()
    bars = reserve_bars(t)
    x = np.arange(len(bars))
    ax[1, 0].set(title="Reserve capacity price means", ylabel="EUR/MW/h")
    if len(bars):
        ax[1, 0].bar(x - 0.2, bars["real"], 0.4, color="k", label="real")
        ax[1, 0].bar(x + 0.2, bars["synthetic"], 0.4, color="C1", label="synthetic")
        ax[1, 0].set_xticks(x, list(bars.index))
        ax[1, 0].legend()
    else:
        ax[1, 0].text(0.5, 0.5, "no reserve prices in the compared tables", ha="center", va="center",
                      transform=ax[1, 0].transAxes)
        ax[1, 0].set_axis_off()
    colors = ["C2" if w else "C3" for w in checked["within"]]
    ax[1, 1].barh(checked.index, 100 * checked["rel_error"], color=colors)
    ax[1, 1].barh(checked.index, 100 * checked["tolerance"], fill=False, edgecolor="k")
    ax[1, 1].set(title="Relative error (box: tolerance)", xlabel="%")
    ax[1, 1].tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
