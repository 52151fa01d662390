"""CSV files read by ``logsluice ingest``: empty cells are missing values, and a column may change
type from one block of the file to the next without stopping the read."""

from __future__ import annotations

import json
from pathlib import Path

from logsluice.cli.record_files import RecordFile


def _records(record_file: RecordFile, chunk_records: int) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for chunk in record_file.chunks(chunk_records)
        for line in chunk.body.splitlines()
    ]


def test_empty_csv_cells_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("timestamp,host,n\n,web-1,1\n2026-03-01T00:00:00Z,,2\n")
    records = _records(RecordFile(path, "csv", None), 10)
    # a missing time means arrival time on the server; "" would be refused as unreadable
    assert records == [
        {"timestamp": None, "host": "web-1", "n": 1},
        {"timestamp": "2026-03-01T00:00:00Z", "host": None, "n": 2},
    ]


def test_csv_column_changing_type_after_the_first_block(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    rows = [f"2026-03-01T00:00:00Z,{n}" for n in range(2000)] + ["2026-03-01T00:00:00Z,OK"]
    path.write_text("timestamp,status\n" + "\n".join(rows) + "\n")
    record_file = RecordFile(path, "csv", None, csv_block_bytes=4096)
    records = _records(record_file, 500)
    assert len(records) == 2001
    assert records[0]["status"] == 0  # a block of numbers is typed as numbers
    assert [str(record["status"]) for record in records[1990:]] == [
        *(str(n) for n in range(1990, 2000)),
        "OK",
    ]
