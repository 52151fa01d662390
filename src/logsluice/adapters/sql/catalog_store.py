"""SqlCatalogStore: projects and logstores in the control-plane database (SQLite or PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import logstores, projects
from logsluice.adapters.sql.task_rows import webhook_target
from logsluice.domain.catalog import Logstore, Project
from logsluice.domain.errors import (
    AlreadyExistsError,
    LogstoreNotFoundError,
    ProjectNotFoundError,
)
from logsluice.domain.tasks import WebhookTarget


class SqlCatalogStore:
    """Implements :class:`logsluice.ports.CatalogStore` with SQLAlchemy Core.

    The engine is shared with :class:`SqlTaskStore`; the schema must be migrated first.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_project(self, project: Project) -> None:
        """Store a new project. Raises AlreadyExistsError if the name is taken."""
        try:
            with write_transaction(self._engine) as connection:
                connection.execute(
                    insert(projects).values(
                        name=project.name,
                        description=project.description,
                        created_at=project.created_at,
                        generation=project.generation,
                    )
                )
        except IntegrityError as error:
            raise AlreadyExistsError(
                f"project {project.name!r} already exists", project=project.name
            ) from error

    def get_project(self, name: str) -> Project:
        """Return the project. Raises ProjectNotFoundError."""
        with read_transaction(self._engine) as connection:
            return _project_from_row(_require_project(connection, name))

    def list_projects(self) -> list[Project]:
        """Return all projects ordered by name."""
        with read_transaction(self._engine) as connection:
            rows = connection.execute(select(projects).order_by(projects.c.name)).all()
        return [_project_from_row(row) for row in rows]

    def set_project_webhook(self, name: str, webhook: WebhookTarget | None) -> Project:
        """Set or clear the project's default webhook; see the CatalogStore port."""
        with write_transaction(self._engine) as connection:
            _require_project(connection, name)
            row = connection.execute(
                update(projects)
                .where(projects.c.name == name)
                .values(
                    webhook_url=webhook.url if webhook else None,
                    webhook_secret_ciphertext=webhook.secret_ciphertext if webhook else None,
                )
                .returning(*projects.c)
            ).one()
        return _project_from_row(row)

    def delete_project(self, name: str) -> None:
        """Delete the project and its logstores' catalog entries. Raises ProjectNotFoundError."""
        with write_transaction(self._engine) as connection:
            _require_project(connection, name)
            connection.execute(delete(logstores).where(logstores.c.project == name))
            connection.execute(delete(projects).where(projects.c.name == name))

    def create_logstore(self, logstore: Logstore) -> None:
        """Store a new logstore. Raises ProjectNotFoundError or AlreadyExistsError."""
        try:
            with write_transaction(self._engine) as connection:
                _require_project(connection, logstore.project)
                connection.execute(insert(logstores).values(**_logstore_values(logstore)))
        except IntegrityError as error:
            raise AlreadyExistsError(
                f"logstore {logstore.name!r} already exists in project {logstore.project!r}",
                project=logstore.project,
                logstore=logstore.name,
            ) from error

    def get_logstore(self, project: str, name: str) -> Logstore:
        """Return the logstore. Raises ProjectNotFoundError or LogstoreNotFoundError."""
        with read_transaction(self._engine) as connection:
            _require_project(connection, project)
            row = connection.execute(
                select(logstores).where(logstores.c.project == project, logstores.c.name == name)
            ).first()
        if row is None:
            raise _logstore_not_found(project, name)
        return _logstore_from_row(row)

    def list_logstores(self, project: str) -> list[Logstore]:
        """Return the project's logstores ordered by name. Raises ProjectNotFoundError."""
        with read_transaction(self._engine) as connection:
            _require_project(connection, project)
            rows = connection.execute(
                select(logstores).where(logstores.c.project == project).order_by(logstores.c.name)
            ).all()
        return [_logstore_from_row(row) for row in rows]

    def delete_logstore(self, project: str, name: str) -> None:
        """Delete the logstore's catalog entry. Raises LogstoreNotFoundError."""
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                delete(logstores).where(logstores.c.project == project, logstores.c.name == name)
            )
        if result.rowcount == 0:
            raise _logstore_not_found(project, name)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()


def _require_project(connection: Connection, name: str) -> Row[tuple[object, ...]]:
    row = connection.execute(select(projects).where(projects.c.name == name)).first()
    if row is None:
        raise ProjectNotFoundError(f"project {name!r} does not exist", project=name)
    return row


def _logstore_not_found(project: str, name: str) -> LogstoreNotFoundError:
    return LogstoreNotFoundError(
        f"logstore {name!r} does not exist in project {project!r}", project=project, logstore=name
    )


def _project_from_row(row: Row[tuple[object, ...]]) -> Project:
    values = row._mapping
    return Project(
        name=values["name"],
        description=values["description"],
        created_at=values["created_at"],
        generation=values["generation"],
        webhook=webhook_target(values["webhook_url"], values["webhook_secret_ciphertext"]),
    )


def _logstore_values(logstore: Logstore) -> dict[str, object]:
    return {
        "project": logstore.project,
        "name": logstore.name,
        "retention_days": logstore.retention_days,
        "time_field": logstore.time_field,
        "description": logstore.description,
        "created_at": logstore.created_at,
    }


def _logstore_from_row(row: Row[tuple[object, ...]]) -> Logstore:
    values = row._mapping
    return Logstore(
        project=values["project"],
        name=values["name"],
        retention_days=values["retention_days"],
        time_field=values["time_field"],
        created_at=values["created_at"],
        description=values["description"],
    )
