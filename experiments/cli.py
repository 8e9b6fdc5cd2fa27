"""The ``bessgym`` command line (typer + rich)."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bessgym._io import atomic_path
from bessgym.data.contract import MarketDataError

app = typer.Typer(help="bessgym: a market-simulation gym for battery storage in the German power markets.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Market data: synthesise, import, validate, calibrate.", no_args_is_help=True)
app.add_typer(data_app, name="data")
colocation_app = typer.Typer(help="Co-located PV + battery studies.", no_args_is_help=True)
app.add_typer(colocation_app, name="colocation")
portfolio_app = typer.Typer(help="Multi-asset portfolio studies.", no_args_is_help=True)
app.add_typer(portfolio_app, name="portfolio")
control_app = typer.Typer(help="Hardware control: a simulated battery served over Modbus TCP.", no_args_is_help=True)
app.add_typer(control_app, name="control")
console = Console(width=None if sys.stdout.isatty() else 120)  # logs and pipes get whole tables


def _fail(exc: Exception) -> typer.Exit:
    # whole, so it can be searched and copied; escaped, so "[soc_min, soc_max]" is text, not markup
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
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
            frames.append((str(path), loaders.read_smard(path, pv_capacity_mwp=pv_capacity_mwp)))
        for path in regelleistung or []:
            frames.append((str(path), loaders.read_regelleistung(path)))
        for path in energy_charts or []:
            frames.append((str(path), loaders.read_energy_charts(path, pv_capacity_mwp=pv_capacity_mwp)))
        for path in opsd or []:
            frames.append((str(path), loaders.read_opsd(path, pv_capacity_mwp=pv_capacity_mwp)))
        for path in netztransparenz or []:
            frames.append((str(path), loaders.read_netztransparenz(path)))
        if not frames:
            raise MarketDataError("give at least one input file", source="bessgym data import")
        sources, merged = zip(*_merge_same_columns(frames), strict=True)
        df, filled = loaders.combine(list(merged), fill=fill_gaps, sources=list(sources))
        write_table(df, out)
    except MarketDataError as exc:
        raise _fail(exc) from exc
    if fill_gaps:
        console.print(f"filled {filled:,} missing point(s) by interpolation")
    console.print(f"wrote {len(df):,} quarter-hours, columns {list(df.columns)} to [bold]{out}[/]")


def _merge_same_columns(frames: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Files of one kind (e.g. two regelleistung periods) are concatenated before the outer join; each result
    is named by its files."""
    import pandas as pd

    by_cols: dict[tuple[str, ...], list] = {}
    for source, f in frames:
        by_cols.setdefault(tuple(f.columns), []).append((source, f))
    merged = []
    for group in by_cols.values():
        source = " + ".join(name for name, _ in group)
        df = pd.concat([f for _, f in group]).sort_index()
        if df.index.has_duplicates:
            dup = df.index[df.index.duplicated()][0]
            raise MarketDataError("two input files cover the same timestamp", source=source,
                                  column=str(df.columns[0]), timestamp=dup)
        merged.append((source, df))
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

    for flag, value, ok in (("--power-mw", power_mw, power_mw > 0), ("--energy-mwh", energy_mwh, energy_mwh > 0),
                            ("--cycles", cycles, cycles > 0), ("--round-trip", round_trip, 0 < round_trip <= 1)):
        if not (ok and math.isfinite(value)):  # NaN passes no comparison, but say so
            rule = "in (0, 1]" if flag == "--round-trip" else "> 0"
            raise _fail(ValueError(f"{flag} must be a finite number {rule}, got {value}"))
    title = str(data) if data is not None else "synthetic 2024"
    try:
        market = read_table(data) if data is not None else synthetic.generate("2024-01-01", "2025-01-01", seed=0)
        battery = IndexBattery(duration_h=energy_mwh / power_mw, round_trip=round_trip, cycles_per_day=cycles)
        _print_index(market, out, title=title, battery=battery)
    except MarketDataError as exc:
        raise _fail(exc) from exc


ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment YAML; default: the main job's.")]


def _config(path: Path | None, overrides: list[str] | None = None):
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
        raise _fail(exc) from exc


SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a field: key=value (repeatable).")]


