"""Compaction: keeps every logstore's records laid out by time so time-range queries stay cheap.

``serve`` calls :meth:`CompactionService.compact_all` on a timer
(``LOGSLUICE_COMPACTION_INTERVAL``). Each logstore is checked from the log store's own statistics,
which costs no scan, so well-ordered logstores are skipped cheaply and only out-of-order ones are
rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from logsluice.domain.errors import NotFoundError
from logsluice.ports import CatalogStore, CompactionReport, LogStoreAdmin


@dataclass(frozen=True)
class CompactionPass:
    """What one compaction pass did: the report of each ``project/logstore`` it checked."""

    reports: dict[str, CompactionReport]

    @property
    def rewritten(self) -> list[str]:
        return [name for name, report in self.reports.items() if report.rewritten]


class CompactionService:
    """Asks the log store to compact every logstore of the catalog."""

    def __init__(self, catalog_store: CatalogStore, log_store: LogStoreAdmin) -> None:
        self._catalog_store = catalog_store
        self._log_store = log_store

    def compact_all(self) -> CompactionPass:
        """Compact each logstore whose storage overlaps too much in time; skip the others.

        Returns each logstore's report. A project or logstore deleted while the pass runs is
        skipped. Raises CompactionError (nothing changed) when a rewrite would lose records.
        """
        reports: dict[str, CompactionReport] = {}
        for project in self._catalog_store.list_projects():
            try:
                logstores = self._catalog_store.list_logstores(project.name)
            except NotFoundError:
                continue
            for logstore in logstores:
                try:
                    report = self._log_store.compact(project.name, logstore.name)
                except NotFoundError:
                    continue
                reports[f"{project.name}/{logstore.name}"] = report
        return CompactionPass(reports=reports)
