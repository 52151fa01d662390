"""Serving a signed link: check the token, find the artifact, read it by byte ranges.

The token is the only credential (no bearer token), so it is verified first; a task deleted or
expired since the link was signed, or an artifact gone from the store, is "gone" rather than "not
found", because the link did point at a file once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from logsluice.domain.errors import (
    ArtifactGoneError,
    ArtifactNotFoundError,
    SinkNotFoundError,
    TaskNotFoundError,
)
from logsluice.domain.tasks import TaskStatus
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import TaskReader
from logsluice.services.links import LinkSigner
from logsluice.services.sinks import ArtifactStores
from logsluice.services.tasks import read_manifest


@dataclass(frozen=True)
class Download:
    """An artifact a link grants: where it is, its file name, size and sha256 (the ETag)."""

    key: str
    file_name: str
    size_bytes: int
    sha256: str
    store: ArtifactStore = field(repr=False, compare=False)


class DownloadService:
    """Turns link tokens into artifact bytes."""

    def __init__(
        self,
        task_store: TaskReader,
        artifact_store: ArtifactStore,
        link_signer: LinkSigner,
        artifact_stores: ArtifactStores | None = None,
    ) -> None:
        """``artifact_stores`` finds each task's store (default: ``artifact_store`` for all)."""
        self._task_store = task_store
        self._artifact_stores = artifact_stores or ArtifactStores(artifact_store)
        self._link_signer = link_signer

    def open(self, token: str) -> Download:
        """Return the artifact ``token`` grants.

        Raises LinkInvalidError (tampered), LinkExpiredError, ArtifactGoneError (task deleted or
        expired, file removed).
        """
        claims = self._link_signer.verify(token)
        try:
            task = self._task_store.get_task(claims.project, claims.task_id)
        except TaskNotFoundError as error:
            raise ArtifactGoneError("the task of this link was deleted") from error
        if task.status != TaskStatus.SUCCEEDED or task.artifact_key != claims.artifact_key:
            raise ArtifactGoneError("the file of this link has expired or was removed")
        try:
            store = self._artifact_stores.artifact_store_for(task)
        except SinkNotFoundError as error:
            raise ArtifactGoneError("the sink holding the file of this link was removed") from error
        sha256 = str(read_manifest(store, task)["sha256"])
        try:
            size_bytes = store.size(claims.artifact_key)
        except ArtifactNotFoundError as error:
            raise ArtifactGoneError("the file of this link was removed") from error
        return Download(
            key=claims.artifact_key,
            file_name=claims.artifact_key.rsplit("/", 1)[-1],
            size_bytes=size_bytes,
            sha256=sha256,
            store=store,
        )

    def read(self, download: Download, start_bytes: int, end_bytes: int) -> Iterator[bytes]:
        """Yield the bytes ``[start_bytes, end_bytes)`` of the artifact."""
        return download.store.read(download.key, start_bytes, end_bytes)
