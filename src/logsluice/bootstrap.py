"""The one place that builds the object graph: adapters picked by URL, services, the API app.

Entry points (``logsluice serve``, tests) call :func:`build_container` or :func:`build_server`
with a :class:`Settings`; nothing else constructs adapters. :meth:`Container.close` releases
every store, in reverse order of opening.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from logsluice.adapters.artifacts import S3ArtifactStore, build_artifact_store
from logsluice.adapters.artifacts.encoders import build_encoder
from logsluice.adapters.artifacts.s3_client import S3Location
from logsluice.adapters.disk_space import DirectorySpace, SpaceReserve
from logsluice.adapters.duckdb.sql_functions import DUCKDB_SQL_RULES
from logsluice.adapters.http import HttpLogStore
from logsluice.adapters.log_stores import EngineLimits, create_log_store, is_shared_log_store
from logsluice.adapters.secret_cipher import (
    CIPHER_KEY_FILE_NAME,
    FernetSecretCipher,
    load_or_create_cipher_key,
)
from logsluice.adapters.sql import (
    SqlAccessKeyStore,
    SqlCatalogStore,
    SqlSessionStore,
    SqlSinkStore,
    SqlTaskStore,
    SqlWebhookStore,
    create_sql_engine,
    migrate_engine,
)
from logsluice.adapters.webhook_sender import HttpWebhookSender
from logsluice.api.app import BackgroundJob, create_app
from logsluice.api.auth import (
    AccessKeyTokenAuthenticator,
    AdminToken,
    AdminTokenAuthenticator,
    AuthenticatorChain,
    NoAuthentication,
    check_no_auth_allowed,
    load_or_create_admin_token,
)
from logsluice.api.context import ApiContext, RequestAuthenticator
from logsluice.api.metrics_endpoint import MetricsEndpoint
from logsluice.api.sessions import SessionCookieAuthenticator
from logsluice.console import mount_console
from logsluice.domain.errors import InvalidInputError, InvalidSettingsError
from logsluice.domain.outages import OutagePolicy
from logsluice.domain.webhooks import DeliveryStatus, WebhookDelivery
from logsluice.metrics import Metrics
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import CatalogStore, Clock, LogStore, RecordReader, TaskStore
from logsluice.query.parsed_query import warm_up as warm_up_query_parsers
from logsluice.services.access_keys import AccessKeyService
from logsluice.services.catalog import CatalogService
from logsluice.services.cdn_statistics import CdnStatisticsService
from logsluice.services.clock import SystemClock
from logsluice.services.compaction import CompactionService
from logsluice.services.downloads import DownloadService
from logsluice.services.ingest import IngestLimits, IngestService
from logsluice.services.janitor import Janitor
from logsluice.services.links import LinkSigner, load_or_create_link_secret
from logsluice.services.periodic import PeriodicJob
from logsluice.services.query import QueryLimits, QueryService
from logsluice.services.retention import RetentionService
from logsluice.services.runner import RunnerSettings, TaskRunner
from logsluice.services.sessions import SessionService
from logsluice.services.sinks import ArtifactStores, SinkAccess, SinkService
from logsluice.services.tasks import TaskLimits, TaskService
from logsluice.services.webhooks import (
    OutcomeObserver,
    ProjectWebhooks,
    WebhookDispatcher,
    WebhookJob,
    WebhookSettings,
    WebhookTargets,
)
from logsluice.services.worker import QueueSignal, WorkerPool, WorkerSettings
from logsluice.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# Threads that finish the estimates of tasks created before their estimate was known.
_ESTIMATE_THREADS = 2


# How often serve looks at the data directory's free space to give up or take back its reserve.
DISK_SPACE_INTERVAL = timedelta(seconds=1)


@dataclass
class Container:
    """Every long-lived object of one logsluice process."""

    settings: Settings
    clock: Clock
    catalog_store: CatalogStore
    log_store: LogStore
    catalog: CatalogService
    ingest: IngestService
    query: QueryService
    retention: RetentionService
    compaction: CompactionService
    task_store: TaskStore
    artifact_store: ArtifactStore
    artifact_stores: ArtifactStores
    sinks: SinkService
    tasks: TaskService
    downloads: DownloadService
    runner: TaskRunner
    janitor: Janitor
    access_keys: AccessKeyService
    sessions: SessionService
    queue_signal: QueueSignal
    space_reserve: SpaceReserve
    webhook_store: SqlWebhookStore
    project_webhooks: ProjectWebhooks
    link_signer: LinkSigner
    close_actions: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Close the stores, the last opened first."""
        while self.close_actions:
            self.close_actions.pop()()


