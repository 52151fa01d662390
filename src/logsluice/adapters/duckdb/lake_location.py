"""Where a DuckLake lives, read from a ``ducklake:`` URL: its catalog, its data path, S3 access.

Forms (``docs/configuration.md``):

- ``ducklake:postgresql://user@host:5432/db?data_path=s3://bucket/prefix``: the catalog in a
  PostgreSQL database, the data in a bucket (any number of nodes on any hosts);
- ``ducklake:sqlite:///abs/catalog.sqlite?data_path=/abs/data``: a SQLite catalog (several
  processes of one host);
- ``ducklake:///abs/catalog.ducklake?data_path=/abs/data``: a DuckDB catalog file (one process).

``data_path`` may be a local directory or ``s3://bucket/prefix``. The S3 endpoint, region and
keys come from the URL's ``endpoint``, ``region``, ``access_key_id`` and ``secret_access_key``
parameters, else from ``AWS_ENDPOINT_URL``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``),
``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``. ``inline_rows`` sets DuckLake's data inlining
row limit (appends of fewer rows are stored in the catalog until compaction writes them out);
other query parameters of a PostgreSQL URL (``sslmode``…) pass on to the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from logsluice.adapters.duckdb.tables import quote_literal
from logsluice.domain.errors import InvalidInputError

_LAKE_PARAMETERS = (
    "data_path",
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "inline_rows",
)
_USAGE = (
    "use ducklake:postgresql://user@host/db?data_path=s3://bucket/prefix, "
    "ducklake:sqlite:///abs/catalog.sqlite?data_path=/abs/data or "
    "ducklake:///abs/catalog.ducklake?data_path=/abs/data"
)


@dataclass(frozen=True)
class S3Access:
    """How DuckDB reaches the bucket of a lake's data path."""

    endpoint: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None

    def secret_statement(self, name: str, scope: str) -> str:
        """Return the ``CREATE SECRET`` (temporary, in this process only) for ``scope``."""
        options = [
            "TYPE s3",
            f"REGION {quote_literal(self.region)}",
            f"SCOPE {quote_literal(scope)}",
        ]
        if self.access_key_id and self.secret_access_key:
            options += [
                f"KEY_ID {quote_literal(self.access_key_id)}",
                f"SECRET {quote_literal(self.secret_access_key)}",
            ]
        if self.endpoint:
            endpoint = urlsplit(self.endpoint)
            options += [
                f"ENDPOINT {quote_literal(endpoint.netloc)}",
                "URL_STYLE 'path'",
                f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}",
            ]
        return f"CREATE OR REPLACE TEMPORARY SECRET {name} ({', '.join(options)})"


@dataclass(frozen=True)
class LakeLocation:
    """A lake's catalog (DuckLake's metadata connection string), data path and S3 access."""

    metadata: str
    data_path: str
    s3: S3Access | None
    inline_rows: int
    local_catalog: bool  # a DuckDB or SQLite file: the store may create its directory

    def attach_statement(self, alias: str) -> str:
        """Return the ``ATTACH`` of this lake as ``alias``."""
        return (
            f"ATTACH {quote_literal('ducklake:' + self.metadata)} AS {alias} "
            f"(DATA_PATH {quote_literal(self.data_path)}, "
            f"DATA_INLINING_ROW_LIMIT {self.inline_rows})"
        )

    @property
    def data_on_s3(self) -> bool:
        return self.data_path.startswith("s3://")


def parse_lake_url(url: str, environment: Mapping[str, str]) -> LakeLocation:
    """Read a ``ducklake:`` URL; S3 settings it lacks come from ``environment``'s ``AWS_*``.

    Raises InvalidInputError for a malformed URL (no ``data_path``, a relative path…).
    """
    if not url.lower().startswith("ducklake:"):
        raise InvalidInputError(f"invalid DuckLake URL {url!r}: {_USAGE}", url=url)
    inner = urlsplit(url[len("ducklake:") :])
    parameters = dict(parse_qsl(inner.query, keep_blank_values=True))
    data_path = parameters.get("data_path", "")
    if not data_path or not (data_path.startswith(("s3://", "/"))):
        raise InvalidInputError(
            f"invalid DuckLake URL {url!r}: data_path must be s3://bucket/prefix or an absolute "
            f"directory; {_USAGE}",
            url=url,
        )
    metadata, local = _metadata(url, inner.scheme.lower(), inner, parameters)
    return LakeLocation(
        metadata=metadata,
        data_path=data_path.rstrip("/") + "/",
        s3=_s3_access(parameters, environment) if data_path.startswith("s3://") else None,
        inline_rows=_inline_rows(url, parameters.get("inline_rows", "0")),
        local_catalog=local,
    )


def _metadata(
    url: str, scheme: str, inner: SplitResult, parameters: Mapping[str, str]
) -> tuple[str, bool]:
    path = unquote(inner.path)
    if scheme in ("postgresql", "postgres"):
        return "postgres:" + _libpq_conninfo(inner, parameters), False
    if scheme in ("sqlite", "duckdb", "") and not inner.netloc and path.startswith("/"):
        return (f"sqlite:{path}" if scheme == "sqlite" else path), True
    raise InvalidInputError(f"invalid DuckLake URL {url!r}: {_USAGE}", url=url)


def _libpq_conninfo(inner: SplitResult, parameters: Mapping[str, str]) -> str:
    values: dict[str, str | None] = {
        "host": inner.hostname,
        "port": str(inner.port) if inner.port else None,
        "user": unquote(inner.username) if inner.username else None,
        "password": unquote(inner.password) if inner.password else None,
        "dbname": unquote(inner.path.lstrip("/")) or None,
    }
    values.update({k: v for k, v in parameters.items() if k not in _LAKE_PARAMETERS})
    return " ".join(f"{key}={_libpq_value(value)}" for key, value in values.items() if value)


def _libpq_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _s3_access(parameters: Mapping[str, str], environment: Mapping[str, str]) -> S3Access:
    return S3Access(
        endpoint=parameters.get("endpoint") or environment.get("AWS_ENDPOINT_URL") or None,
        region=parameters.get("region")
        or environment.get("AWS_REGION")
        or environment.get("AWS_DEFAULT_REGION")
        or "us-east-1",
        access_key_id=parameters.get("access_key_id") or environment.get("AWS_ACCESS_KEY_ID"),
        secret_access_key=parameters.get("secret_access_key")
        or environment.get("AWS_SECRET_ACCESS_KEY"),
    )


def _inline_rows(url: str, text: str) -> int:
    if not text.isdigit():
        raise InvalidInputError(
            f"invalid DuckLake URL {url!r}: inline_rows must be a whole number, not {text!r}",
            url=url,
        )
    return int(text)
