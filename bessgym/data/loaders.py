"""Loaders that convert public German market data formats into the contract.

Each ``read_*`` function returns a DataFrame on a UTC quarter-hour index with contract column names and
raises :class:`~bessgym.data.contract.MarketDataError` naming the file, column and timestamp on bad input.
:func:`bessgym.data.importer.import_files` reads and joins several of them into one validated contract table.

Formats: SMARD CSV exports (German and English), regelleistung.net capacity results (xlsx/csv, current
and pre-Nov-2020 layouts), energy-charts CSV and JSON, OPSD time series, netztransparenz CSV (reBAP, aFRR
energy prices).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym.data import energy_results
from bessgym.data.calendar import MARKET_TZ, QUARTER_HOUR, blocks_to_quarter_hourly, hourly_to_quarter_hourly
from bessgym.data.contract import MarketDataError

# Approximate installed German PV capacity at year end [MWp] (Bundesnetzagentur Marktstammdatenregister),
# used to turn national PV generation [MW] into a per-MWp profile when no capacity column is given.
GERMAN_PV_CAPACITY_MWP = {2018: 45_000, 2019: 49_000, 2020: 54_000, 2021: 60_000, 2022: 67_000,
                          2023: 82_000, 2024: 99_000, 2025: 115_000}


def _sniff(path: Path) -> str:
    """First line of a text file (BOM stripped), or a MarketDataError for a missing file or one that is not
    UTF-8 anywhere (named by line, so a stray latin-1 byte deep in a re-saved export is found)."""
    if not path.exists():
        raise MarketDataError("file not found", source=str(path))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MarketDataError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (re-save the file as "
                              "UTF-8)", source=str(path)) from None
    return text.split("\n", 1)[0]


_FRACTION = {",": r",(?:\d{1,2}|\d{4,})$", ".": r"\.(?:\d{1,2}|\d{4,})$"}  # a mark no thousands separator fits


def _decimal_mark(text: pd.Series, default: str, *, source: str, column: str) -> str:
    """The decimal mark of a column of exported numbers: the one followed by other than three digits at the end
    of some value (only a decimal mark can be), else the format's ``default``. A column whose only mark is the
    other one, always before exactly three digits ('75.700' in a German export), is ambiguous and refused."""
    seen = [mark for mark, pattern in _FRACTION.items() if text.str.contains(pattern, regex=True).any()]
    if len(seen) == 2:
        raise MarketDataError("mixed decimal marks (both ',' and '.' before decimals)", source=source, column=column)
    if seen:
        return seen[0]
    other = "." if default == "," else ","
    if text.str.contains(other, regex=False).any() and not text.str.contains(default, regex=False).any():
        raise MarketDataError(f"ambiguous decimal mark: every {other!r} stands before exactly three digits, which "
                              f"this format ({default!r} decimals) reads as a thousands separator; re-export the "
                              "file or write at least one value with other than three decimals", source=source,
                              column=column)
    return default


def _number(values: pd.Series, *, source: str, column: str, decimal: str = ",") -> pd.Series:
    """Parse exported numbers ('1.234,56' with a decimal comma, '1,234.56' with a decimal point); '-', '' and
    'N.A.' are missing. The decimal mark is read from the values (:func:`_decimal_mark`; ``decimal`` is the
    format's own), so a file re-saved with the other mark keeps its scale. Anything else unparseable is an
    error naming the value and its row."""
    text = values.astype("string").str.strip()
    missing = text.isin(["-", "", "N.A.", "n/a", "NA", "nan"]) | text.isna()
    decimal = _decimal_mark(text[~missing], decimal, source=source, column=column)
    thousands = "." if decimal == "," else ","
    cleaned = text.str.replace(thousands, "", regex=False).str.replace(decimal, ".", regex=False)
    out = pd.to_numeric(cleaned.where(~missing), errors="coerce")
    bad = out.isna() & ~missing
    if bad.any():
        raise MarketDataError(f"unparseable number {text[bad].iloc[0]!r}", source=source, column=column,
                              timestamp=values.index[bad.argmax()])
    return out.astype(float)


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """pandas.read_csv of a UTF-8 export (checked by :func:`_sniff`), its parser errors named by file."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise MarketDataError(f"malformed CSV ({exc})", source=str(path)) from None


def _localise(naive: pd.DatetimeIndex, *, source: str) -> pd.DatetimeIndex:
    """Berlin local wall-clock times in file order -> UTC. A fall-back day lists 02:00-03:00 twice."""
    if naive.has_duplicates:
        ambiguous = "infer"
    else:
        ambiguous = "NaT"
    try:
        local = naive.tz_localize(MARKET_TZ, ambiguous=ambiguous, nonexistent="NaT")
    except Exception as exc:  # pytz/zoneinfo raise AmbiguousTimeError or ValueError
        raise MarketDataError(f"local times cannot be mapped to UTC around a daylight-saving change ({exc}); "
                              "a fall-back day must list the doubled hour twice, in order", source=source) from exc
    if local.isna().any():
        i = int(np.argmax(local.isna()))
        skipped = pd.isna(naive[i].tz_localize(MARKET_TZ, ambiguous=True, nonexistent="NaT"))
        problem = ("non-existent local time (the skipped hour of a spring-forward day)" if skipped else
                   "ambiguous local time (the doubled hour of a fall-back day appears only once)")
        raise MarketDataError(problem, source=source, timestamp=naive[i])
    return local.tz_convert("UTC")


def _to_quarter_hours(series: pd.Series, *, source: str, step: pd.Timedelta | None = None) -> pd.Series:
    """Put a UTC series of 15-min or 60-min resolution onto quarter-hours (hourly values are repeated).

    The resolution is the median step of the index unless the format states it (``step``).
    """
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        raise MarketDataError("duplicated timestamp", source=source, column=str(series.name), timestamp=dup)
    step = step if step is not None else pd.Series(series.index).diff().median()
    if step == pd.Timedelta(hours=1):
        return hourly_to_quarter_hourly(series)
    if step == QUARTER_HOUR:
        return series
    raise MarketDataError(f"unsupported resolution {step}; expected 15 min or 1 h", source=source,
                          column=str(series.name))


# --------------------------------------------------------------------------------------------- SMARD

_SMARD_DA_COLUMNS = ("Deutschland/Luxemburg", "Germany/Luxembourg")
_SMARD_DA_LEGACY = ("DE/AT/LU", "Germany/Austria/Luxembourg")  # bidding zone before 1 Oct 2018


def read_smard(path: str | Path, *, pv_capacity_mwp: float | None = None) -> pd.DataFrame:
    """Read a SMARD CSV export: wholesale prices -> ``da_price``; generation forecast -> ``pv_per_mwp``.

    German exports (``Datum von;Datum bis;...``, decimal comma) and English ones (``Date;Time of day;...``)
    are accepted; timestamps are Berlin local time and go to UTC. DE-LU prices fall back to DE-AT-LU before
    the bidding zone split of 1 Oct 2018. The PV forecast [MWh per interval] is divided by
    ``pv_capacity_mwp`` or, if absent, by :data:`GERMAN_PV_CAPACITY_MWP` of the year. A price SMARD marks as
    missing ('-') is NaN, as an hour left out of the file would be missing.
    """
    path = Path(path)
    source = str(path)
    header = _sniff(path)
    if ";" not in header:
        raise MarketDataError(f"SMARD exports are ';'-separated; header is {header.strip()[:80]!r}", source=source)
    raw = _read_csv(path, sep=";", dtype=str)
    cols = list(raw.columns)
    if cols[:2] == ["Datum von", "Datum bis"]:
        naive = pd.to_datetime(raw["Datum von"], format="%d.%m.%Y %H:%M", errors="coerce")
    elif cols[:2] == ["Date", "Time of day"]:
        naive = pd.to_datetime(raw["Date"] + " " + raw["Time of day"], format="%b %d, %Y %I:%M %p", errors="coerce")
    else:
        raise MarketDataError(f"unexpected SMARD header {cols[:3]}", source=source)
    if naive.isna().any():
        i = int(np.argmax(naive.isna()))
        raise MarketDataError(f"unparseable date in row {i + 2}: {raw.iloc[i, 0]!r}", source=source, column=cols[0])
    index = _localise(pd.DatetimeIndex(naive), source=source)
    raw.index = index

    def find(names: tuple[str, ...]) -> str | None:
        return next((c for c in cols if any(c.startswith(n) for n in names)), None)

    decimal = "," if cols[0] == "Datum von" else "."  # German exports use a decimal comma

    def number(col: str) -> pd.Series:
        return _number(raw[col], source=source, column=col, decimal=decimal)

    if (da_col := find(_SMARD_DA_COLUMNS)) is not None:
        unit = re.search(r"\[([^\]]+)\]", da_col)
        if unit is not None and unit.group(1).replace("€", "EUR").replace(" ", "") != "EUR/MWh":
            raise MarketDataError(f"prices are in {unit.group(1)}; bessgym reads SMARD prices in EUR/MWh (re-export "
                                  "in €/MWh, or convert: ct/kWh x 10, EUR/kWh x 1000)", source=source, column=da_col)
        price = number(da_col)
        if (legacy := find(_SMARD_DA_LEGACY)) is not None:
            price = price.fillna(number(legacy))
        if price.isna().all():
            raise MarketDataError("missing price in every row (DE-LU exists from 2018-10-01; before it, export "
                                  "DE-AT-LU)", source=source, column=da_col, timestamp=price.index[0])
        # a '-' hour stays missing: the contract check names it, data import --fill-gaps interpolates it
        return pd.DataFrame({"da_price": _to_quarter_hours(price.rename("da_price"), source=source)})
    if (pv_col := find(("Photovoltaik [MWh]", "Photovoltaics [MWh]"))) is not None:
        energy = number(pv_col)
        step_h = pd.Series(index).diff().median() / pd.Timedelta(hours=1)
        power_mw = (energy / step_h).fillna(0.0)
        cap = pv_capacity_mwp if pv_capacity_mwp is not None else _pv_capacity(power_mw.index)
        return pd.DataFrame({"pv_per_mwp": _to_quarter_hours((power_mw / cap).rename("pv_per_mwp"), source=source)})
    raise MarketDataError(f"no DE-LU price or PV column found among {cols}", source=source)


def _pv_capacity(index: pd.DatetimeIndex) -> np.ndarray:
    """Installed German PV [MWp] at each timestamp, interpolated linearly between year ends."""
    years = np.array(sorted(GERMAN_PV_CAPACITY_MWP))
    t = index.year.to_numpy() + (index.day_of_year.to_numpy() - 1) / 365.25
    return np.interp(t, years + 1.0, [GERMAN_PV_CAPACITY_MWP[y] for y in years])


# ---------------------------------------------------------------------------------- regelleistung.net

_PRODUCT = re.compile(r"^(POS|NEG|NEGPOS)_(\d\d)_(\d\d)$")


class NoRows(MarketDataError):
    """A results file with its header and no rows (e.g. a day whose auction is not yet published)."""


def read_regelleistung(path: str | Path) -> pd.DataFrame:
    """Read regelleistung.net capacity results (FCR, aFRR or mFRR; xlsx or csv; current or pre-Nov-2020 layout),
    or aFRR energy market results (:mod:`bessgym.data.energy_results`).

    aFRR -> ``afrr_cap_{pos,neg}_price`` (GERMANY average) and ``afrr_cap_{pos,neg}_marginal`` [EUR/MW/h]; mFRR
    (the same layout) -> ``mfrr_cap_{pos,neg}_price`` and ``mfrr_cap_{pos,neg}_marginal``;
    FCR -> ``fcr_price`` = settlement price per block / block hours [EUR/MW/h]. The old layout quotes capacity
    in EUR/MW per 4 h block; it is converted to EUR/MW/h. Rows give a local delivery date and a product
    ``POS_00_04``; values are spread over the quarter-hours of their block.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise MarketDataError("file not found", source=source)
    separator = None
    if path.suffix.lower() == ".xlsx":
        try:
            raw = pd.read_excel(path, sheet_name=0)
        except Exception as exc:  # openpyxl raises several types for a corrupt file
            raise MarketDataError(f"not a readable xlsx file ({exc})", source=source) from exc
    elif path.suffix.lower() == ".csv":
        header = _sniff(path)
        separator = ";" if header.count(";") > header.count(",") else ","
        raw = _read_csv(path, sep=separator, dtype=str)
    else:
        raise MarketDataError(f"unsupported file type {path.suffix!r}: use .xlsx or .csv", source=source)
    if energy_results.is_energy_results(raw):  # the aFRR energy market's results, per quarter-hour
        date_col = "DELIVERY_DATE" if "DELIVERY_DATE" in raw.columns else "DATE_FROM"
        if raw.empty:
            raise NoRows("the file has a header but no rows", source=source)
        if date_col not in raw.columns or "PRODUCT" not in raw.columns:
            raise MarketDataError("an energy results file needs DELIVERY_DATE and PRODUCT", source=source)
        return energy_results.energy_results(raw, _parse_dates(raw[date_col], source=source), source=source)
    raw = raw.rename(columns={"PRODUCT_TYPE": "TYPE_OF_RESERVES", "PRODUCTNAME": "PRODUCT"})  # the 2025 layout
    for needed in ("DATE_FROM", "PRODUCT", "TYPE_OF_RESERVES"):
        if needed not in raw.columns:
            raise MarketDataError(f"unexpected layout: no {needed} column (columns: {list(raw.columns)[:8]}...)",
                                  source=source, column=needed)
    if raw.empty:
        raise NoRows("the file has a header but no rows", source=source)
    if "TENDER_NUMBER" in raw.columns:
        raw = _cleared_tender(raw)
    kind = str(raw["TYPE_OF_RESERVES"].iloc[0]).strip()
    products = raw["PRODUCT"].astype(str).str.strip()
    parts = products.str.extract(_PRODUCT)
    if parts[0].isna().any():
        bad = products[parts[0].isna()].iloc[0]
        raise MarketDataError(f"unsupported product {bad!r} (expected e.g. POS_00_04)", source=source,
                              column="PRODUCT")
    date = _parse_dates(raw["DATE_FROM"], source=source)
    rows = date.dt.strftime("%Y-%m-%d").to_numpy() + " " + products.to_numpy()  # how errors name a row
    if pd.Index(rows).has_duplicates:
        twice = rows[pd.Index(rows).duplicated()][0]
        raise MarketDataError(f"product row {twice} appears twice", source=source, column="PRODUCT")
    raw.index = pd.Index(rows, name="row")
    start_hour = parts[1].astype(int).to_numpy()
    block_hours = (parts[2].astype(int) - parts[1].astype(int)).to_numpy()
    starts_local = pd.DatetimeIndex(date) + pd.to_timedelta(start_hour, unit="h")
    starts = starts_local.tz_localize(MARKET_TZ, ambiguous="NaT", nonexistent="shift_forward")

    def column(*candidates: str) -> str:
        for c in candidates:
            if c in raw.columns:
                return c
        raise MarketDataError(f"none of the price columns {candidates} is present", source=source, column=candidates[0])

    def values(col: str) -> np.ndarray:
        v = raw[col]
        if not pd.api.types.is_numeric_dtype(v.dtype):  # csv text, or an xlsx column with a text cell
            v = _number(v, source=source, column=col, decimal="," if separator == ";" else ".")
        return v.to_numpy(dtype=float)

    direction = parts[0].to_numpy()
    out: dict[str, pd.Series] = {}
    index = _block_grid(starts)
    if kind == "FCR":
        col = column("GERMANY_SETTLEMENTCAPACITY_PRICE_[EUR/MW]", "DE_SETTLEMENTCAPACITY_PRICE_[EUR/MW]")
        per_h = values(col) / block_hours
        out["fcr_price"] = blocks_to_quarter_hourly(pd.Series(per_h, index=starts), index)
    elif kind in ("aFRR", "mFRR"):
        new = "GERMANY_AVERAGE_CAPACITY_PRICE_[(EUR/MW)/h]" in raw.columns
        unit = "[(EUR/MW)/h]" if new else "[EUR/MW]"
        for name, stat in (("price", "AVERAGE"), ("marginal", "MARGINAL")):
            col = column(f"GERMANY_{stat}_CAPACITY_PRICE_{unit}", f"DE_{stat}_CAPACITY_PRICE_{unit}")
            v = values(col) / (1.0 if new else block_hours)
            for d in ("POS", "NEG"):
                mask = direction == d
                out[f"{kind.lower()}_cap_{d.lower()}_{name}"] = blocks_to_quarter_hourly(
                    pd.Series(v[mask], index=starts[mask]), index)
    else:
        raise MarketDataError(f"unsupported reserve type {kind!r} (FCR, aFRR or mFRR)", source=source,
                              column="TYPE_OF_RESERVES")
    df = pd.DataFrame(out)
    if df.isna().any().any():
        col = df.columns[df.isna().any()][0]
        raise MarketDataError("a 4 h block has no value (missing product row)", source=source, column=col,
                              timestamp=df.index[int(np.argmax(df[col].isna()))])
    return df


def _cleared_tender(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per day and product where a day had a second tender: the last with a German price ('-' where
    Germany took no part in it)."""
    price = next((c for c in raw.columns if c.startswith(("GERMANY_", "DE_")) and "PRICE" in c), None)
    if price is None:
        return raw
    text = raw[price].astype("string").str.strip()
    priced = ~(text.isna() | text.isin(["-", "", "N.A."]))
    order = raw.assign(_priced=priced.to_numpy()).sort_values(["_priced", "TENDER_NUMBER"], kind="stable")
    return order.drop_duplicates(["DATE_FROM", "PRODUCT"], keep="last").drop(columns="_priced").sort_index()


def _parse_dates(values: pd.Series, *, source: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize()
    text = values.astype(str).str.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S"):
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().all():
            return parsed.dt.normalize()
    raise MarketDataError(f"unparseable date {text.iloc[0]!r}", source=source, column="DATE_FROM")


def _block_grid(starts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """UTC quarter-hours from the first block's day to the end of the last block's day."""
    # calendar days on the wall clock: a daylight-saving day is 23 or 25 hours long
    first = starts.min().tz_convert(MARKET_TZ).tz_localize(None).normalize().tz_localize(MARKET_TZ)
    last = (starts.max().tz_convert(MARKET_TZ).tz_localize(None).normalize() + pd.Timedelta(days=1)).tz_localize(
        MARKET_TZ)
    return pd.date_range(first.tz_convert("UTC"), last.tz_convert("UTC"), freq=QUARTER_HOUR, inclusive="left",
                         name="timestamp")


# -------------------------------------------------------------------------------------- energy-charts

def read_energy_charts(path: str | Path, *, pv_capacity_mwp: float | None = None) -> pd.DataFrame:
    """Read energy-charts data: API JSON (price or public_power) or CSV exports.

    CSV: a UTC column (``datetime_utc``/``timestamp_unix``) or ISO timestamps with offset in the first
    column; ``day_ahead_price_eur_mwh`` or a column whose header names a day-ahead price -> ``da_price``;
    ``solar_mw_avg`` -> ``pv_per_mwp`` (divided by the installed capacity).
    JSON: ``{"unix_seconds": [...], "price": [...]}`` -> ``da_price``; ``{"unix_seconds": [...],
    "production_types": [{"name": "Solar", "data": [...]}]}`` -> ``pv_per_mwp``.
    """
    path = Path(path)
    source = str(path)
    if path.suffix.lower() == ".json":
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise MarketDataError(f"malformed JSON ({exc})", source=source) from exc
        if "unix_seconds" not in payload:
            raise MarketDataError("no 'unix_seconds' key: not an energy-charts API response", source=source)
        index = pd.to_datetime(np.asarray(payload["unix_seconds"], dtype="int64"), unit="s", utc=True)
        if "price" in payload:
            series = {"da_price": pd.Series(payload["price"], index=index, dtype=float)}
        else:
            solar = [p for p in payload.get("production_types", []) if str(p.get("name", "")).lower() == "solar"]
            if not solar:
                raise MarketDataError("neither 'price' nor a 'Solar' production type", source=source)
            series = {"solar_mw": pd.Series(solar[0]["data"], index=index, dtype=float)}
    else:
        header = _sniff(path)
        separator = ";" if header.count(";") > header.count(",") else ","
        raw = _read_csv(path, sep=separator, dtype=str)
        if "datetime_utc" in raw.columns:
            index = pd.to_datetime(raw["datetime_utc"], utc=True)
        elif "timestamp_unix" in raw.columns:
            index = pd.to_datetime(raw["timestamp_unix"].astype("int64"), unit="s", utc=True)
        else:  # energy-charts chart export: first column local time with offset, a units row below the header
            first = raw.columns[0]
            raw = raw[raw[first].notna()]
            text = raw[first].astype(str).str.strip()
            offset = text.str.extract(r"([+-]\d\d:?\d\d|Z)$")[0]
            foreign = ~offset.isin(["+01:00", "+02:00", "+00:00", "Z"])
            if foreign.any():
                raise MarketDataError(f"offset {offset[foreign].iloc[0]!r} is neither UTC nor CET/CEST "
                                      "(missing or corrupt time-zone offset)", source=source, column=str(first),
                                      timestamp=text[foreign].iloc[0])
            index = pd.to_datetime(text, utc=True, format="ISO8601")
        raw.index = pd.DatetimeIndex(index, name="timestamp")
        decimal = "," if separator == ";" else "."  # a ';'-separated export writes decimal commas

        def number(col: str) -> pd.Series:
            return _number(raw[col], source=source, column=col, decimal=decimal)

        series = {}
        price_col = next((c for c in raw.columns if c == "day_ahead_price_eur_mwh" or "Day Ahead" in c), None)
        if price_col is not None:
            series["da_price"] = number(price_col)
        if "solar_mw_avg" in raw.columns:
            series["solar_mw"] = number("solar_mw_avg")
        if not series:
            raise MarketDataError(f"no day-ahead price or solar column among {list(raw.columns)}", source=source)
    out = {}
    for name, s in series.items():
        s.index = pd.DatetimeIndex(s.index, name="timestamp")
        if name == "solar_mw":
            cap = pv_capacity_mwp if pv_capacity_mwp is not None else _pv_capacity(s.index)
            name, s = "pv_per_mwp", (s / cap).clip(lower=0.0)
        out[name] = _to_quarter_hours(s.rename(name), source=source)
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------------ OPSD

def read_opsd(path: str | Path, *, pv_capacity_mwp: float | None = None, country: str = "DE") -> pd.DataFrame:
    """Read an OPSD ``time_series_60min`` file: ``{country}_solar_generation_actual`` [MW] -> ``pv_per_mwp``.

    The capacity is ``{country}_solar_capacity`` if the file has it, else ``pv_capacity_mwp``, else the
    German year-end figure. A ``{country}_..._price_day_ahead`` column, if present, becomes ``da_price``.
    """
    path = Path(path)
    source = str(path)
    _sniff(path)
    raw = _read_csv(path, dtype=str)
    if "utc_timestamp" not in raw.columns:
        raise MarketDataError("no 'utc_timestamp' column: not an OPSD time series", source=source)
    index = pd.DatetimeIndex(pd.to_datetime(raw["utc_timestamp"], utc=True), name="timestamp")
    raw.index = index
    solar_col = f"{country}_solar_generation_actual"
    if solar_col not in raw.columns:
        raise MarketDataError("column missing", source=source, column=solar_col)

    def number(col: str) -> pd.Series:
        return _number(raw[col], source=source, column=col, decimal=".")

    solar = number(solar_col)  # OPSD leaves some hours blank: combine(fill=True) repairs them
    if f"{country}_solar_capacity" in raw.columns:
        cap = number(f"{country}_solar_capacity").to_numpy()
    else:
        cap = pv_capacity_mwp if pv_capacity_mwp is not None else _pv_capacity(index)
    out = {"pv_per_mwp": _to_quarter_hours((solar / cap).clip(lower=0.0).rename("pv_per_mwp"), source=source)}
    price_cols = [c for c in raw.columns if c.startswith(country) and c.endswith("price_day_ahead")]
    if price_cols:
        out["da_price"] = _to_quarter_hours(number(price_cols[0]).rename("da_price"), source=source)
    return pd.DataFrame(out)


# -------------------------------------------------------------------------------------- netztransparenz

_NT_ZONES = {"UTC": "UTC", "CET": "Etc/GMT-1", "MEZ": "Etc/GMT-1", "CEST": "Etc/GMT-2", "MESZ": "Etc/GMT-2"}


def read_netztransparenz(path: str | Path) -> pd.DataFrame:
    """Read a netztransparenz.de CSV (``Datum;Zeitzone;von;bis;...``, decimal comma).

    ``reBAP unterdeckt`` -> ``imbalance_price`` (single price since 2020, so equal to ``ueberdeckt``);
    ``Deutschland (Positiv)`` / ``Deutschland (Negativ)`` of an aFRR energy price export ->
    ``afrr_energy_pos_price`` / ``afrr_energy_neg_price`` [EUR/MWh]. The ``Zeitzone`` column (UTC, CET/MEZ,
    CEST/MESZ) fixes each row's offset, so daylight-saving days need no guessing.
    """
    path = Path(path)
    source = str(path)
    header = _sniff(path)
    if not header.startswith("Datum;"):
        raise MarketDataError(f"unexpected header {header.strip()[:60]!r}; expected 'Datum;Zeitzone;von;bis;...'",
                              source=source)
    raw = _read_csv(path, sep=";", dtype=str)
    for needed in ("Zeitzone", "von"):
        if needed not in raw.columns:
            raise MarketDataError("column missing", source=source, column=needed)
    zones = raw["Zeitzone"].str.strip().str.upper()
    unknown = ~zones.isin(list(_NT_ZONES))
    if unknown.any():
        raise MarketDataError(f"unknown time zone {zones[unknown].iloc[0]!r}", source=source, column="Zeitzone")
    naive = pd.to_datetime(raw["Datum"].str.strip() + " " + raw["von"].str.strip(), format="%d.%m.%Y %H:%M",
                           errors="coerce")
    if naive.isna().any():
        i = int(np.argmax(naive.isna()))
        raise MarketDataError(f"unparseable date/time in row {i + 2}", source=source, column="Datum")
    offset_h = zones.map({"UTC": 0, "CET": 1, "MEZ": 1, "CEST": 2, "MESZ": 2}).to_numpy()
    index = pd.DatetimeIndex(naive - pd.to_timedelta(offset_h, unit="h"), name="timestamp").tz_localize("UTC")
    raw.index = index
    out = {}
    if "reBAP unterdeckt" in raw.columns:
        out["imbalance_price"] = _number(raw["reBAP unterdeckt"], source=source, column="reBAP unterdeckt")
    if "Deutschland (Positiv)" in raw.columns:
        out["afrr_energy_pos_price"] = _number(raw["Deutschland (Positiv)"], source=source,
                                                      column="Deutschland (Positiv)")
        out["afrr_energy_neg_price"] = _number(raw["Deutschland (Negativ)"], source=source,
                                                      column="Deutschland (Negativ)")
    if not out:
        raise MarketDataError(f"no reBAP or 'Deutschland (Positiv/Negativ)' columns among {list(raw.columns)}",
                              source=source)
    return pd.DataFrame({k: _to_quarter_hours(v.rename(k), source=source, step=QUARTER_HOUR) for k, v in out.items()})
