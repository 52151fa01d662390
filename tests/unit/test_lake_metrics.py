"""The lake's concurrency events are counted in ``/metrics`` (ADR 0012, "Widening under load")."""

from __future__ import annotations

from logsluice.metrics import Metrics


def test_lake_retries_widenings_and_waits_are_counted() -> None:
    metrics = Metrics()
    for event in (
        {"event": "lake.commit_conflict_retried", "attempt": 1},
        {"event": "lake.commit_conflict_retried", "attempt": 2},
        {"event": "lake.widening_announced", "columns": ["status"]},
        {"event": "lake.write_waited_for_widening", "seconds": 1.5},
        {"event": "lake.write_waited_for_widening", "seconds": 0.25},
    ):
        metrics.observe_event(None, "info", event)
    value = metrics.registry.get_sample_value
    assert value("logsluice_lake_commit_retries_total") == 2
    assert value("logsluice_lake_widenings_announced_total") == 1
    assert value("logsluice_lake_widening_wait_seconds_total") == 1.75
