"""HTTP for the fetchers: one ``requests`` session, retries with backoff, a polite rate and a response cache.

Retries are done here rather than by urllib3's ``Retry`` so that a replaying transport (the tests) goes through
them too. Every response body is cached per request under ``cache_dir/<source>/<key>`` with a ``.json`` record
of the request and its retrieval time; a request found in the cache is never sent again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bessgym._io import atomic_path
from bessgym.data.fetch.errors import FormatChanged, NotCovered, RequestRefused, SourceUnreachable

USER_AGENT = "bessgym (research gym; https://pypi.org/project/bessgym) python-requests"
TIMEOUT_S = 60.0
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def default_cache_dir() -> Path:
    """The platform's user cache folder for bessgym (e.g. ~/.cache/bessgym/fetch on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("bessgym")) / "fetch"


@dataclass
class Cached:
    """A response body on disk and the record of its request."""

    path: Path
    url: str
    retrieved_utc: str
    from_cache: bool


@dataclass
class Http:
    """Requests for one fetch run.

    ``session``: a ``requests.Session`` (tests mount a replaying adapter on it); ``cache_dir``: the response cache;
    ``offline``: answer only from the cache; ``retries``: attempts after the first for timeouts, connection errors,
    429 and 5xx, waiting ``backoff_s`` x 2^k (or the server's Retry-After); ``min_interval_s``: the least time
    between two requests to one source; ``sleep``/``clock``: injectable for tests.
    """

    cache_dir: Path
    session: requests.Session = field(default_factory=requests.Session)
    offline: bool = False
    retries: int = 4
    backoff_s: float = 2.0
    min_interval_s: dict[str, float] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    sent: int = 0
    hits: int = 0
    _last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir)
        self.session.headers.setdefault("User-Agent", USER_AGENT)

    def path(self, source: str, key: str) -> Path:
        return self.cache_dir / source / key

    def cached(self, source: str, key: str) -> Cached | None:
        """The cached response for ``key``, or None."""
        path = self.path(source, key)
        record = path.with_name(path.name + ".json")
        if not path.exists() or not record.exists():
            return None
        meta = json.loads(record.read_text())
        self.hits += 1
        return Cached(path, meta["url"], meta["retrieved_utc"], from_cache=True)

    def get(self, source: str, key: str, url: str, *, day: dt.date, params: dict | None = None,
            headers: Callable[[], dict] | None = None, keep: Callable[[bytes], bool] = lambda body: True,
            ) -> Cached:
        """GET ``url`` unless ``key`` is cached; cache the body when ``keep(body)`` (a complete answer)."""

        def send() -> tuple[bytes, str]:
            response = self.session.get(url, params=params, headers=headers() if headers else None,
                                        timeout=TIMEOUT_S)
            check_status(response, source=source, day=day)
            return response.content, response.url

        return self.call(source, key, send, day=day, keep=keep)

    def call(self, source: str, key: str, send: Callable[[], tuple[bytes, str]], *, day: dt.date,
             keep: Callable[[bytes], bool] = lambda body: True) -> Cached:
        """Run ``send`` (a request returning body and URL) with the rate, retries and cache of :meth:`get`."""
        if (hit := self.cached(source, key)) is not None:
            return hit
        if self.offline:
            raise NotCovered("not in the cache, and --offline sends no request", source=source, day=day,
                             hint=f"run without --offline, or point --cache-dir at a cache that holds it "
                                  f"(this one: {self.cache_dir})")
        body, url = self._retrying(send, source=source, day=day)
        retrieved = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = self.path(source, key)
        if keep(body):
            with atomic_path(path) as tmp:
                tmp.write_bytes(body)
            with atomic_path(path.with_name(path.name + ".json")) as tmp:
                tmp.write_text(json.dumps({"url": url, "retrieved_utc": retrieved}))
        else:  # an incomplete answer (e.g. the week in progress) is used once, not cached
            path = self.path(source, f".uncached/{key}")
            with atomic_path(path) as tmp:
                tmp.write_bytes(body)
        return Cached(path, url, retrieved, from_cache=False)

    def post(self, url: str, *, source: str, data: dict, day: dt.date | None = None) -> requests.Response:
        """A POST (an OAuth token request), with the rate and retries of :meth:`get`; never cached."""

        def send() -> tuple[requests.Response, str]:
            response = self.session.post(url, data=data, timeout=TIMEOUT_S)
            check_status(response, source=source, day=day)
            return response, response.url

        return self._retrying(send, source=source, day=day)[0]

    def _retrying(self, send, *, source: str, day: dt.date | None):
        for attempt in range(self.retries + 1):
            wait = self.min_interval_s.get(source, 0.0) - (self.clock() - self._last.get(source, -1e12))
            if wait > 0:
                self.sleep(wait)
            self._last[source] = self.clock()
            self.sent += 1
            try:
                return send()
            except _Retryable as exc:
                if attempt == self.retries:
                    raise exc.final from None
                self.sleep(exc.retry_after_s or self.backoff_s * 2 ** attempt)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.retries:
                    raise SourceUnreachable(f"no answer after {self.retries + 1} attempts ({type(exc).__name__}: "
                                            f"{redact(str(exc))})", source=source, day=day,
                                            hint="check the network connection and rerun: days fetched before "
                                                 "are in the cache; or download the files by hand and use "
                                                 "`bessgym data import`") from None
                self.sleep(self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")


class _Retryable(Exception):
    def __init__(self, final: RequestRefused, retry_after_s: float | None) -> None:
        self.final, self.retry_after_s = final, retry_after_s


def check_status(response: requests.Response, *, source: str, day: dt.date | None) -> None:
    """Nothing for a 2xx answer; else RequestRefused (retried by :class:`Http` for 429 and 5xx)."""
    if response.ok:
        return
    status = response.status_code
    text = " ".join(response.text[:200].split())
    url = redact(response.url or "")
    refused = RequestRefused(f"HTTP {status} {response.reason} for {url} ({text!r})", source=source, day=day,
                             hint=_REFUSED_HINTS.get(status, "rerun later: days fetched before are in the cache; "
                                                     "or download the files by hand and use `bessgym data import`"))
    if status in _RETRY_STATUS:
        after = response.headers.get("Retry-After", "")
        raise _Retryable(refused, float(after) if after.isdigit() else None)
    raise refused


_REFUSED_HINTS = {
    401: "the credentials were not accepted: check the environment variables the source needs",
    403: "the source refused access: check the credentials and the source's terms of use",
    404: "the source has no such file: the date may not be covered, or the interface moved",
}


def redact(text: str) -> str:
    """``text`` without ENTSO-E's security token, which travels in the query string."""
    return re.sub(r"(securityToken=)[^&\s'\"]+", r"\1***", text)


def read_json(cached: Cached, *, source: str, day: dt.date) -> object:
    """The JSON body of a response, or FormatChanged naming what came instead."""
    text = cached.path.read_bytes()
    try:
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatChanged(f"the response from {cached.url} is not JSON (it starts {text[:60]!r})", source=source,
                            day=day, hint="the source may have changed its interface; download the data by hand "
                                          "and use `bessgym data import`") from None
