"""Pick a log store by URL: a dict maps each URL scheme to the factory of its adapter.

``duckdb:///abs/path/logs.duckdb`` opens the embedded DuckDB store, ``ducklake:…`` a DuckLake
(``adapters/duckdb/lake_location.py``; its S3 settings may come from the ``AWS_*`` variables of
the process); a further engine (say ClickHouse) adds its scheme to ``LOG_STORE_FACTORIES``.
Adapters are imported inside their factory, so a missing optional driver fails only when its
scheme is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from logsluice.domain.errors import InvalidInputError
from logsluice.ports import LogStore


@dataclass(frozen=True)
class EngineLimits:
    """Limits of an embedded engine; ``None`` leaves the engine's default."""

    memory_limit_bytes: int | None = None
    cache_limit_bytes: int | None = None
    threads: int | None = None
    # bytes left free on the engine's disk: writes that would leave less are refused (disk_full)
    min_free_bytes: int = 0
    # most columns a logstore may have: an append that would add past it is refused
    max_fields: int | None = None


LogStoreFactory = Callable[[str, EngineLimits], LogStore]


def _create_duckdb_log_store(url: str, limits: EngineLimits) -> LogStore:
    from logsluice.adapters.duckdb import DuckDBLogStore

    return DuckDBLogStore(
        duckdb_path(url),
        memory_limit_bytes=limits.memory_limit_bytes,
        cache_limit_bytes=limits.cache_limit_bytes,
        threads=limits.threads,
        min_free_bytes=limits.min_free_bytes,
        max_fields=limits.max_fields,
    )


def _create_lake_log_store(url: str, limits: EngineLimits) -> LogStore:
    from logsluice.adapters.duckdb.lake_store import create_lake_log_store

    return create_lake_log_store(
        url,
        os.environ,
        memory_limit_bytes=limits.memory_limit_bytes,
        cache_limit_bytes=limits.cache_limit_bytes,
        threads=limits.threads,
        min_free_bytes=limits.min_free_bytes,
        max_fields=limits.max_fields,
    )


LOG_STORE_FACTORIES: Mapping[str, LogStoreFactory] = {
    "duckdb": _create_duckdb_log_store,
    "ducklake": _create_lake_log_store,
}


def create_log_store(url: str, limits: EngineLimits | None = None) -> LogStore:
    """Return the log store that ``url`` names, opened with the given engine limits.

    ``limits`` tune embedded engines (DuckDB) and are ignored by servers. Raises
    InvalidInputError for an unknown scheme or a malformed URL.
    """
    scheme = urlsplit(url).scheme.lower()
    factory = LOG_STORE_FACTORIES.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}:" for name in sorted(LOG_STORE_FACTORIES))
        raise InvalidInputError(f"unknown log store URL {url!r}: use one of {known}", url=url)
    return factory(url, limits or EngineLimits())


def is_shared_log_store(url: str) -> bool:
    """Tell whether processes on any host may open the log store at ``url`` at once.

    True for a DuckLake whose catalog is a server or a SQLite file (``logsluice worker`` then
    reads it directly); False for a DuckDB file or a lake with a DuckDB catalog file, which one
    process holds (workers read those through the serving node). Raises InvalidInputError for a
    malformed lake URL.
    """
    if urlsplit(url).scheme.lower() != "ducklake":
        return False
    from logsluice.adapters.duckdb.lake_location import parse_lake_url

    location = parse_lake_url(url, {})
    return not location.local_catalog or location.metadata.startswith("sqlite:")


def duckdb_path(url: str) -> Path:
    """Return the file of a ``duckdb:///abs/path/logs.duckdb`` URL. Raises InvalidInputError."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.scheme.lower() != "duckdb" or parts.netloc or not path.startswith("/"):
        raise InvalidInputError(
            f"invalid DuckDB URL {url!r}: use duckdb:///absolute/path/logs.duckdb", url=url
        )
    return Path(path)
