"""Hardware driver on loopback: register codec, simulated battery physics, the safety layer under faults, the
runner against the Modbus simulator, and a killed runner whose device watchdog reverts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bessgym.assets.battery import soc_next
from bessgym.control.modbus import ModbusController
from bessgym.control.protocol import Status
from bessgym.control.registers import DEFAULT_MAP, DeviceState, Register, RegisterMap
from bessgym.control.runner import ControlLoop, Schedule
from bessgym.control.safety import AuditLog, SafetyLayer, SafetyLimits
from bessgym.control.simulator import DeviceSpec, SimulatedBattery, free_port, serve, wait_for_port

ETA = 0.9487
LIMITS = SafetyLimits(max_charge_w=1e6, max_discharge_w=1e6, ramp_w_per_s=5e6, power_step_w=1_000.0,
                      stale_after_s=0.3)


def _device(**spec) -> SimulatedBattery:
    """A device whose heartbeat moves well inside LIMITS.stale_after_s, so that only a frozen device reads as
    stale, however slow the machine running the test."""
    return SimulatedBattery(DeviceSpec(heartbeat_s=0.02, **spec))


@contextlib.asynccontextmanager
async def served(battery: SimulatedBattery, port: int, register_map: RegisterMap = DEFAULT_MAP):
    ready = asyncio.Event()
    task = asyncio.create_task(serve(battery, port=port, ready=ready, register_map=register_map))
    await asyncio.wait_for(ready.wait(), 5)
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Constant:
    def __init__(self, power_w: float) -> None:
        self.power_w = power_w

    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        return self.power_w


def assert_nothing_unsafe(rows, limits: SafetyLimits, cycle_s: float) -> None:
    """Every written setpoint: finite, within rating, on the power grid, within the ramp from the last one,
    never deeper into a full or empty battery, 0 W on every fallback."""
    previous = 0.0
    for r in rows:
        if r.action == "disconnected":
            previous = 0.0  # the device watchdog holds its fallback; the layer ramps from 0 W again
        if r.sent_w is None:
            continue
        assert math.isfinite(r.sent_w), r
        assert -limits.max_charge_w <= r.sent_w <= limits.max_discharge_w, r
        assert r.sent_w % limits.power_step_w == 0, r
        if r.action in ("fallback", "released"):
            assert r.sent_w == 0.0, r
        else:
            assert abs(r.sent_w - previous) <= limits.ramp_w_per_s * cycle_s + 1e-6, r
        if r.soc_pct is not None and r.soc_pct <= limits.soc_min_pct:
            assert r.sent_w <= 0, r
        if r.soc_pct is not None and r.soc_pct >= limits.soc_max_pct:
            assert r.sent_w >= 0, r
        previous = r.sent_w


# ------------------------------------------------------------------------------------- registers


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["int16", "uint16", "int32", "uint32"]), order=st.sampled_from(["big", "little"]),
       scale=st.sampled_from([1.0, 0.1, 0.01, 10.0]), fraction=st.floats(0, 1))
def test_register_round_trip(kind, order, scale, fraction):
    bits = 16 if kind.endswith("16") else 32
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if kind.startswith("int") else (0, 2**bits - 1)
    raw = round(lo + fraction * (hi - lo))
    register = Register("x", 100, kind, scale, order)
    words = register.encode(raw * scale)
    assert len(words) == register.count and all(0 <= w < 65_536 for w in words)
    assert register.decode(words) == pytest.approx(raw * scale)
    with pytest.raises(ValueError, match="does not fit"):
        register.encode((hi + 1) * scale)


def test_word_order_and_map_validation(tmp_path):
    big, little = Register("p", 0, "int32", word_order="big"), Register("p", 0, "int32", word_order="little")
    assert big.encode(-2) == [0xFFFF, 0xFFFE] and little.encode(-2) == [0xFFFE, 0xFFFF]
    regs = list(DEFAULT_MAP.registers)
    with pytest.raises(ValueError, match="overlap at address 2"):
        RegisterMap(tuple(regs) + (Register("extra", 2),))
    with pytest.raises(ValueError, match="'setpoint' must be writable"):
        RegisterMap(tuple(Register(r.name, r.address, r.type) if r.name == "setpoint" else r for r in regs))
    with pytest.raises(ValueError, match="lacks"):
        RegisterMap(tuple(r for r in regs if r.name != "soc"))
    assert DEFAULT_MAP.allow_list == {20, 21, 22, 23}
    path = tmp_path / "vendor.yaml"
    path.write_text("registers:\n  - {name: soc, address: 0, type: uint16, scale: 0.01, colour: red}\n")
    with pytest.raises(ValueError, match="vendor.yaml: invalid register map"):
        RegisterMap.load(path)


# ---------------------------------------------------------------------------------- device physics


def test_simulated_battery_by_hand():
    """Charge at 500 kW for 360 s with a 200 kW/s ramp: 2.5 s ramping, then flat."""
    now = [0.0]
    battery = SimulatedBattery(DeviceSpec(watchdog_s=1e9), clock=lambda: now[0])
    battery.write("controller_heartbeat", 1)
    battery.write("control_mode", 1)
    battery.write("setpoint", -500_000)
    now[0] = 360.0
    battery.advance()
    energy_wh = 500_000 * (360 - 2.5 + 0.5 * 2.5) / 3600  # AC energy drawn
    assert battery.soc_pct == pytest.approx(50 + energy_wh * ETA / 2e6 * 100, abs=1e-6)
    assert battery.power_w == pytest.approx(-500_000)
    # near the top, charging derates linearly to zero within 5 % of soc_max
    battery.soc_pct = 92.5
    assert battery.limits()[0] == pytest.approx(0.5e6)
    battery.soc_pct = 95.0
    assert battery.limits() == (0.0, 1e6)
    assert not battery.write("setpoint", 2e6)  # beyond its rating: refused


def test_watchdog_reverts_to_fallback():
    now = [0.0]
    battery = SimulatedBattery(DeviceSpec(watchdog_s=2.0, fallback_w=-100_000), clock=lambda: now[0])
    battery.write("controller_heartbeat", 1)
    battery.write("control_mode", 1)
    battery.write("setpoint", 400_000)
    now[0] = 1.9
    battery.advance()
    assert battery.power_w == pytest.approx(380_000)  # still ramping towards the setpoint
    now[0] = 10.0
    battery.advance()
    assert battery.power_w == pytest.approx(-100_000) and battery.watchdog_trips == 1
    battery.write("controller_heartbeat", 2)  # heartbeats resume: back towards the setpoint at the ramp rate
    now[0] = 11.5
    battery.advance()
    assert battery.power_w == pytest.approx(-100_000 + 200_000 * 1.5)


# ---------------------------------------------------------------------- the runner on loopback


def test_schedule_drives_the_device_and_soc_matches_the_env():
    """An LP-style schedule (charge 0.5 MW for 15 min, discharge 0.4 MW for 15 min, then nothing) drives the
    simulated device, 300x faster than real time, over Modbus; its SoC ends where the env's battery physics
    puts it, within 0.25 % points (the stated tolerance: ramps and cycle timing, 6 simulated s a cycle). The
    device's clock moves one cycle per control cycle, so a stalled test machine cannot stretch a setpoint."""
    acceleration, cycle_s = 300.0, 0.02
    wall = [0.0]
    battery = SimulatedBattery(DeviceSpec(ramp_w_per_s=1e6), acceleration=acceleration, clock=lambda: wall[0])
    t0 = pd.Timestamp(battery.epoch_s, unit="s", tz="UTC")
    steps = pd.DatetimeIndex([t0, t0 + pd.Timedelta(minutes=15), t0 + pd.Timedelta(minutes=30)])
    schedule = Schedule(steps, np.array([-500_000.0, 400_000.0, 0.0]))
    limits = SafetyLimits(max_charge_w=1e6, max_discharge_w=1e6, ramp_w_per_s=1e8)

    def device_now() -> dt.datetime:
        return t0 + pd.Timedelta(seconds=battery.sim_s)

    def tick(row) -> None:  # one control cycle has passed on the device
        wall[0] += cycle_s

    async def scenario():
        async with served(battery, free_port()) as port:
            safety = SafetyLayer(ModbusController("127.0.0.1", port), limits, cycle_s=cycle_s)
            runner = ControlLoop(schedule, safety, cycle_s=cycle_s, now=device_now, on_cycle=tick)
            rows = []
            while battery.sim_s < 1900:
                rows += await runner.run(cycles=20)
                safety.link.killed = False  # run() released the device; go on
            return rows

    rows = asyncio.run(scenario())
    assert_nothing_unsafe([r for r in rows if r.action != "released"], limits, cycle_s)
    one = np.ones(1)
    predicted_mwh = soc_next(one * 1.0, one * -0.5, 0.25, one * ETA, one * ETA, one * 0.0)
    predicted_mwh = soc_next(predicted_mwh, one * 0.4, 0.25, one * ETA, one * ETA, one * 0.0)[0]
    assert battery.soc_pct == pytest.approx(predicted_mwh / 2.0 * 100, abs=0.25)
    assert max(r.sent_w for r in rows if r.sent_w is not None) == 400_000


