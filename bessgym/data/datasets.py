"""Real market tables named by the public files they are built from, for the benchmark's real-data tasks.

The files are not shipped with bessgym: regelleistung.net's terms allow research use but no redistribution, and
the EPEX SPOT prices of TUMFTM/flex-depot may not be redistributed in a package. A :class:`Dataset` names each
file by its path in the user's data folder and its SHA-256 (so a result names the exact data it ran on), how it
is read (:func:`~bessgym.data.importer.import_files`) and its source and licence. :meth:`Dataset.build` checks
every file, imports them into one contract table and keeps it in a cache folder under the files' digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bessgym._io import source_digest
from bessgym.data.contract import MarketDataError

# where a folder of real files is looked for when no folder is given
DATA_ENV = "BESSGYM_REAL_DATA"


@dataclass(frozen=True)
class SourceFile:
    """One public file: ``path`` in the data folder, its ``sha256``, how it is read (``read_as``: an importer
    format such as ``smard``, or ``series:<contract column>`` for a ``time,price`` file) and where it comes from
    (``source``, with its licence)."""

    path: str
    sha256: str
    read_as: str
    source: str

    def find(self, folder: Path) -> Path:
        """The file in ``folder``: at its path, or by its name alone (files downloaded into one folder)."""
        nested = folder / self.path
        return nested if nested.is_file() else folder / Path(self.path).name


@dataclass(frozen=True)
class Dataset:
    """A contract table built from ``files`` (price series in ``unit``), covering the delivery days the files
    share."""

    name: str
    description: str
    files: tuple[SourceFile, ...]
    unit: str | None = None

    @property
    def digest(self) -> str:
        """A hash of the dataset's name and its files' checksums: the built table's key."""
        return hashlib.sha256("\n".join([self.name, *(f.sha256 for f in self.files)]).encode()).hexdigest()[:12]

    def check(self, folder: Path) -> None:
        """Each file present in ``folder`` with its checksum; else a :class:`MarketDataError` naming every file
        that is missing or differs, and where the files come from."""
        problems = []
        for f in self.files:
            path = f.find(folder)
            if not path.is_file():
                problems.append(f"{f.path}: missing ({f.source})")
            elif (found := _sha256(path)) != f.sha256:
                problems.append(f"{f.path}: SHA-256 {found}, expected {f.sha256} (another version of the file)")
        if problems:
            raise MarketDataError(f"dataset {self.name} in {folder}: " + "; ".join(problems)
                                  + f". The files are not shipped with bessgym (their licences forbid it): give "
                                  f"the folder that holds them with --real-data or ${DATA_ENV}", source=str(folder))

    def build(self, folder: Path, cache: Path) -> Path:
        """The contract table of the files in ``folder`` (checked first), imported once into ``cache`` and read
        from there afterwards, until the code that reads the files changes (its name stays, so results on it
        still name the same table)."""
        from bessgym.data import read_table, write_table
        from bessgym.data.importer import import_files

        self.check(folder)
        out = cache / f"{self.name}-{self.digest}.parquet"
        if out.exists() and read_table(out).attrs.get("provenance", {}).get("reader") == _reader_digest():
            return out
        formats: dict[str, list[Path]] = {}
        series = []
        for f in self.files:
            if f.read_as.startswith("series:"):
                series.append((f.read_as.removeprefix("series:"), f.find(folder)))
            else:
                formats.setdefault(f.read_as, []).append(f.find(folder))
        table = import_files(formats, series=series, unit=self.unit).table
        table.attrs["provenance"] = {"dataset": self.name, "reader": _reader_digest(),
                                     "files": {f.path: {"sha256": f.sha256, "source": f.source} for f in self.files}}
        out.parent.mkdir(parents=True, exist_ok=True)
        return write_table(table, out)  # atomically


def _reader_digest() -> str:
    """A hash of the source of :mod:`bessgym.data` (loaders, importer, contract), which the tables are read by."""
    return source_digest(Path(__file__).parents[1], "data")[:12]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_SMARD = "SMARD.de, Bundesnetzagentur, CC BY 4.0"
_REGELLEISTUNG = "regelleistung.net results overview, research use, no redistribution"
_FLEX_DEPOT = ("EPEX SPOT / netztransparenz.de via Energy-Charts, as in TUMFTM/flex-depot data/example/prices "
               "(research use, not to be redistributed)")

DATASETS = {d.name: d for d in (
    Dataset("de-2024-da-afrr", "Germany 2024-01-01 .. 2024-08-31: hourly day-ahead (SMARD) and aFRR capacity "
            "average and marginal prices per 4 h block (regelleistung.net)", (
                SourceFile("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv",
                           "c44f84313784b4e7892e185b1977820a24f471f414589d0f73fa46d572f13bee", "smard", _SMARD),
                SourceFile("RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx",
                           "64648182b80247b60f9a7f2bd6d959935014a15d8e8d43bbecc3491b4c7740e9", "regelleistung",
                           _REGELLEISTUNG))),
    Dataset("de-2026h1", "Germany 2026-01-01 .. 2026-06-28: 15-min day-ahead, the continuous intraday ID3 index "
            "(as the intraday price), reBAP and the FCR settlement price", (
                SourceFile("2025-2026/prices_DA_example.csv",
                           "b59b4cb6c45aadee435b01711f07ce0dca5938e905814f2257125fff0fe5e264", "series:da_price",
                           _FLEX_DEPOT),
                SourceFile("2025-2026/prices_IDC_example.csv",
                           "33e010c62703e385f510875a6d1e22bf7092c095465d992ff025c18144c73c3e", "series:id1_price",
                           _FLEX_DEPOT),
                SourceFile("2025-2026/prices_reBAPpos_example.csv",
                           "b95d79439c54eb0a409b6ad66c550590fb7e633339ccc314f027fc7a5a4d5660",
                           "series:imbalance_price", _FLEX_DEPOT),
                SourceFile("2025-2026/prices_FCR_example.xlsx",
                           "109cc04cf9999d550cf3060837b3085ef8af4f5774ad107da80ec83d5be9b9b6", "regelleistung",
                           _REGELLEISTUNG)), unit="EUR/kWh"),
)}
