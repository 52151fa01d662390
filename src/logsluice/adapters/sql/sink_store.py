"""SqlSinkStore: the sinks registered per project, in the control-plane database.

Like access keys, a sink's secret arrives encrypted (the service owns the cipher); nothing here
holds a plaintext secret.
"""

from __future__ import annotations

from sqlalchemy import Engine, Row, delete, insert, select
from sqlalchemy.exc import IntegrityError

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import sinks
from logsluice.domain.errors import AlreadyExistsError, SinkNotFoundError
from logsluice.domain.sinks import Sink


class SqlSinkStore:
    """Implements :class:`logsluice.ports.SinkStore` with SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_sink(self, sink: Sink, secret_ciphertext: str) -> None:
        """Store a new sink. Raises AlreadyExistsError when the project has one of that name."""
        try:
            with write_transaction(self._engine) as connection:
                connection.execute(
                    insert(sinks).values(
                        project=sink.project,
                        name=sink.name,
                        endpoint=sink.endpoint,
                        bucket=sink.bucket,
                        prefix=sink.prefix,
                        region=sink.region,
                        access_key_id=sink.access_key_id,
                        addressing_style=sink.addressing_style,
                        secret_ciphertext=secret_ciphertext,
                        created_at=sink.created_at,
                    )
                )
        except IntegrityError as error:
            raise AlreadyExistsError(
                f"project {sink.project!r} already has a sink {sink.name!r}",
                project=sink.project,
                sink=sink.name,
            ) from error

    def get_sink(self, project: str, name: str) -> tuple[Sink, str]:
        """Return the sink and its encrypted secret. Raises SinkNotFoundError."""
        with read_transaction(self._engine) as connection:
            row = connection.execute(
                select(sinks).where(sinks.c.project == project, sinks.c.name == name)
            ).first()
        if row is None:
            raise _not_found(project, name)
        return _sink_from_row(row), str(row._mapping["secret_ciphertext"])

    def list_sinks(self, project: str | None = None) -> list[Sink]:
        """Return the sinks (of ``project`` when given), by project and name."""
        statement = select(sinks).order_by(sinks.c.project, sinks.c.name)
        if project is not None:
            statement = statement.where(sinks.c.project == project)
        with read_transaction(self._engine) as connection:
            rows = connection.execute(statement).all()
        return [_sink_from_row(row) for row in rows]

    def delete_sink(self, project: str, name: str) -> None:
        """Remove the sink. Raises SinkNotFoundError."""
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                delete(sinks).where(sinks.c.project == project, sinks.c.name == name)
            )
        if result.rowcount == 0:
            raise _not_found(project, name)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()


def _sink_from_row(row: Row[tuple[object, ...]]) -> Sink:
    values = row._mapping
    return Sink(
        project=str(values["project"]),
        name=str(values["name"]),
        endpoint=str(values["endpoint"]),
        bucket=str(values["bucket"]),
        prefix=str(values["prefix"]),
        region=str(values["region"]),
        access_key_id=str(values["access_key_id"]),
        created_at=values["created_at"],
        addressing_style=str(values["addressing_style"]),
    )


def _not_found(project: str, name: str) -> SinkNotFoundError:
    return SinkNotFoundError(
        f"project {project!r} has no sink {name!r}; register it first (logsluice sink add)",
        project=project,
        sink=name,
    )
