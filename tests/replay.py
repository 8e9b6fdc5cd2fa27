"""Recorded responses for the fetch tests: a requests transport that replays them, and builders that write them
in each source's real format (SMARD chart JSON, regelleistung xlsx, Energy-Charts JSON, netztransparenz CSV,
ENTSO-E A44 XML). The fetchers run unchanged on a session with this transport mounted.
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

SMARD = "https://www.smard.de/app/chart_data"
REGELLEISTUNG = "https://www.regelleistung.net/apps/cpp-publisher/api/v1/download/tenders/resultsoverview"


def canonical(method: str, url: str) -> str:
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query)))
    return f"{method} {urlunsplit((parts.scheme, parts.netloc, parts.path, query, ''))}"


def key(url: str, params: dict | None = None, method: str = "GET") -> str:
    return canonical(method, requests.Request(method, url, params=params).prepare().url)


class Replay(HTTPAdapter):
    """Answers each request from ``routes`` (:func:`key` -> body, (status, body) or a list of those, served in
    turn); a request without a route fails as a refused connection does. ``log`` lists the requests sent."""

    def __init__(self, routes: dict | None = None) -> None:
        super().__init__()
        self.routes = dict(routes or {})
        self.log: list[str] = []

    def send(self, request, **kwargs):
        name = canonical(request.method, request.url)
        self.log.append(name)
        answer = self.routes.get(name)
        if answer is None:
            raise requests.ConnectionError(f"replay: no recorded response for {name}")
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        response = requests.Response()
        response.status_code, response._content, response.url = status, body, request.url
        response.reason = {200: "OK", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
        response.headers, response.request = CaseInsensitiveDict(), request
        return response


def session(routes: dict | None = None) -> tuple[requests.Session, Replay]:
    replay = Replay(routes)
    s = requests.Session()
    s.mount("https://", replay)
    s.mount("http://", replay)
    return s, replay


# --------------------------------------------------------------------------------------------- recordings

def smard(filter_id: int, region: str, resolution: str, values: pd.Series, *, nulls_after=None) -> dict:
    """Weekly chart-data files (Monday 00:00 Berlin) and the index of ``values`` (UTC index, one per interval)."""
    local = values.index.tz_convert("Europe/Berlin")
    monday = (local.normalize() - pd.to_timedelta(local.day_of_week, unit="D")).tz_convert("UTC")
    routes, starts = {}, []
    for start, group in values.groupby(monday):
        ms = int(start.value // 1_000_000)
        starts.append(ms)
        series = [[int(t.value // 1_000_000), None if (nulls_after is not None and t >= nulls_after) or np.isnan(v)
                   else float(v)] for t, v in group.items()]
        body = json.dumps({"meta_data": {"version": 1, "created": 0}, "series": series}).encode()
        routes[key(f"{SMARD}/{filter_id}/{region}/{filter_id}_{region}_{resolution}_{ms}.json")] = body
    routes[key(f"{SMARD}/{filter_id}/{region}/index_{resolution}.json")] = json.dumps({"timestamps": starts}).encode()
    return routes


def regelleistung(rows: pd.DataFrame, market: str, product: str, *, date_column: str = "DATE_FROM") -> dict:
    """One results-overview xlsx per delivery day of ``rows`` (a regelleistung results table)."""
    routes = {}
    for day, group in rows.groupby(pd.to_datetime(rows[date_column]).dt.date):
        params = {"date": f"{day:%Y-%m-%d}", "exportFormat": "xlsx", "market": market, "productTypes": product}
        routes[key(REGELLEISTUNG, params)] = xlsx(group)
    return routes


def xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


def energy_charts(endpoint: str, fixed: dict, day, values: pd.Series, name: str) -> dict:
    """A /price or /public_power answer for one Berlin day (``values``: UTC index)."""
    lo = pd.Timestamp(day, tz="Europe/Berlin")
    hi = pd.Timestamp(day + pd.Timedelta(days=1), tz="Europe/Berlin")
    part = values[(values.index >= lo) & (values.index < hi)]
    unix = [int(t.value // 10**9) for t in part.index]
    if name == "price":
        payload = {"license_info": "CC BY 4.0", "unix_seconds": unix, "price": list(part), "unit": "EUR / MWh"}
    else:
        payload = {"unix_seconds": unix, "production_types": [{"name": "Solar", "data": list(part)}]}
    params = {**fixed, "start": lo.isoformat(timespec="minutes"), "end": hi.isoformat(timespec="minutes")}
    return {key(f"https://api.energy-charts.info/{endpoint}", params): json.dumps(payload).encode()}


def netztransparenz_rebap(day, values: pd.Series) -> dict:
    """The reBAP CSV of one Berlin day as the data API sends it (``Datum;Zeitzone;von;bis;...``, decimal comma)."""
    lo = pd.Timestamp(day, tz="Europe/Berlin").tz_convert("UTC")
    hi = pd.Timestamp(day + pd.Timedelta(days=1), tz="Europe/Berlin").tz_convert("UTC")
    part = values[(values.index >= lo) & (values.index < hi)]
    lines = ["Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;reBAP unterdeckt;reBAP ueberdeckt"]
    for t, v in part.items():
        local = t.tz_convert("Europe/Berlin")
        zone = "CEST" if local.utcoffset() == pd.Timedelta(hours=2) else "CET"
        end = local + pd.Timedelta(minutes=15)
        price = f"{v:.2f}".replace(".", ",")
        lines.append(f"{local:%d.%m.%Y};{zone};{local:%H:%M};{end:%H:%M};reBAP;Qualitaetsgesichert;EUR/MWh;"
                     f"{price};{price}")
    url = (f"https://ds.netztransparenz.de/api/v1/data/NrvSaldo/reBAP/Qualitaetsgesichert/"
           f"{lo:%Y-%m-%dT%H:%M:%S}/{hi:%Y-%m-%dT%H:%M:%S}")
    return {key(url): "\n".join(lines).encode()}


def entsoe_a44(day, hourly: pd.Series, token: str) -> dict:
    """An ENTSO-E A44 day-ahead document (one TimeSeries, PT60M) for one Berlin day."""
    lo = pd.Timestamp(day, tz="Europe/Berlin").tz_convert("UTC")
    hi = pd.Timestamp(day + pd.Timedelta(days=1), tz="Europe/Berlin").tz_convert("UTC")
    part = hourly[(hourly.index >= lo) & (hourly.index < hi)]
    points = "".join(f"<Point><position>{k + 1}</position><price.amount>{v:.2f}</price.amount></Point>"
                     for k, v in enumerate(part))
    xml = ('<?xml version="1.0" encoding="UTF-8"?><Publication_MarketDocument '
           'xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"><type>A44</type><TimeSeries>'
           '<mRID>1</mRID><businessType>A62</businessType><curveType>A01</curveType><Period><timeInterval>'
           f'<start>{lo:%Y-%m-%dT%H:%MZ}</start><end>{hi:%Y-%m-%dT%H:%MZ}</end></timeInterval>'
           f'<resolution>PT60M</resolution>{points}</Period></TimeSeries></Publication_MarketDocument>')
    params = {"documentType": "A44", "in_Domain": "10Y1001A1001A82H", "out_Domain": "10Y1001A1001A82H",
              "offset": "0", "contract_MarketAgreement.type": "A01", "securityToken": token,
              "periodStart": f"{lo:%Y%m%d%H00}", "periodEnd": f"{hi:%Y%m%d%H00}"}
    return {key("https://web-api.tp.entsoe.eu/api", params): xml.encode()}
