"""The roles the services depend on, as Protocols. Adapters implement them; services see only these.

Each port is small and named for its role. Implementations are named ``<Technology><Role>``
(``SqlCatalogStore``, ``DuckDBLogStore``, ``LocalArtifactStore``) and pass one shared contract
suite. A wide store is split into the roles its consumers use (``RecordReader`` for queries and
download tasks, ``RecordAppender`` for ingest, ``LogStoreAdmin`` for the catalog, retention and
compaction); ``LogStore`` is all of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from logsluice.domain.access_keys import AccessKey
from logsluice.domain.cancellation import Cancellation
from logsluice.domain.catalog import Logstore, LogstoreSchema, Project
from logsluice.domain.cdn_statistics import ExportParameters
from logsluice.domain.export import Order
from logsluice.domain.query_progress import QueryProgress
from logsluice.domain.sessions import ConsoleSession
from logsluice.domain.sinks import Sink
from logsluice.domain.tasks import (
    ClaimedWork,
    SliceOutcome,
    Task,
    TaskSlice,
    TaskStatus,
    WebhookTarget,
)
from logsluice.domain.timerange import TimeRange
from logsluice.domain.uploads import UnfinishedUpload
from logsluice.domain.webhooks import DeliveryOutcome, WebhookDelivery, WebhookUrl
from logsluice.pipeline.artifact_writer import ArtifactSummary, WriterCheckpoint
from logsluice.pipeline.protocols import (
    ArtifactParts,
    ArtifactStaging,
    ArtifactStore,
    Compressor,
    Encoder,
    PartInfo,
    PartWriter,
    PublishedArtifacts,
    StagingObject,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from logsluice.query import ParsedQuery


class Clock(Protocol):
    """Injected time source, so tests can move time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


# --- catalog: projects and logstores ------------------------------------------------------------


class CatalogStore(Protocol):
    """Persists projects and logstores (the control plane shared by every API node)."""

    def create_project(self, project: Project) -> None:
        """Store a new project. Raises AlreadyExistsError if the name is taken."""
        ...

    def get_project(self, name: str) -> Project:
        """Return the project. Raises ProjectNotFoundError."""
        ...

    def list_projects(self) -> list[Project]:
        """Return all projects ordered by name."""
        ...

    def set_project_webhook(self, name: str, webhook: WebhookTarget | None) -> Project:
        """Set (or, with None, clear) the project's default webhook and return the project.

        Raises ProjectNotFoundError.
        """
        ...

    def delete_project(self, name: str) -> None:
        """Delete the project and its logstores' catalog entries. Raises ProjectNotFoundError."""
        ...

    def create_logstore(self, logstore: Logstore) -> None:
        """Store a new logstore. Raises ProjectNotFoundError or AlreadyExistsError."""
        ...

    def get_logstore(self, project: str, name: str) -> Logstore:
        """Return the logstore. Raises ProjectNotFoundError or LogstoreNotFoundError."""
        ...

    def list_logstores(self, project: str) -> list[Logstore]:
        """Return the project's logstores ordered by name. Raises ProjectNotFoundError."""
        ...

    def delete_logstore(self, project: str, name: str) -> None:
        """Delete the logstore's catalog entry. Raises LogstoreNotFoundError."""
        ...


# --- log store: records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordsQuery:
    """One query over one logstore and time range, as the log store runs it."""

    project: str
    logstore: str
    query: ParsedQuery
    time_range: TimeRange
    order: Order = Order.ASC
    limit: int | None = None
    timeout: timedelta | None = None
    # False: a plain SEARCH's rows come in the store's own order, unsorted. That is time order where
    # the store keeps records sorted (after compaction) and saves a sort; the caller must check it.
    # A store may sort anyway.
    sort: bool = True
    # While the query runs, cancelling this interrupts it (QueryCancelledError); see the module.
    cancellation: Cancellation | None = field(default=None, compare=False, repr=False)
    # While the query runs, a store that can tell reports how far its engine is (see the class).
    progress: QueryProgress | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str


