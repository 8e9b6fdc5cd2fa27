"""``bessgym train / evaluate / compare / sweep / run``: experiments on a configuration, logged to MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bessgym._io import atomic_path
from bessgym.errors import MarketDataError
from experiments.cli._common import ConfigOption, SetOption, config_from, console, escape, fail, frame_table, iso_date
from experiments.cli.index import print_index


def train_cmd(
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<name>/train.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    overrides: SetOption = None,
) -> None:
    """Train an RL agent (PPO or SAC) on the training market, with evaluation against the index."""
    cfg = config_from(config, overrides)
    out = out or Path("runs") / cfg.name / "train"
    model_dir = _train(cfg, out, resume=resume)
    console.print(f"model: [bold]{model_dir}[/] (ONNX: {model_dir / 'policy.onnx'})")


def _train(cfg, out: Path, *, resume: bool) -> Path:
    from experiments.config import ConfigError
    from experiments.progress import progress
    from experiments.train import planned_steps, train

    planned, why = planned_steps(cfg)
    if why:
        console.print(why, markup=False)

    def report(steps: int, metrics: dict[str, float]) -> None:
        console.print(f"  step {steps:,}: {metrics['annualised_eur_per_mw_year']:,.0f} EUR/MW/year on the "
                      f"evaluation days, {metrics.get('share_of_pf_lp', float('nan')):.1%} of the PF LP")

    with progress(console, f"training {cfg.train.algorithm.upper()}", planned, "steps") as bar:
        try:
            result = train(cfg, out, resume=resume, progress=bar.update, report=report,
                           announce=lambda text: console.print(text, markup=False))
        except KeyboardInterrupt as exc:
            console.print(f"[yellow]interrupted[/]: checkpoint saved; continue with --resume --out {escape(str(out))}")
            raise typer.Exit(code=getattr(exc, "exit_code", 130)) from None
        except (ConfigError, FileNotFoundError, MarketDataError, ValueError) as exc:
            raise fail(exc) from exc
        bar.update(result.steps)
    console.print(f"learning curve: {escape(str(out / 'learning_curve.png'))}")
    return result.model_dir


def evaluate_cmd(
    config: ConfigOption = None,
    model: Annotated[Path | None, typer.Option(help="Trained agent folder (bessgym train's model/).")] = None,
    baseline_model: Annotated[Path | None, typer.Option(help="The rl_baseline's model folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder; default runs/<name>/evaluate.")] = None,
    dispatch_start: Annotated[str | None, typer.Option(help="First day of the dispatch charts, YYYY-MM-DD "
                                                            "(default: the first evaluated day).")] = None,
    dispatch_days: Annotated[int | None, typer.Option(help="Days the dispatch charts show.")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse the baselines (index, PF LP) of an earlier run on the same "
                                             "market, battery and env.")] = True,
    overrides: SetOption = None,
) -> None:
    """Evaluate every configured strategy on the held-out market; log to MLflow and print the comparison."""
    chart = {"evaluate.dispatch_start": dispatch_start and iso_date(dispatch_start),
             "evaluate.dispatch_days": dispatch_days}
    cfg = config_from(config, [*(overrides or []), *(f"{k}={v}" for k, v in chart.items() if v is not None)])
    from experiments.config import MODEL_OPTIONS

    for strategy, folder in (("trained", model), ("rl_baseline", baseline_model)):
        if folder is None and strategy in cfg.evaluate.strategies:
            cfg = cfg.with_overrides({"evaluate.strategies": [s for s in cfg.evaluate.strategies if s != strategy]})
            console.print(f"[yellow]no {MODEL_OPTIONS[strategy]}: {strategy} is left out[/]")
    _evaluate(cfg, out or Path("runs") / cfg.name / "evaluate", model, baseline_model, cache=cache)


def _evaluate(cfg, out: Path, model: Path | None, baseline: Path | None = None, index=None, *, done=None,
              cache: bool = True) -> None:
    from experiments.evaluate import draws, evaluated_strategies, evaluation_period
    from experiments.progress import progress
    from experiments.report import evaluate_run

    try:
        _, market = evaluation_period(cfg, cfg.eval_market.load())
        days = len(market.dates)
        offset, total = {}, 0
        for strategy in evaluated_strategies(cfg):  # strategy-days before each, a noisy LP once per draw
            if strategy not in (done or {}):
                offset[strategy], total = total, total + draws(strategy, cfg) * days
        with progress(console, "evaluating", total, "strategy-days") as bar:
            def advance(what: str, n: int) -> None:
                if what in offset:  # not what ``done`` brought
                    bar.update(offset[what] + n, f"evaluating {what}")

            report = evaluate_run(cfg, out, model_dir=model, baseline_dir=baseline, index=index, done=done,
                                  cache=cache, progress=advance)
    except (MarketDataError, ValueError, FileNotFoundError) as exc:
        raise fail(exc) from exc
    console.print(frame_table(report.comparison, f"{cfg.name} on {report.period}"))
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"per strategy: revenue.csv, dispatch.parquet, dispatch.png, rolling.png in "
                  f"[bold]{escape(str(out))}[/]/<strategy>/; comparison.png; "
                  f"MLflow run {report.run_id[:8]} (mlflow ui)")


def compare_cmd(
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment (the config name); default all.")] = None,
    max_runs: Annotated[int, typer.Option(help="Newest runs to show.")] = 30,
) -> None:
    """Print MLflow runs side by side: strategy, EUR/MW/year, share of the PF LP, cycles, penalties."""
    from experiments.tracking import runs_table

    table = runs_table(experiment, max_runs)
    if table.empty:
        raise fail(ValueError(f"no runs{f' in experiment {experiment!r}' if experiment else ''} "
                              "(set MLFLOW_TRACKING_URI to read another store)"))
    table["started"] = table["started"].dt.strftime("%Y-%m-%d %H:%M")
    console.print(frame_table(table.set_index("run"), f"MLflow runs{f': {experiment}' if experiment else ''}"))
    console.print("configuration columns: the keys in which the shown runs differ; a training run's metrics are "
                  "its last evaluation's")


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

    cfg = config_from(config, overrides)
    out = out or Path("runs") / cfg.name / "sweep"
    try:
        points = load_grid(grid)
        results = sweep(cfg, points, out, workers=workers, backend=backend,
                        on_done=lambda i, r: console.print(f"point {i}: {r['status']} {escape(r.get('error', ''))}"))
    except (ConfigError, RuntimeError, ValueError) as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt as exc:
        console.print(f"[yellow]interrupted[/]: finished points are kept in {escape(str(out))}; run the same "
                      "command again to resume")
        raise typer.Exit(code=getattr(exc, "exit_code", 130)) from None
    console.print(frame_table(results.drop(columns=["run_id"], errors="ignore"), f"sweep {grid}"))
    console.print(f"results: [bold]{out / 'results.csv'}[/]")
    failed = results[results["status"] != "ok"]
    if len(failed):
        console.print(f"[red]{len(failed)} of {len(results)} point(s) failed[/]: see error above and "
                      f"{out}/point_NNN/result.json; rerun the sweep to retry them")
        raise typer.Exit(code=1)


def _recipe(t) -> str:
    """A learner's recipe in words: ``MASKABLE_PPO, cloned from lp (1 DAgger round), 16,384 RL steps``."""
    clone = f", cloned from {t.clone_from}" if t.clone_from else ""
    dagger = f" ({t.dagger_rounds} DAgger round{'s' if t.dagger_rounds > 1 else ''})" if t.dagger_rounds else ""
    return f"{t.algorithm.upper()}{clone}{dagger}, {t.total_steps:,} RL steps"


