"""Contract of CatalogStore (projects, logstores) for SqlCatalogStore on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from logsluice.adapters.sql import SqlCatalogStore
from logsluice.domain.catalog import Logstore, Project
from logsluice.domain.errors import (
    AlreadyExistsError,
    InvalidInputError,
    LogstoreNotFoundError,
    ProjectNotFoundError,
)

CREATED_AT = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def _project(name: str, description: str = "") -> Project:
    return Project(name=name, description=description, created_at=CREATED_AT)


def _logstore(project: str, name: str, retention_days: int = 7) -> Logstore:
    return Logstore(
        project=project,
        name=name,
        retention_days=retention_days,
        time_field="timestamp",
        created_at=CREATED_AT + timedelta(minutes=1),
        description=f"{name} of {project}",
    )


def test_project_round_trips_with_aware_utc_time(catalog_store: SqlCatalogStore) -> None:
    project = _project("web", "front end logs")
    catalog_store.create_project(project)

    stored = catalog_store.get_project("web")

    assert stored == project
    assert stored.created_at.tzinfo is not None


def test_project_time_in_another_zone_is_stored_as_the_same_instant(
    catalog_store: SqlCatalogStore,
) -> None:
    local = datetime(2026, 3, 1, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    catalog_store.create_project(Project(name="zone", description="", created_at=local))

    assert catalog_store.get_project("zone").created_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_a_naive_time_is_refused(catalog_store: SqlCatalogStore) -> None:
    with pytest.raises(InvalidInputError):
        catalog_store.create_project(
            Project(name="naive", description="", created_at=datetime(2026, 3, 1))
        )
    assert catalog_store.list_projects() == []


def test_duplicate_project_is_refused(catalog_store: SqlCatalogStore) -> None:
    catalog_store.create_project(_project("web"))

    with pytest.raises(AlreadyExistsError):
        catalog_store.create_project(_project("web", "again"))
    assert catalog_store.get_project("web").description == ""


def test_projects_are_listed_by_name(catalog_store: SqlCatalogStore) -> None:
    for name in ("zeta", "alpha", "mid"):
        catalog_store.create_project(_project(name))

    assert [project.name for project in catalog_store.list_projects()] == ["alpha", "mid", "zeta"]


def test_missing_project_is_not_found(catalog_store: SqlCatalogStore) -> None:
    with pytest.raises(ProjectNotFoundError):
        catalog_store.get_project("nope")
    with pytest.raises(ProjectNotFoundError):
        catalog_store.delete_project("nope")
    with pytest.raises(ProjectNotFoundError):
        catalog_store.list_logstores("nope")
    with pytest.raises(ProjectNotFoundError):
        catalog_store.get_logstore("nope", "app")
    with pytest.raises(ProjectNotFoundError):
        catalog_store.create_logstore(_logstore("nope", "app"))


def test_logstore_round_trips_and_lists_by_name(catalog_store: SqlCatalogStore) -> None:
    catalog_store.create_project(_project("web"))
    for name in ("nginx", "app", "worker"):
        catalog_store.create_logstore(_logstore("web", name))

    assert catalog_store.get_logstore("web", "app") == _logstore("web", "app")
    names = [logstore.name for logstore in catalog_store.list_logstores("web")]
    assert names == ["app", "nginx", "worker"]


def test_logstore_names_are_per_project(catalog_store: SqlCatalogStore) -> None:
    catalog_store.create_project(_project("web"))
    catalog_store.create_project(_project("batch"))
    catalog_store.create_logstore(_logstore("web", "app", retention_days=7))
    catalog_store.create_logstore(_logstore("batch", "app", retention_days=30))

    assert catalog_store.get_logstore("web", "app").retention_days == 7
    assert catalog_store.get_logstore("batch", "app").retention_days == 30
    with pytest.raises(AlreadyExistsError):
        catalog_store.create_logstore(_logstore("web", "app"))


def test_missing_logstore_is_not_found(catalog_store: SqlCatalogStore) -> None:
    catalog_store.create_project(_project("web"))

    with pytest.raises(LogstoreNotFoundError):
        catalog_store.get_logstore("web", "app")
    with pytest.raises(LogstoreNotFoundError):
        catalog_store.delete_logstore("web", "app")


def test_deleted_logstore_is_gone(catalog_store: SqlCatalogStore) -> None:
    catalog_store.create_project(_project("web"))
    catalog_store.create_logstore(_logstore("web", "app"))
    catalog_store.create_logstore(_logstore("web", "nginx"))

    catalog_store.delete_logstore("web", "app")

    assert [logstore.name for logstore in catalog_store.list_logstores("web")] == ["nginx"]
    with pytest.raises(LogstoreNotFoundError):
        catalog_store.get_logstore("web", "app")


def test_deleting_a_project_removes_its_logstores(catalog_store: SqlCatalogStore) -> None:
    catalog_store.create_project(_project("web"))
    catalog_store.create_logstore(_logstore("web", "app"))
    catalog_store.create_project(_project("batch"))
    catalog_store.create_logstore(_logstore("batch", "jobs"))

    catalog_store.delete_project("web")

    assert [project.name for project in catalog_store.list_projects()] == ["batch"]
    with pytest.raises(ProjectNotFoundError):
        catalog_store.get_logstore("web", "app")
    catalog_store.create_project(_project("web"))
    assert catalog_store.list_logstores("web") == []
    assert catalog_store.get_logstore("batch", "jobs").name == "jobs"
