"""The safety layer: every setpoint a policy asks for passes here before it reaches a controller.

Each cycle it reads status, then sends a setpoint that is finite, within the device's and the configured
limits, within what SoC allows over the next cycle, within the ramp limit and on the device's power step.
On stale status, implausible telemetry or a policy output that is not a number it sends 0 W (0 W is always
safe, so a fallback is not ramp-limited). A lost connection is retried with exponential backoff while the
device's own watchdog holds it at its fallback. Every cycle is one row of the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bessgym.control.protocol import Controller, ControllerError, Status, WriteRejected
from bessgym.control.registers import DeviceState

AUDIT_COLUMNS = ("time_utc", "cycle", "requested_w", "sent_w", "applied_w", "soc_pct", "max_charge_w",
                 "max_discharge_w", "action", "reason")


@dataclass(frozen=True)
class SafetyLimits:
    """Limits the layer enforces on top of what the device reports.

    max_charge_w, max_discharge_w : the site's and device's rating [W, >= 0]; soc_min_pct, soc_max_pct : the SoC
    window the layer keeps [%]; capacity_wh : usable capacity for the SoC check (None: the device's);
    ramp_w_per_s : largest setpoint change per second [W/s]; power_step_w : setpoint resolution [W];
    stale_after_s : status is stale when the device heartbeat has not moved for this long [s];
    power_margin : telemetry power beyond margin x rating is implausible [-].
    """

    max_charge_w: float
    max_discharge_w: float
    soc_min_pct: float = 5.0
    soc_max_pct: float = 95.0
    capacity_wh: float | None = None
    ramp_w_per_s: float = 100_000.0
    power_step_w: float = 1_000.0
    stale_after_s: float = 5.0
    power_margin: float = 1.5

    def __post_init__(self) -> None:
        for name in ("max_charge_w", "max_discharge_w", "ramp_w_per_s", "power_step_w", "stale_after_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"SafetyLimits.{name} must be a finite number > 0, got {value}")
        if not 0 <= self.soc_min_pct < self.soc_max_pct <= 100:
            raise ValueError("SafetyLimits: need 0 <= soc_min_pct < soc_max_pct <= 100")


@dataclass
class AuditRow:
    time_utc: str
    cycle: int
    requested_w: float | None
    sent_w: float | None  # None: nothing was written this cycle
    applied_w: float | None  # metered power read this cycle
    soc_pct: float | None
    max_charge_w: float | None
    max_discharge_w: float | None
    action: str  # sent, fallback, held, disconnected, rejected, released, shadow
    reason: str = ""


class AuditLog:
    """Audit rows in memory and, with ``path``, appended to a CSV as they happen (flushed each row, so a
    killed runner leaves every cycle it completed on disk)."""

    def __init__(self, path: Path | None = None) -> None:
        self.rows: list[AuditRow] = []
        self.path = path
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", newline="")  # open for the run; close() closes it
            self._writer = csv.DictWriter(self._fh, fieldnames=AUDIT_COLUMNS)
            self._writer.writeheader()

    def append(self, row: AuditRow) -> AuditRow:
        self.rows.append(row)
        if self._fh is not None:
            self._writer.writerow(asdict(row))
            self._fh.flush()
        return row

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class _Link:
    connected: bool = False
    next_try: float = 0.0
    backoff_s: float = 0.5
    last_heartbeat: int | None = None
    heartbeat_since: float = 0.0
    last_sent_w: float = 0.0
    killed: bool = False
    last_error: str = ""  # why the link is down, for the audit log


class SafetyLayer:
    """Wraps a controller. A cycle is ``status = await read()`` (None while disconnected), the policy's
    request, then ``await apply(requested_w, status)``, which writes at most one safe setpoint and returns the
    cycle's audit row; ``step(requested_w)`` does both.

    ``shadow=True`` reads and computes but never writes (no setpoint, heartbeat or control mode).
    ``kill_switch`` is polled every cycle; when it returns True the device is released and the layer stops.
    """

    def __init__(self, controller: Controller, limits: SafetyLimits, audit: AuditLog | None = None, *,
                 cycle_s: float = 1.0, shadow: bool = False, kill_switch: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic, max_backoff_s: float = 30.0) -> None:
        self.controller, self.limits, self.cycle_s, self.shadow = controller, limits, cycle_s, shadow
        self.audit = audit or AuditLog()
        self.kill_switch, self.clock, self.max_backoff_s = kill_switch, clock, max_backoff_s
        self.link = _Link()
        self.cycle = 0

    @property
    def killed(self) -> bool:
        return self.link.killed

    async def step(self, requested_w: float | None) -> AuditRow:
        return await self.apply(requested_w, await self.read())

    async def read(self) -> Status | None:
        """The device status, connecting (with backoff) when the link is down; None when unavailable."""
        return await self._status()

    async def apply(self, requested_w: float | None, status: Status | None) -> AuditRow:
        self.cycle += 1
        if self.kill_switch is not None and self.kill_switch():
            return await self.release("kill switch")
        if status is None:
            return self._row(requested_w, None, None, "disconnected", self.link.last_error)
        problem = self._check(status)
        if problem is None and (requested_w is None or not math.isfinite(requested_w)):
            problem = f"policy output {requested_w} is not a finite number"
        if problem is not None:
            return await self._send(0.0, requested_w, status, "fallback", problem)
        target, reason = self._bound(float(requested_w), status)
        return await self._send(target, requested_w, status, "sent", reason)

    async def release(self, reason: str) -> AuditRow:
        """Hand the device back to local control (0 W first) and stop sending."""
        self.link.killed = True
        if not self.shadow and self.link.connected:
            try:
                await self.controller.release()
            except ControllerError as exc:
                reason = f"{reason}; release failed: {exc} (the device watchdog reverts)"
        return self._row(None, 0.0 if self.link.connected and not self.shadow else None, None, "released", reason)

    # --------------------------------------------------------------------------------- internals

    async def _status(self) -> Status | None:
        link, now = self.link, self.clock()
        if not link.connected:
            if now < link.next_try:
                return None
            try:
                await self.controller.connect()
            except ControllerError as exc:
                self._backoff(now, f"connect failed: {exc}")
                return None
            link.connected, link.backoff_s = True, 0.5
            link.last_sent_w = 0.0  # the device's watchdog has it at its fallback
        try:
            return await self.controller.read_status()
        except ControllerError as exc:
            link.connected = False
            self._backoff(now, f"status read failed: {exc}")
            return None

    def _backoff(self, now: float, message: str) -> None:
        link = self.link
        link.next_try = now + link.backoff_s
        link.last_error = f"{message}; next try in {link.backoff_s:g} s"
        link.backoff_s = min(link.backoff_s * 2, self.max_backoff_s)

    def _check(self, s: Status) -> str | None:
        """Why the status cannot be trusted (None: it can)."""
        lim, link, now = self.limits, self.link, self.clock()
        values = (s.soc_pct, s.active_power_w, s.max_charge_w, s.max_discharge_w, s.timestamp_s)
        if not all(math.isfinite(v) for v in values):
            return "telemetry is not finite"
        if not 0.0 <= s.soc_pct <= 100.0:
            return f"telemetry out of range: soc {s.soc_pct:g} %"
        rating = max(lim.max_charge_w, lim.max_discharge_w) * lim.power_margin
        if abs(s.active_power_w) > rating or s.max_charge_w < 0 or s.max_discharge_w < 0:
            return (f"telemetry out of range: power {s.active_power_w:g} W, "
                    f"limits {s.max_charge_w:g}/{s.max_discharge_w:g} W")
        if s.state == DeviceState.FAULT:
            return "device reports FAULT"
        if s.heartbeat != link.last_heartbeat:
            link.last_heartbeat, link.heartbeat_since = s.heartbeat, now
        elif now - link.heartbeat_since > lim.stale_after_s:
            return f"status stale: device heartbeat {s.heartbeat} unchanged for {now - link.heartbeat_since:.1f} s"
        return None

    def _bound(self, requested: float, s: Status) -> tuple[float, str]:
        """The requested power within every limit, and what bound it."""
        lim, link = self.limits, self.link
        reasons = []
        hi = min(lim.max_discharge_w, s.max_discharge_w)
        lo = -min(lim.max_charge_w, s.max_charge_w)
        capacity = lim.capacity_wh or s.capacity_wh
        if capacity:  # energy the SoC window leaves for the next cycle, as power
            hi = min(hi, max(s.soc_pct - lim.soc_min_pct, 0.0) / 100 * capacity * 3600 / self.cycle_s)
            lo = max(lo, -max(lim.soc_max_pct - s.soc_pct, 0.0) / 100 * capacity * 3600 / self.cycle_s)
        elif requested != 0:
            hi = lo = 0.0
            reasons.append("no capacity known for the SoC check")
        target = min(max(requested, lo), hi)
        if target != requested:
            reasons.append(f"clipped to [{lo:.0f}, {hi:.0f}] W by device, site and SoC limits")
        ps, step = lim.power_step_w, lim.ramp_w_per_s * self.cycle_s
        # the ramp window around the last setpoint, on the power grid; limits win when the two do not meet
        r_lo = math.ceil(max(lo, link.last_sent_w - step) / ps) * ps
        r_hi = math.floor(min(hi, link.last_sent_w + step) / ps) * ps
        if r_lo <= r_hi:
            sent = min(max(round(target / ps) * ps, r_lo), r_hi)
            if abs(sent - target) >= ps:
                reasons.append(f"ramp limited to {lim.ramp_w_per_s:g} W/s")
        else:
            sent = math.trunc(target / ps) * ps  # towards 0 W, inside [lo, hi]
            reasons.append("limits moved faster than the ramp allows")
        return sent + 0.0, "; ".join(reasons)

    async def _send(self, target: float, requested: float | None, s: Status, action: str, reason: str) -> AuditRow:
        link = self.link
        if self.shadow:
            note = f"would send {target:g} W" + (f"; {reason}" if reason else "")
            return self._row(requested, None, s, "shadow", note)
        try:
            await self.controller.heartbeat()
            await self.controller.set_power(target)
        except WriteRejected as exc:
            return self._row(requested, None, s, "rejected", str(exc))
        except ControllerError as exc:
            link.connected = False
            self._backoff(self.clock(), f"write failed: {exc}")
            return self._row(requested, None, s, "disconnected", link.last_error)
        link.last_sent_w = target
        return self._row(requested, target, s, action, reason)

    def _row(self, requested: float | None, sent: float | None, s: Status | None, action: str,
             reason: str) -> AuditRow:
        return self.audit.append(AuditRow(
            time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), cycle=self.cycle,
            requested_w=requested, sent_w=sent, applied_w=s.active_power_w if s else None,
            soc_pct=s.soc_pct if s else None, max_charge_w=s.max_charge_w if s else None,
            max_discharge_w=s.max_discharge_w if s else None, action=action, reason=reason))
