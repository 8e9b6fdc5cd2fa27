"""``bessgym colocation`` and ``bessgym portfolio``: the co-location sizing study and the portfolio comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bessgym.errors import MarketDataError
from experiments.cli._common import AcceptUnusualOption, console, fail, frame_table, market_table

colocation_app = typer.Typer(help="Co-located PV + battery studies.", no_args_is_help=True)
portfolio_app = typer.Typer(help="Multi-asset portfolio studies.", no_args_is_help=True)


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
    other_losses: Annotated[float, typer.Option(help="What a MWh of PV not fed in loses beyond the PPA price "
                                                     "[EUR/MWh] (guarantees of origin, the offtaker's claim).")] = 0.0,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """Battery revenue lost by co-locating with 10 MWp PV at a 10 MW connection, by battery size, with perfect
    foresight and with forecast deviations (joint optimisation); logged to MLflow."""
    from agents.lp.terms import check_mode
    from experiments.progress import progress
    from experiments.sizing import sizing_study

    try:
        check_mode(mode, "--mode")
    except ValueError as exc:
        raise fail(exc) from exc
    try:
        sizes = tuple(float(x) for x in powers.split(",")), tuple(float(x) for x in durations.split(","))
        market, _ = market_table(data, accept_unusual)
    except MarketDataError as exc:  # a ValueError too: first
        raise fail(exc) from exc
    except ValueError as exc:
        raise fail(ValueError(f"--powers/--durations: {exc}")) from exc
    runs = 2 * 2 * len(sizes[0]) * len(sizes[1])  # standalone and co-located, perfect and noisy forecasts
    with progress(console, "year runs (standalone and co-located)", runs, "runs") as bar:
        table = sizing_study(market, out, powers=sizes[0], durations=sizes[1], days=days, workers=workers, mode=mode,
                             other_eur_mwh=other_losses, progress=lambda done, total: bar.update(done))
    console.print(frame_table(table.set_index(["power_mw", "duration_h", "forecast"]),
                              "battery revenue lost to co-location (reduction_pct, %)"))
    console.print(f"table: [bold]{out / 'sizing.csv'}[/] (as markdown: {out / 'sizing.md'}), chart: "
                  f"[bold]{out / 'sizing.png'}[/]")


@colocation_app.command("modes")
def modes_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (modes.csv).")] = Path("runs/colocation"),
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic 2024 (seed 0).")] = None,
    start: Annotated[str | None, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD; default 20 June of "
                                                   "the table's first year (a summer week, where PV matters), or "
                                                   "the table's first day when it has no such day.")] = None,
    days: Annotated[int, typer.Option(help="Delivery days.", min=1)] = 7,
    increments: Annotated[bool, typer.Option(
        "--increments/--continuous", help="Day-ahead volumes on the exchange's 0.1 MW grid, or executed as the "
        "LPs plan them (the modes compared without the rounding's noise).")] = True,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """The study's site (10 MW / 20 MWh, 10 MWp PV at 42 EUR/MWh, 10 MW connection) in each operating mode with
    perfect foresight: site value per day, the battery's side and its curtailment payments."""
    import pandas as pd

    from experiments.sizing import mode_comparison

    try:
        market, _ = market_table(data, accept_unusual)
        if start is None:
            summer = pd.Timestamp(f"{market.index[0].tz_convert('Europe/Berlin').year}-06-20", tz="Europe/Berlin")
            start = str(summer.date()) if market.index[0] <= summer <= market.index[-1] else None
        if start is not None:
            market = market[market.index >= pd.Timestamp(start, tz="Europe/Berlin")]
        if market.empty:
            raise ValueError(f"--start {start}: the table ends before it")
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc
    table = mode_comparison(market, out, days=days, increments=increments)
    console.print(frame_table(table, "the site in each operating mode, per day [EUR]"))
    console.print(f"table: [bold]{out / 'modes.csv'}[/]")


