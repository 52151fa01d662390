"""Parquet parts and their merged footer: read by pyarrow and DuckDB, resumable from a prefix."""

from __future__ import annotations

import io

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logsluice.domain.errors import ArtifactStagingError
from logsluice.pipeline.encoders import ROW_GROUP_ROWS, ParquetEncoder, dictionary_columns
from logsluice.pipeline.parquet_footer import encode_footer, read_footer


def batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.record_batch(
        {"n": list(range(start, start + rows)), "s": [f"v{i}" for i in range(start, start + rows)]}
    )


def write_parts(
    encoder: ParquetEncoder, out: bytearray, slices: list[list[pa.RecordBatch]]
) -> None:
    for batches in slices:
        for item in batches:
            out += encoder.encode(item)
        out += encoder.end_slice()


def test_parts_merge_into_one_file_that_pyarrow_and_duckdb_read(tmp_path) -> None:
    encoder = ParquetEncoder()
    out = bytearray(encoder.begin(batch(0, 1).schema))
    write_parts(encoder, out, [[batch(0, 10), batch(10, 5)], [], [batch(15, 7)]])
    out += encoder.end()
    file = pq.ParquetFile(io.BytesIO(bytes(out)))
    # small batches are buffered into one row group per slice (up to ROW_GROUP_ROWS rows each)
    assert [file.metadata.row_group(i).num_rows for i in range(2)] == [15, 7]
    assert file.metadata.num_rows == 22
    assert file.read().column("n").to_pylist() == list(range(22))
    assert b"logsluice.part_start" not in (file.schema_arrow.metadata or {})
    path = tmp_path / "x.parquet"
    path.write_bytes(bytes(out))
    assert duckdb.sql(f"SELECT count(*), sum(n) FROM '{path}'").fetchall() == [(22, sum(range(22)))]


def test_resume_recovers_the_parts_from_the_kept_prefix() -> None:
    first = ParquetEncoder()
    out = bytearray(first.begin(batch(0, 1).schema))
    write_parts(first, out, [[batch(0, 4)], [batch(4, 4)]])
    second = ParquetEncoder()
    prefix = bytes(out)
    second.resume(len(prefix), lambda start, end: prefix[start:end])
    write_parts(second, out, [[batch(8, 4)]])
    out += second.end()
    assert pq.read_table(io.BytesIO(bytes(out))).column("n").to_pylist() == list(range(12))


def test_resume_refuses_a_prefix_that_does_not_end_at_a_part() -> None:
    encoder = ParquetEncoder()
    out = bytearray(encoder.begin(batch(0, 1).schema))
    write_parts(encoder, out, [[batch(0, 4)]])
    prefix = bytes(out[:-3])
    with pytest.raises(ArtifactStagingError):
        ParquetEncoder().resume(len(prefix), lambda start, end: prefix[start:end])


def test_footer_codec_round_trips_a_real_footer() -> None:
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"n": [1, 2, None], "b": [True, False, None]}), sink, compression="zstd"
    )
    data = sink.getvalue()
    length = int.from_bytes(data[-8:-4], "little")
    footer = data[-8 - length : -8]
    assert encode_footer(read_footer(footer)) == footer


def test_batches_are_buffered_into_row_groups_of_the_configured_size() -> None:
    encoder = ParquetEncoder()
    out = bytearray(encoder.begin(batch(0, 1).schema))
    batch_rows = ROW_GROUP_ROWS // 2 + 1
    batches = [batch(index * batch_rows, batch_rows) for index in range(3)]
    write_parts(encoder, out, [batches])
    out += encoder.end()
    file = pq.ParquetFile(io.BytesIO(bytes(out)))
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)]
    assert sizes == [2 * batch_rows, batch_rows]
    assert file.read().column("n").to_pylist() == list(range(3 * batch_rows))


def test_only_columns_whose_values_repeat_are_dictionary_encoded() -> None:
    rows = 5_000
    table = pa.table(
        {
            "ts": pa.array(range(rows), pa.timestamp("us", tz="UTC")),
            "level": [["INFO", "WARN", "ERROR"][i % 3] for i in range(rows)],
            "status": [200 + i % 5 for i in range(rows)],
            "trace_id": [f"{i:032x}" for i in range(rows)],
            "latency": [i / 3 for i in range(rows)],
        }
    )
    assert dictionary_columns(table) == ["level", "status"]
    encoder = ParquetEncoder()
    out = bytearray(encoder.begin(table.schema))
    write_parts(encoder, out, [table.to_batches(1_000)])
    out += encoder.end()
    file = pq.ParquetFile(io.BytesIO(bytes(out)))
    row_group = file.metadata.row_group(0)
    dictionary_encoded = {
        row_group.column(index).path_in_schema
        for index in range(row_group.num_columns)
        if row_group.column(index).has_dictionary_page
    }
    assert dictionary_encoded == {"level", "status"}
    assert file.read().equals(table)


def test_the_dictionary_choice_follows_each_row_group_own_values() -> None:
    repeating = pa.table({"s": ["a", "b"] * 1_000})
    unique = pa.table({"s": [f"value-{i}" for i in range(2_000)]})
    assert dictionary_columns(repeating) == ["s"]
    assert dictionary_columns(unique) == []
    assert dictionary_columns(repeating.slice(0, 0)) == ["s"]  # empty: nothing to lose