def run_cmd(
    config: ConfigOption = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("runs/main"),
    overrides: SetOption = None,
) -> None:
    """The main job: check the synthetic market, compute the index baselines on the held-out year, train the
    learners (``trained``; ``rl_baseline`` where listed), evaluate every strategy on the held-out year, log it
    all to MLflow and print the comparison."""
    from bessgym.data import calibration
    from experiments.config import LEARNED, TRAIN_FOLDERS

    cfg = config_from(config, overrides)
    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"loading the training market ({cfg.train_market.label()})"):
        train_frame = cfg.train_market.load()
    comparison = calibration.compare(calibration.market_statistics(train_frame), calibration.TARGETS_2024)
    failures = comparison.failures()
    verdict = "[green]all within tolerance[/]" if not failures else f"[yellow]outside:[/] {failures}"
    console.print(f"1/4 training market {cfg.train_market.label()}: calibration vs published 2024: {verdict}")
    with atomic_path(out / "calibration.csv") as tmp:
        comparison.table.to_csv(tmp)

    from multiprocessing import get_context

    from experiments.evaluate import evaluation_period
    from experiments.report import baseline_evaluations

    # the baselines need no trained agent: a second process evaluates them while this one trains (spawned: no
    # torch threads or MLflow state inherited; leaving the block early, e.g. on Ctrl-C, terminates it)
    with get_context("spawn").Pool(processes=1) as pool:
        beside = pool.apply_async(baseline_evaluations, (cfg,))
        console.print("the baselines are evaluated in a second process meanwhile")
        console.print(f"2/4 revenue index on the held-out market ({cfg.eval_market.label()})")
        period, _ = evaluation_period(cfg, cfg.eval_market.load())
        index = print_index(period, out / "index", title=cfg.eval_market.label(),
                            battery=cfg.battery.index_battery())
        models = {}
        for strategy in LEARNED:
            if strategy in cfg.evaluate.strategies:
                learner = cfg.learner_config(strategy)
                console.print(f"3/4 training {strategy}: {_recipe(learner.train)}")
                models[strategy] = _train(learner, out / TRAIN_FOLDERS[strategy], resume=False)
        with console.status("waiting for the baselines evaluated in the second process"):
            try:
                done = beside.get()
            except (MarketDataError, ValueError) as exc:
                raise fail(exc) from exc
    console.print("4/4 evaluating every strategy on the held-out market")
    _evaluate(cfg, out / "evaluate", models.get("trained"), models.get("rl_baseline"), index=index, done=done)
    console.print(f"calibration: {out / 'calibration.csv'}; index: {out / 'index'}; compare runs: bessgym compare "
                  f"--experiment {cfg.name}")
