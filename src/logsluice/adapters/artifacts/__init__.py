"""Artifact stores (where exported files are staged and published) and the encoder factory.

``build_artifact_store`` picks the store from a URL: ``file:///path`` (or a bare path) gives a
:class:`LocalArtifactStore`; ``s3://bucket/prefix?endpoint=…&region=…`` an
:class:`S3ArtifactStore` on any S3-compatible object store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from logsluice.adapters.artifacts.local import LocalArtifactStore
from logsluice.adapters.artifacts.s3 import S3ArtifactStore
from logsluice.adapters.artifacts.s3_client import parse_s3_url
from logsluice.domain.errors import InvalidInputError
from logsluice.pipeline.protocols import ArtifactStore


@dataclass(frozen=True)
class StoreOptions:
    """How a store built from a URL behaves: the free disk space a local store keeps, and whether
    an object store hands out direct (presigned) links or leaves links to logsluice."""

    min_free_bytes: int = 0
    direct_links: bool = True


def _local_store(url: str, options: StoreOptions) -> ArtifactStore:
    parts = urlsplit(url)
    return LocalArtifactStore(
        unquote(parts.path) if parts.scheme else url, min_free_bytes=options.min_free_bytes
    )


def _s3_store(url: str, options: StoreOptions) -> ArtifactStore:
    return S3ArtifactStore(parse_s3_url(url), direct_links=options.direct_links)


ARTIFACT_STORE_FACTORIES: dict[str, Callable[[str, StoreOptions], ArtifactStore]] = {
    "": _local_store,
    "file": _local_store,
    "s3": _s3_store,
}


def build_artifact_store(
    url: str, *, min_free_bytes: int = 0, direct_links: bool = True
) -> ArtifactStore:
    """Return the artifact store named by ``url``, keeping ``min_free_bytes`` free on its disk
    (local) and handing out presigned links unless ``direct_links`` is False (S3).

    Raises InvalidInputError for an unknown scheme or a malformed URL.
    """
    scheme = urlsplit(url).scheme
    factory = ARTIFACT_STORE_FACTORIES.get(scheme)
    if factory is None:
        raise InvalidInputError(f"unsupported artifact store URL scheme {scheme!r}", url=url)
    return factory(url, StoreOptions(min_free_bytes=min_free_bytes, direct_links=direct_links))


__all__ = [
    "ARTIFACT_STORE_FACTORIES",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "StoreOptions",
    "build_artifact_store",
]
