"""How a running task is interrupted: every query of one run carries the run's cancellation.

A task run reads records through :class:`InterruptibleSource`, which puts the run's
:class:`~logsluice.domain.cancellation.Cancellation` on every query it passes on (plan, schema,
count, stream), so a cancel, a delete, a lost lease or a worker shutdown interrupts the engine's
query within one heartbeat instead of waiting for a batch that a ``| SQL`` aggregation may not
produce for minutes. The heartbeat calls ``cancel`` (:mod:`logsluice.services.heartbeat`); the
log store interrupts its cursor; an ``HttpLogStore`` shuts its socket and the serving node
interrupts its own query when the stream closes (ADR 0014).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from logsluice.domain.cancellation import Cancellation
from logsluice.ports import (
    ColumnInfo,
    HistogramBucket,
    PlanningHistogram,
    RecordReader,
    RecordsQuery,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from logsluice.domain.catalog import LogstoreSchema
    from logsluice.domain.cdn_statistics import ExportParameters
    from logsluice.query import ParsedQuery


class InterruptibleSource:
    """A RecordReader whose queries all carry one cancellation."""

    def __init__(self, source: RecordReader, cancellation: Cancellation) -> None:
        self._source = source
        self.cancellation = cancellation

    def parse_query(self, text: str) -> ParsedQuery:
        """Return the checked query (no engine work)."""
        return self._source.parse_query(text)

    def compile_query(self, request: RecordsQuery) -> str:
        """Return the engine SQL of ``request`` (no engine work)."""
        return self._source.compile_query(request)

    def statistics_query(self, parameters: ExportParameters) -> str:
        """Return the query text of a CDN statistics export (no engine work)."""
        return self._source.statistics_query(parameters)

    def fetch(self, request: RecordsQuery) -> tuple[list[ColumnInfo], pa.Table]:
        """Run the query; cancelling interrupts it."""
        return self._source.fetch(self._carrying(request))

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields (a catalog read, not interrupted)."""
        self.cancellation.check()
        return self._source.schema(project, logstore)

    def stream(self, request: RecordsQuery, batch_rows: int) -> pa.RecordBatchReader:
        """Stream the query's rows; cancelling interrupts the query."""
        return self._source.stream(self._carrying(request), batch_rows)

    def count(self, request: RecordsQuery) -> int:
        """Count the query's rows; cancelling interrupts the count."""
        return self._source.count(self._carrying(request))

    def histogram(self, request: RecordsQuery, bucket: timedelta) -> list[HistogramBucket]:
        """Return the query's histogram; cancelling interrupts it."""
        return self._source.histogram(self._carrying(request), bucket)

    def planning_histogram(
        self, request: RecordsQuery, bucket: timedelta
    ) -> list[HistogramBucket] | None:
        """Return the source's histogram without reading records, if it has one (else None)."""
        self.cancellation.check()
        if not isinstance(self._source, PlanningHistogram):
            return None
        return self._source.planning_histogram(request, bucket)

    def planning_boundaries(self, request: RecordsQuery) -> list[datetime]:
        """Return where the source's pieces of storage meet, if it can tell (else none)."""
        self.cancellation.check()
        if not isinstance(self._source, PlanningHistogram):
            return []
        return self._source.planning_boundaries(request)

    def _carrying(self, request: RecordsQuery) -> RecordsQuery:
        return replace(request, cancellation=self.cancellation)
