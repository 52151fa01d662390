"""What a download task produces: output format, compression, order and CSV options."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


class Compression(enum.StrEnum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"
    LZ4 = "lz4"


class Order(enum.StrEnum):
    """Order of records by time: ``asc`` oldest first, ``desc`` newest first."""

    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class CsvOptions:
    """How CSV is written; ``escape_formulas`` defuses cells a spreadsheet would run as formulas."""

    header: bool = True
    delimiter: str = ","
    escape_formulas: bool = True
