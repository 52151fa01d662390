"""Sinks and the artifact store of each task.

:class:`SinkService` registers, lists and removes the buckets an administrator allows a project's
tasks to write to (SLS ``sink``, BLS ``fileDir``, the native ``sink``), keeping each secret
encrypted with the access-key cipher; no answer ever carries it. It also resolves what a task asks
for (a sink's name, or the bucket a vendor's request names) to a registered sink before the task is
stored, so an unknown bucket fails the create, before any work runs.

:class:`ArtifactStores` answers :meth:`ArtifactStores.artifact_store_for`: the installation's
artifact store for a task without a sink, else an S3 store on the sink's bucket under its prefix
(and the task's further prefix). The runner, downloads, the janitor and the task service all ask
it, so a task's files are always looked for where they were written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import structlog

from logsluice.domain.errors import (
    InvalidInputError,
    LogsluiceError,
    SinkNotFoundError,
)
from logsluice.domain.names import check_name
from logsluice.domain.sinks import Sink, SinkTarget, joined_prefix, normalized_prefix
from logsluice.domain.tasks import Task
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import CatalogStore, Clock, SecretCipher, SinkStore
from logsluice.services.task_files import all_keys

DEFAULT_REGION = "us-east-1"
# path: bucket in the path (MinIO, Ceph, rclone, most on-premises servers); virtual: bucket in the
# host name (Alibaba OSS accepts only this)
ADDRESSING_STYLES = ("path", "virtual")
_LOGGER = structlog.get_logger()
_BUCKET_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


@dataclass(frozen=True)
class SinkRegistration:
    """What an administrator gives to register a sink."""

    name: str
    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    prefix: str = ""
    region: str = ""
    addressing_style: str = "path"


@dataclass(frozen=True)
class SinkAccess:
    """Everything needed to open a sink's bucket for one task: where, under which key prefix,
    and with which credentials (the secret decrypted)."""

    endpoint: str
    bucket: str
    prefix: str
    region: str
    access_key_id: str
    secret_access_key: str
    addressing_style: str = "path"


def _check_registration(registration: SinkRegistration) -> SinkRegistration:
    check_name("sink", registration.name)
    endpoint = urlsplit(registration.endpoint)
    if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
        raise InvalidInputError(
            f"endpoint {registration.endpoint!r} is not an http(s) URL", field="endpoint"
        )
    bucket = registration.bucket
    if not 3 <= len(bucket) <= 63 or not set(bucket) <= _BUCKET_CHARACTERS:
        raise InvalidInputError(
            f"bucket {bucket!r} is not a bucket name (3 to 63 lowercase letters, digits, '.', "
            "'-' or '_')",
            field="bucket",
        )
    if registration.addressing_style not in ADDRESSING_STYLES:
        raise InvalidInputError(
            f"addressing_style must be one of {', '.join(ADDRESSING_STYLES)}",
            field="addressing_style",
        )
    for field, value in (
        ("access_key", registration.access_key_id),
        ("secret", registration.secret_access_key),
    ):
        if not value:
            raise InvalidInputError(f"{field} is required", field=field)
    return registration


class SinkService:
    """Registers sinks per project and resolves a task's sink."""

    def __init__(
        self,
        sink_store: SinkStore,
        catalog_store: CatalogStore,
        cipher: SecretCipher,
        clock: Clock,
        check_access: Callable[[SinkAccess], None] = lambda access: None,
    ) -> None:
        """``check_access`` tries a new sink's bucket with its key before it is registered."""
        self._sink_store = sink_store
        self._catalog_store = catalog_store
        self._cipher = cipher
        self._clock = clock
        self._check_access = check_access

    def register(self, project: str, registration: SinkRegistration) -> Sink:
        """Register a sink of ``project`` and return it (without its secret).

        The bucket is tried with the key first (one listing under the prefix). Raises
        ProjectNotFoundError, InvalidInputError (a bad name, endpoint, bucket or prefix, a missing
        key), AlreadyExistsError when the project has a sink of that name,
        ArtifactStoreDeniedError when the server refuses the key or has no such bucket,
        BackendUnavailableError when it cannot be reached.
        """
        self._catalog_store.get_project(project)
        checked = _check_registration(registration)
        sink = Sink(
            project=project,
            name=checked.name,
            endpoint=checked.endpoint.rstrip("/"),
            bucket=checked.bucket,
            prefix=normalized_prefix(checked.prefix),
            region=checked.region or DEFAULT_REGION,
            access_key_id=checked.access_key_id,
            created_at=self._clock.now(),
            addressing_style=checked.addressing_style,
        )
        self._check_access(
            SinkAccess(
                endpoint=sink.endpoint,
                bucket=sink.bucket,
                prefix=sink.prefix,
                region=sink.region,
                access_key_id=sink.access_key_id,
                secret_access_key=checked.secret_access_key,
                addressing_style=sink.addressing_style,
            )
        )
        self._sink_store.create_sink(sink, self._cipher.encrypt(checked.secret_access_key))
        return sink

    def list_sinks(self, project: str) -> list[Sink]:
        """Return the sinks of ``project`` by name. Raises ProjectNotFoundError."""
        self._catalog_store.get_project(project)
        return self._sink_store.list_sinks(project)

    def get(self, project: str, name: str) -> Sink:
        """Return one sink (without its secret). Raises SinkNotFoundError."""
        return self._sink_store.get_sink(project, name)[0]

    def remove(self, project: str, name: str) -> None:
        """Remove a sink; tasks that wrote there keep their files. Raises SinkNotFoundError."""
        self._sink_store.delete_sink(project, name)

    def resolve(self, project: str, target: SinkTarget) -> SinkTarget:
        """Return ``target`` naming the registered sink it means: the sink of that name, else the
        one sink of the project whose bucket has that name (a vendor request names a bucket).

        Raises SinkNotFoundError when no sink (or more than one by bucket) fits.
        """
        prefix = normalized_prefix(target.prefix, "sink prefix")
        sinks = self._sink_store.list_sinks(project)
        by_name = [sink for sink in sinks if sink.name == target.name]
        by_bucket = [sink for sink in sinks if sink.bucket == target.name]
        found = by_name or by_bucket
        if len(found) != 1:
            raise SinkNotFoundError(
                f"no sink {target.name!r} is registered for project {project!r}"
                + ("" if not found else " (several sinks use that bucket; name one)"),
                project=project,
                sink=target.name,
            )
        return SinkTarget(name=found[0].name, prefix=prefix)

    def access(self, project: str, target: SinkTarget) -> tuple[Sink, SinkAccess]:
        """Return the sink and how to open it for a task writing under ``target.prefix``.

        Raises SinkNotFoundError when the sink was removed since.
        """
        sink, ciphertext = self._sink_store.get_sink(project, target.name)
        access = SinkAccess(
            endpoint=sink.endpoint,
            bucket=sink.bucket,
            prefix=joined_prefix(sink.prefix, target.prefix),
            region=sink.region,
            access_key_id=sink.access_key_id,
            secret_access_key=self._cipher.decrypt(ciphertext),
            addressing_style=sink.addressing_style,
        )
        return sink, access

    def all_sinks(self) -> list[Sink]:
        """Return every project's sinks."""
        return self._sink_store.list_sinks()


