"""SqlAccessKeyStore: access keys in the control-plane database (SQLite or PostgreSQL).

The store keeps what it is given: the secret arrives encrypted (the service owns the cipher), so
nothing here ever holds a plaintext secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import access_keys
from logsluice.domain.access_keys import AccessKey, AccessKeyRole
from logsluice.domain.errors import AccessKeyNotFoundError, AlreadyExistsError


class SqlAccessKeyStore:
    """Implements :class:`logsluice.ports.AccessKeyStore` with SQLAlchemy Core.

    The engine may be shared with the other SQL stores; the schema must be migrated first.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_access_key(self, access_key: AccessKey, secret_ciphertext: str) -> None:
        """Store a new key. Raises AlreadyExistsError when ``access_key.id`` is taken."""
        try:
            with write_transaction(self._engine) as connection:
                connection.execute(
                    insert(access_keys).values(
                        id=access_key.id,
                        project=access_key.project,
                        role=access_key.role.value,
                        secret_ciphertext=secret_ciphertext,
                        description=access_key.description,
                        created_at=access_key.created_at,
                        revoked_at=access_key.revoked_at,
                        project_generation=access_key.project_generation,
                    )
                )
        except IntegrityError as error:
            raise AlreadyExistsError(
                f"access key {access_key.id!r} already exists", access_key_id=access_key.id
            ) from error

    def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str]:
        """Return the key and its encrypted secret. Raises AccessKeyNotFoundError."""
        with read_transaction(self._engine) as connection:
            row = connection.execute(
                select(access_keys).where(access_keys.c.id == access_key_id)
            ).first()
        if row is None:
            raise _not_found(access_key_id)
        return _access_key_from_row(row), str(row._mapping["secret_ciphertext"])

    def list_access_keys(
        self, *, project: str | None = None, include_revoked: bool = False
    ) -> list[AccessKey]:
        """Return the keys (of ``project`` when given), oldest first."""
        statement = select(access_keys).order_by(access_keys.c.created_at, access_keys.c.id)
        if project is not None:
            statement = statement.where(access_keys.c.project == project)
        if not include_revoked:
            statement = statement.where(access_keys.c.revoked_at.is_(None))
        with read_transaction(self._engine) as connection:
            rows = connection.execute(statement).all()
        return [_access_key_from_row(row) for row in rows]

    def revoke_access_key(self, access_key_id: str, *, now: datetime) -> AccessKey:
        """Set ``revoked_at`` (kept if already set) and return the key.

        Raises AccessKeyNotFoundError.
        """
        with write_transaction(self._engine) as connection:
            connection.execute(
                update(access_keys)
                .where(access_keys.c.id == access_key_id, access_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = connection.execute(
                select(access_keys).where(access_keys.c.id == access_key_id)
            ).first()
        if row is None:
            raise _not_found(access_key_id)
        return _access_key_from_row(row)

    def revoke_project_keys(self, project: str, *, now: datetime) -> int:
        """Revoke every live key of ``project``; return how many were revoked."""
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                update(access_keys)
                .where(access_keys.c.project == project, access_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()


def _not_found(access_key_id: str) -> AccessKeyNotFoundError:
    return AccessKeyNotFoundError(
        f"access key {access_key_id!r} does not exist", access_key_id=access_key_id
    )


def _access_key_from_row(row: Row[tuple[object, ...]]) -> AccessKey:
    values = row._mapping
    return AccessKey(
        id=values["id"],
        project=values["project"],
        role=AccessKeyRole(values["role"]),
        created_at=values["created_at"],
        revoked_at=values["revoked_at"],
        description=values["description"],
        project_generation=values["project_generation"],
    )
