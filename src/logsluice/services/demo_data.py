"""Realistic, reproducible demo logs: application (``app``), web ``access`` and ``cdn`` records.

Records are drawn column by column with Arrow compute (no Python loop per record), so a million
records take about a second. The same seed, record count and time range always give the same
records. Timestamps rise through the range; each batch covers its own slice of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from logsluice.domain.errors import InvalidInputError

DEMO_LOGSTORES = ("app", "access", "cdn")
DEFAULT_BATCH_RECORDS = 50_000
_LOOKUP_RESOLUTION = 10_000
_MICROSECONDS_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class DemoDataSpec:
    """What to generate: ``records`` records per logstore spread over ``[start, end)``."""

    start: datetime
    end: datetime
    records: int
    seed: int = 0
    batch_records: int = DEFAULT_BATCH_RECORDS


class _Draws:
    """Seeded, vectorised random draws of one batch; each draw gets its own derived seed."""

    def __init__(self, seed_text: str, size: int) -> None:
        self._seed_text = seed_text
        self.size = size
        self._draws = 0

    def uniform(self) -> pa.Array:
        self._draws += 1
        digest = hashlib.blake2b(f"{self._seed_text}:{self._draws}".encode(), digest_size=8)
        return pc.random(self.size, initializer=int.from_bytes(digest.digest(), "big") >> 1)

    def indices(self, weights: Sequence[float]) -> pa.Array:
        """Return indices into ``weights``, each drawn with its weight's probability."""
        total = sum(weights)
        lookup: list[int] = []
        for index, weight in enumerate(weights):
            lookup.extend([index] * max(1, round(weight / total * _LOOKUP_RESOLUTION)))
        slots = pc.floor(pc.multiply(self.uniform(), len(lookup)))
        return pc.take(pa.array(lookup, pa.int32()), pc.cast(slots, pa.int32()))

    def choice(self, values: Sequence[object], weights: Sequence[float] | None = None) -> pa.Array:
        return pc.take(pa.array(values), self.indices(weights or [1.0] * len(values)))

    def integers(self, low: int, high: int) -> pa.Array:
        """Return integers in ``[low, high)``."""
        scaled = pc.floor(pc.multiply(self.uniform(), high - low))
        return pc.add(pc.cast(scaled, pa.int64()), low)

    def lognormal(self, median: float, sigma: float) -> pa.Array:
        # Box-Muller: a standard normal from two uniforms, then exp for a log-normal.
        radius = pc.sqrt(pc.multiply(pc.ln(pc.subtract(1.0, self.uniform())), -2.0))
        normal = pc.multiply(radius, pc.cos(pc.multiply(self.uniform(), 6.283185307179586)))
        return pc.multiply(pc.exp(pc.multiply(normal, sigma)), median)

    def timestamps(self, start: datetime, end: datetime) -> pa.Array:
        """Return sorted UTC timestamps in ``[start, end)``."""
        span_microseconds = (end - start) // timedelta(microseconds=1)
        offsets = pc.cast(pc.floor(pc.multiply(self.uniform(), span_microseconds)), pa.int64())
        start_microseconds = int(start.timestamp() * _MICROSECONDS_PER_SECOND)
        sorted_values = pc.sort_indices(offsets)
        epoch = pc.add(pc.take(offsets, sorted_values), start_microseconds)
        return pc.cast(epoch, pa.timestamp("us", tz="UTC"))

    def ip_addresses(self) -> pa.Array:
        octets = [pc.cast(self.integers(1, 255), pa.string()) for _ in range(4)]
        return pc.binary_join_element_wise(*octets, ".")


