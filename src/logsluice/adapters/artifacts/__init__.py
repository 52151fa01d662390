"""Artifact stores (where exported files are staged and published) and the encoder factory.

``build_artifact_store`` picks the store from a URL: ``file:///path`` (or a bare path) gives a
:class:`LocalArtifactStore`; an S3 store will join the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from logsluice.adapters.artifacts.local import LocalArtifactStore
from logsluice.domain.errors import InvalidInputError
from logsluice.pipeline.protocols import ArtifactStore


def _local_store(url: str, min_free_bytes: int) -> ArtifactStore:
    parts = urlsplit(url)
    return LocalArtifactStore(
        unquote(parts.path) if parts.scheme else url, min_free_bytes=min_free_bytes
    )


ARTIFACT_STORE_FACTORIES: dict[str, Callable[[str, int], ArtifactStore]] = {
    "": _local_store,
    "file": _local_store,
}


def build_artifact_store(url: str, *, min_free_bytes: int = 0) -> ArtifactStore:
    """Return the artifact store named by ``url``, keeping ``min_free_bytes`` free on its disk.

    Raises InvalidInputError for an unknown scheme.
    """
    scheme = urlsplit(url).scheme
    factory = ARTIFACT_STORE_FACTORIES.get(scheme)
    if factory is None:
        raise InvalidInputError(f"unsupported artifact store URL scheme {scheme!r}", url=url)
    return factory(url, min_free_bytes)


__all__ = ["ARTIFACT_STORE_FACTORIES", "LocalArtifactStore", "build_artifact_store"]