@dataclass(frozen=True)
class Server:
    """The API app with its container, the admin token it accepts (None with ``no_auth``), the
    context its endpoints see (``context.shutdown`` ends live streams when the server stops) and
    its webhook dispatcher (a background job of the app)."""

    app: FastAPI
    container: Container
    admin_token: AdminToken | None
    context: ApiContext
    webhooks: WebhookJob | None = None
    metrics: Metrics | None = None


def freeze_startup_objects() -> None:
    """Take the objects made while starting (modules, the app, the stores) out of the garbage
    collector's sweeps, after a last collection.

    They live as long as the process, yet every full collection walked them: during an export that
    was ~5 % of the CPU time. Call once, when the process is built and before it serves. At exit
    they are handed back to the collector, so the interpreter's last collection still frees them
    (frozen, DuckDB's bindings would report them as leaked).
    """
    gc.collect()
    gc.freeze()
    atexit.register(gc.unfreeze)


def open_catalog_store(database_url: str) -> SqlCatalogStore:
    """Open the catalog database at ``database_url`` and migrate it to the newest schema."""
    engine = create_sql_engine(database_url)
    migrate_engine(engine)
    return SqlCatalogStore(engine)


def open_log_store(settings: Settings) -> LogStore:
    """Open the log store named by ``settings.log_store_url``, by its scheme.

    Raises InvalidSettingsError naming the variable for a URL no adapter serves.
    """
    try:
        return create_log_store(
            settings.log_store_url,
            EngineLimits(
                memory_limit_bytes=settings.duckdb_memory_limit_bytes,
                cache_limit_bytes=settings.duckdb_cache_limit_bytes,
                threads=settings.duckdb_threads,
                min_free_bytes=settings.disk_min_free_bytes,
                max_fields=settings.ingest_max_fields,
            ),
        )
    except InvalidInputError as error:
        raise InvalidSettingsError(f"LOGSLUICE_LOG_STORE_URL: {error.message}") from error


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    """Open the stores named by ``settings`` and build the services on them."""
    clock = clock or SystemClock()
    catalog_store = open_catalog_store(settings.database_url)
    try:
        log_store = open_log_store(settings)
    except BaseException:
        catalog_store.close()
        raise
    task_store = open_task_store(settings.database_url)
    artifact_store = open_artifact_store(settings)
    sinks, sink_store = build_sinks(settings, catalog_store, clock)
    artifact_stores = ArtifactStores(artifact_store, sinks, open_sink_store)
    installation_secret = load_installation_secret(settings)
    link_signer = build_link_signer(settings, installation_secret, clock)
    space_reserve = build_space_reserve(settings)
    runner = build_runner(
        settings, task_store, log_store, artifact_stores, clock, space_reserve.release
    )
    access_key_store = SqlAccessKeyStore(create_sql_engine(settings.database_url))
    cipher = build_secret_cipher(settings)
    webhook_store = SqlWebhookStore(create_sql_engine(settings.database_url))
    webhook_targets = WebhookTargets(build_webhook_sender(settings), cipher)
    session_store = SqlSessionStore(create_sql_engine(settings.database_url))
    queue_signal = QueueSignal()
    catalog = CatalogService(
        catalog_store,
        log_store,
        clock,
        task_store=task_store,
        access_key_store=access_key_store,
    )
    estimate_executor = ThreadPoolExecutor(
        max_workers=_ESTIMATE_THREADS, thread_name_prefix="task-estimate"
    )
    return Container(
        settings=settings,
        clock=clock,
        catalog_store=catalog_store,
        log_store=log_store,
        catalog=catalog,
        ingest=IngestService(catalog_store, log_store, clock, _ingest_limits(settings)),
        query=QueryService(catalog_store, log_store, clock, _query_limits(settings)),
        retention=RetentionService(catalog_store, log_store, clock),
        compaction=CompactionService(catalog_store, log_store),
        task_store=task_store,
        artifact_store=artifact_store,
        artifact_stores=artifact_stores,
        sinks=sinks,
        tasks=TaskService(
            task_store=task_store,
            catalog_store=catalog_store,
            log_store=log_store,
            artifact_store=artifact_store,
            link_signer=link_signer,
            clock=clock,
            encoder_factory=build_encoder,
            limits=_task_limits(settings),
            estimate_executor=estimate_executor,
            on_queued=queue_signal.notify,
            webhook_store=webhook_store,
            webhook_targets=webhook_targets,
            artifact_stores=artifact_stores,
            sinks=sinks,
        ),
        downloads=DownloadService(task_store, artifact_store, link_signer, artifact_stores),
        runner=runner,
        janitor=Janitor(
            task_store,
            artifact_store,
            clock,
            max_attempts=settings.task_max_attempts,
            artifact_stores=artifact_stores,
        ),
        access_keys=AccessKeyService(
            access_key_store=access_key_store,
            catalog_store=catalog_store,
            cipher=cipher,
            clock=clock,
        ),
        sessions=SessionService(
            session_store, installation_secret, clock, ttl=settings.console_session_ttl
        ),
        queue_signal=queue_signal,
        space_reserve=space_reserve,
        webhook_store=webhook_store,
        project_webhooks=ProjectWebhooks(catalog_store, webhook_targets),
        link_signer=link_signer,
        close_actions=[
            catalog_store.close,
            log_store.close,
            lambda: estimate_executor.shutdown(wait=True, cancel_futures=True),
            task_store.close,
            access_key_store.close,
            session_store.close,
            webhook_store.close,
            sink_store.close,
        ],
    )