def _run_faulty(battery: SimulatedBattery, source, inject, cycles: int = 30, cycle_s: float = 0.02,
                start_server_after: int = 0):
    """Run ``cycles`` cycles against the device served on loopback; ``inject(k, server)`` runs before cycle k
    and may stop or start the server (returns the audit rows)."""
    port = free_port()

    async def scenario():
        server: dict[str, asyncio.Task] = {}

        async def start():
            ready = asyncio.Event()
            server["task"] = asyncio.create_task(serve(battery, port=port, ready=ready))
            await asyncio.wait_for(ready.wait(), 5)

        async def stop():
            server["task"].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server["task"]

        if start_server_after == 0:
            await start()
        safety = SafetyLayer(ModbusController("127.0.0.1", port, timeout_s=0.2), LIMITS, cycle_s=cycle_s,
                             max_backoff_s=0.05)
        for k in range(cycles):
            if k == start_server_after and k > 0:
                await start()
            await inject(k, start, stop)
            status = await safety.read()
            requested = source.setpoint_w(status, dt.datetime.now(dt.UTC)) if status else None
            await safety.apply(requested, status)
            await asyncio.sleep(cycle_s)
        await safety.release("test end")
        await stop()
        return safety.audit.rows

    return asyncio.run(scenario())


async def _nothing(k, start, stop):
    return None