@app.command("train")
def train_cmd(
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<name>/train.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    overrides: SetOption = None,
) -> None:
    """Train an RL agent (PPO or SAC) on the training market, with evaluation against the index."""
    cfg = _config(config, overrides)
    out = out or Path("runs") / cfg.name / "train"
    model_dir = _train(cfg, out, resume=resume)
    console.print(f"model: [bold]{model_dir}[/] (ONNX: {model_dir / 'policy.onnx'})")


def _train(cfg, out: Path, *, resume: bool) -> Path:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from experiments.config import ConfigError
    from experiments.train import train

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"training {cfg.train.algorithm.upper()}", total=cfg.train.total_steps)

        def report(steps: int, metrics: dict[str, float]) -> None:
            console.print(f"  step {steps:,}: {metrics['annualised_eur_per_mw_year']:,.0f} EUR/MW/year on the "
                          f"evaluation days, {metrics.get('share_of_pf_lp', float('nan')):.1%} of the PF LP")

        try:
            result = train(cfg, out, resume=resume, progress=lambda n: progress.update(task, completed=n),
                           report=report)
        except KeyboardInterrupt as exc:
            console.print(f"[yellow]interrupted[/]: checkpoint saved; continue with --resume --out {escape(str(out))}")
            raise typer.Exit(code=getattr(exc, "exit_code", 130)) from None
        except (ConfigError, FileNotFoundError, MarketDataError, ValueError) as exc:
            raise _fail(exc) from exc
        progress.update(task, completed=result.steps)
    return result.model_dir


@app.command("evaluate")
def evaluate_cmd(
    config: ConfigOption = None,
    model: Annotated[Path | None, typer.Option(help="Trained agent folder (bessgym train's model/).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder; default runs/<name>/evaluate.")] = None,
    overrides: SetOption = None,
) -> None:
    """Evaluate every configured strategy on the held-out market; log to MLflow and print the comparison."""
    cfg = _config(config, overrides)
    if model is None and "trained" in cfg.evaluate.strategies:
        cfg = cfg.with_overrides({"evaluate.strategies": [s for s in cfg.evaluate.strategies if s != "trained"]})
        console.print("[yellow]no --model: the trained agent is left out[/]")
    _evaluate(cfg, out or Path("runs") / cfg.name / "evaluate", model)


def _evaluate(cfg, out: Path, model: Path | None, index=None) -> None:
    from experiments.report import evaluate_run

    try:
        with console.status("evaluating") as status:
            report = evaluate_run(cfg, out, model_dir=model, index=index,
                                  progress=lambda what: status.update(f"evaluating: {what}"))
    except (MarketDataError, ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    console.print(_frame_table(report.comparison, f"{cfg.name} on {cfg.eval_market.label()}"))
    console.print(f"per strategy: revenue.csv, dispatch.png, rolling.png in [bold]{out}[/]/<strategy>/; "
                  f"MLflow run {report.run_id[:8]} (mlflow ui)")


def _frame_table(frame, title: str) -> Table:
    from experiments.tracking import SUMMARY_METRICS

    table = Table(title=title)
    table.add_column(frame.index.name or "", justify="left")
    for col in frame.columns:
        table.add_column(SUMMARY_METRICS.get(col, col), justify="right")
    for name, row in frame.iterrows():
        cells = []
        for col, value in row.items():
            if value is None or value != value:
                cells.append("-")
            elif col.startswith("share"):
                cells.append(f"{value:.1%}")
            elif isinstance(value, float):
                cells.append(f"{value:,.2f}" if col == "cycles_per_day" else f"{value:,.0f}")
            else:
                cells.append(str(value))
        table.add_row(str(name), *cells)
    return table


@app.command("compare")
def compare_cmd(
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment (the config name); default all.")] = None,
    max_runs: Annotated[int, typer.Option(help="Newest runs to show.")] = 30,
) -> None:
    """Print MLflow runs side by side: strategy, EUR/MW/year, share of the PF LP, cycles, penalties."""
    from experiments.tracking import runs_table

    table = runs_table(experiment, max_runs)
    if table.empty:
        console.print(f"no runs{f' in experiment {experiment!r}' if experiment else ''} "
                      "(set MLFLOW_TRACKING_URI to read another store)")
        raise typer.Exit(code=1)
    table["started"] = table["started"].dt.strftime("%Y-%m-%d %H:%M")
    console.print(_frame_table(table.set_index("run"), f"MLflow runs{f': {experiment}' if experiment else ''}"))


@app.command("sweep")
def sweep_cmd(
    grid: Annotated[Path, typer.Option(help="YAML: dotted keys -> lists of values, e.g. train.seed: [0, 1].")],
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option(help="Output folder; default runs/<name>/sweep.")] = None,
    workers: Annotated[int, typer.Option(help="Parallel processes (local backend).")] = 2,
    backend: Annotated[str, typer.Option(help="local (process pool) or ray (pip install 'bessgym[ray]').")] = "local",
    overrides: SetOption = None,
) -> None:
    """Run a grid of configurations in parallel; each point is logged to MLflow, failures are reported."""
    from experiments.config import ConfigError
    from experiments.sweep import load_grid, sweep

    cfg = _config(config, overrides)
    out = out or Path("runs") / cfg.name / "sweep"
    try:
        points = load_grid(grid)
        results = sweep(cfg, points, out, workers=workers, backend=backend,
                        on_done=lambda i, r: console.print(f"point {i}: {r['status']} {escape(r.get('error', ''))}"))
    except (ConfigError, RuntimeError, ValueError) as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt as exc:
        console.print(f"[yellow]interrupted[/]: finished points are kept in {escape(str(out))}; run the same "
                      "command again to resume")
        raise typer.Exit(code=getattr(exc, "exit_code", 130)) from None
    console.print(_frame_table(results.drop(columns=["run_id"], errors="ignore"), f"sweep {grid}"))
    console.print(f"results: [bold]{out / 'results.csv'}[/]")
    failed = results[results["status"] != "ok"]
    if len(failed):
        console.print(f"[red]{len(failed)} of {len(results)} point(s) failed[/]: see error above and "
                      f"{out}/point_NNN/result.json; rerun the sweep to retry them")
        raise typer.Exit(code=1)