def open_artifact_store(settings: Settings) -> ArtifactStore:
    """Open the artifact store named by ``settings.artifact_store_url``.

    Raises InvalidSettingsError naming the variable for a URL no adapter serves.
    """
    try:
        return build_artifact_store(
            settings.artifact_store_url,
            min_free_bytes=settings.disk_min_free_bytes,
            direct_links=settings.artifact_links == "direct",
        )
    except InvalidInputError as error:
        raise InvalidSettingsError(f"LOGSLUICE_ARTIFACT_STORE_URL: {error.message}") from error


def build_sinks(
    settings: Settings, catalog_store: CatalogStore, clock: Clock
) -> tuple[SinkService, SqlSinkStore]:
    """Return the sink service on the control-plane database, with the access-key cipher."""
    sink_store = SqlSinkStore(create_sql_engine(settings.database_url))
    cipher = build_secret_cipher(settings)
    service = SinkService(sink_store, catalog_store, cipher, clock, check_sink_access)
    return service, sink_store


def open_sink_store(access: SinkAccess) -> ArtifactStore:
    """Return an S3 store on a sink's bucket and prefix, with the sink's own credentials."""
    return _sink_s3_store(access)


def check_sink_access(access: SinkAccess) -> None:
    """Try a sink's bucket with its key (ArtifactStoreDeniedError, BackendUnavailableError)."""
    _sink_s3_store(access).check_access()


def _sink_s3_store(access: SinkAccess) -> S3ArtifactStore:
    location = S3Location(
        bucket=access.bucket,
        prefix=access.prefix,
        endpoint=access.endpoint,
        region=access.region,
        access_key_id=access.access_key_id,
        secret_access_key=access.secret_access_key,
        addressing_style=access.addressing_style,
    )
    return S3ArtifactStore(location)


def build_secret_cipher(settings: Settings) -> FernetSecretCipher:
    """Return the cipher of access-key secrets: the configured key, or the data directory's own."""
    key = (
        settings.access_key_cipher_key.get_secret_value().encode("ascii")
        if settings.access_key_cipher_key
        else load_or_create_cipher_key(settings.data_dir / CIPHER_KEY_FILE_NAME)
    )
    return FernetSecretCipher(key)


def build_webhook_sender(settings: Settings) -> HttpWebhookSender:
    """Return the webhook sender with the address rule's allowlist and the attempt timeout."""
    return HttpWebhookSender(
        allowed_networks=settings.webhook_allowed_networks, timeout=settings.webhook_timeout
    )


