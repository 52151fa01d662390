"""Ingestion: one request's records decoded, checked and appended to a logstore as one batch.

A batch is atomic. Without ``strict`` every valid record is stored and each bad line is reported
by its number; with ``strict`` one bad line refuses the whole batch and nothing is stored. Records
are decoded in chunks, up to a bound on their decoded size, and appended together in one log-store
call, so a failure leaves the logstore as it was.

A request may carry an idempotency key (ADR 0022): its receipt (the key, a fingerprint of the body
and options, and the answer) is stored by the log store in the transaction that stores the records,
so a request retried with the same key after any failure is stored exactly once and answered as the
first was; the same key with another body is a conflict. Receipts are kept for the key retention.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import zstandard

from logsluice.domain.catalog import FieldType, widen
from logsluice.domain.errors import (
    AppendKeyTakenError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    InvalidRecordsError,
    PayloadTooLargeError,
    TooManyFieldsError,
)
from logsluice.pipeline.decode import InputFormat, LineError, decode_records
from logsluice.pipeline.decode_columns import as_text
from logsluice.pipeline.decode_types import DecodeOptions
from logsluice.ports import AppendReceipt, CatalogStore, Clock, RecordAppender

_SNIFF_BYTES = 256
# An idempotency key: 1 to 255 visible ASCII characters (a UUID, a hash, a file offset…).
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
DEFAULT_KEY_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class RejectedLine:
    """A line (JSON Lines) or element (JSON array), 1-based, that was not stored, and why."""

    line: int
    message: str


@dataclass(frozen=True)
class IngestResult:
    """What happened to one batch. ``errors`` holds at most the configured number of lines.

    ``past_retention`` counts the stored records already older than the logstore's retention:
    the next retention pass deletes them.
    """

    accepted: int
    rejected: int
    errors: list[RejectedLine]
    past_retention: int = 0
    retention_days: int = 0
    replayed: bool = False  # the answer recorded for an idempotency key already used

    @property
    def errors_truncated(self) -> bool:
        return len(self.errors) < self.rejected

    def as_receipt_text(self) -> str:
        """The result as the JSON text an append receipt keeps."""
        errors = [[error.line, error.message] for error in self.errors]
        fields = (self.accepted, self.rejected, errors, self.past_retention, self.retention_days)
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_receipt_text(cls, text: str) -> IngestResult:
        """The result kept by :meth:`as_receipt_text`, marked as replayed."""
        accepted, rejected, errors, past_retention, retention_days = json.loads(text)
        return cls(
            accepted=int(accepted),
            rejected=int(rejected),
            errors=[RejectedLine(int(line), str(message)) for line, message in errors],
            past_retention=int(past_retention),
            retention_days=int(retention_days),
            replayed=True,
        )


@dataclass(frozen=True)
class IngestLimits:
    """Bounds of one batch: decoded size (Arrow bytes), how many bad lines a response lists and
    how many distinct fields its records may have."""

    max_decoded_bytes: int
    max_errors_reported: int
    max_fields: int | None = None
    key_retention: timedelta = DEFAULT_KEY_RETENTION


class IngestService:
    """Decodes request bodies into records and appends them to logstores."""

    def __init__(
        self,
        catalog_store: CatalogStore,
        log_store: RecordAppender,
        clock: Clock,
        limits: IngestLimits,
    ) -> None:
        self._catalog_store = catalog_store
        self._log_store = log_store
        self._clock = clock
        self._limits = limits

    def ingest(
        self,
        project: str,
        logstore: str,
        data: bytes,
        *,
        record_format: InputFormat | None = None,
        content_encoding: str | None = None,
        logstream: str | None = None,
        strict: bool = False,
        time_format: str | None = None,
        idempotency_key: str | None = None,
    ) -> IngestResult:
        """Decode ``data`` (JSON array or JSON Lines, optionally gzip/zstd) and store its records.

        ``record_format`` None sniffs a JSON array (``[`` first) or JSON Lines; ``time_format``
        (strptime) reads text times instead of the known formats. Returns the counts, the first
        rejected lines and how many stored records are already past retention. Raises
        ProjectNotFoundError, LogstoreNotFoundError, PayloadTooLargeError (decoded batch too
        large), InvalidInputError (undecodable body, bad ``time_format``, malformed key), with
        ``strict`` InvalidRecordsError listing the bad lines, and IdempotencyKeyReusedError for an
        ``idempotency_key`` already used with another body or options. A key already used with
        the same request returns the first answer (``replayed``) and stores nothing.
        """
        target = self._catalog_store.get_logstore(project, logstore)
        key = None
        if idempotency_key is not None:
            fingerprint = request_fingerprint(
                data, record_format, content_encoding, logstream, strict, time_format
            )
            key = _check_key(idempotency_key), fingerprint
            replayed = self._replay(project, logstore, *key)
            if replayed is not None:
                return replayed
        options = DecodeOptions(target.time_field, logstream, self._clock.now(), time_format)
        tables, errors = self._decode(data, options, record_format, content_encoding)
        if strict and errors:
            raise InvalidRecordsError(
                f"{len(errors)} records refused; nothing was stored",
                errors=[error.as_detail() for error in errors[: self._limits.max_errors_reported]],
                refused=len(errors),
            )
        records = combine_tables(tables) if tables else None
        cutoff = options.arrival_time - timedelta(days=target.retention_days)
        result = IngestResult(
            accepted=records.num_rows if records else 0,
            rejected=len(errors),
            errors=[
                RejectedLine(error.line, error.message)
                for error in errors[: self._limits.max_errors_reported]
            ],
            past_retention=_older_than(records, target.time_field, cutoff),
            retention_days=target.retention_days,
        )
        if records:
            return self._append(project, logstore, records, result, key)
        return result

    def forget_expired_keys(self) -> int:
        """Forget the idempotency keys older than the key retention; return how many."""
        return self._log_store.forget_receipts(self._clock.now() - self._limits.key_retention)

    def _replay(
        self, project: str, logstore: str, key: str, fingerprint: str
    ) -> IngestResult | None:
        receipt = self._log_store.append_receipt(project, logstore, key)
        if receipt is None:
            return None
        if receipt.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(
                f"idempotency key {key!r} was used at {receipt.recorded_at.isoformat()} for "
                "another request (another body or options); use a new key for new records",
                key=key,
            )
        return IngestResult.from_receipt_text(receipt.response)

    def _append(
        self,
        project: str,
        logstore: str,
        records: pa.Table,
        result: IngestResult,
        key: tuple[str, str] | None,
    ) -> IngestResult:
        if key is None:
            accepted = self._log_store.append(project, logstore, records)
            return replace(result, accepted=accepted)
        receipt = AppendReceipt(*key, result.as_receipt_text(), self._clock.now())
        try:
            self._log_store.append(project, logstore, records, receipt=receipt)
        except AppendKeyTakenError:
            replayed = self._replay(project, logstore, *key)  # a twin request committed first
            if replayed is None:
                raise
            return replayed
        return result

    def _decode(
        self,
        data: bytes,
        options: DecodeOptions,
        record_format: InputFormat | None,
        content_encoding: str | None,
    ) -> tuple[list[pa.Table], list[LineError]]:
        # Strictness is applied by the caller, so memory stays bounded by the limit below.
        tables: list[pa.Table] = []
        errors: list[LineError] = []
        decoded_bytes = 0
        fields: set[str] = set()
        for chunk in decode_records(
            data,
            format=record_format or sniff_format(data, content_encoding),
            content_encoding=content_encoding,
            time_field=options.time_field,
            logstream=options.logstream,
            arrival_time=options.arrival_time,
            strict=False,
            time_format=options.time_format,
            max_fields=self._limits.max_fields,
            max_input_bytes=self._limits.max_decoded_bytes,
        ):
            fields.update(name.lower() for name in chunk.table.column_names)
            self._check_fields(len(fields))
            decoded_bytes += chunk.table.nbytes
            if decoded_bytes > self._limits.max_decoded_bytes:
                raise PayloadTooLargeError(
                    f"the decoded records exceed {self._limits.max_decoded_bytes:,} bytes "
                    "(LOGSLUICE_INGEST_MAX_DECODED_BYTES); send the records in smaller batches",
                    limit_bytes=self._limits.max_decoded_bytes,
                    setting="LOGSLUICE_INGEST_MAX_DECODED_BYTES",
                )
            if chunk.table.num_rows:
                tables.append(chunk.table)
            errors.extend(chunk.errors)
        return tables, errors

    def _check_fields(self, fields: int) -> None:
        """Refuse records of more distinct fields than the limit (CSV and Parquet columns; JSON
        is checked as it is decoded, before it can grow)."""
        limit = self._limits.max_fields
        if limit is not None and fields > limit:
            raise TooManyFieldsError(
                f"the records have {fields} distinct fields, more than the limit of {limit} "
                "(LOGSLUICE_INGEST_MAX_FIELDS); nothing was stored",
                limit=limit,
                setting="LOGSLUICE_INGEST_MAX_FIELDS",
            )


def request_fingerprint(
    data: bytes,
    record_format: InputFormat | None,
    content_encoding: str | None,
    logstream: str | None,
    strict: bool,
    time_format: str | None,
) -> str:
    """Return the SHA-256 of a request's body and of every option that changes what it stores."""
    options = [record_format, (content_encoding or "").strip().lower(), logstream, strict]
    digest = hashlib.sha256(json.dumps([*options, time_format]).encode())
    digest.update(b"\0")
    digest.update(data)
    return digest.hexdigest()


def _check_key(key: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInputError(
            "the Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)",
            field="Idempotency-Key",
        )
    return key


def _older_than(records: pa.Table | None, time_field: str, cutoff: datetime) -> int:
    if records is None or records.num_rows == 0:
        return 0
    lowered = time_field.lower()
    name = next(name for name in records.column_names if name.lower() == lowered)
    older = pc.less(records.column(name), pa.scalar(cutoff, type=records.schema.field(name).type))
    return int(pc.sum(older).as_py() or 0)


def sniff_format(data: bytes, content_encoding: str | None) -> InputFormat:
    """Return ``json`` when the (decompressed) body starts with ``[``, else ``jsonl``."""
    head = _decompressed_head(data, content_encoding).lstrip()
    return "json" if head.startswith(b"[") else "jsonl"


def _decompressed_head(data: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.GzipFile(fileobj=io.BytesIO(data)).read(_SNIFF_BYTES)
        if encoding == "zstd":
            return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError):
        return b""  # decode_records reports the corrupt input properly
    return data[:_SNIFF_BYTES]


def combine_tables(tables: list[pa.Table]) -> pa.Table:
    """Return one table of all ``tables``, each clashing column widened as the log store would.

    Numbers widen to float64 (Arrow's permissive promotion); a column that is text in one chunk
    and not in another becomes text everywhere, so no value is lost between chunks.
    """
    textual = _columns_needing_text(tables)
    if textual:
        tables = [_cast_to_text(table, textual) for table in tables]
    return pa.concat_tables(tables, promote_options="permissive")


def _columns_needing_text(tables: list[pa.Table]) -> set[str]:
    widened: dict[str, FieldType] = {}
    for table in tables:
        for arrow_field in table.schema:
            field_type = _field_type(arrow_field.type)
            if field_type is not None:
                current = widened.get(arrow_field.name, field_type)
                widened[arrow_field.name] = widen(current, field_type)
    return {
        name
        for name, field_type in widened.items()
        if field_type is FieldType.VARCHAR
        and any(
            name in table.column_names and not pa.types.is_string(table.schema.field(name).type)
            for table in tables
        )
    }


def _field_type(arrow_type: pa.DataType) -> FieldType | None:
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        element = _field_type(arrow_type.value_type)
        return None if element is None else element.as_list()
    if pa.types.is_boolean(arrow_type):
        return FieldType.BOOLEAN
    if pa.types.is_integer(arrow_type):
        return FieldType.INTEGER if arrow_type == pa.int32() else FieldType.BIGINT
    if pa.types.is_floating(arrow_type):
        return FieldType.DOUBLE
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return FieldType.VARCHAR
    return None  # timestamps (the time field) and nulls need no widening here


def _cast_to_text(table: pa.Table, names: set[str]) -> pa.Table:
    for name in names & set(table.column_names):
        index = table.column_names.index(name)
        table = table.set_column(index, name, as_text(table.column(name)))
    return table