@app.command("run")
def run(
    config: ConfigOption = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("runs/main"),
    overrides: SetOption = None,
) -> None:
    """The main job: check the synthetic market, compute the index baselines on the held-out year, train PPO,
    evaluate every strategy on the held-out year, log it all to MLflow and print the comparison."""
    from bessgym.data import calibration

    cfg = _config(config, overrides)
    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"loading the training market ({cfg.train_market.label()})"):
        train_frame = cfg.train_market.load()
    comparison = calibration.compare(calibration.market_statistics(train_frame), calibration.TARGETS_2024)
    failures = comparison.failures()
    verdict = "[green]all within tolerance[/]" if not failures else f"[yellow]outside:[/] {failures}"
    console.print(f"1/4 training market {cfg.train_market.label()}: calibration vs published 2024: {verdict}")
    with atomic_path(out / "calibration.csv") as tmp:
        comparison.table.to_csv(tmp)

    console.print(f"2/4 revenue index on the held-out market ({cfg.eval_market.label()})")
    from experiments.evaluate import evaluation_period

    period, _ = evaluation_period(cfg, cfg.eval_market.load())
    index = _print_index(period, out / "index", title=cfg.eval_market.label(), battery=cfg.battery.index_battery())
    model_dir = None
    if "trained" in cfg.evaluate.strategies:
        console.print(f"3/4 training {cfg.train.algorithm.upper()} for {cfg.train.total_steps:,} steps")
        model_dir = _train(cfg, out / "train", resume=False)
    console.print("4/4 evaluating every strategy on the held-out market")
    _evaluate(cfg, out / "evaluate", model_dir, index=index)
    console.print(f"calibration: {out / 'calibration.csv'}; index: {out / 'index'}; compare runs: bessgym compare "
                  f"--experiment {cfg.name}")