@dataclass(frozen=True)
class HistogramBucket:
    start: datetime
    count: int


@dataclass(frozen=True)
class LogstreamInfo:
    name: str
    records: int


@dataclass(frozen=True)
class LogstoreStats:
    """How many records a logstore holds and the time of its oldest and newest (None if empty)."""

    records: int
    first_record_at: datetime | None
    last_record_at: datetime | None


@dataclass(frozen=True)
class CompactionReport:
    """What one compaction of a logstore did: whether it rewrote the table, and its row groups."""

    rewritten: bool
    rows: int
    row_groups_before: int
    row_groups_after: int


class QueryParser(Protocol):
    """Reads query text with the rules of the log store's engine."""

    def parse_query(self, text: str) -> ParsedQuery:
        """Return the checked query (``SEARCH`` or ``SEARCH | SQL``) in the engine's SQL rules.

        Raises InvalidQueryError pointing at the offending position (a syntax error, a function or
        table the engine does not allow).
        """
        ...


class QueryCompiler(QueryParser, Protocol):
    """Turns queries and typed requests into the engine's own SQL; services build none."""

    def compile_query(self, request: RecordsQuery) -> str:
        """Return the engine SQL ``request`` runs (shown with a task), over the logstore's table.

        Raises LogstoreNotFoundError, InvalidQueryError for fields the logstore lacks.
        """
        ...

    def statistics_query(self, parameters: ExportParameters) -> str:
        """Return the query text (``* | SELECT …``) computing a Huawei CDN statistics export.

        A field the logstore lacks reads as NULL when the query runs.
        """
        ...


class RecordReader(QueryCompiler, Protocol):
    """The read side of a log store: what searches, estimates and download tasks need.

    Every log store has it; a worker process that cannot open an embedded DuckDB file reads
    through the serving node instead (``HttpLogStore``).
    """

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields, time field first. Raises LogstoreNotFoundError."""
        ...

    def fetch(self, request: RecordsQuery) -> tuple[list[ColumnInfo], pa.Table]:
        """Run the query and return its columns and rows (bounded by ``request.limit``).

        Raises QueryTimeoutError past ``request.timeout``, InvalidQueryError for a query the
        engine rejects (unknown column, bad types).
        """
        ...

    def stream(self, request: RecordsQuery, batch_rows: int) -> pa.RecordBatchReader:
        """Return a streaming reader over the query's rows, a batch of ~``batch_rows`` at a time."""
        ...

    def count(self, request: RecordsQuery) -> int:
        """Return how many rows the query yields over its whole range (ignoring ``limit``)."""
        ...

    def histogram(self, request: RecordsQuery, bucket: timedelta) -> list[HistogramBucket]:
        """Return counts of the records matched by the query's search part per time bucket."""
        ...


@runtime_checkable
class PlanningHistogram(Protocol):
    """A record reader that can count a query's rows per time bucket without reading them (a
    lake, from its catalog): what a download task is planned from, when it can tell exactly."""

    def planning_histogram(
        self, request: RecordsQuery, bucket: timedelta
    ) -> list[HistogramBucket] | None:
        """Return the rows per ``bucket`` as :meth:`RecordReader.histogram` counts them, except
        that rows are placed in buckets by estimate (the total is exact for rows whose storage
        lies wholly inside the range); None when it cannot answer this request so (then the
        caller reads ``histogram``). Raises LogstoreNotFoundError."""
        ...

    def planning_boundaries(self, request: RecordsQuery) -> list[datetime]:
        """Return instants where a slice of this request may end without cutting through a piece
        of storage (a lake's data file), oldest first; none when it cannot tell. Slices ending
        there read whole pieces. Raises LogstoreNotFoundError."""
        ...


