"""CSV options, formula escaping and time zones of the text formats, and the compressors' levels."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from export_samples import parse_csv, rfc3339

from logsluice.adapters.artifacts.duckdb_jsonl import DuckDBJsonlEncoder
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import Compression, CsvOptions
from logsluice.pipeline.compressors import build_compressor
from logsluice.pipeline.encoders import CsvEncoder
from logsluice.pipeline.text_columns import escape_formulas, render_timestamps

# 2026-03-08 07:00 UTC is 03:00 EDT, just after New York moved its clocks forward.
MOMENTS = [
    datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 7, 1, 12, 30, 0, 5, tzinfo=UTC),
]


def encode_csv(batch: pa.RecordBatch, options: CsvOptions, time_zone: str = "UTC") -> bytes:
    encoder = CsvEncoder(options, time_zone)
    return bytes(encoder.begin(batch.schema)) + bytes(encoder.encode(batch))


@pytest.mark.parametrize(
    "time_zone", ["UTC", "America/New_York", "Asia/Shanghai", "Asia/Kolkata", "+05:45"]
)
def test_timestamps_render_as_rfc3339_in_the_time_zone(time_zone: str) -> None:
    column = pa.array([*MOMENTS, None], pa.timestamp("us", tz="UTC"))
    rendered = render_timestamps(column, time_zone).to_pylist()
    if time_zone == "+05:45":
        assert rendered[0] == "2026-03-08T12:44:59.999999+05:45"
    else:
        assert rendered[:3] == [rfc3339(moment, time_zone) for moment in MOMENTS]
    assert rendered[3] is None
    assert all(
        datetime.fromisoformat(text) == moment
        for text, moment in zip(rendered, MOMENTS, strict=False)
    )


def test_new_york_offsets_follow_summer_time() -> None:
    rendered = render_timestamps(
        pa.array(MOMENTS, pa.timestamp("us", tz="UTC")), "America/New_York"
    )
    assert [text[-6:] for text in rendered.to_pylist()] == ["-05:00", "-04:00", "-04:00"]


def test_naive_timestamps_are_taken_as_utc() -> None:
    rendered = render_timestamps(
        pa.array([datetime(2026, 1, 2, 3, 4, 5)], pa.timestamp("us")), "UTC"
    )
    assert rendered.to_pylist() == ["2026-01-02T03:04:05.000000Z"]


def test_formula_escaping_prefixes_dangerous_first_characters_only() -> None:
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", "", None, "safe"]
    assert escape_formulas(pa.array(cells)).to_pylist() == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        None,
        "safe",
    ]


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r"])
@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_formula_escaping_finds_a_dangerous_cell_anywhere_in_a_sliced_column(
    first: str, string_type: pa.DataType
) -> None:
    cells = [f"{first}x", "é-safe", "", None, "safe", f"{first}y", "ok"]
    column = pa.array(cells, string_type).slice(1, 5)  # "é-safe" … f"{first}y"
    assert escape_formulas(column).to_pylist() == ["é-safe", "", None, "safe", f"'{first}y"]


def test_formula_escaping_leaves_a_safe_column_as_it_is_even_beside_dangerous_cells() -> None:
    column = pa.array(["=1", "a", "", None, "é", "b=", "-2"]).slice(1, 5)
    assert escape_formulas(column) is column
    assert escape_formulas(pa.array([], pa.string())).to_pylist() == []
    assert escape_formulas(pa.array(["", None], pa.large_string())).to_pylist() == ["", None]


def test_csv_escapes_string_columns_but_not_numbers() -> None:
    batch = pa.record_batch({"number": [-5, 3], "text": ["-5", "=cmd|' /C calc'!A0"]})
    _, rows = parse_csv(encode_csv(batch, CsvOptions()))
    assert rows == [["-5", "'-5"], ["3", "'=cmd|' /C calc'!A0"]]


def test_csv_formula_escaping_can_be_turned_off() -> None:
    batch = pa.record_batch({"text": ["=1+1"]})
    _, rows = parse_csv(encode_csv(batch, CsvOptions(escape_formulas=False)))
    assert rows == [["=1+1"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_and_header(delimiter: str) -> None:
    batch = pa.record_batch({"a": [1, None], "b": ["x" + delimiter + "y", None]})
    header, rows = parse_csv(encode_csv(batch, CsvOptions(delimiter=delimiter)), delimiter)
    assert header == ["a", "b"]
    assert rows == [["1", "x" + delimiter + "y"], ["", ""]]


def test_csv_without_header_starts_with_data() -> None:
    batch = pa.record_batch({"a": [1]})
    assert encode_csv(batch, CsvOptions(header=False)) == b"1\n"


def test_csv_and_jsonl_render_timestamps_in_the_task_time_zone() -> None:
    batch = pa.record_batch({"ts": pa.array(MOMENTS[:1], pa.timestamp("us", tz="UTC")), "n": [1]})
    _, rows = parse_csv(encode_csv(batch, CsvOptions(), "Asia/Shanghai"))
    assert rows == [["2026-03-08T14:59:59.999999+08:00", "1"]]
    encoder = DuckDBJsonlEncoder("Asia/Shanghai")
    line = bytes(encoder.encode(batch))
    encoder.close()
    assert json.loads(line) == {"ts": "2026-03-08T14:59:59.999999+08:00", "n": 1}


def test_jsonl_escapes_strings_and_keeps_types() -> None:
    batch = pa.record_batch(
        {"s": ['a "q" \\ \n\t日本', None], "f": [1.5, None], "b": [True, False], "i": [2**53, -1]}
    )
    encoder = DuckDBJsonlEncoder()
    lines = bytes(encoder.encode(batch)).decode().splitlines()
    encoder.close()
    assert [json.loads(line) for line in lines] == [
        {"s": 'a "q" \\ \n\t日本', "f": 1.5, "b": True, "i": 2**53},
        {"s": None, "f": None, "b": False, "i": -1},
    ]


@pytest.mark.parametrize(
    ("compression", "level"),
    [(Compression.GZIP, 0), (Compression.GZIP, 7), (Compression.ZSTD, 4), (Compression.LZ4, 13)],
)
def test_compression_levels_outside_the_range_are_refused(
    compression: Compression, level: int
) -> None:
    with pytest.raises(InvalidInputError):
        build_compressor(compression, level)


def test_nested_values_become_json_cells_in_csv() -> None:
    batch = pa.record_batch(
        {
            "host": pa.array(["a", "b", "c"]),
            "codes": pa.array([[500, 502], [], None], pa.list_(pa.int64())),
            "stats": pa.array(
                [{"n": 1, "p": "x,y"}, {"n": 2, "p": None}, None],
                pa.struct([("n", pa.int64()), ("p", pa.string())]),
            ),
        }
    )
    header, rows = parse_csv(encode_csv(batch, CsvOptions()))
    assert header == ["host", "codes", "stats"]
    assert [json.loads(row[1]) if row[1] else None for row in rows] == [[500, 502], [], None]
    assert json.loads(rows[0][2]) == {"n": 1, "p": "x,y"}
    assert json.loads(rows[1][2]) == {"n": 2, "p": None}
    assert rows[2][2] == ""
