"""Choosing the encoder for a task's format: the one place that knows every implementation.

CSV and Parquet come from :mod:`logsluice.pipeline.encoders`; JSON Lines uses DuckDB, so the choice
is made here in the adapters layer and handed to the task runner by ``bootstrap``.
"""

from __future__ import annotations

from logsluice.adapters.artifacts.duckdb_jsonl import DuckDBJsonlEncoder
from logsluice.domain.export import CsvOptions, ExportFormat
from logsluice.pipeline.encoders import CsvEncoder, ParquetEncoder
from logsluice.pipeline.protocols import Encoder


def build_encoder(
    export_format: ExportFormat, *, time_zone: str = "UTC", csv_options: CsvOptions | None = None
) -> Encoder:
    """Return a fresh encoder for one artifact of ``export_format``.

    ``time_zone`` (IANA name) is how CSV and JSON Lines render timestamps; Parquet keeps them typed.
    """
    if export_format is ExportFormat.CSV:
        return CsvEncoder(csv_options or CsvOptions(), time_zone)
    if export_format is ExportFormat.JSONL:
        return DuckDBJsonlEncoder(time_zone)
    return ParquetEncoder()
