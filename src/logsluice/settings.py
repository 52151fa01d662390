"""The one typed, frozen settings object of logsluice, read from ``LOGSLUICE_*`` variables.

Entry points call :func:`load_settings` once, at start, and pass the result down explicitly; nothing
reads the environment anywhere else. Every field carries a description (``docs/configuration.md``
lists them all and a test keeps the two in step). An invalid value fails at start with an
:class:`InvalidSettingsError` that names the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from logsluice.domain.errors import InvalidSettingsError
from logsluice.domain.links import DEFAULT_LINK_TTL, MAXIMUM_LINK_TTL, MINIMUM_LINK_TTL
from logsluice.domain.webhooks import IpNetwork, parse_networks

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
    metrics: Literal["token", "open", "off"] = Field(
        default="token",
        description=(
            "Who may read `GET /metrics` (Prometheus text): `token` (the admin's credentials or "
            "`metrics_token`), `open` (anyone who reaches the port: a private scrape network), or "
            "`off` (404)."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "A bearer token that may read `GET /metrics` and nothing else, for the scraper "
            "(with `metrics=token`)."
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
            "URL of the log store holding the records: `duckdb:///…` (a DuckDB file), or a "
            "DuckLake: `ducklake:postgresql://…?data_path=s3://bucket/prefix`, "
            "`ducklake:sqlite:///…?data_path=/dir`, `ducklake:///….ducklake?data_path=/dir` "
            "(docs/deploy/lake.md). Default: `duckdb:///<data_dir>/logs.duckdb`."
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
        default=256 * MEBIBYTE,
        ge=1024,
        description=(
            "Most bytes one ingest request's body may decompress to, and most in-memory size of"
            " its decoded records (Arrow bytes); decompression stops as soon as it passes, and"
            " the request is a 413."
        ),
    )
    ingest_max_fields: int = Field(
        default=256,
        ge=8,
        le=10_000,
        description=(
            "Most fields one logstore may have (its time field and `logstream` included; a nested"
            " object counts its leaves), and so one ingest request's records: an ingest that would"
            " pass it is refused with 413 `too_many_fields` and stores nothing. Wide logstores"
            " need about 1 MiB of `duckdb_memory_limit_bytes` per field: raise both together."
        ),
    )
    ingest_max_errors_reported: int = Field(
        default=100,
        ge=0,
        description="Most line errors an ingest response lists; `rejected` still counts them all.",
    )
    ingest_key_retention: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        description=(
            "How long an ingest `Idempotency-Key` is remembered (at least; forgotten at the next "
            "retention check after): a retry within it is stored once."
        ),
    )
    retention_check_interval: timedelta = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="How often `serve` deletes records older than their logstore's retention.",
    )
    compaction_interval: timedelta = Field(
        default=timedelta(seconds=60),
        gt=timedelta(0),
        description="How often `serve` re-sorts by time the logstores whose row groups overlap.",
    )
    duckdb_memory_limit_bytes: int | None = Field(
        default=384 * MEBIBYTE,
        ge=16 * MEBIBYTE,
        description=(
            "Memory limit of the embedded DuckDB log store while a `| SQL` query runs, an export"
            " sorts a slice or compaction rewrites a table, in bytes (default 384 MiB); larger"
            " sorts spill to disk. Unset: DuckDB's default, 80 % of RAM."
        ),
    )
    duckdb_cache_limit_bytes: int | None = Field(
        default=64 * MEBIBYTE,
        ge=16 * MEBIBYTE,
        description=(
            "Memory limit of the embedded DuckDB log store the rest of the time, in bytes (default"
            " 64 MiB): table blocks read by searches and exports are cached up to it, so memory"
            " stays flat during big exports; `| SQL` queries, sorted export slices and compaction"
            " get the memory limit while they run. Unset: always the memory limit."
        ),
    )
    duckdb_threads: int | None = Field(
        default=None,
        ge=1,
        description="Worker threads of the embedded DuckDB log store; unset uses all cores.",
    )
    disk_min_free_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="Bytes kept free on each disk logsluice writes bulk data to (artifacts, the "
        "DuckDB log store): an export or ingest that would leave less fails with `disk_full`.",
    )
    disk_reserve_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        description="Size of `<data dir>/space-reserve`, deleted when the data directory's disk "
        "falls below the minimum free so the task store can still record; `0` disables it.",
    )
    log_level: str = Field(
        default="info",
        pattern="^(debug|info|warning|error)$",
        description="Server log level: debug, info, warning or error.",
    )
    # --- download tasks: workers, runner, janitor, artifacts and links ---------------------------
    artifact_store_url: str = Field(
        default="",
        description=(
            "Where artifacts (exported files and manifests) are kept: `file:///…`, or "
            "`s3://bucket/prefix?endpoint=…&region=…` on any S3-compatible object store "
            "(credentials in the URL or the standard `AWS_ACCESS_KEY_ID`, "
            "`AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, `AWS_REGION`). "
            "Default: `file://<data_dir>/artifacts`. Every node must use the same store."
        ),
    )
    artifact_links: Literal["direct", "proxy"] = Field(
        default="direct",
        description=(
            "How download links of an S3 artifact store are made: `direct` presigned GET URLs "
            "of the object store (Range works; clients need to reach it), or `proxy` links "
            "served through logsluice as for a local store. Sinks' links are always direct."
        ),
    )
    workers: int = Field(
        default=2,
        ge=0,
        le=256,
        description="Worker threads `serve` runs for download tasks; `serve --no-workers` means 0.",
    )
    task_lease: timedelta = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        description="How long a claim on a task lasts without a heartbeat; then it is requeued.",
    )
    task_heartbeat_interval: timedelta = Field(
        default=timedelta(milliseconds=500),
        gt=timedelta(0),
        description="How often a running task renews its lease and checks for a cancel request.",
    )
    task_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Runs a task gets (lapsed leases count) before it fails: `attempts_exhausted`.",
    )
    task_max_running_per_project: int = Field(
        default=2,
        ge=1,
        description="Tasks of one project that run at once; more wait in the queue (fair share).",
    )
    task_rows_per_slice: int = Field(
        default=1_000_000,
        ge=1,
        description="About how many rows one slice (the unit of checkpoint and resume) holds.",
    )
    task_batch_rows: int = Field(
        default=16_384,
        ge=1,
        description="Rows per Arrow batch streamed from the log store into the encoder.",
    )
    task_slice_attempts: int = Field(
        default=3,
        ge=1,
        description="Tries a failing slice gets before it fails the task (or is skipped).",
    )
    outage_retry_window: timedelta = Field(
        default=timedelta(minutes=30),
        gt=timedelta(0),
        description=(
            "How long a download task waits out an outage of a store (the object store or the "
            "task store unreachable, timing out, answering 5xx or throttling): its work is tried "
            "again with growing delays, without using up attempts, while the task stays RUNNING "
            "and shows the error; after this long it fails `backend_unavailable`."
        ),
    )
    outage_retry_max_delay: timedelta = Field(
        default=timedelta(seconds=60),
        gt=timedelta(0),
        description="Longest wait between two tries of a task's work during a store's outage "
        "(the waits grow from 1 s, doubling).",
    )
    task_estimate_wait: timedelta = Field(
        default=timedelta(seconds=2),
        ge=timedelta(0),
        description=(
            "How long creating a download task waits for its estimate of rows and bytes; a slower"
            " estimate (a large `| SQL` task) is stored when known, the task meanwhile shows it"
            " `pending`. The estimate itself stops at `query_timeout`."
        ),
    )
    task_max_limit: int | None = Field(
        default=None,
        ge=1,
        description="Largest `limit` a task may ask for; unset means no cap.",
    )
    task_max_limit_by_project: dict[str, int] = Field(
        default_factory=dict,
        description='Per-project override of `task_max_limit`, as JSON: `{"web": 1000000}`.',
    )
    artifact_retention: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        description="How long a finished task's file is kept; then it is deleted (task EXPIRED).",
    )
    janitor_interval: timedelta = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        description="How often `serve` requeues lapsed tasks, expires files, purges deletions.",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Secret that signs download links and, through keys derived from it, console session "
            "cookies and CSRF tokens. When unset, one is created in `<data_dir>/link-secret` "
            "(mode 0600). Every node serving links or the console needs the same one."
        ),
    )
    access_key_cipher_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key (32 url-safe base64 bytes) that encrypts access-key secrets at rest. "
            "When unset, one is created in `<data_dir>/access-key-cipher-key` (mode 0600). "
            "Every node of one deployment needs the same one."
        ),
    )
    link_ttl_default: timedelta = Field(
        default=DEFAULT_LINK_TTL,
        gt=timedelta(0),
        description="How long a download link works when the caller gives no `ttl`.",
    )
    link_ttl_max: timedelta = Field(
        default=MAXIMUM_LINK_TTL,
        gt=timedelta(0),
        description=(
            "Longest `ttl` a caller may ask for a download link (the shortest is "
            f"{MINIMUM_LINK_TTL.total_seconds():.0f} s)."
        ),
    )
    console_session_ttl: timedelta = Field(
        default=timedelta(hours=12),
        gt=timedelta(0),
        description=(
            "How long a web console sign-in lasts; then the session cookie is refused and the "
            "console asks to sign in again."
        ),
    )
    public_url: str = Field(
        default="",
        description=(
            "Base URL clients reach this server at, for download links (e.g. behind a proxy). "
            "Default: the URL of the request that asked for the link."
        ),
    )
    sls_domain: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)?$",
        description=(
            "Base domain of the Alibaba SLS dialect, e.g. `sls.example.com`: a request to "
            "`{project}.sls.example.com` addresses that project. When unset, the first label of "
            "the Host names the project if such a project exists; `?project=` is the fallback."
        ),
    )
    huawei_cdn_logstore: str = Field(
        default="cdn",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$",
        description=(
            "Logstore holding the CDN access logs that the Huawei dialect's statistics export "
            "tasks (`/v1/cdn/statistics/export-tasks`) aggregate, in the access key's project."
        ),
    )

    webhook_allow_networks: str = Field(
        default="",
        description=(
            "Comma-separated networks webhooks may reach although the address rule refuses them "
            "(loopback, private, link-local, …), e.g. `127.0.0.1/32,::1/128` or `10.0.0.0/8`. "
            "Empty: webhooks go only to public addresses."
        ),
    )
    webhook_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        gt=timedelta(0),
        description="Time limit of each step (connect, send, answer) of one webhook attempt.",
    )
    webhook_retry_window: timedelta = Field(
        default=timedelta(hours=24),
        ge=timedelta(0),
        description=(
            "How long after a task ended its webhook is retried (exponential backoff); then the "
            "delivery is given up and shows `failed` with its last error on the task."
        ),
    )
    webhook_retry_initial_delay: timedelta = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        description="Wait after a webhook's first failed attempt; it doubles after each failure.",
    )
    webhook_retry_max_delay: timedelta = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="Longest wait between two attempts of one webhook.",
    )
    webhook_link_ttl: timedelta = Field(
        default=timedelta(hours=24),
        gt=timedelta(0),
        description=(
            "How long the download link in a `download_task.succeeded` event works (at most "
            "`link_ttl_max`); each attempt signs a fresh one."
        ),
    )
    webhook_poll_interval: timedelta = Field(
        default=timedelta(seconds=1),
        gt=timedelta(0),
        description="How often `serve` and `logsluice worker` look for webhooks to deliver.",
    )
    webhook_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Webhook attempts one process sends at once.",
    )

    @field_validator("webhook_allow_networks")
    @classmethod
    def _check_networks(cls, value: str) -> str:
        parse_networks(value)  # a ValueError names the entry that is not a network
        return value

    @property
    def webhook_allowed_networks(self) -> tuple[IpNetwork, ...]:
        """Return the networks of ``webhook_allow_networks``."""
        return parse_networks(self.webhook_allow_networks)

    @field_validator(
        "query_timeout",
        "query_default_window",
        "retention_check_interval",
        "compaction_interval",
        "task_lease",
        "task_heartbeat_interval",
        "task_estimate_wait",
        "outage_retry_window",
        "outage_retry_max_delay",
        "artifact_retention",
        "janitor_interval",
        "link_ttl_default",
        "link_ttl_max",
        "console_session_ttl",
        "webhook_timeout",
        "webhook_retry_window",
        "webhook_retry_initial_delay",
        "webhook_retry_max_delay",
        "webhook_link_ttl",
        "webhook_poll_interval",
        mode="before",
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
        # Absolute paths: ``sqlite:////abs`` and ``duckdb:///abs`` do not depend on the cwd later.
        data_dir = self.data_dir.expanduser().absolute()
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / DATABASE_FILE_NAME}")
        if not self.log_store_url:
            object.__setattr__(self, "log_store_url", f"duckdb://{data_dir / LOG_STORE_FILE_NAME}")
        if not self.artifact_store_url:
            artifacts = (self.data_dir / "artifacts").absolute()
            object.__setattr__(self, "artifact_store_url", f"file://{artifacts}")
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
