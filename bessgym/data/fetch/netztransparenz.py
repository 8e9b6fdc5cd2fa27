"""netztransparenz.de (the German TSOs): the reBAP imbalance price through its data API, with OAuth client credentials.

A free account at https://api-portal.netztransparenz.de gives a client id and secret; bessgym reads them from
``NETZTRANSPARENZ_CLIENT_ID`` and ``NETZTRANSPARENZ_CLIENT_SECRET``. The token comes from
``https://identity.netztransparenz.de/users/connect/token``; the quality-assured reBAP of a day from
``https://ds.netztransparenz.de/api/v1/data/NrvSaldo/reBAP/Qualitaetsgesichert/{from}/{to}`` (UTC), as the CSV
that :func:`bessgym.data.loaders.read_netztransparenz` reads from downloaded files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence

import pandas as pd

from bessgym.data.fetch.base import CHANGED, DailySource, Provenance, day_bounds, on_day, parsed
from bessgym.data.fetch.errors import FormatChanged, MissingCredential
from bessgym.data.fetch.http import Http
from bessgym.data.loaders import read_netztransparenz

TOKEN_URL = "https://identity.netztransparenz.de/users/connect/token"
API = "https://ds.netztransparenz.de/api/v1/data"
ENV = ("NETZTRANSPARENZ_CLIENT_ID", "NETZTRANSPARENZ_CLIENT_SECRET")


class Netztransparenz(DailySource):
    def __init__(self) -> None:
        super().__init__(
            name="netztransparenz", licence="netztransparenz.de terms of use (free account)",
            attribution="netztransparenz.de, the German TSOs",
            columns={"imbalance_price": "reBAP, quality-assured (NrvSaldo/reBAP/Qualitaetsgesichert)"},
            first_day={"imbalance_price": dt.date(2014, 1, 1)}, needs=ENV, min_interval_s=0.5)

    def column_days(self, column: str, days: Sequence[dt.date], http: Http, record: Provenance,
                    tick: Callable[[], None], env: dict[str, str]) -> Iterator[pd.Series]:
        token: list[str] = []

        def auth() -> dict[str, str]:  # a token only when a request is sent: a cached run needs no account
            if not token:
                token.append(self._token(http, env))
            return {"Authorization": f"Bearer {token[0]}"}

        for day in days:
            lo, hi = (t.strftime("%Y-%m-%dT%H:%M:%S") for t in day_bounds(day))
            cached = http.get(self.name, f"reBAP_{day:%Y-%m-%d}.csv", f"{API}/NrvSaldo/reBAP/Qualitaetsgesichert/"
                              f"{lo}/{hi}", day=day, headers=auth)
            record.add(cached)
            frame = parsed(lambda c=cached: read_netztransparenz(c.path), source=self.name, day=day, url=cached.url)
            yield on_day(frame[column], day, source=self.name, column=column)
            tick()

    def _token(self, http: Http, env: dict[str, str]) -> str:
        missing = [name for name in ENV if not env.get(name)]
        if missing:
            raise MissingCredential(f"{' and '.join(missing)} not set", source=self.name,
                                    hint="create a free account at https://api-portal.netztransparenz.de, set both "
                                         "variables to its client id and secret, and rerun; or download the reBAP "
                                         "CSV from netztransparenz.de and use `bessgym data import --netztransparenz`")
        response = http.post(TOKEN_URL, source=self.name, data={"grant_type": "client_credentials",
                                                               "client_id": env[ENV[0]], "client_secret": env[ENV[1]]})
        try:
            return response.json()["access_token"]
        except (ValueError, KeyError):
            raise FormatChanged(f"the token response of {TOKEN_URL} has no access_token", source=self.name,
                                hint=CHANGED) from None