@colocation_app.command("sizing")
def sizing_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (sizing.csv, sizing.png).")] = Path("runs/sizing"),
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic 2024 (seed 0).")] = None,
    days: Annotated[int | None, typer.Option(help="Days from the start (default: all).")] = None,
    workers: Annotated[int, typer.Option(help="Parallel processes.")] = 2,
    powers: Annotated[str, typer.Option(help="Battery powers [MW], comma-separated.")] = "5,10",
    durations: Annotated[str, typer.Option(help="Battery durations [h], comma-separated.")] = "1,2,3",
    mode: Annotated[str, typer.Option(help="Operation of the co-located site: joint, pv_priority, bess_priority.")]
    = "joint",
) -> None:
    """Battery revenue lost by co-locating with 10 MWp PV at a 10 MW connection, by battery size, with perfect
    foresight and with forecast deviations (joint optimisation); logged to MLflow."""
    from rich.progress import Progress

    from bessgym.data import read_table, synthetic
    from experiments.sizing import sizing_study

    if mode not in ("joint", "pv_priority", "bess_priority"):
        raise _fail(ValueError(f"--mode must be joint, pv_priority or bess_priority, got {mode!r}"))
    try:
        sizes = tuple(float(x) for x in powers.split(",")), tuple(float(x) for x in durations.split(","))
        market = read_table(data) if data is not None else synthetic.generate("2024-01-01", "2025-01-01", seed=0)
    except ValueError as exc:
        raise _fail(ValueError(f"--powers/--durations: {exc}")) from exc
    except MarketDataError as exc:
        raise _fail(exc) from exc
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("year runs (standalone and co-located)", total=None)
        table = sizing_study(market, out, powers=sizes[0], durations=sizes[1], days=days, workers=workers, mode=mode,
                             progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(_frame_table(table.set_index(["power_mw", "duration_h", "forecast"]).round(1).reset_index()
                               .set_index("power_mw"), "battery revenue lost to co-location [%]"))
    console.print(f"table: [bold]{out / 'sizing.csv'}[/], chart: [bold]{out / 'sizing.png'}[/]")


@portfolio_app.command("compare")
def portfolio_compare_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (comparison.csv).")] = Path("runs/portfolio"),
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic 2024 (seed 0).")] = None,
    days: Annotated[int, typer.Option(help="Days from the start.")] = 7,
    mtbf_h: Annotated[float, typer.Option(help="Mean time between failures of every asset [h].")] = 500.0,
    mttr_h: Annotated[float, typer.Option(help="Mean time to repair [h].")] = 24.0,
) -> None:
    """The default portfolio's assets marketed one by one, as a portfolio of per-asset LPs, and as a portfolio
    planned by one joint LP (same outage process): revenue, penalties, small assets' reserves, exchange
    transactions; logged to MLflow."""
    from bessgym.data import read_table, synthetic
    from bessgym.envs.core import MarketArrays
    from bessgym.envs.portfolio import default_portfolio
    from bessgym.envs.portfolio_core import Reliability
    from experiments.portfolio import compare

    try:
        reliability = Reliability(mtbf_h=mtbf_h, mttr_h=mttr_h)
        table = read_table(data) if data is not None else synthetic.generate("2024-01-01", "2025-01-01", seed=0)
        market = MarketArrays.from_frame(table, source=str(data or "synthetic 2024"))
    except (ValueError, MarketDataError) as exc:
        raise _fail(exc) from exc
    with console.status(f"{days} days as a portfolio (per-asset and joint LP), then each asset alone"):
        per_asset, summary = compare(market, default_portfolio(), out, days=days, reliability=reliability)
    console.print(_frame_table(per_asset.round(1), "alone vs portfolio vs joint portfolio LP, per asset"))
    for key, value in summary.items():
        console.print(f"{key:<40} {value:>14,.1f}")
    console.print(f"table: [bold]{out / 'comparison.csv'}[/]; MLflow experiment 'portfolio'")


def _until_signal(work) -> bool:
    """Run the coroutine ``work()`` until it ends or SIGINT/SIGTERM cancels it (also in a background job, where
    SIGINT is ignored); True when a signal stopped it."""
    import asyncio
    import signal

    async def main() -> bool:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await work()
        except asyncio.CancelledError:
            return True
        return False

    return asyncio.run(main())


