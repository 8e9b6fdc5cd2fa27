"""Products, gates and the sequential timeline of a delivery day (../shared/MARKET_FACTS.md).

A delivery day D is a sequence of decision stages in gate order. Stages before delivery happen once; IDA3
(gate D 10:00, covering 12:00-24:00) is placed at its gate, before the delivery step of 10:00 local time.
Simplification: day D+1's auctions are decided after day D's delivery, with D's outcome known.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from bessgym.data.rules import MarketRules


class Stage(IntEnum):
    """Decision stages of a delivery day, in gate order."""

    CAPACITY = 0  # FCR D-1 08:00 and aFRR capacity D-1 09:00, 6 blocks of 4 h
    DAY_AHEAD = 1  # D-1 12:00
    IDA1 = 2  # D-1 15:00
    IDA2 = 3  # D-1 22:00
    IDA3 = 4  # D 10:00, covers 12:00-24:00
    DELIVERY = 5  # one step per quarter-hour: intraday continuous trade, aFRR energy offers, activation


STAGE_NAMES = {s: s.name.lower() for s in Stage}
N_BLOCKS = 6
MAX_QUARTER_HOURS = 100  # a fall-back day
IDA3_FIRST_HOUR = 12
IDA3_GATE_HOUR = 10


def day_timeline(local_hours: np.ndarray, rules: MarketRules) -> list[tuple[Stage, int]]:
    """Stages of one delivery day as (stage, quarter-hour position; -1 before delivery).

    ``local_hours`` are the Berlin hours of the day's quarter-hours (92, 96 or 100 of them).
    """
    stages: list[tuple[Stage, int]] = [(Stage.CAPACITY, -1), (Stage.DAY_AHEAD, -1)]
    if rules.has_ida:
        stages += [(Stage.IDA1, -1), (Stage.IDA2, -1)]
    ida3_at = int(np.argmax(local_hours >= IDA3_GATE_HOUR)) if rules.has_ida else -1
    for q in range(len(local_hours)):
        if q == ida3_at:
            stages.append((Stage.IDA3, -1))
        stages.append((Stage.DELIVERY, q))
    return stages
