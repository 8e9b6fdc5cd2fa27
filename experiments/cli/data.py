"""``bessgym data``: synthesise, fetch, import, validate and calibrate market tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bessgym.errors import MarketDataError
from experiments.cli._common import AcceptUnusualOption, check_usual, console, escape, fail, iso_date

app = typer.Typer(help="Market data: synthesise, fetch, import, validate, calibrate.", no_args_is_help=True)


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    start: Annotated[str, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD.")] = "2024-01-01",
    end: Annotated[str, typer.Option(help="Day after the last delivery day, YYYY-MM-DD.")] = "2025-01-01",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same table.")] = 0,
) -> None:
    """Generate a synthetic market table (every contract column) and write it atomically."""
    from bessgym.data import synthetic, write_table

    try:
        df = synthetic.generate(iso_date(start), iso_date(end), seed=seed)
        write_table(df, out)
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc
    console.print(f"wrote {len(df):,} quarter-hours x {df.shape[1]} columns to [bold]{out}[/]")


@app.command("validate")
def validate_cmd(path: Annotated[Path, typer.Argument(help="Contract table (.parquet or .csv).")],
                 accept_unusual: AcceptUnusualOption = False) -> None:
    """Check a contract table (each value, and each month's mean against the market's history) and print its
    columns with units and ranges."""
    from bessgym.data import COLUMNS, read_table

    try:
        df = read_table(path)
        check_usual(df, str(path), accept_unusual)
    except MarketDataError as exc:
        raise fail(exc) from exc
    table = Table(title=f"{path}: {df.index[0]} .. {df.index[-1]} ({len(df):,} quarter-hours)")
    for col in ("column", "unit", "mean", "min", "max", "missing"):
        table.add_column(col, justify="left" if col in ("column", "unit") else "right")
    for name in df.columns:
        s = df[name]
        unit = COLUMNS[name].unit if name in COLUMNS else "?"
        table.add_row(name, unit, f"{s.mean():.2f}", f"{s.min():.2f}", f"{s.max():.2f}", f"{s.isna().sum():,}")
    console.print(table)
    provenance = df.attrs.get("provenance")
    if provenance:
        console.print(provenance_table(provenance))


def provenance_table(provenance: dict[str, dict]) -> Table:
    """Where each column of a fetched table came from."""
    table = Table(title="provenance")
    for col in ("column", "source", "licence", "retrieved (UTC)", "requests", "first request"):
        table.add_column(col, overflow="fold")
    for name, p in provenance.items():
        retrieved = p["first_retrieved_utc"] if p["first_retrieved_utc"] == p["last_retrieved_utc"] else \
            f"{p['first_retrieved_utc']} .. {p['last_retrieved_utc']}"
        table.add_row(name, f"{p['source']} ({p['attribution']})", p["licence"], retrieved, f"{p['requests']:,}",
                      escape(p["request"]))
    return table


@app.command("fetch")
def fetch_cmd(
    out: Annotated[Path, typer.Option(help="Output contract table (.parquet keeps the provenance inside; .csv "
                                           "writes it beside, as FILE.provenance.json).")],
    start: Annotated[str, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Day after the last delivery day, YYYY-MM-DD.")],
    sources: Annotated[str, typer.Option(help="Comma-separated, in order of preference: smard, energy_charts, "
                                              "regelleistung, netztransparenz (needs NETZTRANSPARENZ_CLIENT_ID/"
                                              "_SECRET), entsoe (needs ENTSOE_API_KEY).")] = "smard,regelleistung",
    columns: Annotated[str | None, typer.Option(help="Comma-separated contract columns; default: all the sources "
                                                     "offer but the aFRR energy prices (name them to fetch "
                                                     "them).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Response cache; default: the user cache folder.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Send no request: build from the cache only.")] = False,
    pv_capacity_mwp: Annotated[float | None, typer.Option(help="Installed PV for the national PV series [MWp]; "
                                                               "default: the year-end figures.")] = None,
) -> None:
    """Fetch real market data from the public sources into one validated contract table.

    Every response is cached (a second run sends no request, an interrupted run resumes); the table is
    written only when every day of every column arrived.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bessgym.data import write_table
    from bessgym.data.fetch import default_cache_dir, fetch_table

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, transient=False)
    try:
        with progress:
            fetched = fetch_table(iso_date(start), iso_date(end), sources=_names(sources),
                                  columns=_names(columns) if columns else None, cache_dir=cache_dir, offline=offline,
                                  pv_capacity_mwp=pv_capacity_mwp, progress=progress)
        write_table(fetched.table, out)
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc
    for line in fetched.fallbacks:
        console.print(f"[yellow]fallback[/] {escape(line)}")
    console.print(provenance_table(fetched.table.attrs["provenance"]))
    console.print(f"{fetched.sent:,} request(s) sent, {fetched.cache_hits:,} answered from the cache "
                  f"({escape(str(cache_dir or default_cache_dir()))})")
    console.print(f"wrote {len(fetched.table):,} quarter-hours, columns {list(fetched.table.columns)} to "
                  f"[bold]{escape(str(out))}[/]")


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@app.command("import")
def import_cmd(
    out: Annotated[Path, typer.Option(help="Output contract table (.parquet or .csv).")],
    smard: Annotated[list[Path] | None, typer.Option(help="SMARD CSV export (prices or PV forecast).")] = None,
    regelleistung: Annotated[list[Path] | None, typer.Option(help="regelleistung.net FCR/aFRR results.")] = None,
    energy_charts: Annotated[list[Path] | None, typer.Option(help="energy-charts CSV or JSON.")] = None,
    opsd: Annotated[list[Path] | None, typer.Option(help="OPSD time_series_60min CSV.")] = None,
    netztransparenz: Annotated[list[Path] | None, typer.Option(help="netztransparenz reBAP/aFRR CSV.")] = None,
    pv_capacity_mwp: Annotated[float | None, typer.Option(help="Installed PV for national PV series [MWp].")] = None,
    fill_gaps: Annotated[bool, typer.Option("--fill-gaps", help="Interpolate gaps up to 2 h and report them.")] = False,
    series: Annotated[list[str] | None, typer.Option(help="COLUMN=FILE: a 'time,price' file as a contract "
                                                           "column, e.g. da_price=prices_DA.csv.")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit of the --series files: EUR/MWh or EUR/kWh.")] = None,
    start: Annotated[str | None, typer.Option(help="First delivery day to keep (Berlin), YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Day after the last delivery day to keep, YYYY-MM-DD.")] = None,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """Convert public data files into one contract table: the span all inputs cover (within --start/--end),
    reported with each input's own span; a month whose mean lies outside the market's history is refused
    (``--accept-unusual``: written, with a warning)."""
    from bessgym.data import write_table
    from bessgym.data.importer import import_files

    files = {"smard": smard or [], "regelleistung": regelleistung or [], "energy_charts": energy_charts or [],
             "opsd": opsd or [], "netztransparenz": netztransparenz or []}
    pairs = [item.partition("=")[::2] for item in series or []]
    if any(not column or not path for column, path in pairs):
        raise fail(ValueError(f"--series takes COLUMN=FILE, got {series}"))
    try:
        imported = import_files(files, pv_capacity_mwp=pv_capacity_mwp, fill=fill_gaps,
                                start=start and iso_date(start), end=end and iso_date(end),
                                series=[(column, Path(path)) for column, path in pairs], unit=unit)
        check_usual(imported.table, ", ".join(imported.spans), accept_unusual)
        write_table(imported.table, out)
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc
    for source, (first, last) in imported.spans.items():
        console.print(f"input {source}: {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC", markup=False)
    first, last = imported.span
    days = (last - first).total_seconds() / 86400
    console.print(f"kept {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC ({days:,.1f} days): the span every "
                  "input covers" + (" within --start/--end" if start or end else ""), markup=False)
    if fill_gaps:
        console.print(f"filled {imported.filled:,} missing point(s) by interpolation")
    console.print(f"wrote {len(imported.table):,} quarter-hours, columns {list(imported.table.columns)} to "
                  f"[bold]{escape(str(out))}[/]")


@app.command("calibrate")
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
        raise fail(exc) from exc
    real_stats = calibration.market_statistics(real_df) if real_df is not None else calibration.TARGETS_2024
    comparison = calibration.compare(calibration.market_statistics(syn), real_stats)
    console.print(comparison_table(comparison, real_label=str(real) if real else "published 2024"))
    mismatch = calibration.span_mismatch(syn, real_df) if real_df is not None else None
    if mismatch:
        console.print(f"[yellow]warning:[/] {escape(mismatch)}", soft_wrap=True)
    calibration.plot_comparison(syn, real_df, comparison, png)
    console.print(f"chart: [bold]{png}[/]")
    failures = comparison.failures()
    if failures:
        console.print(f"[yellow]outside tolerance:[/] {', '.join(failures)}")
    else:
        console.print("[green]all checked statistics within tolerance[/]")
    if strict and failures:
        raise typer.Exit(code=1)


def comparison_table(comparison, *, real_label: str) -> Table:
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