def _as_text(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


_APP_EVENTS = (  # level, text, weight, latency factor, HTTP statuses it answers with
    ("INFO", "request completed", 40, 1.0, (200, 200, 201, 204)),
    ("INFO", "user login succeeded", 8, 1.5, (200,)),
    ("INFO", "order placed", 6, 2.0, (201,)),
    ("DEBUG", "cache hit for session", 10, 0.1, (200, 304)),
    ("DEBUG", "cache miss, loading from database", 8, 3.0, (200,)),
    ("WARN", "slow query detected on orders table", 5, 20.0, (200,)),
    ("WARN", "retrying request after timeout", 4, 50.0, (200, 429)),
    ("WARN", "connection pool nearly exhausted", 2, 5.0, (429, 503)),
    ("ERROR", "upstream timeout after 30s", 3, 750.0, (504,)),
    ("ERROR", "connection refused by payments-db:5432", 2, 0.5, (502, 503)),
    ("ERROR", "deadlock detected while updating inventory", 1, 40.0, (500,)),
    ("ERROR", "invalid token: signature mismatch", 1, 0.2, (401, 403)),
)
_APP_ROUTES = ("/api/orders", "/api/cart", "/api/login", "/api/search", "/api/inventory")
_APP_TAGS = (("web",), ("web", "canary"), ("mobile",), ("mobile", "beta"), ())
_SERVICES = ("checkout", "payments", "inventory", "search", "auth", "gateway")
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    "curl/8.7.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
)
_HTTP_STATUSES = (200, 201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 502, 503, 504)
_HTTP_STATUS_WEIGHTS = (820, 30, 10, 15, 40, 20, 10, 5, 30, 5, 6, 4, 3, 2)


def _app_table(draws: _Draws, start: datetime, end: datetime) -> pa.Table:
    """Application logs: flat fields, an ``http`` object, a ``user`` object and a ``tags`` list."""
    event = draws.indices([weight for _, _, weight, _, _ in _APP_EVENTS])
    texts = pc.take(pa.array([text for _, text, *_ in _APP_EVENTS]), event)
    factors = pc.take(pa.array([factor for _, _, _, factor, _ in _APP_EVENTS]), event)
    trace_ids = _join(*(pc.utf8_lpad(_as_text(draws.integers(0, 10**8)), 8, "0") for _ in range(4)))
    user_ids = draws.integers(1000, 100_000)
    http = pa.StructArray.from_arrays(
        [
            draws.choice(("GET", "POST", "PUT", "DELETE"), [70, 22, 5, 3]),
            draws.choice(_APP_ROUTES, [30, 20, 15, 25, 10]),
            _statuses(draws, event),
            pc.round(pc.multiply(draws.lognormal(12.0, 0.8), factors), 3),
        ],
        names=["method", "route", "status", "latency_ms"],
    )
    return pa.table(
        {
            "timestamp": draws.timestamps(start, end),
            "level": pc.take(pa.array([level for level, *_ in _APP_EVENTS]), event),
            "service": draws.choice(_SERVICES, [30, 15, 15, 20, 10, 10]),
            "host": _join("app-", pc.utf8_lpad(_as_text(draws.integers(1, 17)), 2, "0")),
            "trace_id": trace_ids,
            "message": _join(texts, " user_id=", _as_text(user_ids)),
            "http": http,
            "user": pa.StructArray.from_arrays(
                [user_ids, draws.choice(("cn", "us", "de", "jp", "br"), [40, 25, 15, 10, 10])],
                names=["id", "country"],
            ),
            "tags": pc.take(
                pa.array(_APP_TAGS, pa.list_(pa.string())), draws.indices([4, 1, 3, 1, 2])
            ),
        }
    )


def _statuses(draws: _Draws, event: pa.Array) -> pa.Array:
    """An HTTP status each event answers with, drawn among its own."""
    choices = [statuses for *_, statuses in _APP_EVENTS]
    widest = max(len(statuses) for statuses in choices)
    lookup = pa.array(
        [statuses[slot % len(statuses)] for statuses in choices for slot in range(widest)],
        pa.int64(),
    )
    slot = pc.cast(pc.floor(pc.multiply(draws.uniform(), widest)), pa.int64())
    return pc.take(lookup, pc.add(pc.multiply(pc.cast(event, pa.int64()), widest), slot))


_ACCESS_PATHS = (
    "/index.html",
    "/login",
    "/api/orders/",
    "/api/users/",
    "/api/search?q=",
    "/static/app.js",
)


def _access_table(draws: _Draws, start: datetime, end: datetime) -> pa.Table:
    path_prefix = draws.choice(_ACCESS_PATHS, [10, 5, 30, 20, 15, 20])
    has_id = pc.ends_with(path_prefix, "/")
    identifier = _as_text(draws.integers(1, 50_000))
    keyed = pc.if_else(
        pc.or_(has_id, pc.ends_with(path_prefix, "=")), _join(path_prefix, identifier), path_prefix
    )
    return pa.table(
        {
            "timestamp": draws.timestamps(start, end),
            "method": draws.choice(("GET", "POST", "PUT", "DELETE"), [75, 18, 4, 3]),
            "path": keyed,
            "status": draws.choice(_HTTP_STATUSES, _HTTP_STATUS_WEIGHTS),
            "bytes": pc.cast(pc.round(draws.lognormal(2_000.0, 1.2)), pa.int64()),
            "latency_ms": pc.round(draws.lognormal(35.0, 0.9), 3),
            "client_ip": draws.ip_addresses(),
            "user_agent": draws.choice(_USER_AGENTS, [30, 20, 20, 15, 10, 5]),
        }
    )


