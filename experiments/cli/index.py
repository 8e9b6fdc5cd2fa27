"""``bessgym index`` and ``bessgym multimarket``: the BESS revenue index and the multi-market methodology on a
market table."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated

import typer

from bessgym.errors import MarketDataError
from experiments.cli._common import (
    AcceptUnusualOption,
    console,
    days_of,
    fail,
    frame_table,
    iso_date,
    market_table,
)


def index_cmd(
    out: Annotated[Path, typer.Option(help="Output directory for daily.csv, rolling.csv and charts.")],
    data: Annotated[Path | None, typer.Option(help="Contract table (.parquet/.csv); default: synthetic 2024.")] = None,
    energy_mwh: Annotated[float, typer.Option(help="Usable energy of the battery [MWh].")] = 2.0,
    power_mw: Annotated[float, typer.Option(help="Power of the battery [MW]; results are per MW.")] = 1.0,
    round_trip: Annotated[float, typer.Option(help="AC/AC round-trip efficiency [-].")] = 0.90,
    cycles: Annotated[float, typer.Option(help="Full cycles per day [-].")] = 2.0,
    start: Annotated[dt.date | None, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD; default the "
                                                      "table's first.", parser=iso_date, metavar="DATE")] = None,
    days: Annotated[int | None, typer.Option(help="Delivery days (default: all).", min=1)] = None,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """The BESS revenue index: daily revenue per MW of each strategy, rolling averages and charts."""
    from agents.index import IndexBattery

    for flag, value, ok in (("--power-mw", power_mw, power_mw > 0), ("--energy-mwh", energy_mwh, energy_mwh > 0),
                            ("--cycles", cycles, cycles > 0), ("--round-trip", round_trip, 0 < round_trip <= 1)):
        if not (ok and math.isfinite(value)):  # NaN passes no comparison, but say so
            rule = "in (0, 1]" if flag == "--round-trip" else "> 0"
            raise fail(ValueError(f"{flag} must be a finite number {rule}, got {value}"))
    try:
        market, title = market_table(data, accept_unusual)
        market = days_of(market, start, days)
        battery = IndexBattery(duration_h=energy_mwh / power_mw, round_trip=round_trip, cycles_per_day=cycles)
        print_index(market, out, title=title, battery=battery)
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc


def print_index(market, out: Path, *, title: str, battery=None):
    """Run the revenue index strategies on ``market`` with a progress bar, write and print the results."""
    import pandas as pd

    from agents.index import IndexBattery, index_revenues
    from bessgym.data.calendar import complete_days
    from experiments.index_report import write_index
    from experiments.progress import progress

    battery = battery or IndexBattery()
    with progress(console, "revenue index", len(complete_days(market.index)), "days") as bar:
        result = index_revenues(market, battery, source=title, progress=lambda done, total: bar.update(done))
    paths = write_index(result, out)
    first, last = result.daily.index[0], result.daily.index[-1]
    frame = pd.DataFrame({"EUR/MW/year": result.annualised()})
    rolling = result.rolling()
    for window in ("365d", "30d"):
        frame[f"last {window[:-1]} d EUR/MW/year"] = [rolling[f"{name}_{window}"].iloc[-1] for name in frame.index]
    frame["note"] = [result.notes.get(name, "") for name in frame.index]
    skipped = pd.DataFrame({"note": [f"skipped: {reason}" for reason in result.skipped.values()]},
                           index=list(result.skipped))
    frame = pd.concat([frame, skipped])
    frame.index.name = "strategy"
    table = frame_table(frame, f"Revenue index, {battery.duration_h:g} h battery, {title}: annualised EUR/MW/year "
                               f"({first} .. {last}, {len(result.daily)} days; '-': window longer than the period)")
    console.print(table)
    console.print("written: " + ", ".join(str(p) for p in paths.values()))
    return result


def multimarket_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (multimarket.csv, daily_<E>mwh.csv).")]
    = Path("runs/multimarket"),
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic 2024 (seed 0).")] = None,
    energy_mwh: Annotated[list[float] | None, typer.Option(
        help="Energy of the 10 MW battery [MWh] (repeatable); default 10, 20 and 40.")] = None,
    forecast: Annotated[str, typer.Option(help="perfect or noisy (10 % price noise) hindsight.")] = "perfect",
    start: Annotated[str | None, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD; default the "
                                                   "table's first.")] = None,
    days: Annotated[int | None, typer.Option(help="Delivery days (default: all).", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noisy forecasts.")] = 0,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """The multi-market methodology (FCR and aFRR capacity first, then day-ahead around the awards, then
    energy-only aFRR bids of the free power): revenue by product, annualised, per battery size."""
    from agents.multimarket import ENERGY_OPTIONS_MWH
    from experiments.methodology import methodology_table
    from experiments.progress import progress

    energies = tuple(energy_mwh or ENERGY_OPTIONS_MWH)
    if forecast not in ("perfect", "noisy"):
        raise fail(ValueError(f"--forecast must be perfect or noisy, got {forecast!r}"))
    bad = [e for e in energies if not (math.isfinite(e) and e > 0)]
    if bad:
        raise fail(ValueError(f"--energy-mwh must be a finite number > 0, got {bad[0]}"))
    try:
        market, title = market_table(data, accept_unusual)
        with progress(console, "battery sizes", len(energies), "sizes") as bar:
            table = methodology_table(market, out, energies_mwh=energies, forecast=forecast, days=days,
                                      start_day=start, seed=seed, progress=lambda done, total: bar.update(done))
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc
    console.print(frame_table(table, f"Multi-market methodology, 10 MW, {forecast} hindsight, {title}: "
                                     "EUR/MW/year by product"))
    console.print(f"written: {out / 'multimarket.csv'} and the daily tables beside it")
