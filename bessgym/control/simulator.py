"""A simulated battery, and a Modbus TCP server that exposes it through a register map.

The device integrates SoC with its efficiencies in (optionally accelerated) simulated time, ramps its power
towards the setpoint, derates power linearly near the SoC limits, and runs a watchdog in wall-clock time:
when the controller's heartbeat stops for ``watchdog_s``, or control is local, it goes to ``fallback_w``.
The physics advances lazily on every register access, in sub-steps, so it is exact at any polling rate.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from bessgym.control.registers import DEFAULT_MAP, ControlMode, DeviceState, RegisterMap

SUB_STEP_S = 0.1  # simulated seconds per integration sub-step


@dataclass(frozen=True)
class DeviceSpec:
    """The simulated battery: capacity [Wh], rating [W], one-way efficiencies [-], SoC window [%], the band
    near each limit where power derates to zero [%], ramp rate [W/s], watchdog [s wall clock], fallback [W], and
    the period of the device's own heartbeat counter [s simulated time]."""

    capacity_wh: float = 2_000_000.0
    max_power_w: float = 1_000_000.0
    eta_charge: float = 0.9487
    eta_discharge: float = 0.9487
    soc_min_pct: float = 5.0
    soc_max_pct: float = 95.0
    derate_band_pct: float = 5.0
    ramp_w_per_s: float = 200_000.0
    watchdog_s: float = 5.0
    fallback_w: float = 0.0
    soc_initial_pct: float = 50.0
    heartbeat_s: float = 1.0

    def __post_init__(self) -> None:
        if min(self.capacity_wh, self.max_power_w, self.ramp_w_per_s, self.watchdog_s, self.heartbeat_s) <= 0:
            raise ValueError("DeviceSpec: capacity_wh, max_power_w, ramp_w_per_s, watchdog_s and heartbeat_s "
                             "must be > 0")
        if not 0 <= self.soc_min_pct < self.soc_max_pct <= 100:
            raise ValueError("DeviceSpec: need 0 <= soc_min_pct < soc_max_pct <= 100")
        if not self.soc_min_pct <= self.soc_initial_pct <= self.soc_max_pct:
            raise ValueError("DeviceSpec: soc_initial_pct must lie in the SoC window")
        if not (0 < self.eta_charge <= 1 and 0 < self.eta_discharge <= 1):
            raise ValueError("DeviceSpec: efficiencies must be in (0, 1]")
        if abs(self.fallback_w) > self.max_power_w:
            raise ValueError("DeviceSpec: |fallback_w| must not exceed max_power_w")