SinkStoreFactory = Callable[[SinkAccess], ArtifactStore]
"""Opens an artifact store on a sink's bucket (built by bootstrap from the S3 adapter)."""


class ArtifactStores:
    """The artifact store of each task: the installation's own, or its sink's bucket."""

    def __init__(
        self,
        default: ArtifactStore,
        sinks: SinkService | None = None,
        open_sink_store: SinkStoreFactory | None = None,
    ) -> None:
        self.default = default
        self._sinks = sinks
        self._open_sink_store = open_sink_store
        self._opened: dict[tuple[str, str, str], tuple[Sink, ArtifactStore]] = {}
        self._lock = threading.Lock()

    def artifact_store_for(self, task: Task) -> ArtifactStore:
        """Return the store holding ``task``'s files.

        Raises SinkNotFoundError when the task's sink was removed since it was created.
        """
        target = task.spec.sink
        if target is None:
            return self.default
        return self._sink_store(task.project, target)

    def _sink_store(self, project: str, target: SinkTarget) -> ArtifactStore:
        if self._sinks is None or self._open_sink_store is None:
            raise SinkNotFoundError(
                f"sinks are not configured on this node (task sink {target.name!r})",
                project=project,
                sink=target.name,
            )
        sink, access = self._sinks.access(project, target)
        cache_key = (project, target.name, target.prefix)
        with self._lock:
            opened = self._opened.get(cache_key)
            if opened is not None and opened[0] == sink:
                return opened[1]
        store = self._open_sink_store(access)
        with self._lock:
            self._opened[cache_key] = (sink, store)
        return store

    def sweepable_stores(self) -> list[ArtifactStore]:
        """Return the default store and one store per registered sink (whole bucket prefix), for
        the janitor's sweep of unfinished uploads."""
        stores = [self.default]
        if self._sinks is None or self._open_sink_store is None:
            return stores
        for sink in self._sinks.all_sinks():
            try:
                stores.append(self._sink_store(sink.project, SinkTarget(name=sink.name)))
            except LogsluiceError as error:  # removed meanwhile, or its secret unreadable here
                _LOGGER.warning(
                    "sink.unusable", project=sink.project, sink=sink.name, error=str(error)
                )
        return stores

    def direct_link(self, task: Task, expires_at: datetime) -> str | None:
        """Return a direct (presigned) URL of the task's file until ``expires_at``, or None when
        its store leaves links to logsluice."""
        store = self.artifact_store_for(task)
        make_link = getattr(store, "link", None)  # the parts interface's link(), where present
        if make_link is None or task.artifact_key is None:
            return None
        file_name = task.artifact_key.rsplit("/", 1)[-1]
        url = make_link(task.artifact_key, filename=file_name, expires_at=expires_at)
        return str(url) if url else None


def remove_task_files(stores: ArtifactStores, task: Task) -> None:
    """Remove every file of ``task`` (artifact, manifest, columns, parts, unfinished uploads)
    from its store; a task whose sink was removed since keeps its files there (none reachable)."""
    try:
        store = stores.artifact_store_for(task)
    except SinkNotFoundError:
        _LOGGER.warning("task.files_unreachable", task_id=task.id, sink=str(task.spec.sink))
        return
    for key in all_keys(task):
        store.delete(key)
