"""Named layouts of the env's actions and observations, generated from the reserve products table
(:data:`bessgym.market.reserves.RESERVES`): ``DELIVERY.mfrr_pos_offer`` instead of ``7``. The observation's
layout is :func:`bessgym.envs.observation.observation_layout`.

A layout lists a flat vector's entries in order, each with a name, a size and what it means. Agents index
actions and observations by name (``action[:, DELIVERY.intraday_trade]``, ``obs[layout.soc]``); the compiled
kernels take :meth:`Layout.indices`, a named tuple of start positions (a compile-time constant there).
``bessgym env describe ID`` prints an env's layouts.

Action entries are in [-1, 1]; how each is decoded is :mod:`bessgym.envs.codec`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from bessgym.market.products import MAX_QUARTER_HOURS, N_BLOCKS, Stage
from bessgym.market.reserves import RESERVES, ReserveProduct


@dataclass(frozen=True)
class Entry:
    """One entry of a layout: ``size`` values from ``start``."""

    name: str
    start: int
    size: int
    meaning: str

    @property
    def index(self) -> int | slice:
        """The entry's position (size 1) or slice in the vector."""
        return self.start if self.size == 1 else slice(self.start, self.start + self.size)


class Layout:
    """A flat vector's named entries, in order (``parts``: (name, size, meaning))."""

    def __init__(self, parts: list[tuple[str, int, str]]) -> None:
        entries, start = [], 0
        for name, size, meaning in parts:
            entries.append(Entry(name, start, size, meaning))
            start += size
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"a layout's names must be unique: {names}")
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.size = start
        self._by_name = {e.name: e for e in entries}

    def __getattr__(self, name: str) -> int | slice:
        by_name = self.__dict__.get("_by_name", {})
        if name not in by_name:
            raise AttributeError(f"no entry {name!r}; entries: {', '.join(by_name)}")
        return by_name[name].index

    def __len__(self) -> int:
        return self.size

    def indices(self) -> tuple:
        """The entries' start positions as a named tuple (for compiled kernels)."""
        return NamedTuple("Entries", [(e.name, int) for e in self.entries])(*(e.start for e in self.entries))

    def rows(self) -> list[tuple[str, str, str]]:
        """(name, position or slice as text, meaning) per entry, for tables."""
        return [(e.name, str(e.start) if e.size == 1 else f"{e.start}:{e.start + e.size}", e.meaning)
                for e in self.entries]


def _families(products: tuple[ReserveProduct, ...]) -> dict[str, list[ReserveProduct]]:
    out: dict[str, list[ReserveProduct]] = {}
    for p in products:
        out.setdefault(p.family, []).append(p)
    return out


def capacity_layout(products: tuple[ReserveProduct, ...] = RESERVES) -> Layout:
    """The rows of a capacity action, each with one entry per 4 h block (the action is rows x blocks, flat):
    per product family, each product's volume, then each pay-as-bid product's price."""
    parts = []
    for family in _families(products).values():
        parts += [(f"{p.name}_volume", 1, f"{p.label} volume: a in [0, 1] of the room the reserves before it "
                   "leave in its direction") for p in family]
        parts += [(f"{p.name}_price", 1, f"{p.label} offer price: forecast x (1 + band x a) [EUR/MW/h]")
                  for p in family if p.pricing == "pay_as_bid"]
    return Layout(parts)


def delivery_layout(products: tuple[ReserveProduct, ...] = RESERVES) -> Layout:
    """The entries of a delivery action: the intraday trade, then per product family the energy offers of its
    held capacity and, where free power may be offered as energy alone, those offers' volumes and prices."""
    parts = [("intraday_trade", 1, "intraday trade: a x the room to sell (a >= 0) or to buy [MW]")]
    for family in _families(products).values():
        activated = [p for p in family if p.energy_price_column is not None]
        parts += [(f"{p.name}_offer", 1, f"{p.label} capacity's energy offer: DA price + band x a [EUR/MWh]")
                  for p in activated]
        free = [p for p in activated if p.energy_only]
        parts += [(f"{p.name}_energy_only_volume", 1, f"{p.label} energy-only volume: a in [0, 1] of free power "
                                                                "(of what the SoC backs: energy_only_backed)")
                  for p in free]
        parts += [(f"{p.name}_energy_only_price", 1, f"{p.label} energy-only offer: DA price + band x a [EUR/MWh]")
                  for p in free]
    return Layout(parts)


def stage_layout(stage: Stage) -> Layout:
    """The entries of one stage's action per asset: the capacity rows, each one value per 4 h block (the
    action is rows x blocks, flat), a position change per quarter-hour in an auction, or :data:`DELIVERY`."""
    if stage == Stage.CAPACITY:
        return Layout([(e.name, N_BLOCKS, f"{e.meaning}, per 4 h block") for e in CAPACITY.entries])
    if stage == Stage.DELIVERY:
        return DELIVERY
    return Layout([("position_change", MAX_QUARTER_HOURS, "per quarter-hour of the day: a x the power free to "
                    "sell (a >= 0) or to buy [MW]; entries past the day's last quarter-hour are ignored")])


CAPACITY = capacity_layout()
DELIVERY = delivery_layout()
ACTION_WIDTH = {  # entries per asset of each stage's action
    Stage.CAPACITY: len(CAPACITY) * N_BLOCKS,
    Stage.DAY_AHEAD: MAX_QUARTER_HOURS,  # position per quarter-hour, share of free power
    Stage.IDA1: MAX_QUARTER_HOURS,
    Stage.IDA2: MAX_QUARTER_HOURS,
    Stage.IDA3: MAX_QUARTER_HOURS,
    Stage.DELIVERY: len(DELIVERY),
}