@dataclass(frozen=True)
class AppendReceipt:
    """What an idempotent append records in the same transaction as its rows (ADR 0022).

    ``key`` is the client's idempotency key (unique per logstore), ``fingerprint`` identifies the
    request it came with (body and options), ``response`` is the answer given to that request (text
    the caller chose, given back unchanged) and ``recorded_at`` when it was stored.
    """

    key: str
    fingerprint: str
    response: str
    recorded_at: datetime


class RecordAppender(Protocol):
    """The write side of a log store: what ingest needs."""

    def append(
        self,
        project: str,
        logstore: str,
        records: pa.Table,
        *,
        receipt: AppendReceipt | None = None,
    ) -> int:
        """Append records atomically and return how many were stored.

        With a ``receipt``, the receipt is recorded in the same transaction as the records: both
        are stored or neither is. If the logstore already holds a receipt with that key, nothing is
        stored and AppendKeyTakenError is raised.

        ``records`` has the time field as ``timestamp[us, UTC]`` and other columns of boolean,
        int32, int64, float64 or string type, or lists of those; a nested record comes as its
        leaf fields named by dotted path (``http.status``, ADR 0017). A store keeps int32 and
        lists where it can (reads give them back as such). New columns extend the schema; a
        column whose type clashes with the stored one widens it (``domain.catalog.widen``:
        numbers to the wider, lists element-wise, anything else to VARCHAR, a list as its JSON
        text), so no value is dropped. Raises LogstoreNotFoundError, InvalidRecordsError,
        AppendKeyTakenError.
        """
        ...

    def append_receipt(self, project: str, logstore: str, key: str) -> AppendReceipt | None:
        """Return the receipt recorded with ``key`` in the logstore, or None."""
        ...

    def forget_receipts(self, recorded_before: datetime) -> int:
        """Delete the receipts of every logstore recorded before ``recorded_before``; return how
        many were deleted."""
        ...