def test_device_down_at_start_then_connects():
    battery = _device()
    rows = _run_faulty(battery, Constant(300_000), _nothing, start_server_after=5)
    actions = [r.action for r in rows]
    assert actions[:5] == ["disconnected"] * 5 and "connect failed" in rows[0].reason
    assert "sent" in actions[5:]
    assert_nothing_unsafe(rows, LIMITS, 0.02)
    assert battery.setpoint_w == 0.0  # released at the end


def test_connection_lost_mid_run_falls_back_and_reconnects():
    battery = _device(watchdog_s=0.2)

    async def outage(k, start, stop):
        if k == 10:
            await stop()
        if k == 16:
            await start()

    rows = _run_faulty(battery, Constant(-200_000), outage, cycles=40)
    actions = [r.action for r in rows]
    assert "disconnected" in actions[10:16]
    assert actions[-2] == "sent"  # reconnected, sending again (ramped from 0 W)
    assert battery.watchdog_trips >= 1  # meanwhile the device reverted on its own
    assert_nothing_unsafe(rows, LIMITS, 0.02)


def test_stale_status_falls_back_to_zero():
    battery = _device()

    async def hang(k, start, stop):
        if k == 10:
            battery.freeze()

    rows = _run_faulty(battery, Constant(500_000), hang, cycles=40)
    stale = [r for r in rows if "stale" in r.reason]
    assert not any("stale" in r.reason for r in rows[:10])
    assert stale and all(r.action == "fallback" and r.sent_w == 0.0 for r in stale)
    assert rows[-2].action == "fallback"
    assert_nothing_unsafe(rows, LIMITS, 0.02)


def test_out_of_range_telemetry_and_nan_policy_fall_back():
    battery = _device()

    async def corrupt(k, start, stop):
        if k == 5:
            battery.telemetry_override = {"soc": 250.0}
        if k == 10:
            battery.telemetry_override = {}

    rows = _run_faulty(battery, Constant(100_000), corrupt, cycles=15)
    assert all(r.action == "fallback" and "soc 250" in r.reason for r in rows[5:10])
    assert rows[12].action == "sent"
    nan_rows = _run_faulty(_device(), Constant(float("nan")), _nothing, cycles=5)
    assert all(r.action == "fallback" and "not a finite number" in r.reason for r in nan_rows[:5])
    assert_nothing_unsafe(rows + nan_rows, LIMITS, 0.02)


