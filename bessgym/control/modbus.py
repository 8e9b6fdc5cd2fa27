"""Controllers: a Modbus TCP client (pymodbus, async) and a dry run.

Modbus TCP has no authentication and no encryption: run it only on an isolated control network. The client
writes only the registers in the map's allow-list and refuses anything else before it reaches the wire.
"""

from __future__ import annotations

from urllib.parse import urlparse

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from bessgym.control.protocol import ControllerError, Status, WriteRejected
from bessgym.control.registers import DEFAULT_MAP, ControlMode, RegisterMap
from bessgym.control.simulator import DeviceSpec, SimulatedBattery


def parse_url(url: str) -> tuple[str, int]:
    """``modbus://HOST:PORT`` -> (host, port)."""
    parts = urlparse(url)
    if parts.scheme != "modbus" or not parts.hostname:
        raise ValueError(f"controller {url!r}: expected modbus://HOST:PORT")
    return parts.hostname, parts.port or 502


class ModbusController:
    """A battery behind Modbus TCP, described by a :class:`RegisterMap`."""

    def __init__(self, host: str, port: int = 502, register_map: RegisterMap = DEFAULT_MAP, *,
                 timeout_s: float = 1.0) -> None:
        self.map, self.host, self.port, self.timeout_s = register_map, host, port, timeout_s
        self.client: AsyncModbusTcpClient | None = None  # made in connect(): pymodbus needs the running loop
        self._heartbeat = 0
        self._remote = False

    async def connect(self) -> None:
        self._remote = False
        if self.client is None:
            self.client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s, retries=0,
                                               reconnect_delay=0)
        try:
            connected = await self.client.connect()
        except (OSError, ModbusException) as exc:
            raise ControllerError(f"cannot connect to {self._where()}: {exc}") from None
        if not connected:
            raise ControllerError(f"cannot connect to {self._where()}")

    def _where(self) -> str:
        return f"modbus://{self.host}:{self.port}"

    def _connected(self) -> AsyncModbusTcpClient:
        if self.client is None or not self.client.connected:
            raise ControllerError(f"not connected to {self._where()}")
        return self.client

    async def read_status(self) -> Status:
        words: dict[int, int] = {}
        client = self._connected()
        for first, count in self.map.blocks():
            try:
                response = await client.read_holding_registers(first, count=count, device_id=self.map.device_id)
            except (OSError, ModbusException) as exc:
                raise ControllerError(f"read of {count} registers at {first} failed: {exc}") from None
            if response.isError():
                raise ControllerError(f"device refused the read of {count} registers at {first}: {response}")
            words.update(zip(range(first, first + count), response.registers, strict=True))
        return Status.from_values(self.map.decode_all(words))

    async def _write(self, name: str, value: float) -> None:
        register = self.map[name]
        addresses = set(range(register.address, register.address + register.count))
        if not register.writable or not addresses <= self.map.allow_list:
            raise PermissionError(f"register {name!r} is not in the write allow-list")
        words = register.encode(value)
        try:
            response = await self._connected().write_registers(register.address, words, device_id=self.map.device_id)
        except (OSError, ModbusException) as exc:
            raise ControllerError(f"write of {name}={value:g} failed: {exc}") from None
        if response.isError():
            raise WriteRejected(f"device refused {name}={value:g}: {response}")

    async def heartbeat(self) -> None:
        self._heartbeat = (self._heartbeat + 1) % 65_536
        await self._write("controller_heartbeat", self._heartbeat)

    async def set_power(self, power_w: float) -> None:
        if not self._remote:
            await self._write("control_mode", int(ControlMode.REMOTE))
            self._remote = True
        await self._write("setpoint", power_w)

    async def release(self) -> None:
        self._remote = False
        await self._write("setpoint", 0.0)
        await self._write("control_mode", int(ControlMode.LOCAL))

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()


class DryRunController:
    """No hardware: a local simulated battery answers reads and takes the setpoints, so a policy can be run
    end to end (``--dry-run``); nothing leaves the process."""

    def __init__(self, spec: DeviceSpec = DeviceSpec(), *, acceleration: float = 1.0) -> None:
        self.device = SimulatedBattery(spec, acceleration=acceleration)

    async def connect(self) -> None:
        return None

    async def read_status(self) -> Status:
        self.device.advance()
        return Status.from_values(self.device.values())

    async def set_power(self, power_w: float) -> None:
        self.device.write("control_mode", int(ControlMode.REMOTE))
        if not self.device.write("setpoint", power_w):
            raise WriteRejected(f"device refused setpoint={power_w:g}")

    async def heartbeat(self) -> None:
        self.device.write("controller_heartbeat", self.device.heartbeat_value + 1)

    async def release(self) -> None:
        self.device.write("control_mode", int(ControlMode.LOCAL))

    async def close(self) -> None:
        return None
