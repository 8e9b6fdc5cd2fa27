"""The deployment loop and the setpoint sources it combines.

Each cycle: read status, ask the policy for a setpoint (a day-ahead schedule plus the policy's intraday
adjustment plus a reserve signal such as an aFRR setpoint), pass it through the safety layer, write, log.
On exit or error the device is released to local control; if the loop dies without that, the device's
watchdog reverts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from bessgym.control.protocol import Status
from bessgym.control.safety import AuditRow, SafetyLayer


class SetpointSource(Protocol):
    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        """Active power [W, + discharge] wanted at ``now`` (UTC), given the device's status."""


class Schedule:
    """A piecewise-constant power profile from a CSV: ``timestamp`` (ISO 8601 with zone) and ``power_w`` or
    ``power_mw``; each value holds until the next timestamp. Outside the profile it asks for 0 W."""

    def __init__(self, times_utc: pd.DatetimeIndex, power_w: np.ndarray, *, source: str = "schedule") -> None:
        if times_utc.tz is None:
            raise ValueError(f"{source}: timestamps need a time zone (UTC inside)")
        if not times_utc.is_monotonic_increasing or times_utc.has_duplicates:
            raise ValueError(f"{source}: timestamps must be strictly increasing")
        if not np.isfinite(power_w).all():
            bad = times_utc[~np.isfinite(power_w)][0]
            raise ValueError(f"{source}: power is not a finite number at {bad}")
        self.times = times_utc.tz_convert("UTC").as_unit("ns").asi8
        self.power_w, self.source = np.asarray(power_w, dtype=float), source
        self.end = self.times[-1] + (self.times[-1] - self.times[-2] if len(self.times) > 1 else 0)

    @classmethod
    def read_csv(cls, path: Path) -> Schedule:
        df = pd.read_csv(path)
        if "timestamp" not in df.columns:
            raise ValueError(f"{path}: needs a 'timestamp' column")
        if "power_w" in df.columns:
            power = df["power_w"].to_numpy(dtype=float)
        elif "power_mw" in df.columns:
            power = df["power_mw"].to_numpy(dtype=float) * 1e6
        else:
            raise ValueError(f"{path}: needs a 'power_w' or 'power_mw' column")
        try:
            times = pd.DatetimeIndex(pd.to_datetime(df["timestamp"], utc=False))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: column 'timestamp': {exc}") from None
        return cls(times, power, source=str(path))

    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        t = pd.Timestamp(now).as_unit("ns").value
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        if i < 0 or t >= self.end:
            return 0.0
        return float(self.power_w[i])


class Combined:
    """The sum of several sources: schedule + intraday adjustment + reserve signal."""

    def __init__(self, sources: Sequence[SetpointSource]) -> None:
        if not sources:
            raise ValueError("give at least one setpoint source (a policy or a schedule)")
        self.sources = list(sources)

    def setpoint_w(self, status: Status, now: dt.datetime) -> float:
        return float(sum(s.setpoint_w(status, now) for s in self.sources))


class ControlLoop:
    """Runs ``source`` through ``safety`` every ``cycle_s`` seconds for ``cycles`` cycles (None: until the
    kill switch or an interrupt)."""

    def __init__(self, source: SetpointSource, safety: SafetyLayer, *, cycle_s: float = 1.0,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 on_cycle: Callable[[AuditRow], None] | None = None) -> None:
        if not cycle_s > 0:
            raise ValueError(f"cycle_s must be > 0, got {cycle_s}")
        self.source, self.safety, self.cycle_s, self.now, self.on_cycle = source, safety, cycle_s, now, on_cycle
        self.policy_errors: list[str] = []

    async def run(self, cycles: int | None = None) -> list[AuditRow]:
        done = 0
        try:
            while not self.safety.killed and (cycles is None or done < cycles):
                start = time.monotonic()
                status = await self.safety.read()
                requested = self._request(status)
                row = await self.safety.apply(requested, status)
                if self.on_cycle is not None:
                    self.on_cycle(row)
                done += 1
                await asyncio.sleep(max(self.cycle_s - (time.monotonic() - start), 0.0))
        finally:
            if not self.safety.killed:
                await self.safety.release("control loop exit")
            self.safety.audit.close()
        return self.safety.audit.rows

    def _request(self, status: Status | None) -> float | None:
        if status is None:
            return None
        try:
            value = float(self.source.setpoint_w(status, self.now()))
        except Exception as exc:  # a failing policy must not stop the safe loop
            self.policy_errors.append(f"{type(exc).__name__}: {exc}")
            return math.nan  # the safety layer falls back to 0 W and says why
        return value