@control_app.command("simulate")
def simulate_cmd(
    port: Annotated[int, typer.Option(help="TCP port.")] = 5020,
    host: Annotated[str, typer.Option(help="Interface; loopback unless you mean otherwise.")] = "127.0.0.1",
    acceleration: Annotated[float, typer.Option(help="Simulated seconds per wall-clock second.")] = 1.0,
    capacity_wh: Annotated[float, typer.Option(help="Battery capacity [Wh].")] = 2_000_000.0,
    max_power_w: Annotated[float, typer.Option(help="Rated power [W].")] = 1_000_000.0,
    soc_initial_pct: Annotated[float, typer.Option(help="Initial SoC [%].")] = 50.0,
    watchdog_s: Annotated[float, typer.Option(help="Fallback after this long without heartbeat [s].")] = 5.0,
    fallback_w: Annotated[float, typer.Option(help="Power the watchdog reverts to [W].")] = 0.0,
) -> None:
    """Serve a simulated battery over Modbus TCP (the register map in bessgym.control.registers)."""

    from bessgym.control.simulator import DeviceSpec, SimulatedBattery, serve

    try:
        spec = DeviceSpec(capacity_wh=capacity_wh, max_power_w=max_power_w, soc_initial_pct=soc_initial_pct,
                          watchdog_s=watchdog_s, fallback_w=fallback_w)
        battery = SimulatedBattery(spec, acceleration=acceleration)
    except ValueError as exc:
        raise _fail(exc) from exc
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: Modbus TCP has no authentication; "
                      "use an isolated control network")
    console.print(f"simulated battery on modbus://{host}:{port} (x{acceleration:g} time); Ctrl-C stops")

    try:
        _until_signal(lambda: serve(battery, host=host, port=port))
    except OSError as exc:
        raise _fail(OSError(f"cannot listen on {host}:{port}: {exc.strerror}")) from exc


