"""Contract suite of the SessionStore port (SqlSessionStore on SQLite and PostgreSQL) and the
SessionService on top of it: signed cookies, CSRF tokens, sign-out and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from logsluice.adapters.sql import SqlSessionStore
from logsluice.domain.errors import AlreadyExistsError, AuthenticationError, CsrfTokenError
from logsluice.domain.sessions import ConsoleSession, SessionIdentity
from logsluice.services.sessions import SessionService
from tests.token_changes import one_character_changes

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef0123456789abcdef"
READER = SessionIdentity(name="access key LSAKX", role="reader", project="web", access_key_id="X")


class ManualClock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current


@pytest.fixture
def store(sql_engine: Engine) -> SqlSessionStore:
    return SqlSessionStore(sql_engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(store: SqlSessionStore, clock: ManualClock) -> SessionService:
    return SessionService(store, SECRET, clock, ttl=timedelta(hours=1))


def _session(session_id: str, expires_at: datetime) -> ConsoleSession:
    return ConsoleSession(id=session_id, identity=READER, created_at=T0, expires_at=expires_at)


def test_a_session_comes_back_as_stored(store: SqlSessionStore) -> None:
    session = _session("a1", T0 + timedelta(hours=1))
    store.create_session(session)

    assert store.get_session("a1") == session
    assert store.get_session("missing") is None
    with pytest.raises(AlreadyExistsError):
        store.create_session(session)


def test_revoking_is_remembered_and_kept(store: SqlSessionStore) -> None:
    store.create_session(_session("a1", T0 + timedelta(hours=1)))
    store.revoke_session("a1", now=T0)
    store.revoke_session("a1", now=T0 + timedelta(minutes=5))
    store.revoke_session("missing", now=T0)

    revoked = store.get_session("a1")
    assert revoked is not None
    assert revoked.revoked_at == T0


def test_expired_sessions_are_purged(store: SqlSessionStore) -> None:
    store.create_session(_session("old", T0))
    store.create_session(_session("new", T0 + timedelta(hours=1)))

    assert store.delete_expired_sessions(now=T0 + timedelta(seconds=1)) == 1
    assert store.get_session("old") is None
    assert store.get_session("new") is not None


def test_an_opened_session_verifies_until_it_expires(
    service: SessionService, clock: ManualClock
) -> None:
    opened = service.open(READER)

    assert service.verify(opened.cookie_value).identity == READER
    clock.current += timedelta(hours=1)
    with pytest.raises(AuthenticationError, match="expired"):
        service.verify(opened.cookie_value)


def test_a_closed_session_is_refused(service: SessionService) -> None:
    opened = service.open(READER)
    service.close(opened.session.id)

    with pytest.raises(AuthenticationError, match="ended"):
        service.verify(opened.cookie_value)


@pytest.mark.parametrize("tamper", ["flip", "truncate", "garbage"])
def test_a_tampered_cookie_is_refused(service: SessionService, tamper: str) -> None:
    value = service.open(READER).cookie_value
    tampered = {
        "flip": value[:10] + ("A" if value[10] != "A" else "B") + value[11:],
        "truncate": value[:-4],
        "garbage": "not base64 at all!",
    }[tamper]

    with pytest.raises(AuthenticationError, match="not valid"):
        service.verify(tampered)


def test_every_one_character_change_of_a_cookie_is_refused(service: SessionService) -> None:
    """The last character's unused bits used to decode to the same bytes (issue 12, item 8)."""
    value = service.open(READER).cookie_value
    accepted = [changed for changed in one_character_changes(value) if _accepts(service, changed)]
    assert accepted == []
    assert service.verify(value).identity == READER


def _accepts(service: SessionService, cookie_value: str) -> bool:
    try:
        service.verify(cookie_value)
    except AuthenticationError:
        return False
    return True


def test_another_installation_secret_refuses_the_cookie(
    service: SessionService, store: SqlSessionStore, clock: ManualClock
) -> None:
    value = service.open(READER).cookie_value
    other = SessionService(store, b"another secret of enough bytes!!", clock)

    with pytest.raises(AuthenticationError):
        other.verify(value)


def test_the_csrf_token_is_per_session_and_checked(service: SessionService) -> None:
    first, second = service.open(READER), service.open(READER)

    assert first.csrf_token != second.csrf_token
    assert service.csrf_token(first.session.id) == first.csrf_token
    service.check_csrf(first.session.id, first.csrf_token)
    for presented in (None, "", second.csrf_token):
        with pytest.raises(CsrfTokenError):
            service.check_csrf(first.session.id, presented)
