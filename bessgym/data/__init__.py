"""Market data: the contract, validation, calendars, dated market rules, loaders and the synthetic market."""

from bessgym.data.calendar import (
    MARKET_TZ,
    block_of_day,
    blocks_to_quarter_hourly,
    complete_days,
    delivery_dates,
    delivery_day_index,
    hourly_to_quarter_hourly,
    quarter_hours,
    split_days,
)
from bessgym.data.contract import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ColumnSpec,
    MarketDataError,
    fill_gaps,
    read_table,
    require_columns,
    validate,
    write_table,
)
from bessgym.data.rules import MarketRules, rules_for

__all__ = [
    "COLUMNS",
    "MARKET_TZ",
    "REQUIRED_COLUMNS",
    "ColumnSpec",
    "MarketDataError",
    "MarketRules",
    "block_of_day",
    "blocks_to_quarter_hourly",
    "complete_days",
    "delivery_dates",
    "delivery_day_index",
    "fill_gaps",
    "hourly_to_quarter_hourly",
    "quarter_hours",
    "read_table",
    "require_columns",
    "rules_for",
    "split_days",
    "validate",
    "write_table",
]
