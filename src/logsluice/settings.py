"""The one typed, frozen settings object of logsluice, read from ``LOGSLUICE_*`` variables.

Entry points call :func:`load_settings` once, at start, and pass the result down explicitly; nothing
reads the environment anywhere else. Every field carries a description (``docs/configuration.md``
lists them all and a test keeps the two in step). An invalid value fails at start with an
:class:`InvalidSettingsError` that names the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from logsluice.domain.errors import InvalidSettingsError

ENV_PREFIX = "LOGSLUICE_"
DEFAULT_DATA_DIR = Path("data")
DATABASE_FILE_NAME = "logsluice.sqlite3"
LOG_STORE_FILE_NAME = "logs.duckdb"
MEBIBYTE = 1024 * 1024


class Settings(BaseSettings):
    """Every knob of a logsluice server. Built once by :func:`load_settings`; never mutated."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", env_ignore_empty=True
    )

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description=(
            "Directory holding everything of the embedded deployment: the SQLite catalog, the "
            "DuckDB log store and the admin token file. Relative paths start at the current "
            "directory."
        ),
    )
    host: str = Field(
        default="127.0.0.1",
        description="Address `serve` binds to. Non-loopback addresses refuse `no_auth`.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port `serve` listens on.")
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token of the admin. When unset, the first start creates a random one and "
            "stores it in `<data_dir>/admin-token` (mode 0600)."
        ),
    )
    no_auth: bool = Field(
        default=False,
        description=(
            "Accept API calls without a token (development only). Refused unless `host` is a "
            "loopback address."
        ),
    )
    database_url: str = Field(
        default="",
        description=(
            "SQLAlchemy URL of the catalog (projects, logstores) and task store: `sqlite:///…` or "
            "`postgresql://…`. Default: `sqlite:///<data_dir>/logsluice.sqlite3`."
        ),
    )
    log_store_url: str = Field(
        default="",
        description=(
            "URL of the log store holding the records: `duckdb:///…`. "
            "Default: `duckdb:///<data_dir>/logs.duckdb`."
        ),
    )
    query_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        description=(
            "Server-side limit of one synchronous query (count, histogram and rows together); "
            "seconds or an ISO 8601 duration such as `PT30S`."
        ),
    )
    query_default_window: timedelta = Field(
        default=timedelta(minutes=15),
        gt=timedelta(0),
        description="Time range of a query that gives no `from`: the window before `to` (or now).",
    )
    histogram_buckets: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="About how many buckets a query's histogram has; the bucket size is rounded.",
    )
    preview_limit_default: int = Field(
        default=100, ge=1, description="Rows a query returns when it gives no `limit`."
    )
    preview_limit_max: int = Field(
        default=10_000,
        ge=1,
        description="Most rows one synchronous query returns; larger results are download tasks.",
    )
    ingest_max_body_bytes: int = Field(
        default=64 * MEBIBYTE,
        ge=1024,
        description="Largest ingest request body, as sent (before decompression); larger is a 413.",
    )
    ingest_max_decoded_bytes: int = Field(
        default=512 * MEBIBYTE,
        ge=1024,
        description=(
            "Largest in-memory size of one ingest request's decoded records (Arrow bytes), "
            "which bounds what a compressed body may expand to; larger is a 413."
        ),
    )
    ingest_max_errors_reported: int = Field(
        default=100,
        ge=0,
        description="Most line errors an ingest response lists; `rejected` still counts them all.",
    )
    retention_check_interval: timedelta = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="How often `serve` deletes records older than their logstore's retention.",
    )
    duckdb_memory_limit_bytes: int | None = Field(
        default=None,
        ge=16 * MEBIBYTE,
        description="Memory limit of the embedded DuckDB log store; unset uses DuckDB's default.",
    )
    duckdb_threads: int | None = Field(
        default=None,
        ge=1,
        description="Worker threads of the embedded DuckDB log store; unset uses all cores.",
    )
    log_level: str = Field(
        default="info",
        pattern="^(debug|info|warning|error)$",
        description="Server log level: debug, info, warning or error.",
    )

    @field_validator(
        "query_timeout", "query_default_window", "retention_check_interval", mode="before"
    )
    @classmethod
    def _read_plain_seconds(cls, value: object) -> object:
        # Environment values arrive as text; "30" or "2.5" mean seconds, like a number would.
        if isinstance(value, str):
            try:
                return timedelta(seconds=float(value))
            except (ValueError, OverflowError):
                return value
        return value

    @model_validator(mode="after")
    def _fill_in_urls(self) -> Settings:
        # The URL defaults depend on data_dir, so they are derived here rather than in ``default``.
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
            )
        if not self.log_store_url:
            object.__setattr__(
                self, "log_store_url", f"duckdb:///{self.data_dir / LOG_STORE_FILE_NAME}"
            )
        return self

    @property
    def admin_token_path(self) -> Path:
        """Return where the generated admin token is kept."""
        return self.data_dir / "admin-token"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from ``LOGSLUICE_*`` variables, with ``overrides`` (from options) winning.

    ``None`` overrides are ignored, so unset command-line options fall back to the environment.
    Raises InvalidSettingsError naming each offending variable.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        raise InvalidSettingsError(_describe(error), errors=_problems(error)) from error


def _problems(error: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "variable": ENV_PREFIX + ".".join(str(part) for part in problem["loc"]).upper(),
            "message": problem["msg"],
        }
        for problem in error.errors()
    ]


def _describe(error: ValidationError) -> str:
    parts = [f"{problem['variable']}: {problem['message']}" for problem in _problems(error)]
    return "invalid settings: " + "; ".join(parts)
