"""Retention: deletes records older than their logstore's retention period.

``serve`` (and later the janitor) calls :meth:`RetentionService.delete_expired_records` on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from logsluice.domain.errors import NotFoundError
from logsluice.ports import CatalogStore, Clock, LogStoreAdmin


@dataclass(frozen=True)
class RetentionReport:
    """What one retention pass did: records deleted per ``project/logstore``."""

    deleted_records: dict[str, int]

    @property
    def total_deleted_records(self) -> int:
        return sum(self.deleted_records.values())


class RetentionService:
    """Applies each logstore's ``retention_days`` to the records in the log store."""

    def __init__(self, catalog_store: CatalogStore, log_store: LogStoreAdmin, clock: Clock) -> None:
        self._catalog_store = catalog_store
        self._log_store = log_store
        self._clock = clock

    def delete_expired_records(self) -> RetentionReport:
        """Delete, in every logstore, the records older than now minus its retention.

        Returns how many records each logstore lost. A project or logstore deleted while the pass
        runs is skipped.
        """
        now = self._clock.now()
        deleted: dict[str, int] = {}
        for project in self._catalog_store.list_projects():
            try:
                logstores = self._catalog_store.list_logstores(project.name)
            except NotFoundError:
                continue
            for logstore in logstores:
                cutoff = now - timedelta(days=logstore.retention_days)
                try:
                    count = self._log_store.delete_before(project.name, logstore.name, cutoff)
                except NotFoundError:
                    continue
                deleted[f"{project.name}/{logstore.name}"] = count
        return RetentionReport(deleted_records=deleted)
