"""The declared schema of the control-plane database: projects, logstores, tasks, checkpoints,
webhook deliveries, access keys, sinks and console sessions.

One SQLAlchemy Core ``MetaData`` serves SQLite and PostgreSQL. Alembic migrations in ``migrations/``
create exactly this schema, and a contract test compares the two. Times are stored as UTC: SQLite
keeps naive UTC text, PostgreSQL ``timestamptz``; :class:`UtcDateTime` hands back aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator

VERSION_TABLE = "logsluice_alembic_version"
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware UTC time")
        utc_value = value.astimezone(UTC)
        return utc_value.replace(tzinfo=None) if dialect.name == "sqlite" else utc_value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

projects = Table(
    "projects",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # a uuid given at creation: a project re-created under the same name is another generation
    Column("generation", String(36), nullable=False),
    # the project's default webhook: every task without its own sends its events here
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret_ciphertext", Text, nullable=True),
)

logstores = Table(
    "logstores",
    metadata,
    Column(
        "project",
        String(64),
        ForeignKey("projects.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(64), primary_key=True),
    Column("retention_days", Integer, nullable=False),
    Column("time_field", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("logstore", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("spec_fingerprint", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("lease_owner", String(255), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("rows_written", BigInteger, nullable=False),
    Column("bytes_written", BigInteger, nullable=False),
    Column("slices_total", Integer, nullable=False),
    Column("slices_done", Integer, nullable=False),
    Column("progress", Double, nullable=False),
    Column("truncated", Boolean, nullable=False),
    Column("incomplete", Boolean, nullable=False),
    Column("missing_ranges", Text, nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("estimate_rows", BigInteger, nullable=True),
    Column("estimate_bytes", BigInteger, nullable=True),
    Column("artifact_key", Text, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("deleted", Boolean, nullable=False),
    Column("dialect", String(16), nullable=False, server_default="native"),
    # the project generation the task belongs to (see ``projects.generation``)
    Column("project_generation", String(36), nullable=True),
    # the place of the task's latest claim among all claims: the fair claim order reads it
    Column("claim_sequence", BigInteger, nullable=True),
    # the task's own webhook (its project's default applies when it has none)
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret_ciphertext", Text, nullable=True),
    UniqueConstraint("project", "idempotency_key"),
    Index(None, "status", "project"),
    Index(None, "project", "created_at"),
    Index(None, "project", "updated_at"),
    Index(None, "project", "claim_sequence"),
)

task_slices = Table(
    "task_slices",
    metadata,
    Column("task_id", String(64), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("slice_index", Integer, primary_key=True),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("offset_bytes", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("written_at", UtcDateTime, nullable=False),
    # the slice's own lease: which worker runs it until when, and how often it was claimed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(255), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("not_before", UtcDateTime, nullable=True),  # a failed slice waits until then
    # a slice of a task with a row limit runs only after the one before it (ADR 0018)
    Column("waits_for_previous", Boolean, nullable=False, server_default=false()),
    Column("size_bytes", BigInteger, nullable=False, server_default="0"),  # its part's size
    Column("sha256", String(64), nullable=True),
    Column("md5", String(32), nullable=True),
    Column("cut", Boolean, nullable=False, server_default=false()),  # the limit cut rows off
    Column("part_footers", LargeBinary, nullable=True),  # a Parquet part's row-group footers
    Column("error_message", Text, nullable=True),
    # since when the slice waits for a store that is down (ADR 0024); NULL: no outage
    Column("outage_since", UtcDateTime, nullable=True),
    # the artifact's running sha256/md5 through this slice's part (ADR 0018)
    Column("file_hash_state", LargeBinary, nullable=True),
    Index(None, "status", "task_id"),
)

# The outbox of completion webhooks: one row per ending of a task with a webhook, written in the
# transaction of the ending and claimed by dispatchers (ADR 0020). ``id`` is the webhook-id.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), nullable=False),
    Column("project", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret_ciphertext", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    # who holds the delivery while it is sent; a stale one is taken over after next_attempt_at
    Column("claim_token", String(64), nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "task_id", "created_at"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project", String(64), nullable=True),
    Column("role", String(16), nullable=False),
    Column("secret_ciphertext", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    # the generation of ``project`` the key was made for; a key of an older generation is refused
    Column("project_generation", String(36), nullable=True),
    Index(None, "project"),
)

sinks = Table(
    "sinks",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("endpoint", Text, nullable=False),
    Column("bucket", String(255), nullable=False),
    Column("prefix", Text, nullable=False),
    Column("region", String(64), nullable=False),
    Column("access_key_id", Text, nullable=False),
    Column("addressing_style", String(16), nullable=False),
    # encrypted by the service's cipher, like access-key secrets
    Column("secret_ciphertext", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("principal", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("project", String(64), nullable=True),
    Column("access_key_id", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index(None, "expires_at"),
)
