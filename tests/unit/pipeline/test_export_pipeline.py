"""Round trips of every format × compression through the export driver; limits, stops, resumes."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from export_samples import (
    check_rows,
    decompress,
    expected_rows,
    make_slices,
    reader_factory,
    sample_table,
)

from logsluice.adapters.artifacts import LocalArtifactStore
from logsluice.adapters.artifacts.encoders import build_encoder
from logsluice.domain.export import Compression, ExportFormat, Order
from logsluice.pipeline.compressors import build_compressor
from logsluice.pipeline.export import (
    ENCODING_THREADS,
    ExportOutcome,
    ResumePoint,
    SliceResult,
    export_slices,
)
from logsluice.pipeline.slices import Slice

KEY = "project-a/task-1/export"
FORMATS = list(ExportFormat)
COMPRESSIONS = list(Compression)
CASES = [
    (export_format, compression)
    for export_format in FORMATS
    for compression in COMPRESSIONS
    if export_format is not ExportFormat.PARQUET or compression is Compression.NONE
]


def run_export(
    store: LocalArtifactStore, export_format: ExportFormat, compression: Compression, **options
):  # type: ignore[no-untyped-def]
    table = options.pop("table", None)
    table = sample_table() if table is None else table
    order = options.pop("order", Order.ASC)
    slices = options.pop("slices", None) or make_slices(order)
    return export_slices(
        slices,
        options.pop("open_reader", None) or reader_factory(table, order),
        build_encoder(export_format, time_zone=options.pop("time_zone", "UTC")),
        build_compressor(compression),
        store,
        options.pop("key", KEY),
        **options,
    )


def published(store: LocalArtifactStore, key: str = KEY) -> bytes:
    return b"".join(store.read(key))


@pytest.mark.parametrize(("export_format", "compression"), CASES)
def test_round_trip_gives_every_row_in_order(tmp_path: Path, export_format, compression) -> None:
    store = LocalArtifactStore(tmp_path)
    result = run_export(store, export_format, compression)
    data = published(store)
    assert result.outcome is ExportOutcome.COMPLETE
    assert result.rows == 1200
    assert [item.slice.index for item in result.slices] == [0, 1, 2]
    check_rows(decompress(data, compression), export_format, expected_rows(sample_table()))
    assert result.artifact is not None
    assert result.artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert result.artifact.md5 == hashlib.md5(data).hexdigest()
    assert result.artifact.size_bytes == len(data)


@pytest.mark.parametrize("export_format", FORMATS)
def test_descending_order_writes_newest_first(tmp_path: Path, export_format) -> None:
    store = LocalArtifactStore(tmp_path)
    run_export(store, export_format, Compression.NONE, order=Order.DESC)
    check_rows(published(store), export_format, expected_rows(sample_table(), Order.DESC))


@pytest.mark.parametrize(
    ("compression", "command"),
    [(Compression.GZIP, "gzip"), (Compression.ZSTD, "zstd"), (Compression.LZ4, "lz4")],
)
def test_command_line_tools_decode_concatenated_frames(
    tmp_path: Path, compression, command
) -> None:
    if shutil.which(command) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{command} is required under CI=true (make install provides it)")
        pytest.skip(f"{command} is not installed")
    store = LocalArtifactStore(tmp_path)
    run_export(store, ExportFormat.JSONL, compression)
    data = published(store)
    decoded = subprocess.run([command, "-dc"], input=data, capture_output=True, check=True).stdout
    assert decoded == decompress(data, compression)
    check_rows(decoded, ExportFormat.JSONL, expected_rows(sample_table()))


def test_nothing_is_published_before_finalize(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    seen: list[bool] = []
    run_export(
        store,
        ExportFormat.CSV,
        Compression.ZSTD,
        on_slice_done=lambda _: seen.append(store.exists(KEY)),
    )
    assert seen == [False, False, False]
    assert store.exists(KEY)


def test_empty_result_still_makes_valid_files(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    empty = sample_table().slice(0, 0)
    for export_format in FORMATS:
        key = f"p/t/empty.{export_format}"
        result = run_export(
            store,
            export_format,
            Compression.ZSTD if export_format is not ExportFormat.PARQUET else Compression.NONE,
            table=empty,
            key=key,
        )
        assert result.rows == 0
        assert result.outcome is ExportOutcome.COMPLETE
    data = decompress(published(store, "p/t/empty.csv"), Compression.ZSTD)
    assert data == b'"ts","level","status","latency","ok","message"\n'
    assert decompress(published(store, "p/t/empty.jsonl"), Compression.ZSTD) == b""
    check_rows(published(store, "p/t/empty.parquet"), ExportFormat.PARQUET, [])


# --- limit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("export_format", FORMATS)
def test_limit_cuts_mid_slice_and_reports_truncation(tmp_path: Path, export_format) -> None:
    store = LocalArtifactStore(tmp_path)
    result = run_export(store, export_format, Compression.NONE, limit=450)
    assert result.outcome is ExportOutcome.TRUNCATED
    assert result.rows == 450
    assert [item.rows for item in result.slices] == [400, 50]
    check_rows(published(store), export_format, expected_rows(sample_table())[:450])


def test_limit_at_a_slice_end_with_more_rows_later_is_truncated(tmp_path: Path) -> None:
    result = run_export(LocalArtifactStore(tmp_path), ExportFormat.CSV, Compression.NONE, limit=400)
    assert result.outcome is ExportOutcome.TRUNCATED
    assert result.rows == 400


def test_limit_equal_to_all_rows_is_complete(tmp_path: Path) -> None:
    result = run_export(
        LocalArtifactStore(tmp_path), ExportFormat.CSV, Compression.NONE, limit=1200
    )
    assert result.outcome is ExportOutcome.COMPLETE
    assert result.rows == 1200


# --- stop and resume -----------------------------------------------------------------------------


class CrashError(Exception):
    """Stands in for the process dying mid-slice."""


def crashing_reader(open_reader, crash_index: int, batches: int = 2):  # type: ignore[no-untyped-def]
    """Serve slices normally, but die after ``batches`` batches of slice ``crash_index``."""

    def open_crashing(item: Slice) -> pa.RecordBatchReader:
        reader = open_reader(item)
        if item.index != crash_index:
            return reader

        def served() -> Iterator[pa.RecordBatch]:
            for _ in range(batches):
                yield reader.read_next_batch()
            raise CrashError

        return pa.RecordBatchReader.from_batches(reader.schema, served())

    return open_crashing


@pytest.mark.parametrize(("export_format", "compression"), CASES)
@pytest.mark.parametrize("crash_index", [0, 1, 2])
def test_resume_after_a_crash_equals_an_uninterrupted_run_byte_for_byte(
    tmp_path: Path, export_format, compression, crash_index
) -> None:
    reference = LocalArtifactStore(tmp_path / "reference")
    run_export(reference, export_format, compression)
    store = LocalArtifactStore(tmp_path / "crashed")
    table = sample_table()
    done: list[SliceResult] = []
    with pytest.raises(CrashError):
        run_export(
            store,
            export_format,
            compression,
            open_reader=crashing_reader(reader_factory(table), crash_index),
            on_slice_done=done.append,
        )
    assert not store.exists(KEY)
    resume = ResumePoint(crash_index, done[-1].checkpoint) if done else None
    result = run_export(store, export_format, compression, resume_from=resume)
    assert published(store) == published(reference)
    check_rows(decompress(published(store), compression), export_format, expected_rows(table))
    assert result.rows == 1200
    assert result.artifact is not None
    assert result.artifact.sha256 == hashlib.sha256(published(store)).hexdigest()
    assert result.artifact.md5 == hashlib.md5(published(store)).hexdigest()


def test_a_crash_leaves_bytes_past_the_checkpoint_that_resume_cuts_off(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    done: list[SliceResult] = []
    with pytest.raises(CrashError):
        run_export(
            store,
            ExportFormat.CSV,
            Compression.NONE,
            # more batches than the encoder runs ahead, so some reach the file before the crash
            open_reader=crashing_reader(
                reader_factory(sample_table(), batch_rows=25), 1, batches=ENCODING_THREADS + 3
            ),
            on_slice_done=done.append,
        )
    assert store.staging_size(KEY) > done[-1].checkpoint.offset_bytes
    run_export(
        store, ExportFormat.CSV, Compression.NONE, resume_from=ResumePoint(1, done[-1].checkpoint)
    )
    check_rows(published(store), ExportFormat.CSV, expected_rows(sample_table()))


@pytest.mark.parametrize("export_format", FORMATS)
def test_stop_request_stops_between_batches_and_the_run_resumes(
    tmp_path: Path, export_format
) -> None:
    store = LocalArtifactStore(tmp_path)
    done: list[SliceResult] = []
    calls = iter(range(10_000))
    result = run_export(
        store,
        export_format,
        Compression.ZSTD if export_format is not ExportFormat.PARQUET else Compression.NONE,
        on_slice_done=done.append,
        should_stop=lambda: next(calls) >= 6,
    )
    assert result.outcome is ExportOutcome.STOPPED
    assert len(done) == 1
    assert not store.exists(KEY)
    compression = (
        Compression.ZSTD if export_format is not ExportFormat.PARQUET else Compression.NONE
    )
    final = run_export(
        store, export_format, compression, resume_from=ResumePoint(1, done[-1].checkpoint)
    )
    assert final.outcome is ExportOutcome.COMPLETE
    assert final.rows == 1200
    check_rows(
        decompress(published(store), compression), export_format, expected_rows(sample_table())
    )


def test_bytes_written_are_reported_as_they_go_not_only_at_checkpoints(tmp_path: Path) -> None:
    events: list[tuple[str, int]] = []
    result = run_export(
        LocalArtifactStore(tmp_path),
        ExportFormat.CSV,
        Compression.NONE,
        on_bytes_written=lambda offset_bytes: events.append(("bytes", offset_bytes)),
        on_slice_done=lambda done: events.append(("checkpoint", done.end_offset_bytes)),
    )
    first_checkpoint = events.index(("checkpoint", result.slices[0].end_offset_bytes))
    during_first_slice = [value for kind, value in events[:first_checkpoint] if kind == "bytes"]
    assert len(set(during_first_slice)) > 2  # several batches, several growing figures
    assert during_first_slice == sorted(during_first_slice)
    assert during_first_slice[-1] == result.slices[0].end_offset_bytes
    assert result.artifact is not None
    assert events[-1] == ("bytes", result.artifact.size_bytes)


def tracked_reader(
    open_reader: Callable[[Slice], pa.RecordBatchReader], opened: list[int], closed: list[int]
) -> Callable[[Slice], pa.RecordBatchReader]:
    """Wrap ``open_reader`` so that the slices whose readers were opened and closed are listed."""

    def open_tracked(item: Slice) -> pa.RecordBatchReader:
        reader = open_reader(item)
        opened.append(item.index)

        def served() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            finally:
                closed.append(item.index)

        return pa.RecordBatchReader.from_batches(reader.schema, served())

    return open_tracked


@pytest.mark.parametrize("ending", ["complete", "stopped", "crashed"])
def test_every_reader_opened_is_closed_the_one_read_ahead_included(
    tmp_path: Path, ending: str
) -> None:
    opened: list[int] = []
    closed: list[int] = []
    table = sample_table()
    source = reader_factory(table, batch_rows=25)
    if ending == "crashed":
        source = crashing_reader(source, 2, batches=2)
    done: list[SliceResult] = []
    # a stop seen before slice 2, which is being read ahead since slice 1's batches were read
    should_stop = (lambda: len(done) == 2) if ending == "stopped" else None
    options = {"should_stop": should_stop} if should_stop else {}
    try:
        result = run_export(
            LocalArtifactStore(tmp_path),
            ExportFormat.CSV,
            Compression.NONE,
            open_reader=tracked_reader(source, opened, closed),
            on_slice_done=done.append,
            **options,
        )
    except CrashError:
        assert ending == "crashed"
    else:
        assert result.outcome is (
            ExportOutcome.STOPPED if ending == "stopped" else ExportOutcome.COMPLETE
        )
    assert opened == [0, 1, 2]  # in order, each once; a stopped run had slice 2 read ahead
    assert sorted(closed) == opened


def test_a_reader_failing_mid_slice_is_released_with_its_error_not_at_a_later_collection(
    tmp_path: Path,
) -> None:
    """A check that fails over a store's stream (records out of time order) must not keep the
    stream (an engine query holding its memory) open until the garbage collector runs: the
    slice's sorted retry needs that memory."""
    closed: list[int] = []
    source = reader_factory(sample_table(), batch_rows=25)

    def open_checked(item: Slice) -> pa.RecordBatchReader:
        stream = source(item)

        def engine() -> Iterator[pa.RecordBatch]:
            try:
                yield from stream
            finally:
                closed.append(item.index)

        def checked(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for number, batch in enumerate(batches):
                if number == 2:
                    raise CrashError  # raised by a wrapper, the engine's generator suspended
                yield batch

        return pa.RecordBatchReader.from_batches(stream.schema, checked(engine()))

    gc.disable()
    try:
        failed = False
        try:
            run_export(
                LocalArtifactStore(tmp_path),
                ExportFormat.CSV,
                Compression.NONE,
                open_reader=open_checked,
            )
        except CrashError:
            failed = True
        assert failed
        assert closed == [0]
    finally:
        gc.enable()
