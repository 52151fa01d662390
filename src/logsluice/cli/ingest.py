"""``logsluice ingest``: stream record files to a logstore in chunks, with progress and a summary.

Each chunk (131,072 records by default) is one zstd-compressed JSON Lines request, so it is stored
atomically on its own; rejected lines are reported with their line numbers in the file.

Each chunk carries an ``Idempotency-Key`` derived from what it holds and where: the SHA-256 of its
first line number, its media type and its records. The chunks of a file are cut the same way
every time, so running the same command again after a crash or a kill (of the CLI or the server)
sends the same keys: chunks stored before are answered from their receipts and stored once
(ADR 0022). A file renamed or read from stdin keeps its keys; a file with lines added at its end
keeps the keys of its unchanged chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import zstandard
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from logsluice.cli import exit_codes
from logsluice.cli.client import ApiClient, ApiError, ClientConfig, path_of
from logsluice.cli.options import (
    api_client,
    client_options,
    json_option,
    print_json,
    project_option,
)
from logsluice.cli.record_files import (
    JSON_LINES_TYPE,
    RECORD_FORMATS,
    RecordChunk,
    RecordFile,
    RecordFileError,
    detect_format,
)

DEFAULT_CHUNK_RECORDS = 131_072
SUMMARY_ERRORS_SHOWN = 20
ZSTD_LEVEL = 3


def compressed(body: bytes) -> bytes:
    """Return a chunk's records as the CLI sends them: one zstd frame."""
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)


def send_records(client: ApiClient, project: str, logstore: str, jsonl: bytes) -> dict[str, Any]:
    """Send JSON Lines records (zstd-compressed) to a logstore and return the server's ingest
    result."""
    return send_compressed(client, project, logstore, compressed(jsonl))


def send_compressed(
    client: ApiClient,
    project: str,
    logstore: str,
    body: bytes,
    *,
    logstream: str | None = None,
    strict: bool = False,
    time_format: str | None = None,
    content_type: str = JSON_LINES_TYPE,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Send records compressed by :func:`compressed` (JSON Lines unless ``content_type`` says
    Parquet) to a logstore and return the server's ingest result. With ``idempotency_key``,
    sending the same records again with the same key stores them once."""
    params: dict[str, str] = {"strict": "true" if strict else "false"}
    if logstream:
        params["logstream"] = logstream
    if time_format:
        params["time_format"] = time_format
    headers = {"Content-Type": content_type, "Content-Encoding": "zstd"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    response: dict[str, Any] = client.request(
        "POST",
        path_of("projects", project, "logstores", logstore, "records"),
        params=params,
        content=body,
        headers=headers,
    )
    return response


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk ready to send: its records compressed, its key, and how far the file was read."""

    chunk: RecordChunk
    body: bytes
    key: str
    position: int


def prepared_chunks(record_file: RecordFile, chunk_records: int) -> Iterator[PreparedChunk]:
    """Yield the file's chunks compressed and keyed, each read and compressed on a thread of its
    own while the one before is sent: the server stores one chunk while the next is made, not
    after (zstd and sha256 run without the GIL)."""
    chunks = record_file.chunks(chunk_records)

    def prepare() -> PreparedChunk | None:
        chunk = next(chunks, None)
        if chunk is None:
            return None
        return PreparedChunk(chunk, compressed(chunk.body), chunk_key(chunk), record_file.position)

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="logsluice-ingest") as pool:
            upcoming = pool.submit(prepare)
            while (ready := upcoming.result()) is not None:
                upcoming = pool.submit(prepare)
                yield ready
    finally:
        chunks.close()  # after the pool's thread is done with it: closes the file


@dataclass
class FileSummary:
    """What happened to one file: records accepted and rejected, first errors with file lines."""

    path: str
    accepted: int = 0
    rejected: int = 0
    past_retention: int = 0
    retention_days: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, chunk: RecordChunk, result: dict[str, Any]) -> None:
        self.accepted += int(result["accepted"])
        self.rejected += int(result["rejected"])
        self.past_retention += int(result.get("past_retention", 0))
        self.retention_days = int(result.get("retention_days", 0))
        for error in result["errors"]:
            self.errors.append(
                {"line": chunk.file_line(int(error["line"])), "message": error["message"]}
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "past_retention": self.past_retention,
            "errors": self.errors,
        }


