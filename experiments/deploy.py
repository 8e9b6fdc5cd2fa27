"""``bessgym deploy``: a trained policy (SB3 zip or ONNX) or an LP schedule drives a battery through the
safety layer.

A trained policy sees the observation it was trained on: the env of its run's configuration is opened on
the current Berlin delivery day of a market table (the day-ahead prices and forecasts), its SoC is set from
live telemetry, and the policy's action (a share of the feasible intraday room) becomes a setpoint, scaled
from the trained battery's power to the device's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from agents.base import Agent
from bessgym._io import atomic_path
from bessgym.control.protocol import Status
from bessgym.data.arrays import MarketArrays
from bessgym.data.calendar import MARKET_TZ
from bessgym.envs.site import CURTAIL, SiteSimulator, pv_dispatch
from bessgym.market.reserves import RESERVES
from experiments.config import ExperimentConfig, load_config
from experiments.evaluate import make_env


def load_policy_agent(path: Path) -> tuple[Agent, ExperimentConfig]:
    """An SB3 model (``model.zip`` in a folder written by ``bessgym train``) or an ONNX export, with the
    configuration it was trained with (``config.yaml`` of its run; defaults when there is none)."""
    from agents.rl import OnnxAgent, RLAgent

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--policy {path}: no such file")
    folder = path.parent if path.is_file() else path
    config_path = folder.parent / "config.yaml"
    config = load_config(config_path) if config_path.exists() else ExperimentConfig()
    if path.suffix == ".onnx":
        return OnnxAgent(path), config
    if path.suffix == ".zip" or path.is_dir():
        return RLAgent.load(folder), config
    raise ValueError(f"--policy {path}: expected an SB3 .zip, an .onnx file or an LP schedule .csv")


class EnvPolicy:
    """A trained agent as the setpoint source of the assets of its env, each a device of ``device_power_w``
    (one value, or one per asset; None: each rated as its asset): one battery; the battery of a co-located
    site, within what the connection leaves it for the PV now and the policy's curtailment (PV's feed-in limit
    recorded in ``pv_log``); or every asset of a portfolio, each trading the pooled action's share of its own
    room (its sites within their connections, as a site's). :meth:`asset` is one
    asset's setpoint source for its own control loop; the observation uses every asset's latest SoC."""

    def __init__(self, agent: Agent, config: ExperimentConfig, market: MarketArrays,
                 device_power_w: float | np.ndarray | None = None) -> None:
        self.agent, self.config, self.market = agent, config, market
        self.env = make_env(config, market, episode_days=1, start_day=market.dates[0], learner=True)
        fleet = self.env.unwrapped.simulator.fleet
        self.n, self.power_mw, self.energy_mwh = len(fleet.specs), fleet.power_mw, fleet.energy_mwh
        rating_w = fleet.power_mw * 1e6 if device_power_w is None else np.asarray(device_power_w, dtype=float)
        self.scale_w = np.broadcast_to(rating_w, (self.n,)) / fleet.power_mw  # W per MW of the env's asset
        self.soc_mwh = fleet.soc_initial_mwh.copy()  # until telemetry comes
        self.soc_bounds = (fleet.soc_min_mwh, fleet.soc_max_mwh)
        sim = self.env.unwrapped.simulator
        self.pv_mwp = sim.pv_mwp if isinstance(sim, SiteSimulator) else np.zeros(self.n)
        self.pv_log: list[dict[str, float]] = []  # sites with PV: per call, PV available and its feed-in limit
        self._day: dt.date | None = None
        width = self.env.action_space.shape[0]
        self._info = {"stage": "delivery", "action_mask": np.ones(width, dtype=bool)}

    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        return float(self.setpoints_w(now, {0: status})[0])

    def asset(self, i: int) -> _AssetSource:
        return _AssetSource(self, i)

    def setpoints_w(self, now: dt.datetime, statuses: dict[int, Status]) -> np.ndarray:
        """Every asset's setpoint [W, + discharge] at ``now`` (UTC), with the SoC of ``statuses`` (asset ->
        its status) and the last known SoC of the others."""
        ts = pd.Timestamp(now).tz_convert("UTC").floor("15min")
        day = ts.tz_convert(MARKET_TZ).date()
        if day != self._day:
            if day not in self.market.dates:
                raise ValueError(f"the market table has no delivery day {day} (it covers "
                                 f"{self.market.dates[0]} .. {self.market.dates[-1]})")
            self.env.reset(seed=0, options={"start_day": day})
            self._day = day
        for i, status in statuses.items():
            self.soc_mwh[i] = status.soc_pct / 100.0 * self.energy_mwh[i]
        unwrapped = self.env.unwrapped
        view, sim = unwrapped.day_view, unwrapped.simulator
        q = int(self.market.index.get_loc(ts)) - view.start
        soc = np.clip(self.soc_mwh, *self.soc_bounds)
        action = self.agent.act(unwrapped.live_observation(q, soc), {**self._info, "quarter_hour": q})
        lo, hi = view.trade_range(q)
        # the trade entry: one for every asset (a pooled action), or each asset's own (PortfolioPerAsset)
        a = np.asarray(action, dtype=float).reshape(-1, self.env.unwrapped.runner.width)[:, 0]
        power_mw = view.committed_mw[:, q] + np.where(a >= 0, a * np.maximum(hi, 0.0), -a * np.minimum(lo, 0.0))
        if isinstance(sim, SiteSimulator):
            power_mw = self._sites(sim, q, float(action[CURTAIL]), power_mw, ts, list(statuses))
        return power_mw * self.scale_w

    def _sites(self, sim: SiteSimulator, q: int, curtail: float, power_mw: np.ndarray, ts,
               asking: list[int]) -> np.ndarray:
        """The batteries within their connections' bounds for the PV now and the curtailment; logs the PV
        feed-in limit of the sites ``asking`` (those whose setpoints are being sent)."""
        available = sim.pv_now_mw(q)
        offered, lo, hi = sim.connection.bounds(np.full(self.n, curtail), available, np.ones(self.n, dtype=bool),
                                                sim.committed_pv_mw[:, q])
        power_mw = np.clip(power_mw, lo, hi)
        pv_out, _, export = pv_dispatch(offered, available, sim.grid_mw, power_mw)
        for i in [i for i in asking if self.pv_mwp[i] > 0]:
            self.pv_log.append({"timestamp": ts.isoformat(), "asset": int(i),
                                "pv_available_w": float(available[i]) * 1e6, "pv_limit_w": float(pv_out[i]) * 1e6,
                                "battery_w": float(power_mw[i]) * 1e6, "grid_export_w": float(export[i]) * 1e6})
        return power_mw


class _AssetSource:
    """One asset of an :class:`EnvPolicy` as a setpoint source (its own control loop and safety layer)."""

    def __init__(self, policy: EnvPolicy, i: int) -> None:
        self.policy, self.i = policy, i

    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        return float(self.policy.setpoints_w(now, {self.i: status})[self.i])


def policy_source(policy: Path, market: Path | None, device_power_w: float | np.ndarray | None):
    """The setpoint source behind --policy: an LP schedule CSV, or a trained agent in its env (devices of
    ``device_power_w``; None: each asset's own power, as a portfolio's are)."""
    from bessgym.control.runner import Schedule

    if policy.suffix == ".csv":
        return Schedule.read_csv(policy)
    agent, config = load_policy_agent(policy)
    arrays = MarketArrays.from_frame(live_market(market), source=str(market or "synthetic"))
    return EnvPolicy(agent, config, arrays, device_power_w)


@dataclass
class Deployment:
    """One control loop per device (each with its safety layer and audit), run together; a site's PV
    feed-in limits are written to ``site_log`` when they end."""

    loops: list
    audits: list[Path]
    policy: object
    site_log: Path | None = None
    on_cycle: Callable[[int, object], None] | None = None

    async def run(self, cycles: int | None) -> None:
        import asyncio

        for i, loop in enumerate(self.loops):
            loop.on_cycle = (lambda row, i=i: self.on_cycle(i, row)) if self.on_cycle else None
        try:
            await asyncio.gather(*(loop.run(cycles) for loop in self.loops))
        finally:
            if self.site_log is not None and self.policy.pv_log:
                with atomic_path(self.site_log) as tmp:
                    pd.DataFrame(self.policy.pv_log).to_csv(tmp, index=False)


def build_deployment(policy: Path, market: Path | None, controllers: Sequence[str], audit: Path, *,
                     max_power_w: float | None, limits: dict[str, float], cycle_s: float, shadow: bool = False,
                     register_map=None, extra: Sequence[Path] = (), kill_switch=None,
                     acceleration: float = 1.0) -> Deployment:
    """The devices, safety layers and loops of ``bessgym deploy``: simulated devices when ``controllers`` is
    empty (a dry run: one battery of the default device, or one per asset of a portfolio, sized as the asset),
    else one Modbus controller per URL. A single device's rating is ``max_power_w`` (required for a real one);
    a portfolio's devices are rated at its assets' power, one controller each, in its order. ``acceleration``:
    simulated seconds per wall-clock second of the dry run's batteries."""
    from bessgym.control.modbus import DryRunController, ModbusController, parse_url
    from bessgym.control.registers import DEFAULT_MAP
    from bessgym.control.runner import Combined, ControlLoop, Schedule
    from bessgym.control.safety import AuditLog, SafetyLayer, SafetyLimits
    from bessgym.control.simulator import DeviceSpec

    dry = not controllers
    single_w = max_power_w or (DeviceSpec().max_power_w if dry else None)
    source = policy_source(policy, market, single_w)
    n = getattr(source, "n", 1)
    if n == 1 and single_w is None:
        raise ValueError("--max-power-w is required with a device (the site's rating; the device's own reported "
                         "limits apply on top)")
    if n > 1 and extra:
        raise ValueError("--schedule and --afrr-signal drive one device; a portfolio's policy sets every asset")
    if not dry and len(controllers) != n:
        raise ValueError(f"the policy's portfolio has {n} assets: give one --controller per asset, in its order "
                         f"(got {len(controllers)})")
    ratings = [single_w] if n == 1 else [float(p) * 1e6 for p in source.power_mw]
    sources = [Combined([source, *(Schedule.read_csv(p) for p in extra)])] if n == 1 else \
        [source.asset(i) for i in range(n)]
    audits = [audit] if n == 1 else [audit.with_name(f"{audit.stem}_asset{i}{audit.suffix}") for i in range(n)]
    loops = []
    for i in range(n):
        if dry:
            spec = DeviceSpec() if n == 1 else DeviceSpec(
                capacity_wh=float(source.energy_mwh[i]) * 1e6, max_power_w=ratings[i],
                ramp_w_per_s=max(ratings[i] / 5.0, DeviceSpec().ramp_w_per_s))
            device = DryRunController(spec, acceleration=acceleration)
        else:
            device = ModbusController(*parse_url(controllers[i]), register_map or DEFAULT_MAP)
        safety = SafetyLayer(device, SafetyLimits(max_charge_w=ratings[i], max_discharge_w=ratings[i], **limits),
                             AuditLog(audits[i]), cycle_s=cycle_s, shadow=shadow, kill_switch=kill_switch)
        loops.append(ControlLoop(sources[i], safety, cycle_s=cycle_s))
    pv = isinstance(source, EnvPolicy) and bool((source.pv_mwp > 0).any())
    return Deployment(loops, audits, source, audit.with_name(f"{audit.stem}_pv.csv") if pv else None)