def build_webhook_job(
    settings: Settings,
    store: SqlWebhookStore,
    task_store: TaskStore,
    artifact_stores: ArtifactStores,
    link_signer: LinkSigner,
    clock: Clock,
    base_url: str,
    on_outcome: OutcomeObserver | None = None,
) -> WebhookJob:
    """Return the webhook dispatcher of a process, run every ``webhook_poll_interval``; its links
    point at ``public_url`` when set, else at ``base_url`` (or at the task's object store, as the
    link endpoint's do); ``on_outcome`` hears of each attempt."""
    dispatcher = WebhookDispatcher(
        store=store,
        sender=build_webhook_sender(settings),
        cipher=build_secret_cipher(settings),
        task_store=task_store,
        artifact_stores=artifact_stores,
        link_signer=link_signer,
        clock=clock,
        settings=WebhookSettings(
            timeout=settings.webhook_timeout,
            retry_window=settings.webhook_retry_window,
            initial_delay=settings.webhook_retry_initial_delay,
            max_delay=settings.webhook_retry_max_delay,
            link_ttl=min(settings.webhook_link_ttl, settings.link_ttl_max),
            batch_size=settings.webhook_concurrency,
            concurrency=settings.webhook_concurrency,
        ),
        base_url=settings.public_url or base_url,
        on_outcome=on_outcome or (lambda delivery, status, status_code: None),
    )
    return WebhookJob(dispatcher, settings.webhook_poll_interval)


def local_base_url(host: str, port: int) -> str:
    """Return the URL this server answers at on its own host (for links when no public URL)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (a listen address, compared, never bound here)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_space_reserve(settings: Settings) -> SpaceReserve:
    """Return the data directory's space reserve (ADR 0015)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    space = DirectorySpace(settings.data_dir, settings.disk_min_free_bytes)
    return SpaceReserve(space, settings.disk_reserve_bytes)


def open_task_store(database_url: str) -> SqlTaskStore:
    """Open the task store at ``database_url`` (migrated to the newest schema)."""
    engine = create_sql_engine(database_url)
    migrate_engine(engine)
    return SqlTaskStore(engine)


def load_installation_secret(settings: Settings) -> bytes:
    """Return the installation secret: the configured link secret, or the data directory's own.

    Download links and console sessions derive their own keys from it.
    """
    return (
        settings.link_secret.get_secret_value().encode()
        if settings.link_secret
        else load_or_create_link_secret(settings.data_dir / "link-secret")
    )


def build_link_signer(settings: Settings, secret: bytes, clock: Clock) -> LinkSigner:
    """Return the link signer with the installation secret."""
    return LinkSigner(
        secret, clock, default_ttl=settings.link_ttl_default, maximum_ttl=settings.link_ttl_max
    )


def build_runner(
    settings: Settings,
    task_store: TaskStore,
    source: RecordReader,
    artifact_stores: ArtifactStores,
    clock: Clock,
    on_disk_full: Callable[[], object] = lambda: None,
) -> TaskRunner:
    """Return the task runner reading records from ``source``, writing each task's file to its
    store; ``on_disk_full`` frees space for the task store when it cannot record an ending."""
    return TaskRunner(
        task_store=task_store,
        source=source,
        artifact_store=artifact_stores.default,
        artifact_store_for=artifact_stores.artifact_store_for,
        encoder_factory=build_encoder,
        clock=clock,
        settings=RunnerSettings(
            lease=settings.task_lease,
            heartbeat_interval=settings.task_heartbeat_interval,
            rows_per_slice=settings.task_rows_per_slice,
            batch_rows=settings.task_batch_rows,
            slice_attempts=settings.task_slice_attempts,
            outage=OutagePolicy(
                window=settings.outage_retry_window,
                longest_delay=settings.outage_retry_max_delay,
            ),
            artifact_retention=settings.artifact_retention,
        ),
        on_disk_full=on_disk_full,
    )


def build_worker_pool(
    settings: Settings,
    runner: TaskRunner,
    size: int,
    label: str,
    signal: QueueSignal | None = None,
) -> WorkerPool:
    """Return ``size`` worker threads running tasks with ``runner``, woken by ``signal``."""
    return WorkerPool(
        runner.task_store,
        runner,
        runner.clock,
        WorkerSettings(max_running_per_project=settings.task_max_running_per_project),
        size=size,
        label=label,
        signal=signal,
    )