@portfolio_app.command("compare")
def portfolio_compare_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (comparison.csv).")] = Path("runs/portfolio"),
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic 2024 (seed 0).")] = None,
    days: Annotated[int, typer.Option(help="Days from the start.")] = 7,
    mtbf_h: Annotated[float, typer.Option(help="Mean time between failures of every asset [h].")] = 500.0,
    mttr_h: Annotated[float, typer.Option(help="Mean time to repair [h].")] = 24.0,
    shapley_orders: Annotated[int, typer.Option(
        min=0, help="Random orders for sampled Shapley values beyond 12 assets (exact below); 0: none.")] = 64,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """The default portfolio's assets marketed one by one, as a portfolio of per-asset LPs, and as a portfolio
    planned by one joint LP, on common outages: revenue, penalties, small assets' reserves, exchange
    transactions, and the portfolio's revenue allocated pro rata, by contribution and by Shapley value (every
    sub-portfolio run: 2^n runs); logged to MLflow."""
    from bessgym.data.arrays import MarketArrays
    from bessgym.envs.portfolio import default_portfolio
    from bessgym.envs.portfolio_core import Reliability
    from experiments.portfolio import compare
    from experiments.progress import progress
    from experiments.tables import cell

    try:
        reliability = Reliability(mtbf_h=mtbf_h, mttr_h=mttr_h)
        table, name = market_table(data, accept_unusual)
        market = MarketArrays.from_frame(table, source=name)
    except (ValueError, MarketDataError) as exc:
        raise fail(exc) from exc
    sites = default_portfolio()
    from bessgym.market.allocation import MAX_SHAPLEY_ASSETS

    exact = shapley_orders and len(sites) <= MAX_SHAPLEY_ASSETS
    with progress(console, f"{days} days as a portfolio (per-asset, joint LP), each asset alone, the "
                           f"sub-portfolios for the Shapley values", 2**len(sites) if exact else len(sites) + 2,
                  "runs") as bar:
        per_asset, summary = compare(market, sites, out, days=days, reliability=reliability,
                                     shapley_orders=shapley_orders, progress=lambda done, total: bar.update(done))
    console.print(frame_table(per_asset, "alone vs portfolio vs joint portfolio LP, per asset"))
    for key, value in summary.items():
        console.print(f"{key:<40} {cell(key, value):>14}", markup=False)
    console.print(f"table: [bold]{out / 'comparison.csv'}[/]; MLflow experiment 'portfolio'")


@portfolio_app.command("scale")
def portfolio_scale_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (scale.csv, scale.png).")] = Path("runs/scale"),
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic 2024 (seed 0).")] = None,
    days: Annotated[int, typer.Option(min=2, help="Days from the start.")] = 7,
    sizes: Annotated[str, typer.Option(help="Portfolio sizes (assets), comma-separated.")] = "1,3,10,30,100",
    asset_eur_per_year: Annotated[float, typer.Option(help="Fixed cost per asset [EUR/year].")] = 5_000.0,
    portfolio_eur_per_year: Annotated[float, typer.Option(help="Fixed cost of the portfolio [EUR/year].")]
    = 100_000.0,
    order_eur: Annotated[float, typer.Option(help="Cost per order sent to a market [EUR].")] = 0.5,
    accept_unusual: AcceptUnusualOption = False,
) -> None:
    """Revenue, margin after costs, orders sent and risk per MW as a portfolio of the default assets grows
    (common outages per asset); table and plot."""
    from bessgym.data.arrays import MarketArrays
    from bessgym.envs.portfolio import default_portfolio
    from experiments.progress import progress
    from experiments.scale import Costs, scale_curve

    try:
        counts = [int(x) for x in sizes.split(",")]
        costs = Costs(asset_eur_per_year, portfolio_eur_per_year, order_eur)
        table, name = market_table(data, accept_unusual)
        market = MarketArrays.from_frame(table, source=name)
    except (ValueError, MarketDataError) as exc:
        raise fail(exc) from exc
    with progress(console, f"{days} days for each portfolio size", len(counts), "sizes") as bar:
        curve = scale_curve(market, default_portfolio(), out, days=days, sizes=counts, costs=costs,
                            progress=lambda done, total: bar.update(done))
    console.print(frame_table(curve, "economies of scale, per MW"))
    console.print(f"table: [bold]{out / 'scale.csv'}[/], chart: [bold]{out / 'scale.png'}[/]")