_CDN_LOCATIONS = (  # country (ISO, cn = mainland China), province, isp, weight
    ("cn", "guangdong", "China Telecom", 14),
    ("cn", "beijing", "China Unicom", 10),
    ("cn", "shanghai", "China Telecom", 10),
    ("cn", "zhejiang", "China Mobile", 9),
    ("cn", "jiangsu", "China Mobile", 8),
    ("cn", "sichuan", "China Telecom", 6),
    ("cn", "hubei", "China Unicom", 5),
    ("us", "", "Comcast", 10),
    ("us", "", "AT&T", 6),
    ("de", "", "Deutsche Telekom", 5),
    ("jp", "", "NTT", 5),
    ("sg", "", "Singtel", 4),
    ("gb", "", "BT", 4),
    ("hk", "", "PCCW", 4),
)
_CDN_DOMAINS = ("static.example.com", "img.example.com", "video.example.com", "dl.example.com")
_CDN_OBJECTS = (
    "/index.html",
    "/css/site.css",
    "/js/bundle.js",
    "/img/logo.png",
    "/video/intro.mp4",
)
_REFERERS = ("", "https://www.example.com/", "https://www.baidu.com/", "https://www.google.com/")


def _cdn_table(draws: _Draws, start: datetime, end: datetime) -> pa.Table:
    location = draws.indices([weight for *_, weight in _CDN_LOCATIONS])
    domain = draws.choice(_CDN_DOMAINS, [40, 30, 20, 10])
    columns = list(zip(*_CDN_LOCATIONS, strict=True))
    return pa.table(
        {
            "timestamp": draws.timestamps(start, end),
            "domain": domain,
            "url": _join("https://", domain, draws.choice(_CDN_OBJECTS, [20, 15, 25, 30, 10])),
            "status": draws.choice((200, 206, 304, 403, 404, 502), [800, 60, 100, 5, 30, 5]),
            "bytes_sent": pc.cast(pc.round(draws.lognormal(40_000.0, 1.5)), pa.int64()),
            "client_ip": draws.ip_addresses(),
            "isp": pc.take(pa.array(columns[2]), location),
            "country": pc.take(pa.array(columns[0]), location),
            "province": pc.take(pa.array(columns[1]), location),
            "user_agent": draws.choice(_USER_AGENTS, [30, 20, 25, 20, 3, 2]),
            "referer": draws.choice(_REFERERS, [40, 30, 20, 10]),
        }
    )


_GENERATORS: dict[str, Callable[[_Draws, datetime, datetime], pa.Table]] = {
    "app": _app_table,
    "access": _access_table,
    "cdn": _cdn_table,
}


def generate_demo_records(logstore: str, spec: DemoDataSpec) -> Iterator[pa.Table]:
    """Yield ``spec.records`` demo records for ``logstore`` (app, access or cdn) in batches.

    Batches come in time order; each holds at most ``spec.batch_records`` records sorted by time.
    Raises InvalidInputError for an unknown logstore, a negative count or an empty time range.
    """
    generator = _GENERATORS.get(logstore)
    if generator is None:
        raise InvalidInputError(f"no demo data for {logstore!r}; use one of {DEMO_LOGSTORES}")
    if spec.records < 0 or spec.batch_records < 1 or spec.start >= spec.end:
        raise InvalidInputError("demo data needs records >= 0 and start before end")
    batches = -(-spec.records // spec.batch_records)
    for batch in range(batches):
        size = min(spec.batch_records, spec.records - batch * spec.batch_records)
        batch_start = spec.start + (spec.end - spec.start) * batch / batches
        batch_end = spec.start + (spec.end - spec.start) * (batch + 1) / batches
        draws = _Draws(f"{spec.seed}:{logstore}:{batch}", size)
        yield generator(draws, batch_start, batch_end)
