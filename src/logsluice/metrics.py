"""Prometheus metrics of one process (``serve`` or ``logsluice worker``), on its own registry.

What a process does is already told as structured events (``task.succeeded`` with its rows and
bytes, ``task.slice_failed``, ``task.lease_lapsed``, …); :meth:`Metrics.observe_event` is a
structlog processor that counts them, so the services stay free of metrics code and the counters
follow exactly what the logs say. The API counts its own requests (by route template, never the
raw path), ingests and queries; tasks by project and status are read from the task store on each
scrape (one grouped count). ``docs/operations.md`` explains each metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from logsluice.domain.tasks import TaskStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TaskCounter = Callable[[], Mapping[tuple[str, TaskStatus], int]]
_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_WAIT_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)
_ROWS_PER_SECOND_BUCKETS = (100, 1_000, 10_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000)
_LAKE_EVENTS = frozenset(
    {"lake.commit_conflict_retried", "lake.widening_announced", "lake.write_waited_for_widening"}
)
_FINISHED_EVENTS = {
    "task.succeeded": "succeeded",
    "task.failed": "failed",
    "task.cancelled": "cancelled",
    "task.expired": "expired",
}


class Metrics:
    """The counters and histograms of one process; :attr:`registry` is what ``/metrics`` shows."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        self.http_requests = Counter(
            "logsluice_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "logsluice_http_request_duration_seconds",
            "Time to answer an HTTP request (to its first byte for a stream), by route template",
            ["method", "route"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.tasks_finished = Counter(
            "logsluice_tasks_finished",
            "Download tasks that ended, by how they ended",
            ["status"],
            registry=registry,
        )
        self.queue_wait = Histogram(
            "logsluice_task_queue_wait_seconds",
            "Time from a task's creation to its first start by a worker",
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.rows_exported = Counter(
            "logsluice_export_rows", "Rows in the files of tasks that succeeded", registry=registry
        )
        self.bytes_exported = Counter(
            "logsluice_export_bytes",
            "Bytes of the files of tasks that succeeded",
            registry=registry,
        )
        self.slices_exported = Counter(
            "logsluice_export_slices", "Slices a worker exported and committed", registry=registry
        )
        self.export_throughput = Histogram(
            "logsluice_export_rows_per_second",
            "Rows per second of each task that succeeded (its rows over its running time)",
            buckets=_ROWS_PER_SECOND_BUCKETS,
            registry=registry,
        )
        self.slice_retries = Counter(
            "logsluice_slice_retries",
            "Slice attempts that failed (retried, or skipped/failing the task after the last)",
            registry=registry,
        )
        self.store_outage_waits = Counter(
            "logsluice_store_outage_waits",
            "Tries of a task's work put off because a store was down (ADR 0024), by store",
            ["store"],
            registry=registry,
        )
        self.slices_skipped = Counter(
            "logsluice_slices_skipped",
            "Slices given up under allow_incomplete (the file misses their range)",
            registry=registry,
        )
        self.lease_lapses = Counter(
            "logsluice_task_lease_lapses",
            "Running tasks whose worker stopped renewing its lease (requeued or failed)",
            registry=registry,
        )
        self.ingest_records = Counter(
            "logsluice_ingest_records",
            "Records received by ingest, by outcome (accepted, rejected)",
            ["outcome"],
            registry=registry,
        )
        self.query_duration = Histogram(
            "logsluice_query_duration_seconds",
            "Time of a synchronous query (rows, count and histogram), by outcome",
            ["outcome"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "logsluice_webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, retrying, failed: given up)",
            ["outcome"],
            registry=registry,
        )
        self.lake_commit_retries = Counter(
            "logsluice_lake_commit_retries",
            "Writes to a DuckLake log store retried because another node's commit conflicted",
            registry=registry,
        )
        self.lake_widenings = Counter(
            "logsluice_lake_widenings_announced",
            "Widening intents this node announced on a DuckLake logstore (one per attempt)",
            registry=registry,
        )
        self.lake_widening_waits = Counter(
            "logsluice_lake_widening_wait_seconds",
            "Seconds writes of this node waited for another node's widening to commit",
            registry=registry,
        )
        for outcome in ("accepted", "rejected"):
            self.ingest_records.labels(outcome)
        for outcome in ("delivered", "retrying", "failed"):
            self.webhook_deliveries.labels(outcome)
        for status in _FINISHED_EVENTS.values():
            self.tasks_finished.labels(status)

    def count_tasks_from(self, count_tasks: TaskCounter) -> None:
        """Report ``logsluice_tasks`` (by project and status) from ``count_tasks`` on scrape."""
        self.registry.register(_TaskCollector(count_tasks))

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread (``logsluice worker``); return
        what stops it. Raises OSError when the port cannot be bound."""
        http_server, _ = start_http_server(port, addr=host, registry=self.registry)
        return http_server.shutdown

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)

    def webhook_delivery(self, outcome: str) -> None:
        """Count one webhook attempt: ``delivered``, ``retrying`` or ``failed`` (given up)."""
        self.webhook_deliveries.labels(outcome).inc()

    def ingested(self, accepted: int, rejected: int) -> None:
        """Count one ingest request's records."""
        self.ingest_records.labels("accepted").inc(accepted)
        self.ingest_records.labels("rejected").inc(rejected)

    def observe_event(
        self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """A structlog processor: count the event, pass it on unchanged."""
        event = event_dict.get("event")
        if event in _FINISHED_EVENTS:
            self.tasks_finished.labels(_FINISHED_EVENTS[event]).inc()
            if event == "task.succeeded":
                self._exported(event_dict)
        elif event == "task.started" and isinstance(event_dict.get("queued_seconds"), float):
            self.queue_wait.observe(event_dict["queued_seconds"])
        elif event == "task.slice_done":
            self.slices_exported.inc()
        elif event == "task.slice_failed":
            self.slice_retries.inc()
        elif event in ("task.slice_waits_for_store", "task.waits_for_store"):
            self.store_outage_waits.labels(str(event_dict.get("store", ""))).inc()
        elif event == "task.slice_skipped":
            self.slices_skipped.inc()
        elif event == "task.lease_lapsed":
            self.lease_lapses.inc()
        elif event in _LAKE_EVENTS:
            self._observe_lake(str(event), event_dict)
        return event_dict

    def _observe_lake(self, event: str, event_dict: Mapping[str, Any]) -> None:
        if event == "lake.commit_conflict_retried":
            self.lake_commit_retries.inc()
        elif event == "lake.widening_announced":
            self.lake_widenings.inc()
        elif isinstance(seconds := event_dict.get("seconds"), float | int):
            self.lake_widening_waits.inc(seconds)

    def _exported(self, event_dict: Mapping[str, Any]) -> None:
        rows, size_bytes = event_dict.get("rows"), event_dict.get("bytes")
        if isinstance(rows, int):
            self.rows_exported.inc(rows)
        if isinstance(size_bytes, int):
            self.bytes_exported.inc(size_bytes)
        running_seconds = event_dict.get("running_seconds")
        if isinstance(rows, int) and isinstance(running_seconds, float) and running_seconds > 0:
            self.export_throughput.observe(rows / running_seconds)


class _TaskCollector(Collector):
    """``logsluice_tasks{project, status}``, read from the task store when scraped."""

    def __init__(self, count_tasks: TaskCounter) -> None:
        self._count_tasks = count_tasks

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "logsluice_tasks",
            "Download tasks by project and status (QUEUED is the queue depth)",
            labels=["project", "status"],
        )
        for (project, status), count in sorted(self._count_tasks().items()):
            family.add_metric([project, status.value], count)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
