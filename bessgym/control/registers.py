"""Register maps: where a battery controller keeps each quantity, in which type, scale and word order.

The default map is SunSpec-like (holding registers, signed power in W, SoC in 0.01 %, scale factors as
multipliers). A vendor's map is a YAML or JSON list of registers with the same fields; only registers
marked ``writable`` may ever be written (the allow-list), and the map must define every quantity the
controller needs.

| name | address | type | scale | unit | writable |
|---|---|---|---|---|---|
| soc | 0 | uint16 | 0.01 | % | no |
| active_power | 1 | int32 | 1 | W (+ discharge) | no |
| max_charge_power | 3 | uint32 | 1 | W | no |
| max_discharge_power | 5 | uint32 | 1 | W | no |
| state | 7 | uint16 | 1 | :class:`DeviceState` | no |
| device_heartbeat | 8 | uint16 | 1 | counter | no |
| timestamp | 9 | uint32 | 1 | s (Unix time) | no |
| capacity | 11 | uint32 | 1 | Wh | no |
| setpoint | 20 | int32 | 1 | W (+ discharge) | yes |
| controller_heartbeat | 22 | uint16 | 1 | counter | yes |
| control_mode | 23 | uint16 | 1 | 0 local, 1 remote | yes |
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pymodbus.client.mixin import ModbusClientMixin

DT = ModbusClientMixin.DATATYPE
TYPES: dict[str, DT] = {"int16": DT.INT16, "uint16": DT.UINT16, "int32": DT.INT32, "uint32": DT.UINT32,
                        "float32": DT.FLOAT32}
REQUIRED = ("soc", "active_power", "max_charge_power", "max_discharge_power", "state", "device_heartbeat",
            "timestamp", "setpoint", "controller_heartbeat", "control_mode")
WRITES = ("setpoint", "controller_heartbeat", "control_mode")


class DeviceState(enum.IntEnum):
    OFF = 0
    STANDBY = 1
    RUNNING = 2
    FAULT = 3


class ControlMode(enum.IntEnum):
    LOCAL = 0
    REMOTE = 1


@dataclass(frozen=True)
class Register:
    """One quantity: ``value = raw x scale`` in the unit the name implies (W, Wh, %, s)."""

    name: str
    address: int
    type: Literal["int16", "uint16", "int32", "uint32", "float32"] = "uint16"
    scale: float = 1.0
    word_order: Literal["big", "little"] = "big"
    writable: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"register {self.name!r}: type {self.type!r} is not one of {sorted(TYPES)}")
        if not 0 <= self.address <= 65_535:
            raise ValueError(f"register {self.name!r}: address {self.address} is outside 0..65535")
        if self.scale == 0 or self.scale != self.scale:
            raise ValueError(f"register {self.name!r}: scale must be a non-zero number")
        if self.word_order not in ("big", "little"):
            raise ValueError(f"register {self.name!r}: word_order must be 'big' or 'little'")

    @property
    def count(self) -> int:
        return 1 if self.type.endswith("16") else 2

    def decode(self, words: Sequence[int]) -> float:
        if len(words) != self.count:
            raise ValueError(f"register {self.name!r}: {len(words)} words for a {self.type}")
        raw = ModbusClientMixin.convert_from_registers(list(words), TYPES[self.type], word_order=self.word_order)
        return float(raw) * self.scale

    def encode(self, value: float) -> list[int]:
        """Registers for ``value``; raises ValueError when it does not fit the type (never wraps around)."""
        raw = value / self.scale
        if self.type != "float32":
            raw = round(raw)
            bits = 16 if self.count == 1 else 32
            lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if self.type.startswith("int") else (0, 2**bits - 1)
            if not lo <= raw <= hi:
                raise ValueError(f"register {self.name!r}: {value} does not fit {self.type} at scale {self.scale}")
        return ModbusClientMixin.convert_to_registers(raw, TYPES[self.type], word_order=self.word_order)


@dataclass(frozen=True)
class RegisterMap:
    """A device's registers by name; ``allow_list`` holds the addresses a client may write."""

    registers: tuple[Register, ...]
    device_id: int = 1

    def __post_init__(self) -> None:
        names = [r.name for r in self.registers]
        missing = [n for n in REQUIRED if n not in names]
        if missing:
            raise ValueError(f"register map lacks {missing}")
        if len(set(names)) != len(names):
            raise ValueError(f"register map names a register twice: {sorted({n for n in names if names.count(n) > 1})}")
        used: dict[int, str] = {}
        for r in self.registers:
            for a in range(r.address, r.address + r.count):
                if a in used:
                    raise ValueError(f"registers {used[a]!r} and {r.name!r} overlap at address {a}")
                used[a] = r.name
        for name in WRITES:
            if not self[name].writable:
                raise ValueError(f"register {name!r} must be writable: the controller writes it")

    def __getitem__(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"register map has no {name!r}")

    @property
    def allow_list(self) -> frozenset[int]:
        return frozenset(a for r in self.registers if r.writable for a in range(r.address, r.address + r.count))

    def blocks(self) -> list[tuple[int, int]]:
        """(first address, count) of each run of adjacent registers: one read each (gaps may be invalid)."""
        out: list[list[int]] = []
        for r in sorted(self.registers, key=lambda r: r.address):
            if out and out[-1][0] + out[-1][1] == r.address:
                out[-1][1] += r.count
            else:
                out.append([r.address, r.count])
        return [(a, n) for a, n in out]

    def decode_all(self, words: dict[int, int]) -> dict[str, float]:
        """Every register's value from ``{address: word}``."""
        return {r.name: r.decode([words[a] for a in range(r.address, r.address + r.count)]) for r in self.registers}

    @classmethod
    def load(cls, path: Path) -> RegisterMap:
        """A vendor map from YAML/JSON: ``{device_id: 1, registers: [{name, address, type, scale, ...}]}``."""
        text = Path(path).read_text()
        data = json.loads(text) if Path(path).suffix == ".json" else yaml.safe_load(text)
        try:
            registers = tuple(Register(**entry) for entry in data["registers"])
            return cls(registers, device_id=int(data.get("device_id", 1)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid register map: {exc}") from None


DEFAULT_MAP = RegisterMap((
    Register("soc", 0, "uint16", 0.01),
    Register("active_power", 1, "int32"),
    Register("max_charge_power", 3, "uint32"),
    Register("max_discharge_power", 5, "uint32"),
    Register("state", 7, "uint16"),
    Register("device_heartbeat", 8, "uint16"),
    Register("timestamp", 9, "uint32"),
    Register("capacity", 11, "uint32"),
    Register("setpoint", 20, "int32", writable=True),
    Register("controller_heartbeat", 22, "uint16", writable=True),
    Register("control_mode", 23, "uint16", writable=True),
))
