"""``bessgym colocation sizing``: how much battery revenue co-location with PV costs, by battery size.

Each battery (power x duration) runs a year in ``CoLocatedPVBESS-v1`` twice with a site LP agent: standalone
(its own connection of its rated power, no PV) and co-located (10 MWp PV, pay-as-produced PPA at 42 EUR/MWh,
a 10 MW connection; operated in ``mode``: joint optimisation by default, or PV-priority / BESS-priority),
with perfect foresight and with forecast deviations (10 % price noise, 20 % autocorrelated PV forecast
error). Markets: FCR, aFRR capacity and day-ahead as in the multi-market methodology (80 % of power in
reserves, FCR derated 20 % with 30 min held, 2 cycles a day, SoC 10-90 %; capacity offered at the forecast
average price, as a price-taker). The battery's revenue excludes
the PV's; the reduction is 1 - co-located / standalone. Results: ``sizing.csv``, ``sizing.md`` (the table the
co-location page shows, :func:`markdown_table`), ``sizing.png``, and an MLflow run in the experiment
``colocation-sizing``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from bessgym._io import atomic_path
from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import PV_FLOWS, PayAsProducedPPA, SiteSpec
from bessgym.market.config import MarketConfig

POWERS_MW = (5.0, 10.0)
DURATIONS_H = (1.0, 2.0, 3.0)
FORECASTS = ("perfect", "noisy")


def study_market_config(imbalance: bool = True, increments: bool = True) -> MarketConfig:
    """The study's markets; ``imbalance``: deviations settle at the table's reBAP (else at day-ahead plus the
    markup, for a table without ``imbalance_price``); ``increments``: day-ahead volumes on the exchange's 0.1 MW
    grid (else as planned, :attr:`MarketConfig.wholesale_increments`)."""
    products = {"fcr", "afrr_capacity", "day_ahead"} | ({"imbalance"} if imbalance else set())
    return MarketConfig(products=frozenset(products), fcr_hold_h=0.5, afrr_hold_h=1.0, ancillary_max_share=0.8,
                        fcr_max_share=0.8, wholesale_increments=increments)


@dataclass(frozen=True)
class Case:
    power_mw: float
    duration_h: float
    colocated: bool
    forecast: str
    other_eur_mwh: float = 0.0  # what a MWh of PV not fed in loses beyond the PPA price

    def site(self) -> SiteSpec:
        battery = BatterySpec(power_mw=self.power_mw, energy_mwh=self.power_mw * self.duration_h, eta_charge=0.95,
                              eta_discharge=0.95, soc_min=0.1, soc_max=0.9, max_cycles_per_day=2.0)
        if self.colocated:
            return SiteSpec(grid_limit_mw=10.0, pv_mwp=10.0, battery=battery, contract=PayAsProducedPPA(42.0),
                            curtailment_other_eur_mwh=self.other_eur_mwh)
        return SiteSpec(grid_limit_mw=self.power_mw, pv_mwp=0.0, battery=battery)


def study_policy(case: Case, mode: str):
    """The site's daily LP in ``mode`` as the study bids (the average capacity price), each day planned to end at
    the battery's initial SoC: a plan that ended where its day began would carry the env's rounding of its
    day-ahead volumes (0.1 MW; a discharge at the connection's edge rounds down) into the next day, and the SoC
    would creep (50 % to 89 % over 240 days of synthetic 2024 in PV priority, -5 % of a year's site value)."""
    from agents.colocation import SiteLPPolicy

    return SiteLPPolicy(mode, end_soc=case.site().battery.soc_initial, bid_marginal=False)


def run_case(case: Case, market: pd.DataFrame, days: int | None, mode: str = "joint",
             seed: int = 0) -> dict[str, float]:
    """One year (or ``days``) of the site LP agent in ``mode`` on one case: battery, PV and site revenue [EUR]."""
    from agents.lp.delegate import run_policy
    from bessgym.data.arrays import MarketArrays
    from bessgym.envs.colocated import CoLocatedPVBESSEnv

    arrays = MarketArrays.from_frame(market)
    n = min(days or len(arrays.dates), len(arrays.dates))
    env = CoLocatedPVBESSEnv(arrays, case.site(), study_market_config("imbalance_price" in market),
                             forecast=case.forecast, agent_stages=("capacity", "day_ahead", "delivery"), episode_days=n,
                             start_day=arrays.dates[0])
    table = run_policy(env, study_policy(case, mode), seed=seed)
    pv = float(table[list(PV_FLOWS)].sum().sum())
    total = float(table["total"].sum())
    return {"battery_eur": total - pv, "pv_eur": pv, "site_eur": total, "days": float(len(table))}


def mode_comparison(market: pd.DataFrame, out: Path, *, days: int = 7,
                    case: Case = Case(10.0, 2.0, True, "perfect"), increments: bool = True) -> pd.DataFrame:
    """The study's site operated in each mode over the first ``days`` of ``market``: per day and mode the site's
    value, the battery's side and what the battery's side paid the PV owner for curtailment [EUR];
    ``modes.csv`` in ``out``.

    ``increments=False`` executes each mode's day-ahead plan as planned instead of on the exchange's 0.1 MW grid:
    the LPs plan continuous positions, and the rounding moves each mode's day by a few EUR either way and its
    end SoC off the plan (carried into the next day), which is noise in a comparison of the modes themselves
    (docs/colocation.md)."""
    from agents.lp.delegate import run_policy
    from agents.lp.terms import SITE_MODES
    from bessgym.data.arrays import MarketArrays
    from bessgym.envs.colocated import CoLocatedPVBESSEnv

    arrays = MarketArrays.from_frame(market)
    frames = []
    for mode in SITE_MODES:
        env = CoLocatedPVBESSEnv(arrays, case.site(), study_market_config("imbalance_price" in market, increments),
                                 forecast=case.forecast, agent_stages=("capacity", "day_ahead", "delivery"),
                                 episode_days=min(days, len(arrays.dates)), start_day=arrays.dates[0])
        daily = run_policy(env, study_policy(case, mode), seed=0)
        frames.append(pd.DataFrame({"mode": mode, "site_eur": daily["total"],
                                    "battery_eur": daily["total"] - daily[list(PV_FLOWS)].sum(axis=1),
                                    "curtailment_paid_eur": -daily["curtailment_payment"]}))
    table = pd.concat(frames).reset_index().pivot(index="delivery_date", columns="mode")
    table.columns = [f"{value}_{mode}" for value, mode in table.columns]
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "modes.csv") as tmp:
        table.round(2).to_csv(tmp)
    return table


def _run(args: tuple[Case, pd.DataFrame, int | None, str]) -> tuple[Case, dict[str, float]]:
    case, market, days, mode = args
    return case, run_case(case, market, days, mode)


def sizing_study(market: pd.DataFrame, out: Path, *, powers: tuple[float, ...] = POWERS_MW,
                 durations: tuple[float, ...] = DURATIONS_H, forecasts: tuple[str, ...] = FORECASTS,
                 days: int | None = None, workers: int = 2, mode: str = "joint", other_eur_mwh: float = 0.0,
                 progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Every (power, duration, forecast), standalone and co-located (operated in ``mode``, a curtailed MWh
    losing ``other_eur_mwh`` beyond the PPA price); the table of revenue reductions."""
    cases = [Case(p, h, c, f, other_eur_mwh)
             for p, h, f, c in itertools.product(powers, durations, forecasts, (False, True))]
    results: dict[Case, dict[str, float]] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for i, (case, result) in enumerate(pool.map(_run, [(c, market, days, mode) for c in cases])):
            results[case] = result
            if progress is not None:
                progress(i + 1, len(cases))
    rows = []
    for p, h, f in itertools.product(powers, durations, forecasts):
        alone, colo = results[Case(p, h, False, f, other_eur_mwh)], results[Case(p, h, True, f, other_eur_mwh)]
        per_mw_year = 365.0 / alone["days"] / p
        rows.append({"power_mw": p, "duration_h": h, "forecast": f,
                     "standalone_eur_per_mw_year": alone["battery_eur"] * per_mw_year,
                     "colocated_eur_per_mw_year": colo["battery_eur"] * per_mw_year,
                     "reduction_pct": 100.0 * (1.0 - colo["battery_eur"] / alone["battery_eur"]),
                     "pv_eur_per_year": colo["pv_eur"] * 365.0 / colo["days"],
                     "site_eur_per_year": colo["site_eur"] * 365.0 / colo["days"]})
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "sizing.csv") as tmp:
        table.round(3).to_csv(tmp, index=False)
    with atomic_path(out / "sizing.md") as tmp:
        tmp.write_text(markdown_table(table, mode, other_eur_mwh))
    _chart(table, out / "sizing.png", mode, other_eur_mwh)
    _log(table, out, days, mode, other_eur_mwh)
    return table


def markdown_table(table: pd.DataFrame, mode: str = "joint", other_eur_mwh: float = 0.0) -> str:
    """The study's table as markdown: per battery its standalone revenue and the share lost co-located, with
    perfect foresight / forecast deviations (where both were run), and the site's value."""
    losses = f", other losses {other_eur_mwh:g} EUR/MWh" if other_eur_mwh else ""
    forecasts = [f for f in FORECASTS if f in set(table["forecast"])]
    lines = [f"| battery | standalone, kEUR/MW/year | revenue lost co-located ({mode}{losses}) "
             "| site value, MEUR/year |", "|---|---|---|---|"]
    for (p, h), rows in table.groupby(["power_mw", "duration_h"], sort=True):
        rows = rows.set_index("forecast").loc[forecasts]
        cells = [" / ".join(f"{v / 1e3:,.0f}" for v in rows["standalone_eur_per_mw_year"]),
                 " / ".join(f"{v:.1f} %" for v in rows["reduction_pct"]),
                 " / ".join(f"{v / 1e6:.3f}" for v in rows["site_eur_per_year"])]
        lines.append(f"| {p:g} MW / {h:g} h | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nValues: {' / '.join(forecasts)} (perfect foresight / forecast deviations).\n"


def _chart(table: pd.DataFrame, path: Path, mode: str, other_eur_mwh: float = 0.0) -> Path:
    from experiments.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(10, 4.5))
    labels = [f"{p:g} MW / {h:g} h" for p, h in table[["power_mw", "duration_h"]].drop_duplicates().to_numpy()]
    width = 0.38
    for k, forecast in enumerate(sorted(table["forecast"].unique(), reverse=True)):
        values = table[table["forecast"] == forecast]["reduction_pct"].to_numpy()
        ax.bar([i + (k - 0.5) * width for i in range(len(values))], values, width, label=forecast)
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_xlim(-0.8, len(labels) - 0.2)  # one size: bars of the same width as in a grid
    ax.axhline(3.5, color="grey", ls="--", lw=0.8, label="study: < 3.5 % (perfect foresight)")
    ax.axhline(4.0, color="grey", ls=":", lw=0.8, label="study: about 4 % (forecast deviations)")
    losses = f", other losses {other_eur_mwh:g} EUR/MWh" if other_eur_mwh else ""
    ax.set(ylabel="battery revenue reduction [%]",
           title=f"Co-location with 10 MWp PV at a 10 MW connection ({mode}{losses}):\nbattery revenue lost vs "
                 "standalone")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save_figure(fig, path)


def _log(table: pd.DataFrame, out: Path, days: int | None, mode: str, other_eur_mwh: float) -> None:
    import mlflow

    from experiments.tracking import quiet

    quiet()
    mlflow.set_experiment("colocation-sizing")
    with mlflow.start_run(run_name="sizing", tags={"kind": "colocation-sizing"}):
        mlflow.log_params({"days": days or "all", "pv_mwp": 10.0, "grid_limit_mw": 10.0, "ppa_eur_mwh": 42.0,
                           "mode": mode, "curtailment_other_eur_mwh": other_eur_mwh})
        for row in table.itertuples():
            key = f"{row.power_mw:g}mw_{row.duration_h:g}h_{row.forecast}".replace(".", "p")
            mlflow.log_metric(f"reduction_pct_{key}", row.reduction_pct)
        mlflow.log_artifact(str(out / "sizing.csv"))
        mlflow.log_artifact(str(out / "sizing.png"))
