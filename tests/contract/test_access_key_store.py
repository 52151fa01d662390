"""Contract suite of the AccessKeyStore port: SqlAccessKeyStore on SQLite and PostgreSQL, and the
AccessKeyService on top of it (secrets encrypted at rest, revocation, bindings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from logsluice.adapters.secret_cipher import FernetSecretCipher, load_or_create_cipher_key
from logsluice.adapters.sql import SqlAccessKeyStore, SqlCatalogStore
from logsluice.adapters.sql.metadata import access_keys
from logsluice.domain.access_keys import AccessKey, AccessKeyRole
from logsluice.domain.catalog import Project
from logsluice.domain.errors import (
    AccessKeyNotFoundError,
    AlreadyExistsError,
    AuthenticationError,
    InvalidInputError,
    InvalidNameError,
    InvalidSettingsError,
    ProjectNotFoundError,
)
from logsluice.services.access_keys import AccessKeyService

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class SteppingClock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


def _key(
    key_id: str,
    project: str | None = "web",
    role: AccessKeyRole = AccessKeyRole.WRITER,
    created_at: datetime = T0,
) -> AccessKey:
    return AccessKey(id=key_id, project=project, role=role, created_at=created_at)


@pytest.fixture
def store(sql_engine: Engine) -> SqlAccessKeyStore:
    return SqlAccessKeyStore(sql_engine)


@pytest.fixture
def service(sql_engine: Engine) -> AccessKeyService:
    catalog = SqlCatalogStore(sql_engine)
    for name in ("web", "billing"):
        catalog.create_project(Project(name=name, description="", created_at=T0))
    return AccessKeyService(
        access_key_store=SqlAccessKeyStore(sql_engine),
        catalog_store=catalog,
        cipher=FernetSecretCipher(Fernet.generate_key()),
        clock=SteppingClock(),
    )


def test_a_stored_key_comes_back_with_its_ciphertext(store: SqlAccessKeyStore) -> None:
    store.create_access_key(_key("LSAKONE"), "cipher-text")

    access_key, ciphertext = store.get_access_key("LSAKONE")

    assert access_key == _key("LSAKONE")
    assert access_key.created_at.tzinfo is not None
    assert ciphertext == "cipher-text"


def test_a_taken_id_is_refused(store: SqlAccessKeyStore) -> None:
    store.create_access_key(_key("LSAKONE"), "a")
    with pytest.raises(AlreadyExistsError):
        store.create_access_key(_key("LSAKONE", project="billing"), "b")
    assert store.get_access_key("LSAKONE")[1] == "a"


def test_an_unknown_key_is_not_found(store: SqlAccessKeyStore) -> None:
    with pytest.raises(AccessKeyNotFoundError):
        store.get_access_key("LSAKNOPE")
    with pytest.raises(AccessKeyNotFoundError):
        store.revoke_access_key("LSAKNOPE", now=T0)


def test_listing_filters_by_project_and_hides_revoked_keys(store: SqlAccessKeyStore) -> None:
    store.create_access_key(_key("LSAKB", created_at=T0 + timedelta(seconds=2)), "x")
    store.create_access_key(_key("LSAKA", created_at=T0 + timedelta(seconds=1)), "x")
    store.create_access_key(_key("LSAKC", project="billing"), "x")
    store.create_access_key(_key("LSAKD", project=None, role=AccessKeyRole.ADMIN), "x")
    store.revoke_access_key("LSAKB", now=T0 + timedelta(minutes=1))

    assert [key.id for key in store.list_access_keys()] == ["LSAKC", "LSAKD", "LSAKA"]
    assert [key.id for key in store.list_access_keys(project="web")] == ["LSAKA"]
    everything = store.list_access_keys(project="web", include_revoked=True)
    assert [key.id for key in everything] == ["LSAKA", "LSAKB"]


def test_revoking_keeps_the_first_revocation_time(store: SqlAccessKeyStore) -> None:
    store.create_access_key(_key("LSAKONE"), "x")

    first = store.revoke_access_key("LSAKONE", now=T0 + timedelta(minutes=1))
    second = store.revoke_access_key("LSAKONE", now=T0 + timedelta(minutes=2))

    assert first.revoked
    assert second.revoked_at == T0 + timedelta(minutes=1)


def test_the_service_returns_the_secret_once_and_stores_it_encrypted(
    service: AccessKeyService, sql_engine: Engine
) -> None:
    access_key, secret = service.create("web", "writer")

    assert access_key.id.startswith("LSAK")
    assert len(access_key.id) == 20
    assert access_key.id.isalnum()
    assert secret.isalnum()
    assert len(secret) == 40
    assert service.secret_for(access_key.id) == secret
    with sql_engine.connect() as connection:
        stored = connection.execute(select(access_keys.c.secret_ciphertext)).scalar_one()
    assert secret not in stored
    assert service.resolve(access_key.id) == access_key


def test_every_key_gets_its_own_id_and_secret(service: AccessKeyService) -> None:
    created = [service.create("web", "reader") for _ in range(5)]
    assert len({key.id for key, _ in created}) == 5
    assert len({secret for _, secret in created}) == 5


def test_a_revoked_key_has_no_secret_any_more(service: AccessKeyService) -> None:
    access_key, secret = service.create("web", "reader")

    revoked = service.revoke(access_key.id)

    assert revoked.revoked
    assert service.resolve(access_key.id).revoked
    assert service.secret_for(access_key.id) is None
    assert service.secret_for("LSAKUNKNOWN") is None
    with pytest.raises(AccessKeyNotFoundError):
        service.verify_secret(access_key.id, secret)


def test_verify_secret_compares_the_secret(service: AccessKeyService) -> None:
    access_key, secret = service.create("web", "writer")

    assert service.verify_secret(access_key.id, secret) == access_key
    with pytest.raises(AuthenticationError):
        service.verify_secret(access_key.id, secret[:-1] + ("a" if secret[-1] != "a" else "b"))


@pytest.mark.parametrize(
    ("project", "role", "error"),
    [
        ("web", "owner", InvalidInputError),
        ("web", "admin", InvalidInputError),
        (None, "writer", InvalidInputError),
        ("", "reader", InvalidInputError),
        ("Bad Name", "reader", InvalidNameError),
        ("nowhere", "writer", ProjectNotFoundError),
    ],
)
def test_bad_bindings_are_refused_and_store_nothing(
    service: AccessKeyService, project: str | None, role: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        service.create(project, role)
    assert service.list(include_revoked=True) == []


def test_an_admin_key_spans_every_project(service: AccessKeyService) -> None:
    access_key, _ = service.create(None, "admin")

    assert access_key.project is None
    assert access_key.can_reach("web")
    assert access_key.can_reach("billing")
    assert access_key.can_write()


def test_a_project_key_reaches_only_its_project(service: AccessKeyService) -> None:
    reader, _ = service.create("web", "reader")
    assert reader.can_reach("web")
    assert not reader.can_reach("billing")
    assert not reader.can_write()
    assert not service.revoke(reader.id).can_reach("web")


def test_another_cipher_key_cannot_read_the_secrets(tmp_path: Path) -> None:
    key_path = tmp_path / "data" / "access-key-cipher-key"
    key = load_or_create_cipher_key(key_path)
    assert load_or_create_cipher_key(key_path) == key
    assert key_path.stat().st_mode & 0o777 == 0o600
    ciphertext = FernetSecretCipher(key).encrypt("s3cret")

    assert FernetSecretCipher(key).decrypt(ciphertext) == "s3cret"
    with pytest.raises(InvalidSettingsError):
        FernetSecretCipher(Fernet.generate_key()).decrypt(ciphertext)
    with pytest.raises(InvalidSettingsError):
        FernetSecretCipher(b"not a key")


def test_revoking_a_projects_keys_leaves_other_projects_keys_live(
    store: SqlAccessKeyStore,
) -> None:
    store.create_access_key(_key("LSAKWEB1"), "c")
    store.create_access_key(_key("LSAKWEB2", role=AccessKeyRole.READER), "c")
    store.create_access_key(_key("LSAKBILL", project="billing"), "c")

    assert store.revoke_project_keys("web", now=T0) == 2

    assert [key.id for key in store.list_access_keys()] == ["LSAKBILL"]
    assert store.revoke_project_keys("web", now=T0) == 0


def test_a_key_reaches_only_the_generation_of_the_project_it_was_made_for(
    service: AccessKeyService, sql_engine: Engine
) -> None:
    catalog = SqlCatalogStore(sql_engine)
    access_key, secret = service.create("web", AccessKeyRole.WRITER)
    assert access_key.project_generation == catalog.get_project("web").generation
    assert service.secret_for(access_key.id) == secret

    catalog.delete_project("web")  # a delete that did not revoke the key (say, it crashed)
    assert service.secret_for(access_key.id) is None
    catalog.create_project(Project(name="web", description="", created_at=T0))

    assert service.secret_for(access_key.id) is None
    with pytest.raises(AccessKeyNotFoundError):
        service.verify_secret(access_key.id, secret)
