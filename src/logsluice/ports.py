"""The roles the services depend on, as Protocols. Adapters implement them; services see only these.

Each port is small and named for its role. Implementations are named ``<Technology><Role>``
(``SqlCatalogStore``, ``DuckDBLogStore``, ``LocalArtifactStore``) and pass one shared contract
suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from logsluice.domain.catalog import Logstore, LogstoreSchema, Project
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange

if TYPE_CHECKING:
    import pyarrow as pa

    from logsluice.query import ParsedQuery


class Clock(Protocol):
    """Injected time source, so tests can move time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


# --- catalog: projects and logstores ------------------------------------------------------------


class CatalogStore(Protocol):
    """Persists projects and logstores (the control plane shared by every API node)."""

    def create_project(self, project: Project) -> None:
        """Store a new project. Raises AlreadyExistsError if the name is taken."""
        ...

    def get_project(self, name: str) -> Project:
        """Return the project. Raises ProjectNotFoundError."""
        ...

    def list_projects(self) -> list[Project]:
        """Return all projects ordered by name."""
        ...

    def delete_project(self, name: str) -> None:
        """Delete the project and its logstores' catalog entries. Raises ProjectNotFoundError."""
        ...

    def create_logstore(self, logstore: Logstore) -> None:
        """Store a new logstore. Raises ProjectNotFoundError or AlreadyExistsError."""
        ...

    def get_logstore(self, project: str, name: str) -> Logstore:
        """Return the logstore. Raises ProjectNotFoundError or LogstoreNotFoundError."""
        ...

    def list_logstores(self, project: str) -> list[Logstore]:
        """Return the project's logstores ordered by name. Raises ProjectNotFoundError."""
        ...

    def delete_logstore(self, project: str, name: str) -> None:
        """Delete the logstore's catalog entry. Raises LogstoreNotFoundError."""
        ...


# --- log store: records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordsQuery:
    """One query over one logstore and time range, as the log store runs it."""

    project: str
    logstore: str
    query: ParsedQuery
    time_range: TimeRange
    order: Order = Order.ASC
    limit: int | None = None
    timeout: timedelta | None = None


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str


@dataclass(frozen=True)
class HistogramBucket:
    start: datetime
    count: int


@dataclass(frozen=True)
class LogstreamInfo:
    name: str
    records: int


class LogStore(Protocol):
    """Holds records and runs queries over them (DuckDB embedded, ClickHouse scaled out)."""

    def create_logstore(self, logstore: Logstore) -> None:
        """Create the physical storage for a logstore; a no-op if it exists."""
        ...

    def drop_logstore(self, project: str, logstore: str) -> None:
        """Remove a logstore's records and storage; a no-op if absent."""
        ...

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields, time field first. Raises LogstoreNotFoundError."""
        ...

    def append(self, project: str, logstore: str, records: pa.Table) -> int:
        """Append records atomically and return how many were stored.

        ``records`` has the time field as ``timestamp[us, UTC]`` and other columns of boolean,
        int64, float64 or string type. New columns extend the schema; a column whose type clashes
        with the stored one widens it (to DOUBLE or VARCHAR), so no value is dropped.
        """
        ...

    def fetch(self, request: RecordsQuery) -> tuple[list[ColumnInfo], pa.Table]:
        """Run the query and return its columns and rows (bounded by ``request.limit``).

        Raises QueryTimeoutError past ``request.timeout``, InvalidQueryError for a query the
        engine rejects (unknown column, bad types).
        """
        ...

    def stream(self, request: RecordsQuery, batch_rows: int) -> pa.RecordBatchReader:
        """Return a streaming reader over the query's rows, a batch of ~``batch_rows`` at a time."""
        ...

    def count(self, request: RecordsQuery) -> int:
        """Return how many rows the query yields over its whole range (ignoring ``limit``)."""
        ...

    def histogram(self, request: RecordsQuery, bucket: timedelta) -> list[HistogramBucket]:
        """Return counts of the records matched by the query's search part per time bucket."""
        ...

    def logstreams(self, project: str, logstore: str) -> list[LogstreamInfo]:
        """Return the logstreams seen in a logstore with their record counts."""
        ...

    def delete_before(self, project: str, logstore: str, cutoff: datetime) -> int:
        """Delete records older than ``cutoff`` (retention); return how many were deleted."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


# --- later sections are added by the task store and the export pipeline ---------------------------

__all__: Sequence[str] = (
    "CatalogStore",
    "Clock",
    "ColumnInfo",
    "HistogramBucket",
    "LogStore",
    "LogstreamInfo",
    "RecordsQuery",
)
