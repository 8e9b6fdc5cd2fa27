"""Fetch real German market data from the public sources into a contract table (``bessgym data fetch``).

Sources (:data:`SOURCES`): SMARD, Energy-Charts, regelleistung.net, netztransparenz.de (account), ENTSO-E
(token). Responses are cached per request (:func:`default_cache_dir`), failures are named
(:mod:`bessgym.data.fetch.errors`), and the table records where each column came from in
``table.attrs["provenance"]``.
"""

from bessgym.data.fetch.build import DEFAULT_SOURCES, SOURCES, Fetched, fetch_table
from bessgym.data.fetch.errors import (
    FetchError,
    FormatChanged,
    MissingCredential,
    NotCovered,
    RequestRefused,
    SourceUnreachable,
)
from bessgym.data.fetch.http import default_cache_dir

__all__ = [
    "DEFAULT_SOURCES",
    "SOURCES",
    "FetchError",
    "Fetched",
    "FormatChanged",
    "MissingCredential",
    "NotCovered",
    "RequestRefused",
    "SourceUnreachable",
    "default_cache_dir",
    "fetch_table",
]
