"""``bessgym deploy``: a trained policy (SB3 zip or ONNX) or an LP schedule drives a battery through the
safety layer.

A trained policy sees the observation it was trained on: the env of its run's configuration is opened on
the current Berlin delivery day of a market table (the day-ahead prices and forecasts), its SoC is set from
live telemetry, and the policy's action (a share of the feasible intraday room) becomes a setpoint, scaled
from the trained battery's power to the device's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from agents.base import Agent
from bessgym.control.protocol import Status
from bessgym.data.calendar import MARKET_TZ
from bessgym.envs.core import MarketArrays
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
    """A trained agent as a setpoint source for one device of ``device_power_w``."""

    def __init__(self, agent: Agent, config: ExperimentConfig, market: MarketArrays, device_power_w: float) -> None:
        self.agent, self.config, self.market = agent, config, market
        self.scale_w = device_power_w / config.battery.power_mw / 1e6  # W per MW of the trained battery
        self.env = make_env(config, market, episode_days=1, start_day=market.dates[0])
        self._day: dt.date | None = None
        width = self.env.action_space.shape[0]
        self._info = {"stage": "delivery", "action_mask": np.ones(width, dtype=bool)}

    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        ts = pd.Timestamp(now).tz_convert("UTC").floor("15min")
        day = ts.tz_convert(MARKET_TZ).date()
        if day != self._day:
            if day not in self.market.dates:
                raise ValueError(f"the market table has no delivery day {day} (it covers "
                                 f"{self.market.dates[0]} .. {self.market.dates[-1]})")
            self.env.reset(seed=0, options={"start_day": day})
            self._day = day
        view, battery = self.env.unwrapped.day_view, self.config.battery
        q = int(self.market.index.get_loc(ts)) - view.start
        soc_mwh = np.clip(status.soc_pct / 100.0 * battery.energy_mwh, battery.soc_min * battery.energy_mwh,
                          battery.soc_max * battery.energy_mwh)
        observation = self.env.unwrapped.runner.live_observation(q, np.array([soc_mwh]))[0]
        action = self.agent.act(observation, {**self._info, "quarter_hour": q})
        lo, hi = view.trade_range(q)
        a = float(action[0])
        trade_mw = a * max(float(hi[0]), 0.0) if a >= 0 else -a * min(float(lo[0]), 0.0)
        return (float(view.committed_mw[0, q]) + trade_mw) * 1e6 * self.scale_w


def policy_source(policy: Path, market: Path | None, device_power_w: float):
    """The setpoint source behind --policy: an LP schedule CSV, or a trained agent in its env."""
    from bessgym.control.runner import Schedule

    if policy.suffix == ".csv":
        return Schedule.read_csv(policy)
    agent, config = load_policy_agent(policy)
    table = live_market(market)
    return EnvPolicy(agent, config, MarketArrays.from_frame(table, source=str(market or "synthetic")),
                     device_power_w)


def live_market(market: Path | None, days: int = 1) -> pd.DataFrame:
    """The contract table at ``market``, or the synthetic market from yesterday to ``days`` days after today
    (Berlin): offline, and an observation's horizon into the next day is filled."""
    from bessgym.data import read_table, synthetic

    if market is not None:
        return read_table(market)
    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo(MARKET_TZ)).date()
    return synthetic.generate(today - dt.timedelta(days=1), today + dt.timedelta(days=days + 1), seed=0)


SCHEDULE_COLUMNS = ("timestamp", "power_mw", "soc_pct", "day_ahead_mw", "intraday_mw", "fcr_mw", "afrr_pos_mw",
                    "afrr_neg_mw")


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