class LogStoreAdmin(Protocol):
    """Storage of logstores: what the catalog, retention and compaction need."""

    def create_logstore(self, logstore: Logstore) -> None:
        """Create the physical storage for a logstore; a no-op if it exists."""
        ...

    def drop_logstore(self, project: str, logstore: str) -> None:
        """Remove a logstore's records and storage; a no-op if absent."""
        ...

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields, time field first. Raises LogstoreNotFoundError."""
        ...

    def logstreams(self, project: str, logstore: str) -> list[LogstreamInfo]:
        """Return the logstreams seen in a logstore with their record counts."""
        ...

    def stats(self, project: str, logstore: str) -> LogstoreStats:
        """Return the record count and time span of a logstore. Raises LogstoreNotFoundError."""
        ...

    def delete_before(self, project: str, logstore: str, cutoff: datetime) -> int:
        """Delete records older than ``cutoff`` (retention); return how many were deleted."""
        ...

    def compact(self, project: str, logstore: str) -> CompactionReport:
        """Rewrite a logstore's storage sorted by time when it overlaps too much in time.

        Out-of-order appends leave blocks (row groups, files) that each span a wide time range, so
        time-range queries read most of them. When the overlap passes the backend's threshold,
        rewrite the records sorted by time, atomically (queries see the old or the new layout), with
        the engine's own maintenance where it has one. Returns whether it rewrote and the record and
        block counts; a well-ordered logstore is left alone. Raises LogstoreNotFoundError.
        """
        ...


class LogStore(RecordReader, RecordAppender, LogStoreAdmin, Protocol):
    """Holds records and runs queries over them: every role of a log store, plus ``close``.

    Implementations: ``DuckDBLogStore`` (one embedded file), ``DuckLakeLogStore`` (a DuckLake
    catalog and Parquet files, any number of nodes). Services take the narrow role they use.
    """

    def close(self) -> None:
        """Release connections and files."""
        ...


# --- task store: download tasks, leases and slice checkpoints -------------------------------------

TaskOrderBy = Literal["created", "updated", "name"]


class TaskReader(Protocol):
    """Reads one task: what downloads, webhooks and the janitor look up."""

    def get_task(self, project: str, task_id: str) -> Task:
        """Return the task. Raises TaskNotFoundError (also for another project's task)."""
        ...


class TaskTransitions(Protocol):
    """A task's guarded status changes (the task API and the finisher)."""

    def transition(
        self,
        task_id: str,
        target: TaskStatus,
        *,
        now: datetime,
        worker_id: str | None = None,
        from_statuses: Collection[TaskStatus] | None = None,
        **fields: object,
    ) -> Task:
        """Move the task to ``target``, set ``fields`` (Task field names) and return the new task.

        The guard is ``status IN sources_of(target)``, narrowed to ``from_statuses`` when given, and
        ``lease_owner = worker_id`` when given. Raises TaskNotFoundError, LeaseLostError when the
        worker no longer owns the task, ConflictError when the current status does not allow it.
        """
        ...


class TaskPurges(Protocol):
    """Deleted tasks removed for good (the task API and the janitor)."""

    def purge_task(self, task_id: str) -> None:
        """Remove a deleted task and its checkpoints for good; a no-op if it is gone already."""
        ...


class TaskRecords(TaskReader, TaskTransitions, TaskPurges, Protocol):
    """The task API's role (``TaskService``): create, list, queue places, estimates, cancel,
    retry, delete."""

    def create_task(self, task: Task) -> Task:
        """Store a new QUEUED task and return it.

        With ``task.spec.idempotency_key`` set, a task of the same project and key is returned
        instead when its spec fingerprint matches. Raises ConflictError when the key was used with
        another spec, AlreadyExistsError when ``task.id`` is taken.
        """
        ...

    def list_tasks(
        self,
        project: str,
        *,
        status: TaskStatus | Collection[TaskStatus] | None = None,
        logstore: str | None = None,
        name: str | None = None,
        order_by: TaskOrderBy = "created",
        descending: bool = True,
        page: int = 1,
        size: int = 20,
        updated_since: datetime | None = None,
    ) -> tuple[list[Task], int]:
        """Return one page (1-based) of the project's tasks and the count of all that match.

        ``name`` matches exactly; ``updated_since`` keeps tasks whose ``updated_at`` is at or after
        it. Ties in the order are broken by id so pages are stable.
        """
        ...

    def get_tasks(self, project: str, task_ids: Collection[str]) -> list[Task]:
        """Return those of ``task_ids`` that are the project's visible tasks, in any order."""
        ...

    def record_estimate(
        self, task_id: str, *, estimate_rows: int | None, estimate_bytes: int | None, now: datetime
    ) -> None:
        """Store the estimate of a task created before its estimate was known.

        Any status; a deleted or purged task is left alone (no error): the estimate came too late.
        """
        ...

    def request_cancel(self, project: str, task_id: str, *, now: datetime) -> Task:
        """Cancel: QUEUED becomes CANCELLED at once, RUNNING becomes CANCELLING (the workers
        running its slices end it), or CANCELLED at once when it has slices and none runs.

        Returns the task; a task already CANCELLED is returned unchanged, a CANCELLING one too
        unless none of its slices runs any more (then it is CANCELLED). Raises
        TaskNotFoundError, ConflictError for a task that already finished otherwise.
        """
        ...

    def queue_position(self, task: Task) -> int | None:
        """Return the task's 1-based place in claim order among QUEUED tasks (None if not queued).

        Counted by the claim order's turns as if no task ended; it ignores the per-project limit.
        """
        ...

    def queue_positions(self, task_ids: Collection[str]) -> dict[str, int]:
        """Return the :meth:`queue_position` of each QUEUED task among ``task_ids``, in one read.

        Tasks that are not queued (or unknown) are left out.
        """
        ...

    def count_tasks(self) -> dict[tuple[str, TaskStatus], int]:
        """Return how many visible tasks each project has in each status, in one read (metrics
        read it on every scrape). Pairs without a task are left out."""
        ...

    def delete_task(self, project: str, task_id: str, *, now: datetime) -> Task:
        """Mark the task deleted (invisible from now on) and return it.

        A QUEUED task is also CANCELLED, a RUNNING one CANCELLING (CANCELLED at once when none
        of its slices runs, as :meth:`request_cancel`). The janitor later removes its
        artifact and purges it. Raises TaskNotFoundError.
        """
        ...


class TaskClaims(Protocol):
    """What a worker claims: the next piece of work, in fair order (``Worker``)."""

    def claim_next_task(
        self, worker_id: str, *, lease: timedelta, now: datetime, max_running_per_project: int
    ) -> Task | None:
        """Claim the next QUEUED task for ``worker_id`` and return it RUNNING, or None if none.

        Fair: projects with ``max_running_per_project`` tasks RUNNING or CANCELLING are skipped;
        projects take turns, the one whose latest claim is the oldest first (never claimed before
        goes first), then its oldest queued task (ADR 0013). Sets the lease and adds one to
        ``attempts``. Each task is claimed by exactly one caller.
        """
        ...

    def claim_next_work(
        self,
        worker_id: str,
        *,
        lease: timedelta,
        now: datetime,
        max_running_per_project: int,
        only_task_id: str | None = None,
    ) -> ClaimedWork | None:
        """Claim the next slice of a RUNNING task or the next QUEUED task, in fair claim order.

        A claimed slice runs under ``worker_id``'s lease with one more attempt; a claimed task
        becomes RUNNING as with ``claim_next_task``. Every slice is claimed by one worker at a
        time, across processes. ``only_task_id`` claims only that task's slices. Returns None
        when there is nothing to do.
        """
        ...


class TaskLeases(Protocol):
    """What keeps a claim alive: the task's and the slice's heartbeats (``services.heartbeat``)."""

    def heartbeat(
        self,
        task_id: str,
        worker_id: str,
        *,
        lease: timedelta,
        now: datetime,
        progress: float | None = None,
        rows_written: int | None = None,
        bytes_written: int | None = None,
        slices_total: int | None = None,
    ) -> Task:
        """Renew the lease to ``now + lease``, store the given progress fields, return the task.

        The returned task's ``cancel_requested`` tells the worker to stop. Raises LeaseLostError
        when ``worker_id`` no longer owns the task.
        """
        ...

    def heartbeat_slice(
        self,
        task_id: str,
        slice_index: int,
        worker_id: str,
        *,
        lease: timedelta,
        now: datetime,
        rows: int,
        size_bytes: int,
        progress: float | None = None,
    ) -> Task:
        """Renew the slice's and the task's lease and store the slice's progress; return the
        task (its status and ``cancel_requested`` tell the worker to stop). Raises
        LeaseLostError when the slice is not the worker's or the task no longer runs."""
        ...


class TaskEndings(TaskTransitions, Protocol):
    """How a task ends: its guarded transitions and its slices cleared (``TaskFinisher``)."""

    def clear_slices(self, task_id: str, *, worker_id: str) -> None:
        """Delete the task's slices, so its next run plans afresh: by the worker holding the
        running task, or once the task FAILED (nobody runs it).

        Raises LeaseLostError when ``worker_id`` no longer holds the running task.
        """
        ...


class SliceRecords(Protocol):
    """A running task's slices: planned, listed, hashed, finished, failed, released (the slice
    runs and the file hasher)."""

    def plan_slices(
        self,
        task_id: str,
        ranges: Sequence[TimeRange],
        *,
        worker_id: str,
        now: datetime,
        waits_for_previous: bool = False,
    ) -> list[TaskSlice]:
        """Store the RUNNING task's slices (time ranges in output order), once; return them.

        ``waits_for_previous`` makes each slice claimable only after the one before it finished
        (a task with a row limit). A task planned before keeps its slices (``ranges`` are then
        ignored) and its unfinished slices are queued afresh, attempts reset. Raises
        LeaseLostError unless ``worker_id`` holds the task's lease.
        """
        ...

    def list_task_slices(self, task_id: str) -> list[TaskSlice]:
        """Return the task's stored slices ordered by index (empty before planning)."""
        ...

    def record_file_hash(
        self, task_id: str, slice_index: int, *, written_at: datetime, state: bytes
    ) -> bool:
        """Store the artifact's running hash through the finished slice's part (ADR 0018).

        Stored only while the slice is finished, was finished at ``written_at`` (the same
        finishing the caller read) and has no state yet; return whether it was stored. Any
        worker may call it; two callers store the same bytes, so the first one wins.
        """
        ...

    def finish_slice(
        self,
        task_id: str,
        slice_index: int,
        worker_id: str,
        outcome: SliceOutcome,
        *,
        lease: timedelta,
        now: datetime,
    ) -> tuple[Task, bool]:
        """Record the slice finished (with the outcome's running hash of the artifact, if it
        carries one: ADR 0018); return the task and whether it was the task's last
        unfinished slice (then ``worker_id`` holds the task's lease to complete the artifact).
        Raises LeaseLostError when the slice is not the worker's or the task no longer runs."""
        ...

    def fail_slice(
        self,
        task_id: str,
        slice_index: int,
        worker_id: str,
        *,
        now: datetime,
        retry_at: datetime,
        error_message: str,
        outage_since: datetime | None = None,
    ) -> TaskSlice:
        """Queue a failed slice again, claimable from ``retry_at`` (the attempt stays counted).

        With ``outage_since`` the slice waits for a store that is down since then: the attempt
        is not counted, the slice keeps ``outage_since``, and the task shows ``error_message``
        as :meth:`record_outage` does. Raises LeaseLostError when the slice is not the worker's.
        """
        ...

    def release_slice(
        self, task_id: str, slice_index: int, worker_id: str, *, now: datetime
    ) -> TaskSlice:
        """Give a slice back unfinished without counting the attempt; a CANCELLING task whose
        last running slice this was becomes CANCELLED. Raises LeaseLostError as above."""
        ...

    def record_outage(self, task_id: str, *, now: datetime, message: str | None) -> None:
        """Show on a RUNNING (or CANCELLING) task that its work waits for a store that is down:
        error ``backend_unavailable`` with ``message``; None clears it. Other tasks are left
        alone. A finished slice clears it too."""
        ...


class TaskMaintenance(TaskReader, TaskPurges, Protocol):
    """The janitor's role: lapsed leases queued again, expiry, deleted tasks purged."""

    def requeue_lapsed(self, *, now: datetime, max_attempts: int) -> list[Task]:
        """Handle tasks whose lease expired before ``now`` and return them as changed.

        RUNNING goes back to QUEUED, or to FAILED with error_code ``attempts_exhausted`` once
        ``attempts >= max_attempts``; CANCELLING becomes CANCELLED. RUNNING slices whose own
        lease lapsed are queued again (only those slices).
        """
        ...

    # --- stored slices, each with its own lease (ADR 0018) ---------------------------------------

    def expire_tasks(self, *, now: datetime) -> list[Task]:
        """Move SUCCEEDED tasks with ``expires_at <= now`` to EXPIRED and return them."""
        ...

    def list_purgeable_tasks(self, *, limit: int = 100) -> list[Task]:
        """Return up to ``limit`` deleted tasks no worker runs any more, oldest update first."""
        ...


class ProjectTasks(Protocol):
    """The catalog's role: a deleted project's tasks deleted with it."""

    def delete_project_tasks(self, project: str, *, now: datetime) -> list[Task]:
        """Delete every visible task of ``project`` as :meth:`delete_task` does, in one step.

        Used when the project itself is deleted. Returns the tasks as they were left.
        """
        ...


class TaskRunnerStore(TaskReader, TaskClaims, TaskLeases, TaskEndings, SliceRecords, Protocol):
    """The task runner's role: what it and the heartbeats, slice runs, finisher and file hasher
    it hands this store to use (it claims only when it runs one task to its end alone)."""


class TaskStore(TaskRecords, TaskRunnerStore, TaskMaintenance, ProjectTasks, Protocol):
    """Persists download tasks and their slice checkpoints.

    Every status change goes through ``logsluice.domain.tasks`` rules and is applied with a status
    guard in the ``UPDATE … WHERE``, so two workers never both win. Times come from the caller's
    clock (``now``); leases are ``timedelta`` durations. Deleted tasks are invisible to every method
    that takes a ``project``.
    """

    def close(self) -> None:
        """Release connections."""
        ...


# --- export pipeline: Encoder, Compressor, ArtifactStore -----------------------------------------
# Defined in ``logsluice.pipeline.protocols`` (the pipeline sits below this module and is written
# against them) and re-exported here so services find every role in one place: ``Encoder``,
# ``Compressor``, ``ArtifactStore`` and its roles (``ArtifactParts``, ``ArtifactStaging``,
# ``PublishedArtifacts``), ``StagingObject``, ``PartWriter``, and the records ``PartInfo``,
# ``WriterCheckpoint`` and ``ArtifactSummary``.

# --- access keys: AK/SK pairs with a project and a role ------------------------------------------


class AccessKeyStore(Protocol):
    """Persists access keys with their secrets, which arrive and leave already encrypted.

    Revoked keys stay stored (``revoked_at`` set) so listings show them; they verify nothing.
    """

    def create_access_key(self, access_key: AccessKey, secret_ciphertext: str) -> None:
        """Store a new key. Raises AlreadyExistsError when ``access_key.id`` is taken."""
        ...

    def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str]:
        """Return the key and its encrypted secret. Raises AccessKeyNotFoundError."""
        ...

    def list_access_keys(
        self, *, project: str | None = None, include_revoked: bool = False
    ) -> list[AccessKey]:
        """Return the keys (of ``project`` when given), oldest first."""
        ...

    def revoke_project_keys(self, project: str, *, now: datetime) -> int:
        """Revoke every live key bound to ``project``; return how many were revoked."""
        ...

    def revoke_access_key(self, access_key_id: str, *, now: datetime) -> AccessKey:
        """Set ``revoked_at`` (kept if already set) and return the key.

        Raises AccessKeyNotFoundError.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SecretCipher(Protocol):
    """Encrypts secrets at rest with the installation's key (authenticated encryption)."""

    def encrypt(self, plaintext: str) -> str:
        """Return ``plaintext`` encrypted, as ASCII text."""
        ...

    def decrypt(self, ciphertext: str) -> str:
        """Return the plaintext. Raises InvalidSettingsError when the key does not fit."""
        ...


