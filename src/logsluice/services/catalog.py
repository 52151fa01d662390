"""Projects and logstores: the catalog use cases, kept in step in the catalog and the log store.

A logstore lives in two places: its entry in the catalog (name, retention, time field) and its
physical storage in the log store. Creating writes the catalog first and undoes it if the log store
fails; deleting removes the storage first, so a failure leaves a visible entry that can be deleted
again rather than an orphan nobody can see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from logsluice.domain.catalog import DEFAULT_TIME_FIELD, Logstore, LogstoreSchema, Project
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.names import check_name
from logsluice.ports import (
    AccessKeyStore,
    CatalogStore,
    Clock,
    LogStoreAdmin,
    LogstoreStats,
    LogstreamInfo,
    ProjectTasks,
)

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650
DEFAULT_RETENTION_DAYS = 30
MAX_DESCRIPTION_CHARACTERS = 1024
FIELD_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,127}")


@dataclass(frozen=True)
class LogstoreDetails:
    """A logstore with its current schema and the logstreams seen in it."""

    logstore: Logstore
    schema: LogstoreSchema
    logstreams: list[LogstreamInfo]


class CatalogService:
    """Creates, lists, shows and deletes projects and logstores."""

    def __init__(
        self,
        catalog_store: CatalogStore,
        log_store: LogStoreAdmin,
        clock: Clock,
        *,
        task_store: ProjectTasks | None = None,
        access_key_store: AccessKeyStore | None = None,
    ) -> None:
        """``task_store`` and ``access_key_store`` let a project's delete reach its tasks and
        keys (every deployment passes them; a catalog-only test may leave them out)."""
        self._catalog_store = catalog_store
        self._log_store = log_store
        self._clock = clock
        self._task_store = task_store
        self._access_key_store = access_key_store

    def create_project(self, name: str, description: str = "") -> Project:
        """Create and return a project.

        Raises InvalidNameError for a bad name, InvalidInputError for a too-long description and
        AlreadyExistsError when the name is taken.
        """
        project = Project(
            name=check_name("project", name),
            description=_check_description(description),
            created_at=self._clock.now(),
        )
        self._catalog_store.create_project(project)
        return project

    def get_project(self, name: str) -> Project:
        """Return the project. Raises ProjectNotFoundError."""
        return self._catalog_store.get_project(name)

    def list_projects(self) -> list[Project]:
        """Return every project, ordered by name."""
        return self._catalog_store.list_projects()

    def delete_project(self, name: str) -> None:
        """Delete the project and everything of it. Raises ProjectNotFoundError.

        In this order, so that nothing of it stays usable even if a later step fails (the delete
        can be repeated): its access keys are revoked; its tasks are deleted (queued ones
        cancelled, running ones asked to stop, which interrupts their queries within about a
        second), so their links answer 410 and the janitor removes their files (artifacts,
        staging files, manifests); its logstores' records are dropped; its catalog entry goes.
        A project created again under the name is a new generation that shares nothing.
        """
        self._catalog_store.get_project(name)
        now = self._clock.now()
        if self._access_key_store is not None:
            self._access_key_store.revoke_project_keys(name, now=now)
        if self._task_store is not None:
            self._task_store.delete_project_tasks(name, now=now)
        for logstore in self._catalog_store.list_logstores(name):
            self._log_store.drop_logstore(name, logstore.name)
        self._catalog_store.delete_project(name)

    def create_logstore(
        self,
        project: str,
        name: str,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        time_field: str = DEFAULT_TIME_FIELD,
        description: str = "",
    ) -> Logstore:
        """Create and return a logstore in ``project``, in the catalog and in the log store.

        Raises InvalidNameError, InvalidInputError (retention out of bounds, bad time field),
        ProjectNotFoundError or AlreadyExistsError.
        """
        logstore = Logstore(
            project=project,
            name=check_name("logstore", name),
            retention_days=_check_retention_days(retention_days),
            time_field=_check_time_field(time_field),
            created_at=self._clock.now(),
            description=_check_description(description),
        )
        self._catalog_store.create_logstore(logstore)
        try:
            self._log_store.create_logstore(logstore)
        except BaseException:
            self._catalog_store.delete_logstore(project, logstore.name)
            raise
        return logstore

    def get_logstore(self, project: str, name: str) -> Logstore:
        """Return the logstore. Raises ProjectNotFoundError or LogstoreNotFoundError."""
        return self._catalog_store.get_logstore(project, name)

    def describe_logstore(self, project: str, name: str) -> LogstoreDetails:
        """Return the logstore with its schema and logstreams.

        Raises ProjectNotFoundError or LogstoreNotFoundError.
        """
        logstore = self._catalog_store.get_logstore(project, name)
        return LogstoreDetails(
            logstore=logstore,
            schema=self._log_store.schema(project, name),
            logstreams=self._log_store.logstreams(project, name),
        )

    def list_logstores(self, project: str) -> list[Logstore]:
        """Return the project's logstores, ordered by name. Raises ProjectNotFoundError."""
        return self._catalog_store.list_logstores(project)

    def delete_logstore(self, project: str, name: str) -> None:
        """Delete the logstore and its records.

        Raises ProjectNotFoundError or LogstoreNotFoundError.
        """
        self._catalog_store.get_logstore(project, name)
        self._log_store.drop_logstore(project, name)
        self._catalog_store.delete_logstore(project, name)

    def logstore_stats(self, project: str, logstore: str) -> LogstoreStats:
        """Return the logstore's record count and time span.

        Raises ProjectNotFoundError or LogstoreNotFoundError.
        """
        self._catalog_store.get_logstore(project, logstore)
        return self._log_store.stats(project, logstore)

    def list_logstreams(self, project: str, logstore: str) -> list[LogstreamInfo]:
        """Return the logstreams seen in the logstore with their record counts.

        Raises ProjectNotFoundError or LogstoreNotFoundError.
        """
        self._catalog_store.get_logstore(project, logstore)
        return self._log_store.logstreams(project, logstore)


def _check_retention_days(retention_days: object) -> int:
    if (
        isinstance(retention_days, bool)
        or not isinstance(retention_days, int)
        or not MIN_RETENTION_DAYS <= retention_days <= MAX_RETENTION_DAYS
    ):
        raise InvalidInputError(
            f"retention_days must be a whole number from {MIN_RETENTION_DAYS} "
            f"to {MAX_RETENTION_DAYS}, not {retention_days!r}",
            field="retention_days",
        )
    return retention_days


def _check_time_field(time_field: object) -> str:
    if not isinstance(time_field, str) or FIELD_NAME_PATTERN.fullmatch(time_field) is None:
        raise InvalidInputError(
            f"time_field {time_field!r} is not a field name: a letter or '_' first, then letters, "
            "digits or '_.@-', at most 128 characters",
            field="time_field",
        )
    return time_field


def _check_description(description: object) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARACTERS:
        raise InvalidInputError(
            f"description must be text of at most {MAX_DESCRIPTION_CHARACTERS} characters",
            field="description",
        )
    return description
