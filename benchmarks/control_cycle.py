"""One control cycle on loopback: read status, build the observation, ONNX inference, safety layer, write.

    python benchmarks/control_cycle.py [--cycles 300]

The simulated battery runs in its own process (``bessgym control simulate``), as a device would; the policy
is a PPO network of the main job's shape exported to ONNX. Prints the median and the 95th percentile [ms].
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bessgym.control.simulator import free_port, wait_for_port


def onnx_policy(folder: Path):
    """An (untrained) PPO policy of the main job's shape, exported to ONNX, as a setpoint source."""
    from agents.rl import OnnxAgent, RLAgent, build_model, make_vec_env
    from bessgym.data import synthetic
    from bessgym.data.arrays import MarketArrays
    from experiments.config import ExperimentConfig
    from experiments.deploy import EnvPolicy
    from experiments.evaluate import make_env

    config = ExperimentConfig()
    today = dt.datetime.now(dt.UTC).date()
    market = MarketArrays.from_frame(synthetic.generate(today - dt.timedelta(days=1), today + dt.timedelta(days=2)))
    venv = make_vec_env(lambda: make_env(config, market, learner=True), 1, seed=0)
    agent = RLAgent(build_model("ppo", venv, seed=0), venv, algorithm="ppo")
    return EnvPolicy(OnnxAgent(agent.export_onnx(folder / "policy.onnx")), config, market, device_power_w=1e6)


async def measure(port: int, policy, cycles: int) -> np.ndarray:
    from bessgym.control.modbus import ModbusController
    from bessgym.control.safety import SafetyLayer, SafetyLimits

    safety = SafetyLayer(ModbusController("127.0.0.1", port), SafetyLimits(max_charge_w=1e6, max_discharge_w=1e6))
    times = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        status = await safety.read()
        requested = policy.setpoint_w(status, dt.datetime.now(dt.UTC))
        row = await safety.apply(requested, status)
        times.append(time.perf_counter() - t0)
        if row.action not in ("sent", "fallback"):
            raise RuntimeError(f"cycle not completed: {row}")
    await safety.release("benchmark end")
    return np.array(times[10:]) * 1000  # the first cycles connect and warm up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    device = subprocess.Popen([sys.executable, "-m", "experiments.cli", "control", "simulate", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            policy = onnx_policy(Path(tmp))
            wait_for_port(port)
            ms = asyncio.run(measure(port, policy, args.cycles))
    finally:
        device.terminate()
        device.wait(10)
    print(f"control cycle (read, observation, ONNX, safety, write), {len(ms)} cycles: "
          f"median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms (target: median <= 20 ms)")


if __name__ == "__main__":
    main()
