"""What every command group shares: the console, error exit, option types, configuration loading, tables."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bessgym.errors import MarketDataError

# a terminal's own width; logs and pipes get $COLUMNS or 200, so tables are whole, not cut at 80
console = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 200)))


def fail(exc: Exception) -> typer.Exit:
    # whole, so it can be searched and copied; escaped, so "[soc_min, soc_max]" is text, not markup
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(code=2)


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from exc


ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment YAML; default: the main job's.")]


def config_from(path: Path | None, overrides: list[str] | None = None):
    """Load and validate the configuration; ``key=value`` overrides are YAML values (``train.seed=3``)."""
    import yaml

    from experiments.config import ConfigError, load_config

    try:
        config = load_config(path)
        pairs = {}
        for item in overrides or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set {item!r}: expected key=value, e.g. battery.energy_mwh=4")
            pairs[key.strip()] = yaml.safe_load(value)
        return config.with_overrides(pairs) if pairs else config
    except ConfigError as exc:
        raise fail(exc) from exc


SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a field: key=value (repeatable).")]


AcceptUnusualOption = Annotated[bool, typer.Option(
    "--accept-unusual", help="Use a table whose monthly mean prices lie outside the German markets' history "
                             "(a unit or scale error, as a rule); they are then printed as warnings.")]


def check_usual(table, source: str, accept: bool) -> None:
    """Refuse a table with months outside the market's history (:mod:`bessgym.data.plausibility`), naming them,
    unless ``accept``: then print them as warnings."""
    from bessgym.data.plausibility import unusual_months

    found = unusual_months(table)
    if found and accept:
        for line in found:
            console.print(f"[yellow]warning:[/] {escape(source)}: {escape(line)}", soft_wrap=True)
    elif found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise MarketDataError("; ".join(found[:3]) + more + "; pass --accept-unusual to use it anyway",
                              source=source)


def market_table(data: Path | None, accept_unusual: bool = False):
    """The contract table at ``data`` (its months within the market's history unless ``accept_unusual``), or the
    built-in synthetic 2024 market; and its name for titles."""
    from bessgym.data import read_table, synthetic

    if data is None:
        return synthetic.default_year(), "synthetic 2024"
    table = read_table(data)
    check_usual(table, str(data), accept_unusual)
    return table, str(data)


def days_of(table, start: dt.date | None, days: int | None):
    """The delivery days (Berlin) of ``table`` from ``start`` (default its first), ``days`` of them (default
    all); a period the table does not cover is a ValueError naming the table's days."""
    import numpy as np

    from bessgym.data.calendar import delivery_dates

    if start is None and days is None:
        return table
    dates = delivery_dates(table.index)
    first = np.datetime64(start, "D") if start is not None else dates[0]
    chosen = (dates >= first) & (dates < first + np.timedelta64(days, "D") if days is not None else dates >= first)
    if not chosen.any():
        raise ValueError(f"--start {start}: the table covers the delivery days {dates[0]} to {dates[-1]}")
    return table[chosen]


def frame_table(frame, title: str) -> Table:
    """A DataFrame as a rich table, formatted per column (:mod:`experiments.tables`)."""
    from experiments.tables import rich_table

    return rich_table(frame, title)