# --- completion webhooks: the outbox of deliveries, and sending one attempt ----------------------


class WebhookStore(Protocol):
    """The deliveries of completion webhooks, written by the task store when a task ends (ADR 0020).

    Shares the task store's database, so a delivery is written in the transaction of its ending.
    """

    def claim_due(self, *, now: datetime, hold: timedelta, limit: int) -> list[WebhookDelivery]:
        """Claim up to ``limit`` deliveries due at ``now`` (pending, or claimed by a dispatcher
        whose hold ran out) and return them DELIVERING, with ``attempts`` counting this one.

        No two callers get the same delivery at once; a claim is held until ``now + hold``.
        """
        ...

    def settle(self, outcomes: Sequence[DeliveryOutcome]) -> set[str]:
        """Record how claimed attempts went, in one transaction; return the ids recorded.

        An outcome whose claim was lost (another dispatcher took the delivery over after the hold
        ran out) changes nothing and is left out of the result.
        """
        ...

    def list_deliveries(self, task_ids: Collection[str]) -> dict[str, list[WebhookDelivery]]:
        """Return the deliveries of each of ``task_ids`` that has some, oldest first."""
        ...

    def count_unsettled(self) -> int:
        """Return how many deliveries are still pending or being delivered."""
        ...


@runtime_checkable
class UploadSweeper(Protocol):
    """An artifact store whose unfinished uploads outlive a dead worker (an object store's
    multipart uploads); the janitor aborts the ones no task owns."""

    def unfinished_uploads(self, older_than: datetime) -> list[UnfinishedUpload]:
        """Return the unfinished uploads started before ``older_than``."""
        ...

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        """Abort one unfinished upload; one already gone is fine."""
        ...


