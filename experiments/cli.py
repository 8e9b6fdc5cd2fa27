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
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]: checkpoint saved; continue with --resume --out {out}")
            raise typer.Exit(code=130) from None
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
                        on_done=lambda i, r: console.print(f"point {i}: {r['status']} {r.get('error', '')}"))
    except (ConfigError, RuntimeError, ValueError) as exc:
        raise _fail(exc) from exc
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


def _print_index(market, out: Path, *, title: str, battery=None):
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
    return result


if __name__ == "__main__":
    app()
