"""Retention on the real stores: records older than a logstore's retention are deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from logsluice.bootstrap import build_container
from logsluice.domain.timerange import TimeRange
from logsluice.settings import load_settings

NOW = datetime(2026, 3, 10, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


def test_records_past_retention_are_deleted(tmp_path: Path) -> None:
    container = build_container(load_settings(data_dir=tmp_path), clock=FixedClock())
    try:
        container.catalog.create_project("web")
        container.catalog.create_logstore("web", "short", retention_days=1)
        container.catalog.create_logstore("web", "long", retention_days=30)
        ages = [timedelta(hours=1), timedelta(hours=23), timedelta(hours=25), timedelta(days=3)]
        body = b"".join(
            orjson.dumps({"timestamp": (NOW - age).isoformat(), "message": "m"}) + b"\n"
            for age in ages
        )
        for logstore in ("short", "long"):
            assert container.ingest.ingest("web", logstore, body).accepted == 4

        report = container.retention.delete_expired_records()

        assert report.deleted_records == {"web/short": 2, "web/long": 0}
        everything = TimeRange(NOW - timedelta(days=365), NOW + timedelta(days=1))
        assert container.query.run("web", "short", "*", everything).count == 2
        assert container.query.run("web", "long", "*", everything).count == 4
    finally:
        container.close()