class SinkStore(Protocol):
    """Persists the sinks registered per project, with their secrets already encrypted."""

    def create_sink(self, sink: Sink, secret_ciphertext: str) -> None:
        """Store a new sink. Raises AlreadyExistsError when the project has one of that name."""
        ...

    def get_sink(self, project: str, name: str) -> tuple[Sink, str]:
        """Return the sink and its encrypted secret. Raises SinkNotFoundError."""
        ...

    def list_sinks(self, project: str | None = None) -> list[Sink]:
        """Return the sinks (of ``project`` when given), by project and name."""
        ...

    def delete_sink(self, project: str, name: str) -> None:
        """Remove the sink. Raises SinkNotFoundError."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class WebhookResponse:
    """What a receiver answered: its status code and the start of its body (for the error)."""

    status_code: int
    body_start: str = ""


class WebhookSender(Protocol):
    """Checks webhook targets against the address rule (SSRF) and sends events to them."""

    def check_target(self, url: str) -> WebhookUrl:
        """Return the parsed URL if its host resolves only to addresses webhooks may reach.

        Raises InvalidInputError for a malformed URL, WebhookTargetRefusedError for a refused
        or unresolvable host.
        """
        ...

    def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        """POST ``body`` to ``url`` (checked again; connected to the checked address, redirects
        not followed) and return the response. Raises WebhookTargetRefusedError for a refused
        host, WebhookDeliveryError when no response came (connection, timeout)."""
        ...


class SessionStore(Protocol):
    """Persists console sessions so that every API node sees a sign-out at once."""

    def create_session(self, session: ConsoleSession) -> None:
        """Store a new session. Raises AlreadyExistsError when its id is taken."""
        ...

    def get_session(self, session_id: str) -> ConsoleSession | None:
        """Return the session, None for an unknown (or purged) id."""
        ...

    def revoke_session(self, session_id: str, *, now: datetime) -> None:
        """Set ``revoked_at`` (kept if already set); a no-op for an unknown id."""
        ...

    def delete_expired_sessions(self, *, now: datetime) -> int:
        """Remove sessions that expired before ``now``; return how many."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


__all__: Sequence[str] = (
    "AccessKeyStore",
    "ArtifactParts",
    "ArtifactStaging",
    "ArtifactStore",
    "ArtifactSummary",
    "CatalogStore",
    "Clock",
    "ColumnInfo",
    "Compressor",
    "Encoder",
    "HistogramBucket",
    "LogStore",
    "LogStoreAdmin",
    "LogstoreStats",
    "LogstreamInfo",
    "PartInfo",
    "PartWriter",
    "PlanningHistogram",
    "ProjectTasks",
    "PublishedArtifacts",
    "QueryCompiler",
    "QueryParser",
    "RecordAppender",
    "RecordReader",
    "RecordsQuery",
    "SecretCipher",
    "SessionStore",
    "SinkStore",
    "SliceRecords",
    "StagingObject",
    "TaskClaims",
    "TaskEndings",
    "TaskLeases",
    "TaskMaintenance",
    "TaskOrderBy",
    "TaskPurges",
    "TaskReader",
    "TaskRecords",
    "TaskRunnerStore",
    "TaskStore",
    "TaskTransitions",
    "UploadSweeper",
    "WriterCheckpoint",
)