@dataclass
class WorkerProcess:
    """What ``logsluice worker`` runs: a worker pool on the shared stores, reading records from
    the lake directly or from a serving node over HTTP (``records_from`` says which)."""

    pool: WorkerPool
    close_actions: list[Callable[[], None]]
    webhooks: WebhookJob | None = None
    records_from: str = ""

    def close(self) -> None:
        """Close the stores, the last opened first."""
        while self.close_actions:
            self.close_actions.pop()()


def build_worker_process(
    settings: Settings,
    server_url: str,
    token: str | None,
    *,
    size: int = 1,
    metrics: Metrics | None = None,
) -> WorkerProcess:
    """Return a worker process's pool: the task and artifact stores opened directly; records read
    from the log store directly when many processes may open it (a DuckLake on PostgreSQL or
    SQLite), else through ``server_url`` (the embedded DuckDB file is held by ``serve``)."""
    clock = SystemClock()
    shared = _shared_log_store(settings)
    task_store = open_task_store(settings.database_url)
    try:
        source: LogStore | HttpLogStore = (
            open_log_store(settings) if shared else HttpLogStore(server_url, token)
        )
    except BaseException:
        task_store.close()
        raise
    catalog_store = SqlCatalogStore(create_sql_engine(settings.database_url))
    sinks, sink_store = build_sinks(settings, catalog_store, clock)
    artifact_stores = ArtifactStores(open_artifact_store(settings), sinks, open_sink_store)
    reserve = build_space_reserve(settings)
    runner = build_runner(settings, task_store, source, artifact_stores, clock, reserve.release)
    pool = build_worker_pool(settings, runner, size, "worker")
    webhook_store = SqlWebhookStore(create_sql_engine(settings.database_url))
    link_signer = build_link_signer(settings, load_installation_secret(settings), clock)
    webhooks = build_webhook_job(
        settings,
        webhook_store,
        task_store,
        artifact_stores,
        link_signer,
        clock,
        server_url,
        on_outcome=webhook_outcome_counter(metrics) if metrics is not None else None,
    )
    return WorkerProcess(
        pool=pool,
        close_actions=[
            task_store.close,
            source.close,
            webhook_store.close,
            sink_store.close,
            catalog_store.close,
        ],
        webhooks=webhooks,
        records_from="the lake" if shared else server_url,
    )


def webhook_outcome_counter(metrics: Metrics) -> OutcomeObserver:
    """Return an observer counting each webhook attempt in ``metrics`` by its outcome."""
    outcomes = {
        DeliveryStatus.DELIVERED: "delivered",
        DeliveryStatus.PENDING: "retrying",
        DeliveryStatus.FAILED: "failed",
    }

    def count(delivery: WebhookDelivery, status: DeliveryStatus, status_code: int | None) -> None:
        metrics.webhook_delivery(outcomes.get(status, status.value))

    return count


def _shared_log_store(settings: Settings) -> bool:
    try:
        return is_shared_log_store(settings.log_store_url)
    except InvalidInputError as error:
        raise InvalidSettingsError(f"LOGSLUICE_LOG_STORE_URL: {error.message}") from error


def _task_limits(settings: Settings) -> TaskLimits:
    return TaskLimits(
        max_limit=settings.task_max_limit,
        max_limit_by_project=settings.task_max_limit_by_project,
        estimate_timeout=settings.query_timeout,
        estimate_wait=settings.task_estimate_wait,
    )


def _ingest_limits(settings: Settings) -> IngestLimits:
    return IngestLimits(
        max_decoded_bytes=settings.ingest_max_decoded_bytes,
        max_errors_reported=settings.ingest_max_errors_reported,
        max_fields=settings.ingest_max_fields,
        key_retention=settings.ingest_key_retention,
    )


def _query_limits(settings: Settings) -> QueryLimits:
    return QueryLimits(
        timeout=settings.query_timeout,
        default_window=settings.query_default_window,
        default_limit=settings.preview_limit_default,
        max_limit=settings.preview_limit_max,
        histogram_buckets=settings.histogram_buckets,
    )


