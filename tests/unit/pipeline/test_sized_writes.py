"""The encoders' sized output buffers: same bytes as a growing stream, longer rows written again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from logsluice.domain.export import CsvOptions
from logsluice.pipeline.encoders import CsvEncoder, SizedWrites

OPTIONS = pacsv.WriteOptions(include_header=False)


def _plain_csv(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, OPTIONS)
    return bytes(sink.getvalue())


def _batch(width: int, rows: int = 1000) -> pa.RecordBatch:
    return pa.record_batch({"n": list(range(rows)), "text": ["x" * width] * rows})


def _recording_writer(calls: list[Any]) -> Callable[[pa.RecordBatch], bytes]:
    """Return a CSV writer through one SizedWrites that notes the stream type of every write."""
    writes = SizedWrites()

    def write_csv(batch: pa.RecordBatch) -> bytes:
        def write(stream: Any) -> None:
            calls.append(type(stream))
            pacsv.write_csv(batch, stream, OPTIONS)

        return bytes(writes.write(batch.num_rows, write))

    return write_csv


def test_each_batch_is_written_once_into_a_buffer_sized_from_the_last_one() -> None:
    calls: list[Any] = []
    write_csv = _recording_writer(calls)
    batches = [_batch(50), _batch(52), _batch(40, rows=3000), _batch(55)]
    assert [write_csv(batch) for batch in batches] == [_plain_csv(batch) for batch in batches]
    assert calls == [pa.BufferOutputStream] + [pa.FixedSizeBufferWriter] * 3


def test_a_batch_of_much_longer_rows_is_written_again_into_a_growing_stream() -> None:
    calls: list[Any] = []
    write_csv = _recording_writer(calls)
    short, long = _batch(10, rows=20_000), _batch(500, rows=20_000)
    assert write_csv(short) == _plain_csv(short)
    assert write_csv(long) == _plain_csv(long)
    assert calls == [pa.BufferOutputStream, pa.FixedSizeBufferWriter, pa.BufferOutputStream]
    assert write_csv(long) == _plain_csv(long)  # and learned: the next one fits
    assert calls[-1] is pa.FixedSizeBufferWriter


def test_the_csv_encoder_writes_the_same_bytes_as_a_plain_csv_writer() -> None:
    encoder = CsvEncoder(CsvOptions(header=False, escape_formulas=False))
    encoder.begin(_batch(1).schema)
    for width in (5, 80, 3, 300, 0):
        batch = _batch(width, rows=4096)
        assert bytes(encoder.encode(batch)) == _plain_csv(batch)