def chunk_key(chunk: RecordChunk) -> str:
    """The idempotency key of a chunk: a hash of its first line number, media type and records."""
    digest = hashlib.sha256(f"{chunk.first_line}\0{chunk.content_type}\0".encode())
    digest.update(chunk.body)
    return f"chunk-{digest.hexdigest()}"


def _ingest_file(
    client: ApiClient,
    record_file: RecordFile,
    progress: Progress,
    options: dict[str, Any],
    summary: FileSummary,
) -> None:
    task = progress.add_task(record_file.path.name, total=record_file.size)
    for ready in prepared_chunks(record_file, options["chunk_records"]):
        result = send_compressed(
            client,
            options["project"],
            options["logstore"],
            ready.body,
            logstream=options["logstream"],
            strict=options["strict"],
            time_format=options["time_format"],
            content_type=ready.chunk.content_type,
            idempotency_key=ready.key,
        )
        summary.add(ready.chunk, result)
        progress.update(task, completed=ready.position)
    progress.update(task, completed=record_file.size)


def _print_summary(summaries: list[FileSummary]) -> None:
    console = Console(stderr=True)
    for summary in summaries:
        console.print(f"{summary.path}: {summary.accepted} accepted, {summary.rejected} rejected")
        for error in summary.errors[:SUMMARY_ERRORS_SHOWN]:
            console.print(f"  {summary.path}:{error['line']}: {error['message']}", markup=False)
        hidden = summary.rejected - min(len(summary.errors), SUMMARY_ERRORS_SHOWN)
        if hidden > 0:
            console.print(f"  … and {hidden} more rejected records")
    _warn_past_retention(summaries)


def _warn_past_retention(summaries: list[FileSummary]) -> None:
    past = sum(summary.past_retention for summary in summaries)
    if not past:
        return
    days = max(summary.retention_days for summary in summaries)
    click.echo(
        f"warning: {past:,} of the stored records are older than the logstore's retention of "
        f"{days} days: the next retention run (hourly by default) deletes them. Create the "
        "logstore with a longer --retention-days to keep them.",
        err=True,
    )


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@project_option()
@click.option("--logstore", "-l", required=True, help="The logstore to append to.")
@click.option("--logstream", default=None, help="Logstream label of every record.")
@click.option(
    "--format",
    "record_format",
    type=click.Choice(RECORD_FORMATS),
    default=None,
    help="Format of the files; default from the name (.jsonl, .csv, .parquet[.gz|.zst]).",
)
@click.option("--strict", is_flag=True, help="Refuse a whole chunk when one of its lines is bad.")
@click.option(
    "--time-format",
    default=None,
    help="strptime format of text times, e.g. '%d/%b/%Y:%H:%M:%S %z' (%f after %S for "
    "fractions); default: RFC 3339/ISO 8601, epochs, nginx/Apache and syslog are recognised.",
)
@click.option(
    "--chunk-records",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_RECORDS,
    show_default=True,
    help="Records per request.",
)
@client_options
@json_option
def ingest(
    client_config: ClientConfig,
    files: tuple[Path, ...],
    record_format: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Append the records of FILES (JSON Lines, CSV or Parquet, optionally .gz/.zst) to a logstore.

    Exits 0 when every record was stored, 4 when some were rejected (listed with file and line).
    """
    try:
        record_files = [RecordFile(path, *detect_format(path, record_format)) for path in files]
    except RecordFileError as error:
        raise click.UsageError(str(error)) from error
    summaries: list[FileSummary] = []
    with api_client(client_config) as client, _progress(disabled=as_json) as progress:
        for record_file in record_files:
            summaries.append(FileSummary(path=str(record_file.path)))
            try:
                _ingest_file(client, record_file, progress, options, summaries[-1])
            except RecordFileError as error:
                _print_summary(summaries)
                raise click.ClickException(str(error)) from error
            except ApiError:
                _print_summary(summaries)  # what was stored before the refused chunk
                raise
    if as_json:
        print_json(_json_summary(summaries))
        _warn_past_retention(summaries)
    else:
        _print_summary(summaries)
    if any(summary.rejected for summary in summaries):
        raise SystemExit(exit_codes.RECORDS_REJECTED)


def _json_summary(summaries: list[FileSummary]) -> dict[str, Any]:
    return {
        "accepted": sum(summary.accepted for summary in summaries),
        "rejected": sum(summary.rejected for summary in summaries),
        "past_retention": sum(summary.past_retention for summary in summaries),
        "files": [summary.as_dict() for summary in summaries],
    }


def _progress(*, disabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=disabled,
    )