def build_authenticator(
    settings: Settings,
    access_keys: AccessKeyService | None = None,
    sessions: SessionService | None = None,
) -> tuple[RequestAuthenticator, AdminToken | None]:
    """Return the request authenticator and the admin token in force (None with ``no_auth``).

    With ``access_keys``, an access key's ``<id>:<secret>`` is accepted as a bearer token too;
    with ``sessions``, the console's session cookie (with its CSRF check) on requests without
    an ``Authorization`` header. Raises InvalidSettingsError when ``no_auth`` is asked for on a
    non-loopback host.
    """
    check_no_auth_allowed(settings.host, settings.no_auth)
    if settings.no_auth:
        return NoAuthentication(), None
    configured = settings.admin_token.get_secret_value() if settings.admin_token else None
    admin_token = load_or_create_admin_token(settings.data_dir, configured)
    key_authenticators = [AccessKeyTokenAuthenticator(access_keys)] if access_keys else []
    session_authenticators = (
        [SessionCookieAuthenticator(sessions, access_keys)] if sessions is not None else []
    )
    chain = AuthenticatorChain(
        [
            *key_authenticators,
            AdminTokenAuthenticator(admin_token.value),
            *session_authenticators,
        ]
    )
    return chain, admin_token


def build_server(
    settings: Settings, clock: Clock | None = None, metrics: Metrics | None = None
) -> Server:
    """Return the API app on a fresh container, with retention running while the app runs.

    ``metrics`` (a fresh set when None) is what ``GET /metrics`` shows; the process's log events
    reach it when ``configure_logging`` was given it too.
    """
    check_no_auth_allowed(settings.host, settings.no_auth)
    warm_up_query_parsers(DUCKDB_SQL_RULES)
    metrics = metrics if metrics is not None else Metrics()
    container = build_container(settings, clock)
    metrics.count_tasks_from(container.task_store.count_tasks)
    authenticator, admin_token = build_authenticator(
        settings, container.access_keys, container.sessions
    )
    context = ApiContext(
        catalog=container.catalog,
        ingest=container.ingest,
        query=container.query,
        authenticator=authenticator,
        ingest_max_body_bytes=settings.ingest_max_body_bytes,
        tasks=container.tasks,
        downloads=container.downloads,
        records=container.log_store,
        public_url=settings.public_url,
        access_keys=container.access_keys,
        sls_domain=settings.sls_domain,
        clock=container.clock,
        cdn_statistics=CdnStatisticsService(
            container.tasks,
            container.log_store,
            container.clock,
            logstore=settings.huawei_cdn_logstore,
        ),
        sessions=container.sessions,
        project_webhooks=container.project_webhooks,
        metrics=metrics,
        sinks=container.sinks,
    )
    retention_job = PeriodicJob(
        "retention", settings.retention_check_interval, container.retention.delete_expired_records
    )
    ingest_keys_job = PeriodicJob(
        "ingest_keys", settings.retention_check_interval, container.ingest.forget_expired_keys
    )
    janitor_job = PeriodicJob("janitor", settings.janitor_interval, container.janitor.run_once)
    compaction_job = PeriodicJob(
        "compaction", settings.compaction_interval, container.compaction.compact_all
    )
    sessions_job = PeriodicJob(
        "console_sessions", settings.janitor_interval, container.sessions.purge_expired
    )
    space_job = PeriodicJob("disk_space", DISK_SPACE_INTERVAL, container.space_reserve.keep)
    workers = build_worker_pool(
        settings, container.runner, settings.workers, "serve", container.queue_signal
    )
    webhook_job = build_webhook_job(
        settings,
        container.webhook_store,
        container.task_store,
        container.artifact_stores,
        container.link_signer,
        container.clock,
        local_base_url(settings.host, settings.port),
        on_outcome=webhook_outcome_counter(metrics),
    )
    jobs: list[BackgroundJob] = [
        webhook_job,
        space_job,
        retention_job,
        ingest_keys_job,
        janitor_job,
        compaction_job,
        sessions_job,
        workers,
    ]
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    metrics_access = (
        "open" if settings.no_auth and settings.metrics == "token" else settings.metrics
    )
    app = create_app(
        context,
        background_jobs=jobs,
        metrics_endpoint=MetricsEndpoint(metrics, metrics_access, metrics_token),
    )
    mount_console(app)
    return Server(
        app=app,
        container=container,
        admin_token=admin_token,
        context=context,
        webhooks=webhook_job,
        metrics=metrics,
    )
