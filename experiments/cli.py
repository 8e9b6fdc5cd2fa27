"""The ``bessgym`` command line (typer + rich)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bessgym._io import atomic_path
from bessgym.data.contract import MarketDataError

app = typer.Typer(help="bessgym: a market-simulation gym for battery storage in the German power markets.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Market data: synthesise, import, validate, calibrate.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=2)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from exc


@data_app.command("synth")
def synth(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    start: Annotated[str, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD.")] = "2024-01-01",
    end: Annotated[str, typer.Option(help="Day after the last delivery day, YYYY-MM-DD.")] = "2025-01-01",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same table.")] = 0,
) -> None:
    """Generate a synthetic market table (every contract column) and write it atomically."""
    from bessgym.data import synthetic, write_table

    try:
        df = synthetic.generate(_date(start), _date(end), seed=seed)
        write_table(df, out)
    except (MarketDataError, ValueError) as exc:
        raise _fail(exc) from exc
    console.print(f"wrote {len(df):,} quarter-hours x {df.shape[1]} columns to [bold]{out}[/]")


@data_app.command("validate")
def validate_cmd(path: Annotated[Path, typer.Argument(help="Contract table (.parquet or .csv).")]) -> None:
    """Check a contract table and print its columns with units and ranges."""
    from bessgym.data import COLUMNS, read_table

    try:
        df = read_table(path)
    except MarketDataError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"{path}: {df.index[0]} .. {df.index[-1]} ({len(df):,} quarter-hours)")
    for col in ("column", "unit", "mean", "min", "max", "missing"):
        table.add_column(col, justify="left" if col in ("column", "unit") else "right")
    for name in df.columns:
        s = df[name]
        unit = COLUMNS[name].unit if name in COLUMNS else "?"
        table.add_row(name, unit, f"{s.mean():.2f}", f"{s.min():.2f}", f"{s.max():.2f}", f"{s.isna().sum():,}")
    console.print(table)


@data_app.command("import")
def import_cmd(
    out: Annotated[Path, typer.Option(help="Output contract table (.parquet or .csv).")],
    smard: Annotated[list[Path] | None, typer.Option(help="SMARD CSV export (prices or PV forecast).")] = None,
    regelleistung: Annotated[list[Path] | None, typer.Option(help="regelleistung.net FCR/aFRR results.")] = None,
    energy_charts: Annotated[list[Path] | None, typer.Option(help="energy-charts CSV or JSON.")] = None,
    opsd: Annotated[list[Path] | None, typer.Option(help="OPSD time_series_60min CSV.")] = None,
    netztransparenz: Annotated[list[Path] | None, typer.Option(help="netztransparenz reBAP/aFRR CSV.")] = None,
    pv_capacity_mwp: Annotated[float | None, typer.Option(help="Installed PV for national PV series [MWp].")] = None,
    fill_gaps: Annotated[bool, typer.Option("--fill-gaps", help="Interpolate gaps up to 2 h and report them.")] = False,
) -> None:
    """Convert public data files into one contract table (their common time span)."""
    from bessgym.data import loaders, write_table

    frames = []
    try:
        for path in smard or []:
            frames.append(loaders.read_smard(path, pv_capacity_mwp=pv_capacity_mwp))
        for path in regelleistung or []:
            frames.append(loaders.read_regelleistung(path))
        for path in energy_charts or []:
            frames.append(loaders.read_energy_charts(path, pv_capacity_mwp=pv_capacity_mwp))
        for path in opsd or []:
            frames.append(loaders.read_opsd(path, pv_capacity_mwp=pv_capacity_mwp))
        for path in netztransparenz or []:
            frames.append(loaders.read_netztransparenz(path))
        if not frames:
            raise MarketDataError("give at least one input file", source="bessgym data import")
        df, filled = loaders.combine(_merge_same_columns(frames), fill=fill_gaps, source=str(out))
        write_table(df, out)
    except MarketDataError as exc:
        raise _fail(exc) from exc
    if fill_gaps:
        console.print(f"filled {filled:,} missing point(s) by interpolation")
    console.print(f"wrote {len(df):,} quarter-hours, columns {list(df.columns)} to [bold]{out}[/]")


def _merge_same_columns(frames: list) -> list:
    """Files of one kind (e.g. two regelleistung periods) are concatenated before the outer join."""
    import pandas as pd

    by_cols: dict[tuple[str, ...], list] = {}
    for f in frames:
        by_cols.setdefault(tuple(f.columns), []).append(f)
    merged = []
    for group in by_cols.values():
        df = pd.concat(group).sort_index()
        if df.index.has_duplicates:
            dup = df.index[df.index.duplicated()][0]
            raise MarketDataError("two input files cover the same timestamp", source="bessgym data import",
                                  column=str(df.columns[0]), timestamp=dup)
        merged.append(df)
    return merged


@data_app.command("calibrate")
def calibrate(
    synthetic: Annotated[Path, typer.Option(help="Synthetic contract table to check.")],
    real: Annotated[Path | None, typer.Option(help="Real contract table; default: published 2024 figures.")] = None,
    png: Annotated[Path, typer.Option(help="Where to write the comparison chart.")] = Path("calibration.png"),
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when a statistic is out of tolerance.")] = False,
) -> None:
    """Compare a synthetic year with a real one, statistic by statistic, and plot it."""
    from bessgym.data import calibration, read_table

    try:
        syn = read_table(synthetic)
        real_df = read_table(real) if real is not None else None
    except MarketDataError as exc:
        raise _fail(exc) from exc
    real_stats = calibration.market_statistics(real_df) if real_df is not None else calibration.TARGETS_2024
    comparison = calibration.compare(calibration.market_statistics(syn), real_stats)
    console.print(_comparison_table(comparison, real_label=str(real) if real else "published 2024"))
    calibration.plot_comparison(syn, real_df, comparison, png)
    console.print(f"chart: [bold]{png}[/]")
    failures = comparison.failures()
    if failures:
        console.print(f"[yellow]outside tolerance:[/] {', '.join(failures)}")
    else:
        console.print("[green]all checked statistics within tolerance[/]")
    if strict and failures:
        raise typer.Exit(code=1)


def _comparison_table(comparison, *, real_label: str) -> Table:
    """The comparison; the 24 hour and 12 month means are shown as their worst row (all are in the CSV)."""
    table = Table(title=f"synthetic vs {real_label}")
    for col in ("statistic", "synthetic", "real", "error", "tolerance", ""):
        table.add_column(col, justify="left" if col == "statistic" else "right")
    t = comparison.table
    rows = [(name, row) for name, row in t.iterrows() if not name.startswith(("da_hour_", "da_month_"))]
    for prefix, label in (("da_hour_", "hour"), ("da_month_", "month")):
        group = t[t.index.str.startswith(prefix)]
        if len(group):
            worst = group["rel_error"].idxmax()
            rows.append((f"{worst} (worst {label})", group.loc[worst]))
    for name, row in rows:
        tol = row["tolerance"]
        ok = "" if tol is None or tol != tol else ("[green]ok[/]" if row["within"] else "[red]out[/]")
        table.add_row(name, f"{row['synthetic']:.2f}", f"{row['real']:.2f}", f"{100 * row['rel_error']:.1f} %",
                      "" if ok == "" else f"{100 * tol:.0f} %", ok)
    return table


@app.command("index")
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
    from bessgym.data import read_table, synthetic

    if power_mw <= 0 or energy_mwh <= 0 or not 0 < round_trip <= 1 or cycles <= 0:
        raise _fail(ValueError("--power-mw, --energy-mwh and --cycles must be > 0, --round-trip in (0, 1]"))
    try:
        market = read_table(data) if data is not None else synthetic.generate("2024-01-01", "2025-01-01", seed=0)
    except MarketDataError as exc:
        raise _fail(exc) from exc
    battery = IndexBattery(duration_h=energy_mwh / power_mw, round_trip=round_trip, cycles_per_day=cycles)
    _print_index(market, out, title=str(data) if data is not None else "synthetic 2024", battery=battery)


@app.command("run")
def run(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("runs/main"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 0,
    year: Annotated[int, typer.Option(help="Calendar year to synthesise (2024 = calibration year).")] = 2024,
) -> None:
    """The main job: synthesise a market year, summarise it, check its calibration, compute the index baselines."""
    from bessgym.data import COLUMNS, calibration, synthetic, write_table

    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"generating synthetic {year} (seed {seed})"):
        df = synthetic.generate(dt.date(year, 1, 1), dt.date(year + 1, 1, 1), seed=seed)
    path = write_table(df, out / f"synthetic_{year}_seed{seed}.parquet")
    console.print(f"market table: [bold]{path}[/] ({len(df):,} quarter-hours)")
    summary = Table(title=f"synthetic {year}, seed {seed}: column summary")
    for col in ("column", "unit", "mean", "std", "p5", "p95", "min", "max"):
        summary.add_column(col, justify="left" if col in ("column", "unit") else "right")
    for name in df.columns:
        s = df[name].dropna()
        summary.add_row(name, COLUMNS[name].unit, *(f"{v:.2f}" for v in (
            s.mean(), s.std(), s.quantile(0.05), s.quantile(0.95), s.min(), s.max())))
    console.print(summary)
    comparison = calibration.compare(calibration.market_statistics(df), calibration.TARGETS_2024)
    console.print(_comparison_table(comparison, real_label="published 2024"))
    png = calibration.plot_comparison(df, None, comparison, out / "calibration.png")
    with atomic_path(out / "calibration.csv") as tmp:
        comparison.table.to_csv(tmp)
    failures = comparison.failures()
    verdict = "[green]all within tolerance[/]" if not failures else f"[yellow]outside:[/] {failures}"
    console.print(f"calibration vs published 2024: {verdict}\nchart: [bold]{png}[/]")
    _print_index(df, out / "index", title=f"synthetic {year}, seed {seed}")


def _print_index(market, out: Path, *, title: str, battery=None) -> None:
    """Run the revenue index strategies on ``market`` with a progress bar, write and print the results."""
    from rich.progress import Progress

    from agents.index import IndexBattery, index_revenues
    from experiments.index_report import write_index

    battery = battery or IndexBattery()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("revenue index, day by day", total=None)
        result = index_revenues(market, battery,
                                progress=lambda done, total: progress.update(task, completed=done, total=total))
    paths = write_index(result, out)
    table = Table(title=f"Revenue index, {battery.duration_h:g} h battery, {title}: annualised EUR/MW/year "
                        f"({result.daily.index[0]} .. {result.daily.index[-1]}, {len(result.daily)} days)")
    for col in ("strategy", "EUR/MW/year", "last 365 d", "last 30 d"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    rolling = result.rolling()
    for name, value in result.annualised().items():
        last365, last30 = rolling[f"{name}_365d"].iloc[-1], rolling[f"{name}_30d"].iloc[-1]
        table.add_row(name, f"{value:,.0f}", "-" if last365 != last365 else f"{last365:,.0f}",
                      "-" if last30 != last30 else f"{last30:,.0f}")
    for name, reason in result.skipped.items():
        table.add_row(f"[yellow]{name}[/]", "skipped", reason, "")
    console.print(table)
    console.print("written: " + ", ".join(str(p) for p in paths.values()))


if __name__ == "__main__":
    app()
