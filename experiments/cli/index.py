"""``bessgym index``: the BESS revenue index on a market table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from bessgym.errors import MarketDataError
from experiments.cli._common import console, fail, frame_table, market_table


def index_cmd(
    out: Annotated[Path, typer.Option(help="Output directory for daily.csv, rolling.csv and charts.")],
    data: Annotated[Path | None, typer.Option(help="Contract table (.parquet/.csv); default: synthetic 2024.")] = None,
    energy_mwh: Annotated[float, typer.Option(help="Usable energy of the battery [MWh].")] = 2.0,
    power_mw: Annotated[float, typer.Option(help="Power of the battery [MW]; results are per MW.")] = 1.0,
    round_trip: Annotated[float, typer.Option(help="AC/AC round-trip efficiency [-].")] = 0.90,
    cycles: Annotated[float, typer.Option(help="Full cycles per day [-].")] = 2.0,
) -> None:
    """The BESS revenue index: daily revenue per MW of each strategy, rolling averages and charts."""
    from agents.index import IndexBattery

    for flag, value, ok in (("--power-mw", power_mw, power_mw > 0), ("--energy-mwh", energy_mwh, energy_mwh > 0),
                            ("--cycles", cycles, cycles > 0), ("--round-trip", round_trip, 0 < round_trip <= 1)):
        if not (ok and math.isfinite(value)):  # NaN passes no comparison, but say so
            rule = "in (0, 1]" if flag == "--round-trip" else "> 0"
            raise fail(ValueError(f"{flag} must be a finite number {rule}, got {value}"))
    try:
        market, title = market_table(data)
        battery = IndexBattery(duration_h=energy_mwh / power_mw, round_trip=round_trip, cycles_per_day=cycles)
        print_index(market, out, title=title, battery=battery)
    except MarketDataError as exc:
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