def live_market(market: Path | None, days: int = 1) -> pd.DataFrame:
    """The contract table at ``market``, or the synthetic market from yesterday to ``days`` days after today
    (Berlin): offline, and an observation's horizon into the next day is filled."""
    from bessgym.data import read_table, synthetic

    if market is not None:
        return read_table(market)
    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo(MARKET_TZ)).date()
    return synthetic.generate(today - dt.timedelta(days=1), today + dt.timedelta(days=days + 1), seed=0)


SCHEDULE_COLUMNS = ("timestamp", "power_mw", "soc_pct", "day_ahead_mw", "intraday_mw",
                    *(p.held_column for p in RESERVES))


def lp_schedule(config: ExperimentConfig, market: pd.DataFrame, start: dt.date, days: int) -> pd.DataFrame:
    """The perfect-foresight LP's plan for ``days`` Berlin delivery days from ``start`` on ``market``, in the
    configured env, as ``bessgym deploy --policy <csv>`` drives it: one row per quarter-hour, ``timestamp``
    (UTC, ISO 8601) and ``power_mw`` (+ discharge, held until the next row), then the SoC [% of nameplate]
    and what carries the power (day-ahead and intraday positions, reserves held) for the operator."""
    from agents.base import DelegateAgent
    from agents.lp.delegate import DailyLPPolicy
    from experiments.evaluate import run_agent

    arrays = MarketArrays.from_frame(market, source="schedule market")
    if start not in arrays.dates:
        raise ValueError(f"the market has no delivery day {start} (it covers {arrays.dates[0]} .. {arrays.dates[-1]})")
    env = make_env(config, arrays, forecast="perfect", episode_days=days, start_day=start)
    plan = run_agent(DelegateAgent(DailyLPPolicy(config.env.wholesale()), name="lp"), env).dispatch
    out = pd.DataFrame({"timestamp": plan.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "power_mw": plan["power_mw"],
                        "soc_pct": 100 * plan["soc_mwh"] / config.battery.energy_mwh})
    for col in SCHEDULE_COLUMNS[3:]:
        out[col] = plan[col]
    return out.reset_index(drop=True)


def log_deploy(audit_path: Path, policy: Path, mode: str) -> None:
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