def test_rejected_writes_are_logged_and_limits_hold():
    battery = _device(soc_initial_pct=5.5)

    async def refuse(k, start, stop):
        battery.reject_writes = 5 <= k < 8

    rows = _run_faulty(battery, Constant(900_000), refuse, cycles=12)
    assert all(r.action == "rejected" and r.sent_w is None for r in rows[5:8])
    sent = [r for r in rows if r.action == "sent"]
    # 0.5 % above soc_min: at most 0.5 % x 2 MWh over one 0.02 s cycle, far above the device's derated limit
    assert all(r.sent_w <= r.max_discharge_w for r in sent)
    assert_nothing_unsafe(rows, LIMITS, 0.02)


def test_client_writes_only_the_allow_list():
    controller = ModbusController("127.0.0.1", free_port())
    with pytest.raises(PermissionError, match="'soc' is not in the write allow-list"):
        asyncio.run(controller._write("soc", 50.0))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_stopped_runner_leaves_the_device_safe(tmp_path, sig):
    """A runner process is stopped mid-run. SIGKILL: no release is sent, the device's watchdog reverts to its
    fallback. SIGTERM: the runner releases the device to local control itself. Either way the audit CSV the
    runner left shows nothing unsafe."""
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    bessgym = [sys.executable, "-m", "experiments.cli"]
    device = subprocess.Popen([*bessgym, "control", "simulate", "--port", str(port), "--watchdog-s", "1",
                               "--acceleration", "10"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    schedule = tmp_path / "schedule.csv"
    now = pd.Timestamp.now(tz="UTC").floor("min")
    schedule.write_text(f"timestamp,power_w\n{now.isoformat()},400000\n{(now + pd.Timedelta(hours=2)).isoformat()},0\n")
    audit = tmp_path / "audit.csv"

    async def read() -> Status:
        controller = ModbusController("127.0.0.1", port)
        await controller.connect()
        status = await controller.read_status()
        await controller.close()
        return status

    try:
        wait_for_port(port)
        runner = subprocess.Popen([*bessgym, "deploy", "--policy", str(schedule), "--controller",
                                   f"modbus://127.0.0.1:{port}", "--cycle-s", "0.1", "--max-power-w", "1000000",
                                   "--ramp-w-per-s", "2000000", "--audit", str(audit)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _wait_until(lambda: audit.exists() and audit.read_text().count("\n") > 15, runner)
        assert asyncio.run(read()).active_power_w == pytest.approx(400_000)
        os.kill(runner.pid, sig)
        runner.wait(30)
        if sig == signal.SIGKILL:
            assert asyncio.run(read()).active_power_w == pytest.approx(400_000)  # still on the last setpoint
            time.sleep(2.0)  # > watchdog (1 s) + ramp back (0.2 s at 2 MW/s simulated x10)
        else:
            time.sleep(0.5)  # the release ramps the device down within 0.2 s
        assert asyncio.run(read()).active_power_w == pytest.approx(0.0)
    finally:
        device.terminate()
        assert device.wait(10) == 0  # SIGTERM stops the simulator cleanly
    rows = pd.read_csv(audit)
    assert ("released" in set(rows["action"])) == (sig == signal.SIGTERM)
    from bessgym.control.safety import AuditRow

    audit_rows = [AuditRow(**{k: (None if pd.isna(v) else v) for k, v in r.items()}) for r in rows.to_dict("records")]
    assert_nothing_unsafe(audit_rows, SafetyLimits(max_charge_w=1e6, max_discharge_w=1e6, ramp_w_per_s=2e6), 0.1)


def _wait_until(condition, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise RuntimeError(f"runner exited early: {process.stdout.read().decode()}")
        time.sleep(0.1)
    raise TimeoutError("runner did not log enough cycles")


def test_dry_run_with_a_trained_onnx_policy(tmp_path, monkeypatch):
    """The runner builds the env's observation from live status for an exported policy (no hardware)."""
    from agents.rl import RLAgent, build_model, make_vec_env
    from bessgym.control.modbus import DryRunController
    from bessgym.data import synthetic
    from bessgym.data.arrays import MarketArrays
    from experiments.config import ExperimentConfig
    from experiments.deploy import EnvPolicy, load_policy_agent
    from experiments.evaluate import make_env

    config = ExperimentConfig()
    today = dt.datetime.now(dt.UTC).date()
    market = MarketArrays.from_frame(synthetic.generate(today - dt.timedelta(days=1), today + dt.timedelta(days=2)))
    venv = make_vec_env(lambda: make_env(config, market, learner=True), 1, seed=0)
    model = build_model("ppo", venv, seed=0, n_steps=64, batch_size=32)
    model_dir = RLAgent(model, venv, algorithm="ppo").save(tmp_path / "run" / "model")
    RLAgent(model, venv, algorithm="ppo").export_onnx(model_dir / "policy.onnx")
    agent, loaded_config = load_policy_agent(model_dir / "policy.onnx")
    assert loaded_config == config
    policy = EnvPolicy(agent, config, market, device_power_w=1e6)
    limits = SafetyLimits(max_charge_w=1e6, max_discharge_w=1e6)
    safety = SafetyLayer(DryRunController(), limits, AuditLog(tmp_path / "audit.csv"), cycle_s=0.01)
    rows = asyncio.run(ControlLoop(policy, safety, cycle_s=0.01).run(cycles=5))
    assert [r.action for r in rows] == ["sent"] * 5 + ["released"]
    assert all(abs(r.requested_w) <= 1e6 for r in rows[:5])
    assert pd.read_csv(tmp_path / "audit.csv")["action"].tolist() == [r.action for r in rows]


def test_deploy_cli_dry_run_logs_the_audit_to_mlflow(tmp_path, monkeypatch):
    import mlflow
    from typer.testing import CliRunner

    from experiments.cli import app

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    schedule, signal_csv = tmp_path / "schedule.csv", tmp_path / "afrr.csv"
    now = pd.Timestamp.now(tz="UTC").floor("min")
    start, end = now.isoformat(), (now + pd.Timedelta(hours=1)).isoformat()
    schedule.write_text(f"timestamp,power_mw\n{start},0.3\n{end},0\n")
    signal_csv.write_text(f"timestamp,power_w\n{start},-50000\n{end},0\n")
    audit = tmp_path / "audit.csv"
    result = CliRunner().invoke(app, ["deploy", "--policy", str(schedule), "--afrr-signal", str(signal_csv),
                                      "--dry-run", "--cycles", "4", "--cycle-s", "0.01", "--ramp-w-per-s", "1e9",
                                      "--audit", str(audit)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(audit)
    assert rows["action"].tolist() == ["sent"] * 4 + ["released"]
    assert rows["requested_w"].iloc[0] == pytest.approx(250_000)  # schedule + aFRR signal
    assert rows["sent_w"].iloc[0] == pytest.approx(250_000)
    run = mlflow.search_runs(experiment_names=["deploy"], output_format="list")[0]
    assert run.data.metrics["cycles_sent"] == 4
    assert [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)] == ["audit.csv"]
    bad = CliRunner().invoke(app, ["deploy", "--policy", str(schedule), "--controller", "modbus://127.0.0.1:1"])
    assert bad.exit_code == 2 and "--max-power-w is required" in bad.output


def test_vendor_map_little_word_order_end_to_end(tmp_path):
    """A vendor's map (other addresses, scale, little-endian words) served by the simulator and read by the
    client through the same file."""
    path = tmp_path / "vendor.yaml"
    path.write_text("""device_id: 3
registers:
  - {name: soc, address: 100, type: uint16, scale: 0.1}
  - {name: active_power, address: 101, type: int32, scale: 10, word_order: little}
  - {name: max_charge_power, address: 103, type: uint32, scale: 10, word_order: little}
  - {name: max_discharge_power, address: 105, type: uint32, scale: 10, word_order: little}
  - {name: state, address: 107}
  - {name: device_heartbeat, address: 108}
  - {name: timestamp, address: 109, type: uint32, word_order: little}
  - {name: setpoint, address: 300, type: int32, scale: 10, word_order: little, writable: true}
  - {name: controller_heartbeat, address: 302, writable: true}
  - {name: control_mode, address: 303, writable: true}
""")
    vendor = RegisterMap.load(path)
    battery = SimulatedBattery(DeviceSpec(soc_initial_pct=42.0))

    async def scenario():
        async with served(battery, free_port(), register_map=vendor) as port:
            controller = ModbusController("127.0.0.1", port, vendor)
            await controller.connect()
            await controller.heartbeat()
            await controller.set_power(-120_000)
            status = await controller.read_status()
            await controller.release()
            await controller.close()
            return status

    status = asyncio.run(scenario())
    assert status.soc_pct == pytest.approx(42.0, abs=0.1) and status.max_charge_w == 1e6
    assert battery.setpoint_w == 0.0 and battery.mode == 0  # released
    assert vendor.device_id == 3 and vendor.allow_list == {300, 301, 302, 303}


def _trained_run(tmp_path, config_file: str, **overrides) -> Path:
    """A briefly trained PPO of an experiment config (with ``overrides``), saved as ``bessgym train`` leaves it
    (model/ and config.yaml), for deploy to load."""
    from agents.rl import RLAgent, build_model, make_vec_env
    from bessgym.data import synthetic
    from bessgym.data.arrays import MarketArrays
    from experiments.config import dump_config, load_config
    from experiments.evaluate import make_env

    config = load_config(Path(__file__).resolve().parents[1] / "experiments" / "configs" / config_file)
    config = config.with_overrides(overrides) if overrides else config
    market = MarketArrays.from_frame(synthetic.generate("2025-03-01", "2025-03-03", seed=1))
    venv = make_vec_env(lambda: make_env(config, market, learner=True), 1, seed=0)
    model = build_model("ppo", venv, seed=0, n_steps=64, batch_size=32)
    model.learn(64)
    dump_config(config, tmp_path / "run" / "config.yaml")
    return RLAgent(model, venv, algorithm="ppo").save(tmp_path / "run" / "model")


def _deploy(tmp_path, model_dir: Path) -> object:
    import mlflow
    from typer.testing import CliRunner

    from experiments.cli import app

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return CliRunner(env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}).invoke(
        app, ["deploy", "--policy", str(model_dir), "--dry-run", "--cycles", "3", "--cycle-s", "0.01",
              "--ramp-w-per-s", "1e9", "--audit", str(tmp_path / "audit.csv")])


def test_portfolio_policy_deploys_one_device_per_asset_in_dry_run(tmp_path):
    from bessgym.envs.portfolio import default_portfolio

    result = _deploy(tmp_path, _trained_run(tmp_path, "portfolio.yaml"))
    assert result.exit_code == 0, result.output
    ratings_w = [10e6, 2e6, 0.6e6, 0.4e6, 10e6, 3e6]  # experiments/configs/portfolio.yaml
    assert len(default_portfolio()) == len(ratings_w)
    for i, rating in enumerate(ratings_w):
        audit = pd.read_csv(tmp_path / f"audit_asset{i}.csv")
        assert audit["action"].tolist() == ["sent"] * 3 + ["released"]
        assert (audit["sent_w"].abs().fillna(0) <= rating + 1e-6).all()
    assert "asset 5 cycle 2" in result.output
    pv = pd.read_csv(tmp_path / "audit_pv.csv")  # the two PV sites (assets 4 and 5) within their connections
    assert sorted(set(pv["asset"])) == [4, 5] and len(pv) == 6
    grid_w = pv["asset"].map({4: 10e6, 5: 4e6})
    assert (pv["battery_w"] + pv["pv_limit_w"] <= grid_w + 1e-6).all()


def test_a_per_asset_portfolio_policy_sets_each_asset_by_its_own_action():
    """train.per_asset: the policy's action has a row per asset, and each asset trades its own row's entry (a
    pooled policy moves every asset the same way): here asset 0 sells and asset 1 buys all its room."""
    from agents.base import Agent
    from bessgym.data import synthetic
    from bessgym.data.arrays import MarketArrays
    from experiments.config import load_config
    from experiments.deploy import EnvPolicy

    class Opposite(Agent):
        def act(self, observation: np.ndarray, info: dict) -> np.ndarray:
            assert policy.env.observation_space.contains(observation)  # the per-asset observation, live
            a = np.zeros((2, width))
            a[0, 0], a[1, 0] = 1.0, -1.0
            return a.ravel()

    assets = [{"power_mw": 1.0, "energy_mwh": 2.0}, {"power_mw": 0.5, "energy_mwh": 0.5}]
    config = load_config(Path(__file__).resolve().parents[1] / "experiments" / "configs" / "portfolio.yaml")
    config = config.with_overrides({"portfolio.assets": assets, "train.per_asset": True})
    market = MarketArrays.from_frame(synthetic.generate("2025-03-01", "2025-03-03", seed=1))
    policy = EnvPolicy(Opposite(), config, market)
    width = policy.env.unwrapped.runner.width
    assert policy.env.action_space.shape == (2 * width,)
    status = Status(soc_pct=50.0, active_power_w=0.0, max_charge_w=1e6, max_discharge_w=1e6,
                    state=DeviceState.RUNNING, heartbeat=1, timestamp_s=0.0)
    setpoints_w = policy.setpoints_w(dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC), {0: status, 1: status})
    assert setpoints_w[0] > 0 > setpoints_w[1]
    assert setpoints_w[0] <= 1e6 + 1e-6 and setpoints_w[1] >= -0.5e6 - 1e-6


def test_site_policy_deploys_the_battery_within_the_connection_and_logs_pv_limits(tmp_path):
    result = _deploy(tmp_path, _trained_run(tmp_path, "colocation.yaml"))
    assert result.exit_code == 0, result.output
    audit = pd.read_csv(tmp_path / "audit.csv")
    assert audit["action"].tolist() == ["sent"] * 3 + ["released"]
    pv = pd.read_csv(tmp_path / "audit_pv.csv")
    assert len(pv) == 3
    grid_w = 1e6  # experiments/configs/colocation.yaml: a 1 MW connection
    assert (pv["pv_limit_w"] <= pv["pv_available_w"] + 1e-6).all() and (pv["pv_limit_w"] >= 0).all()
    assert (pv["battery_w"] + pv["pv_limit_w"] <= grid_w + 1e-6).all()
    assert np.allclose(pv["grid_export_w"], pv["battery_w"] + pv["pv_limit_w"])
    assert np.allclose(audit["requested_w"].iloc[:3], pv["battery_w"])


def test_portfolio_policy_drives_one_simulated_device_per_asset_over_modbus(tmp_path):
    from experiments.deploy import build_deployment

    assets = [{"power_mw": 1.0, "energy_mwh": 2.0}, {"power_mw": 0.5, "energy_mwh": 0.5}]
    model_dir = _trained_run(tmp_path, "portfolio.yaml", **{"portfolio.assets": assets})
    devices = [_device(max_power_w=1e6, capacity_wh=2e6), _device(max_power_w=0.5e6, capacity_wh=0.5e6)]
    limits = {"soc_min_pct": 5.0, "soc_max_pct": 95.0, "ramp_w_per_s": 1e9, "power_step_w": 1_000.0}

    async def drive() -> list[pd.DataFrame]:
        async with served(devices[0], free_port()) as p0, served(devices[1], free_port()) as p1:
            urls = [f"modbus://127.0.0.1:{p0}", f"modbus://127.0.0.1:{p1}"]
            with pytest.raises(ValueError, match="2 assets: give one --controller per asset"):
                build_deployment(model_dir, None, urls[:1], tmp_path / "a.csv", max_power_w=None, limits=limits,
                                 cycle_s=0.05)
            deployment = build_deployment(model_dir, None, urls, tmp_path / "audit.csv", max_power_w=None,
                                          limits=limits, cycle_s=0.05)
            await deployment.run(cycles=5)
        return [pd.read_csv(path) for path in deployment.audits]

    audits = asyncio.run(drive())
    for audit, rating in zip(audits, (1e6, 0.5e6), strict=True):
        assert audit["action"].tolist() == ["sent"] * 5 + ["released"]
        assert (audit["sent_w"].abs().fillna(0) <= rating + 1e-6).all()
        assert audit["soc_pct"].iloc[:5].notna().all()  # read from each device over Modbus
