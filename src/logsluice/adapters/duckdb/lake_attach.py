"""How a process attaches a DuckLake: the extensions it loads, S3 access and the lake's options.

A lake needs DuckLake, its catalog's scanner and, for data on S3, httpfs (:func:`lake_extensions`;
the files come from the ``lake`` extra, :mod:`.extensions`). :func:`attach_lake` makes the local
catalog and data directories, creates the temporary S3 secret and upload settings, attaches the
lake as ``LAKE`` and stores the lake's write options in its catalog once (the first node to attach
does).
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import duckdb

from logsluice.adapters.duckdb.extensions import DUCKLAKE, HTTPFS, POSTGRES, SQLITE, Extension
from logsluice.adapters.duckdb.lake_location import LakeLocation

LAKE = "lake"
"""The name the lake is attached under in each process's DuckDB."""
_S3_CREDENTIALS = "logsluice_lake_s3"  # the name of a DuckDB secret, not a secret
LAKE_OPTIONS = {"parquet_row_group_size": 65_536}
"""Options stored in the lake's catalog. Row groups of 64 Ki rows (DuckDB's default is 122,880)
keep the buffers of one column chunk within a node's small cache limit and prune finer by time."""
# DuckDB buffers each part of an S3 upload in memory; its default part size (max file size over
# 10,000 parts, 80 MB) does not fit the cache limit of a node. 8 MB parts allow 80 GB files; a
# few uploads at once keep the buffers to tens of MB. DuckDB also keeps the bytes it reads from S3
# in its buffer pool (the external file cache), up to the memory limit: off, a node exporting
# from S3 peaks as low as one exporting local files (1 M-record task: 631-643 → 547-554 MiB, the
# same CPU); a file is read once per query anyway.
_S3_SETTINGS = (
    "SET GLOBAL s3_uploader_max_filesize = '80GB'",
    "SET GLOBAL s3_uploader_thread_limit = 4",
    "SET GLOBAL enable_external_file_cache = false",
)


def lake_extensions(location: LakeLocation) -> list[Extension]:
    """Return the extensions a lake needs: DuckLake, its catalog's scanner (PostgreSQL, SQLite;
    a DuckDB catalog needs none) and httpfs for data on S3. Only these are loaded: each one
    loaded holds 5-20 MiB of every node's memory."""
    needed = [DUCKLAKE]
    if location.metadata.startswith("postgres:"):
        needed.append(POSTGRES)
    elif location.metadata.startswith("sqlite:"):
        needed.append(SQLITE)
    if location.data_on_s3:
        needed.append(HTTPFS)
    return needed


def attach_lake(connection: duckdb.DuckDBPyConnection, location: LakeLocation) -> None:
    """Attach the lake at ``location`` to ``connection`` as ``LAKE`` (its extensions loaded)."""
    if location.local_catalog:
        catalog_file = Path(location.metadata.removeprefix("sqlite:"))
        catalog_file.parent.mkdir(parents=True, exist_ok=True)
    if not location.data_on_s3:
        Path(location.data_path).mkdir(parents=True, exist_ok=True)
    if location.s3 is not None:
        bucket = location.data_path.split("/", 3)[2]
        connection.execute(location.s3.secret_statement(_S3_CREDENTIALS, f"s3://{bucket}"))
        for setting in _S3_SETTINGS:
            connection.execute(setting)
    connection.execute(location.attach_statement(LAKE))
    connection.execute("SET GLOBAL TimeZone = 'UTC'")
    _set_lake_options(connection)


def _set_lake_options(connection: duckdb.DuckDBPyConnection) -> None:
    """Store the lake's write options in its catalog once (the first node to attach does)."""
    current = dict(
        connection.execute("SELECT option_name, value FROM ducklake_options(?)", [LAKE]).fetchall()
    )
    for name, value in LAKE_OPTIONS.items():
        if current.get(name) == str(value):
            continue
        with suppress(duckdb.TransactionException):  # another node set them at the same moment
            connection.execute("CALL ducklake_set_option(?, ?, ?)", [LAKE, name, value])
