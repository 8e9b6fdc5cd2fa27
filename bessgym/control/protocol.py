"""The controller interface: what a control loop may read from and write to a battery.

Units are W, Wh, % and seconds; positive power is discharge (export), negative is charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bessgym.control.registers import DeviceState


class ControllerError(RuntimeError):
    """The device cannot be reached or answered nonsense; the link is considered lost."""


class WriteRejected(ControllerError):
    """The device answered and refused a write (the link is fine)."""


@dataclass(frozen=True)
class Status:
    """One reading of the device.

    soc_pct : state of charge [%]; active_power_w : metered power [W, + discharge];
    max_charge_w, max_discharge_w : what the device accepts now [W, both >= 0]; state : :class:`DeviceState`;
    heartbeat : the device's counter (advances while its control loop runs); timestamp_s : device time [s, Unix].
    """

    soc_pct: float
    active_power_w: float
    max_charge_w: float
    max_discharge_w: float
    state: DeviceState
    heartbeat: int
    timestamp_s: float
    capacity_wh: float | None = None

    @classmethod
    def from_values(cls, v: dict[str, float]) -> Status:
        """From the register map's quantities by name (``soc``, ``active_power``, ...), as a device reports them."""
        try:
            state = DeviceState(int(v["state"]))
        except ValueError:
            raise ControllerError(f"device reports unknown state {v['state']:g}") from None
        return cls(soc_pct=v["soc"], active_power_w=v["active_power"], max_charge_w=v["max_charge_power"],
                   max_discharge_w=v["max_discharge_power"], state=state, heartbeat=int(v["device_heartbeat"]),
                   timestamp_s=v["timestamp"], capacity_wh=v.get("capacity"))


class Controller(Protocol):
    """A battery behind some transport. Every call may raise :class:`ControllerError`."""

    async def connect(self) -> None: ...

    async def read_status(self) -> Status: ...

    async def set_power(self, power_w: float) -> None:
        """Write the active-power setpoint [W, + discharge] and take remote control."""

    async def heartbeat(self) -> None:
        """Tell the device's watchdog the controller is alive."""

    async def release(self) -> None:
        """Setpoint 0 W and hand control back to the device's local mode."""

    async def close(self) -> None: ...
