"""Settings from the environment, the admin token file and the auth rules, without a server."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from logsluice.api.auth import (
    AdminTokenAuthenticator,
    AuthenticatorChain,
    Credentials,
    Principal,
    Role,
    check_no_auth_allowed,
    is_loopback_host,
    load_or_create_admin_token,
)
from logsluice.domain.errors import (
    AuthenticationError,
    InvalidSettingsError,
    PermissionDeniedError,
)
from logsluice.settings import load_settings


def test_defaults_derive_urls_from_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path}/logsluice.sqlite3"
    assert settings.log_store_url == f"duckdb://{tmp_path}/logs.duckdb"
    assert settings.host == "127.0.0.1"
    assert settings.query_timeout == timedelta(seconds=30)


def test_relative_data_dir_gives_absolute_urls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir="data")
    assert settings.database_url == f"sqlite:///{tmp_path}/data/logsluice.sqlite3"
    assert settings.log_store_url == f"duckdb://{tmp_path}/data/logs.duckdb"


def test_environment_is_read_and_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSLUICE_PORT", "9000")
    monkeypatch.setenv("LOGSLUICE_QUERY_TIMEOUT", "2.5")
    monkeypatch.setenv("LOGSLUICE_RETENTION_CHECK_INTERVAL", "PT10M")
    settings = load_settings(port=None)
    assert settings.port == 9000
    assert settings.query_timeout == timedelta(seconds=2.5)
    assert settings.retention_check_interval == timedelta(minutes=10)
    assert load_settings(port=9100).port == 9100


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOGSLUICE_PORT", "http"),
        ("LOGSLUICE_PORT", "70000"),
        ("LOGSLUICE_QUERY_TIMEOUT", "-1"),
        ("LOGSLUICE_PREVIEW_LIMIT_MAX", "0"),
        ("LOGSLUICE_LOG_LEVEL", "loud"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettingsError, match=variable):
        load_settings()


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_admin_token_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    created = load_or_create_admin_token(tmp_path / "data", None)
    assert created.created
    assert created.path is not None
    assert stat.S_IMODE(created.path.stat().st_mode) == 0o600
    again = load_or_create_admin_token(tmp_path / "data", None)
    assert (again.value, again.source, again.created) == (created.value, "file", False)
    configured = load_or_create_admin_token(tmp_path / "other", "given")
    assert (configured.value, configured.source) == ("given", "settings")
    assert not (tmp_path / "other").exists()


def test_bearer_token_chain() -> None:
    chain = AuthenticatorChain([AdminTokenAuthenticator("right")])

    def call(header: str | None) -> Principal:
        headers = {} if header is None else {"authorization": header}
        return chain.authenticate(Credentials(method="GET", path="/", headers=headers))

    assert call("Bearer right").role is Role.ADMIN
    assert call("bearer right").role is Role.ADMIN
    for header in (None, "Bearer wrong", "Bearer ", "Basic cmlnaHQ="):
        with pytest.raises(AuthenticationError):
            call(header)


def test_project_scope_and_roles() -> None:
    reader = Principal(name="ci", role=Role.READER, project="web")
    reader.require_project("web")
    with pytest.raises(PermissionDeniedError):
        reader.require_project("web", write=True)
    with pytest.raises(PermissionDeniedError):
        reader.require_project("other")
    with pytest.raises(PermissionDeniedError):
        Principal(name="w", role=Role.ADMIN, project="web").require_admin()
    Principal(name="admin", role=Role.ADMIN).require_admin()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_no_auth_only_on_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
    if loopback:
        check_no_auth_allowed(host, no_auth=True)
    else:
        with pytest.raises(InvalidSettingsError, match="--no-auth"):
            check_no_auth_allowed(host, no_auth=True)
    check_no_auth_allowed(host, no_auth=False)