@app.command("deploy")
def deploy_cmd(
    policy: Annotated[Path, typer.Option(help="SB3 model (.zip or its folder), ONNX export, or LP schedule .csv.")],
    controller: Annotated[str, typer.Option(help="modbus://HOST:PORT (ignored with --dry-run).")] = "",
    cycle_s: Annotated[float, typer.Option(help="Control cycle [s].")] = 1.0,
    cycles: Annotated[int | None, typer.Option(help="Stop after this many cycles (default: until stopped).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="No device: a local simulated battery.")] = False,
    shadow: Annotated[bool, typer.Option("--shadow", help="Read the device, compute, log; never write.")] = False,
    max_power_w: Annotated[float | None, typer.Option(help="Site/device rating [W] (required for a device).")] = None,
    soc_min_pct: Annotated[float, typer.Option(help="Lowest SoC the layer allows [%].")] = 5.0,
    soc_max_pct: Annotated[float, typer.Option(help="Highest SoC the layer allows [%].")] = 95.0,
    ramp_w_per_s: Annotated[float, typer.Option(help="Largest setpoint change per second [W/s].")] = 100_000.0,
    power_step_w: Annotated[float, typer.Option(help="Setpoint resolution [W].")] = 1_000.0,
    schedule: Annotated[Path | None, typer.Option(help="Day-ahead schedule CSV added to the policy.")] = None,
    afrr_signal: Annotated[Path | None, typer.Option(help="aFRR setpoint signal CSV (timestamp, power_w).")] = None,
    market: Annotated[Path | None, typer.Option(help="Contract table with today's prices (or synthetic).")] = None,
    register_map: Annotated[Path | None, typer.Option(help="Vendor register map (YAML/JSON).")] = None,
    audit: Annotated[Path | None, typer.Option(help="Audit CSV; default runs/deploy/audit_<UTC time>.csv.")] = None,
    kill_file: Annotated[Path | None, typer.Option(help="Release and stop as soon as this file exists.")] = None,
) -> None:
    """Drive a battery: each cycle reads status, builds the observation, runs the policy, passes the setpoint
    through the safety layer, writes it and logs the cycle to the audit CSV (logged to MLflow at the end)."""

    from bessgym.control.modbus import DryRunController, ModbusController, parse_url
    from bessgym.control.registers import DEFAULT_MAP, RegisterMap
    from bessgym.control.runner import Combined, Runner, Schedule
    from bessgym.control.safety import AuditLog, SafetyLayer, SafetyLimits
    from bessgym.control.simulator import DeviceSpec

    if not (math.isfinite(cycle_s) and cycle_s > 0):
        raise _fail(ValueError(f"--cycle-s must be a finite number > 0, got {cycle_s}"))
    if cycles is not None and cycles < 1:
        raise _fail(ValueError(f"--cycles must be >= 1 (or left out to run until stopped), got {cycles}"))
    if dry_run == bool(controller):
        raise _fail(ValueError("give --controller modbus://HOST:PORT, or --dry-run (not both)"))
    if dry_run and shadow:
        raise _fail(ValueError("--dry-run and --shadow exclude each other"))
    try:
        if dry_run:
            spec = DeviceSpec()
            device = DryRunController(spec)
            max_power_w = max_power_w or spec.max_power_w
        else:
            if max_power_w is None:
                raise ValueError("--max-power-w is required with a device (the site's rating; the device's own "
                                 "reported limits apply on top)")
            host, port = parse_url(controller)
            device = ModbusController(host, port, RegisterMap.load(register_map) if register_map else DEFAULT_MAP)
        limits = SafetyLimits(max_charge_w=max_power_w, max_discharge_w=max_power_w, soc_min_pct=soc_min_pct,
                              soc_max_pct=soc_max_pct, ramp_w_per_s=ramp_w_per_s, power_step_w=power_step_w)
        sources = [_policy_source(policy, market, max_power_w)]
        sources += [Schedule.read_csv(p) for p in (schedule, afrr_signal) if p is not None]
    except (ValueError, FileNotFoundError, MarketDataError) as exc:
        raise _fail(exc) from exc
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    audit_path = audit or Path("runs/deploy") / f"audit_{stamp}.csv"
    log = AuditLog(audit_path)
    safety = SafetyLayer(device, limits, log, cycle_s=cycle_s, shadow=shadow,
                         kill_switch=(lambda: kill_file.exists()) if kill_file else None)

    def show(row) -> None:
        sent = "-" if row.sent_w is None else f"{row.sent_w:,.0f} W"
        soc = "-" if row.soc_pct is None else f"{row.soc_pct:.2f} %"
        console.print(f"cycle {row.cycle}: {row.action} {sent} SoC {soc} {row.reason}", soft_wrap=True)

    runner = Runner(Combined(sources), safety, cycle_s=cycle_s, on_cycle=show)
    mode = "dry run" if dry_run else ("shadow" if shadow else "live")
    console.print(f"deploying {policy} ({mode}) every {cycle_s:g} s; audit: {audit_path}")
    if _until_signal(lambda: runner.run(cycles)):  # the runner releases the device before it ends
        console.print("[yellow]stopped[/]: device released to local control")
    _log_deploy(audit_path, policy, mode)
    console.print(f"audit: [bold]{audit_path}[/]")


def _policy_source(policy: Path, market: Path | None, device_power_w: float):
    """The setpoint source behind --policy: an LP schedule CSV, or a trained agent in its env."""
    from bessgym.control.runner import Schedule

    if policy.suffix == ".csv":
        return Schedule.read_csv(policy)
    from bessgym.data import read_table, synthetic
    from bessgym.envs.core import MarketArrays
    from experiments.deploy import EnvPolicy, load_policy_agent

    agent, config = load_policy_agent(policy)
    if market is not None:
        table = read_table(market)
    else:  # today and tomorrow on the synthetic market: offline, and the observation's horizon is filled
        today = dt.datetime.now(dt.UTC).date()
        table = synthetic.generate(today - dt.timedelta(days=1), today + dt.timedelta(days=2), seed=0)
    return EnvPolicy(agent, config, MarketArrays.from_frame(table, source=str(market or "synthetic")),
                     device_power_w)


def _log_deploy(audit_path: Path, policy: Path, mode: str) -> None:
    """The audit CSV and a summary to MLflow (experiment ``deploy``)."""
    import mlflow
    import pandas as pd

    from experiments.tracking import quiet

    quiet()
    rows = pd.read_csv(audit_path)
    mlflow.set_experiment("deploy")
    with mlflow.start_run(run_name=f"deploy-{mode}", tags={"kind": "deploy"}):
        mlflow.log_params({"policy": str(policy), "mode": mode})
        counts = rows["action"].value_counts()
        mlflow.log_metrics({"cycles": float(len(rows)), **{f"cycles_{k}": float(v) for k, v in counts.items()}})
        mlflow.log_artifact(str(audit_path))


def _print_index(market, out: Path, *, title: str, battery=None):
    """Run the revenue index strategies on ``market`` with a progress bar, write and print the results."""
    from rich.progress import Progress

    from agents.index import IndexBattery, index_revenues
    from experiments.index_report import write_index

    battery = battery or IndexBattery()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("revenue index, day by day", total=None)
        result = index_revenues(market, battery, source=title,
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
    return result


if __name__ == "__main__":
    app()
