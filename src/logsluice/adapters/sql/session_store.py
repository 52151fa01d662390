"""SqlSessionStore: console sessions in the control-plane database (SQLite or PostgreSQL).

Only ids, identities and times are stored: the cookie's signature and the CSRF token are derived
from the installation secret, so a database dump holds nothing that signs a request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import console_sessions
from logsluice.domain.errors import AlreadyExistsError
from logsluice.domain.sessions import ConsoleSession, SessionIdentity


class SqlSessionStore:
    """Implements :class:`logsluice.ports.SessionStore` with SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_session(self, session: ConsoleSession) -> None:
        """Store a new session. Raises AlreadyExistsError when its id is taken."""
        identity = session.identity
        values = {
            "id": session.id,
            "principal": identity.name,
            "role": identity.role,
            "project": identity.project,
            "access_key_id": identity.access_key_id,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "revoked_at": session.revoked_at,
        }
        try:
            with write_transaction(self._engine) as connection:
                connection.execute(insert(console_sessions).values(values))
        except IntegrityError as error:
            raise AlreadyExistsError("session id is taken", session_id=session.id) from error

    def get_session(self, session_id: str) -> ConsoleSession | None:
        """Return the session, None for an unknown id."""
        query = select(console_sessions).where(console_sessions.c.id == session_id)
        with read_transaction(self._engine) as connection:
            row = connection.execute(query).first()
        return None if row is None else _session_from_row(row)

    def revoke_session(self, session_id: str, *, now: datetime) -> None:
        """Set ``revoked_at`` unless already set; a no-op for an unknown id."""
        statement = (
            update(console_sessions)
            .where(console_sessions.c.id == session_id, console_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        with write_transaction(self._engine) as connection:
            connection.execute(statement)

    def delete_expired_sessions(self, *, now: datetime) -> int:
        """Remove sessions that expired before ``now``; return how many."""
        statement = delete(console_sessions).where(console_sessions.c.expires_at < now)
        with write_transaction(self._engine) as connection:
            return int(connection.execute(statement).rowcount or 0)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()


def _session_from_row(row: Row[Any]) -> ConsoleSession:
    values = row._mapping
    return ConsoleSession(
        id=values["id"],
        identity=SessionIdentity(
            name=values["principal"],
            role=values["role"],
            project=values["project"],
            access_key_id=values["access_key_id"],
        ),
        created_at=values["created_at"],
        expires_at=values["expires_at"],
        revoked_at=values["revoked_at"],
    )
