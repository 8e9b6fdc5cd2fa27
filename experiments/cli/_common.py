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


def market_table(data: Path | None):
    """The contract table at ``data``, or the built-in synthetic 2024 market; and its name for titles."""
    from bessgym.data import read_table, synthetic

    return (read_table(data), str(data)) if data is not None else (synthetic.default_year(), "synthetic 2024")


def frame_table(frame, title: str) -> Table:
    """A DataFrame as a rich table, formatted per column (:mod:`experiments.tables`)."""
    from experiments.tables import rich_table

    return rich_table(frame, title)
