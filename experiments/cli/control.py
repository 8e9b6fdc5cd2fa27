"""``bessgym control simulate``, ``bessgym schedule`` and ``bessgym deploy``: a simulated battery over Modbus
TCP, the LP's plan as a schedule, and a policy or schedule driving a battery through the safety layer."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from bessgym.errors import MarketDataError
from experiments.cli._common import ConfigOption, SetOption, config_from, console, escape, fail, iso_date

app = typer.Typer(help="Hardware control: a simulated battery served over Modbus TCP.", no_args_is_help=True)


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


@app.command("simulate")
def simulate_cmd(
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 5020,
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
        raise fail(exc) from exc
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: Modbus TCP has no authentication; "
                      "use an isolated control network")
    console.print(f"simulated battery on modbus://{host}:{port} (x{acceleration:g} time); Ctrl-C stops")

    try:
        _until_signal(lambda: serve(battery, host=host, port=port))
    except OSError as exc:
        raise fail(OSError(f"cannot listen on {host}:{port}: {exc.strerror}")) from exc


def schedule_cmd(
    out: Annotated[Path, typer.Option(help="Schedule CSV to write (what deploy --policy reads).")],
    config: ConfigOption = None,
    data: Annotated[Path | None, typer.Option(help="Contract table; default: synthetic, around today.")] = None,
    start: Annotated[str | None, typer.Option(help="First delivery day (Berlin), YYYY-MM-DD; default today.")] = None,
    days: Annotated[int, typer.Option(help="Delivery days to plan.")] = 1,
    overrides: SetOption = None,
) -> None:
    """Export the perfect-foresight LP's plan of the configured battery and env as a deploy schedule: one row
    per quarter-hour, timestamp (UTC ISO 8601) and power_mw (+ discharge), with SoC and markets for reference."""
    from bessgym._io import atomic_path
    from experiments.deploy import live_market, lp_schedule

    if days < 1:
        raise fail(ValueError(f"--days must be >= 1, got {days}"))
    cfg = config_from(config, overrides)
    try:
        market = live_market(data, days)
        from bessgym.data.calendar import MARKET_TZ

        first = iso_date(start) if start else dt.datetime.now(dt.UTC).astimezone(ZoneInfo(MARKET_TZ)).date()
        plan = lp_schedule(cfg, market, first, days)
    except (ValueError, MarketDataError) as exc:
        raise fail(exc) from exc
    with atomic_path(out) as tmp:
        plan.to_csv(tmp, index=False, float_format="%.6g")
    console.print(f"wrote {len(plan):,} quarter-hours ({first}, {days} day(s)) to [bold]{escape(str(out))}[/]; "
                  f"drive it with: bessgym deploy --policy {escape(str(out))} ...")


def deploy_cmd(
    policy: Annotated[Path, typer.Option(help="SB3 model (.zip or its folder), ONNX export, or LP schedule .csv.")],
    controller: Annotated[list[str] | None, typer.Option(help="modbus://HOST:PORT (ignored with --dry-run); a "
                                                              "portfolio's policy: one per asset, in its order "
                                                              "(repeatable).")] = None,
    cycle_s: Annotated[float, typer.Option(help="Control cycle [s].")] = 1.0,
    cycles: Annotated[int | None, typer.Option(help="Stop after this many cycles (default: until stopped).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="No device: a local simulated battery (one per "
                                                            "asset of a portfolio).")] = False,
    shadow: Annotated[bool, typer.Option("--shadow", help="Read the device, compute, log; never write.")] = False,
    acceleration: Annotated[float, typer.Option(help="With --dry-run: simulated seconds per wall-clock second, so "
                                                     "the SoC moves visibly in a short demo.")] = 1.0,
    max_power_w: Annotated[float | None, typer.Option(help="Site/device rating [W] (required for a device; a "
                                                           "portfolio's are its assets' power).")] = None,
    soc_min_pct: Annotated[float, typer.Option(help="Lowest SoC the layer allows [%].")] = 5.0,
    soc_max_pct: Annotated[float, typer.Option(help="Highest SoC the layer allows [%].")] = 95.0,
    ramp_w_per_s: Annotated[float, typer.Option(help="Largest setpoint change per second [W/s].")] = 100_000.0,
    power_step_w: Annotated[float, typer.Option(help="Setpoint resolution [W].")] = 1_000.0,
    schedule: Annotated[Path | None, typer.Option(help="Day-ahead schedule CSV added to the policy.")] = None,
    afrr_signal: Annotated[Path | None, typer.Option(help="aFRR setpoint signal CSV (timestamp, power_w).")] = None,
    market: Annotated[Path | None, typer.Option(help="Contract table with today's prices (or synthetic).")] = None,
    register_map: Annotated[Path | None, typer.Option(help="Vendor register map (YAML/JSON).")] = None,
    audit: Annotated[Path | None, typer.Option(help="Audit CSV; default runs/deploy/audit_<UTC time>.csv "
                                                    "(a portfolio: one per asset, _asset<i>).")] = None,
    kill_file: Annotated[Path | None, typer.Option(help="Release and stop as soon as this file exists.")] = None,
) -> None:
    """Drive a battery, a co-located site's battery (PV's feed-in limit written beside the audit) or every
    battery of a portfolio: each cycle reads status, builds the observation, runs the policy, passes the
    setpoint through the safety layer, writes it and logs the cycle to the audit CSV (logged to MLflow)."""
    from bessgym.control.registers import DEFAULT_MAP, RegisterMap
    from experiments.deploy import build_deployment, log_deploy

    controllers = controller or []
    if not (math.isfinite(cycle_s) and cycle_s > 0):
        raise fail(ValueError(f"--cycle-s must be a finite number > 0, got {cycle_s}"))
    if cycles is not None and cycles < 1:
        raise fail(ValueError(f"--cycles must be >= 1 (or left out to run until stopped), got {cycles}"))
    if dry_run == bool(controllers):
        raise fail(ValueError("give --controller modbus://HOST:PORT, or --dry-run (not both)"))
    if dry_run and shadow:
        raise fail(ValueError("--dry-run and --shadow exclude each other"))
    if not (math.isfinite(acceleration) and acceleration > 0) or (acceleration != 1.0 and not dry_run):
        raise fail(ValueError(f"--acceleration must be a finite number > 0, and goes with --dry-run; got "
                              f"{acceleration}"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    audit_path = audit or Path("runs/deploy") / f"audit_{stamp}.csv"
    try:
        deployment = build_deployment(
            policy, market, controllers, audit_path, max_power_w=max_power_w, cycle_s=cycle_s, shadow=shadow,
            limits={"soc_min_pct": soc_min_pct, "soc_max_pct": soc_max_pct, "ramp_w_per_s": ramp_w_per_s,
                    "power_step_w": power_step_w},
            register_map=RegisterMap.load(register_map) if register_map else DEFAULT_MAP,
            extra=[p for p in (schedule, afrr_signal) if p is not None], acceleration=acceleration,
            kill_switch=(lambda: kill_file.exists()) if kill_file else None)
    except (ValueError, FileNotFoundError, MarketDataError) as exc:
        raise fail(exc) from exc

    def show(asset: int, row) -> None:
        sent = "-" if row.sent_w is None else f"{row.sent_w:,.0f} W"
        soc = "-" if row.soc_pct is None else f"{row.soc_pct:.2f} %"
        who = f"asset {asset} " if len(deployment.loops) > 1 else ""
        console.print(f"{who}cycle {row.cycle}: {row.action} {sent} SoC {soc} {row.reason}", soft_wrap=True)

    deployment.on_cycle = show
    mode = "dry run" if dry_run else ("shadow" if shadow else "live")
    console.print(f"deploying {policy} ({mode}) every {cycle_s:g} s to {len(deployment.loops)} device(s); audit: "
                  f"{', '.join(str(p) for p in deployment.audits)}", soft_wrap=True)
    if _until_signal(lambda: deployment.run(cycles)):  # the runners release the devices before they end
        console.print("[yellow]stopped[/]: devices released to local control")
    for path in deployment.audits:
        log_deploy(path, policy, mode)
    if deployment.site_log is not None:
        console.print(f"PV feed-in limits: [bold]{deployment.site_log}[/]")
    console.print(f"audit: [bold]{', '.join(str(p) for p in deployment.audits)}[/]", soft_wrap=True)