class SimulatedBattery:
    """Device state and physics. ``clock`` gives wall-clock seconds; simulated time runs ``acceleration``
    times faster. ``reject_writes`` makes the device refuse setpoints (a fault the tests inject)."""

    def __init__(self, spec: DeviceSpec = DeviceSpec(), *, acceleration: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, epoch_s: float | None = None) -> None:
        if acceleration <= 0:
            raise ValueError(f"acceleration must be > 0, got {acceleration}")
        self.spec, self.acceleration, self.clock = spec, acceleration, clock
        self.start_wall = self.last_wall = clock()
        self.epoch_s = time.time() if epoch_s is None else epoch_s
        self.sim_s = 0.0
        self.soc_pct = spec.soc_initial_pct
        self.power_w = 0.0
        self.setpoint_w = 0.0
        self.mode = ControlMode.LOCAL
        self.last_heartbeat_wall = -float("inf")
        self.heartbeat_value = 0
        self.watchdog_trips = 0
        # faults the tests inject: refuse setpoints, freeze telemetry (stale), report wrong values
        self.reject_writes = False
        self.frozen: dict[str, float] | None = None
        self.telemetry_override: dict[str, float] = {}

    # ---------------------------------------------------------------------------------- physics

    def limits(self) -> tuple[float, float]:
        """Charge and discharge power the device accepts now [W, >= 0], derated near the SoC limits."""
        s = self.spec
        band = max(s.derate_band_pct, 1e-9)
        up = min(max((self.soc_pct - s.soc_min_pct) / band, 0.0), 1.0)
        down = min(max((s.soc_max_pct - self.soc_pct) / band, 0.0), 1.0)
        return s.max_power_w * down, s.max_power_w * up

    def watchdog_ok(self, wall: float) -> bool:
        return wall - self.last_heartbeat_wall <= self.spec.watchdog_s

    def target_w(self, wall: float) -> float:
        if self.mode != ControlMode.REMOTE:
            return 0.0
        if not self.watchdog_ok(wall):
            return self.spec.fallback_w
        return self.setpoint_w

    def advance(self) -> None:
        """Integrate from the last update to now, in sub-steps."""
        s = self.spec
        now = self.clock()
        wall, was_ok = self.last_wall, self.watchdog_ok(self.last_wall)
        remaining = (now - wall) * self.acceleration
        while remaining > 1e-12:
            dt = min(SUB_STEP_S, remaining)
            wall += dt / self.acceleration
            target = self.target_w(wall)
            max_charge, max_discharge = self.limits()
            target = min(max(target, -max_charge), max_discharge)
            step = s.ramp_w_per_s * dt
            before = self.power_w
            self.power_w += min(max(target - self.power_w, -step), step)
            self.power_w = min(max(self.power_w, -max_charge), max_discharge)  # derating binds at once
            power = 0.5 * (before + self.power_w)  # trapezoid: exact along a ramp
            if power >= 0:
                self.soc_pct -= power * dt / 3600 / s.eta_discharge / s.capacity_wh * 100
            else:
                self.soc_pct -= power * dt / 3600 * s.eta_charge / s.capacity_wh * 100
            self.soc_pct = min(max(self.soc_pct, 0.0), 100.0)
            self.sim_s += dt
            remaining -= dt
        if was_ok and self.mode == ControlMode.REMOTE and not self.watchdog_ok(now):
            self.watchdog_trips += 1
        self.last_wall = now

    # ------------------------------------------------------------------------------ registers

    def state(self) -> DeviceState:
        return DeviceState.RUNNING if abs(self.power_w) > 0.5 else DeviceState.STANDBY

    def freeze(self, frozen: bool = True) -> None:
        """Keep reporting the current values (the device's control loop hangs: its heartbeat stops)."""
        self.frozen = self.values() if frozen else None

    def values(self) -> dict[str, float]:
        if self.frozen is not None:
            return dict(self.frozen)
        max_charge, max_discharge = self.limits()
        return {"soc": self.soc_pct, "active_power": self.power_w, "max_charge_power": max_charge,
                "max_discharge_power": max_discharge, "state": int(self.state()),
                "device_heartbeat": int(self.sim_s / self.spec.heartbeat_s) % 65_536,
                "timestamp": int(self.epoch_s + self.sim_s),
                "capacity": self.spec.capacity_wh, "setpoint": self.setpoint_w,
                "controller_heartbeat": self.heartbeat_value, "control_mode": int(self.mode)} | self.telemetry_override

    def write(self, name: str, value: float) -> bool:
        """Apply a write; False when the device refuses it."""
        self.advance()
        if name == "setpoint":
            if self.reject_writes or abs(value) > self.spec.max_power_w:
                return False
            self.setpoint_w = value
        elif name == "controller_heartbeat":
            self.heartbeat_value = int(value)
            self.last_heartbeat_wall = self.clock()
        elif name == "control_mode":
            if int(value) not in (0, 1):
                return False
            self.mode = ControlMode(int(value))
            if self.mode == ControlMode.LOCAL:
                self.setpoint_w = 0.0
        return True


def modbus_device(battery: SimulatedBattery, register_map: RegisterMap = DEFAULT_MAP) -> SimDevice:
    """The battery as a pymodbus SimDevice: reads refresh the registers from the physics; writes are decoded
    and applied (read-only registers and refused values answer with a Modbus exception)."""
    registers = sorted(register_map.registers, key=lambda r: r.address)
    simdata = [SimData(r.address, values=[0] * r.count, datatype=DataType.REGISTERS, readonly=not r.writable)
               for r in registers]

    async def action(function_code: int, start: int, address: int, count: int, current: list[int],
                     set_values: list[int] | None) -> ExcCodes | None:
        if set_values is None:
            battery.advance()
            values = battery.values()
            for r in registers:
                current[r.address - start:r.address - start + r.count] = r.encode(values[r.name])
            return None
        for r in registers:
            lo, hi = r.address, r.address + r.count
            if lo < address + count and address < hi:  # the write touches this register
                if lo < address or hi > address + count:
                    return ExcCodes.ILLEGAL_ADDRESS  # half of a 32-bit value
                if not battery.write(r.name, r.decode(set_values[lo - address:hi - address])):
                    return ExcCodes.ILLEGAL_VALUE
        return None

    return SimDevice(register_map.device_id, simdata=simdata, action=action)


async def serve(battery: SimulatedBattery, *, host: str = "127.0.0.1", port: int = 5020,
                register_map: RegisterMap = DEFAULT_MAP, ready: asyncio.Event | None = None) -> None:
    """Serve the battery over Modbus TCP until cancelled (loopback unless ``host`` says otherwise). An address
    that cannot be listened on (a port in use) raises OSError before anything starts."""
    with socket.create_server((host, port)):  # pymodbus reports a busy port only as a RuntimeError without cause
        pass
    server = ModbusTcpServer(modbus_device(battery, register_map), address=(host, port))
    await server.serve_forever(background=True)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await server.shutdown()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (for a simulator on loopback in tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout_s: float = 30.0) -> None:
    """Block until something accepts TCP connections on ``host:port`` (e.g. a simulator started in another
    process); TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout_s:g} s")
