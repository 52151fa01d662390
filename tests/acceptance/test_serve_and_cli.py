"""A real ``logsluice serve`` process driven by the real ``logsluice`` CLI."""

from __future__ import annotations

import csv
import gzip
import json
import stat
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.acceptance.conftest import LOGSLUICE, RunningServer, start_server, stop_server

# Every test here starts processes that load the whole server stack: seconds each.
pytestmark = pytest.mark.slow


def _json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_first_start_creates_a_private_token_printed_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        printed = server.read_printed_line()
        token_file = data_dir / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert token_file.read_text().strip() == printed
        assert len(printed) >= 40
        assert _json(server.cli("project", "list", "--json")) == []
    finally:
        stop_server(server)
    again = start_server(data_dir)
    try:
        assert again.cli("project", "list", "--json", token="wrong").returncode == 1
        assert (data_dir / "admin-token").read_text().strip() == printed
    finally:
        stop_server(again)
        assert again.process.stdout is not None
        assert printed not in again.process.stdout.read()


def test_no_auth_is_refused_on_a_public_address(tmp_path: Path) -> None:
    result = subprocess.run(
        [LOGSLUICE, "serve", "--host", "0.0.0.0", "--no-auth", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--no-auth" in result.stderr
    assert "0.0.0.0" in result.stderr


def test_wrong_token_gives_the_server_message(running_server: RunningServer) -> None:
    result = running_server.cli("project", "list", token="not-it")
    assert result.returncode == 1
    assert "bearer token is not valid" in result.stderr


def test_unreachable_server_is_a_clear_error(running_server: RunningServer) -> None:
    result = running_server.cli("project", "list", "--server", "http://127.0.0.1:9")
    assert result.returncode == 3
    assert "cannot reach the logsluice server" in result.stderr


def _write_files(directory: Path) -> list[Path]:
    jsonl = directory / "app.jsonl.gz"
    lines = [
        json.dumps({"timestamp": f"2026-03-01T00:0{i}:00Z", "message": f"ok {i}", "status": 200})
        for i in range(5)
    ]
    lines.insert(2, '{"timestamp": "not a time"}')
    jsonl.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    table = directory / "more.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "message", "status"])
        writer.writerows([[f"2026-03-01T01:0{i}:00Z", "refused", 503] for i in range(4)])
    parquet = directory / "rows.parquet"
    pq.write_table(
        pa.table(
            {
                "timestamp": ["2026-03-01T02:00:00Z"] * 3,
                "message": ["timeout"] * 3,
                "status": [504] * 3,
            }
        ),
        parquet,
    )
    return [jsonl, table, parquet]


def test_project_logstore_ingest_query_round_trip(
    running_server: RunningServer, tmp_path: Path
) -> None:
    cli = running_server.cli
    assert _json(cli("project", "create", "shop", "--json"))["name"] == "shop"  # type: ignore[index]
    duplicate = cli("project", "create", "shop")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert (
        _json(cli("logstore", "create", "app", "-p", "shop", "--retention-days", "7", "--json"))[  # type: ignore[index]
            "retention_days"
        ]
        == 7
    )

    ingested = cli(
        "ingest",
        "-p",
        "shop",
        "-l",
        "app",
        "--chunk-records",
        "2",
        "--json",
        *map(str, _write_files(tmp_path)),
    )
    assert ingested.returncode == 4, ingested.stderr
    summary = json.loads(ingested.stdout)
    assert summary["accepted"] == 12
    assert summary["rejected"] == 1
    assert summary["files"][0]["errors"][0]["line"] == 3

    window = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-03-02T00:00:00Z"]
    everything = _json(cli("query", "-p", "shop", "-l", "app", "*", *window, "--json"))
    assert everything["count"] == 12  # type: ignore[index]
    failures = _json(
        cli(
            "query",
            "-p",
            "shop",
            "-l",
            "app",
            "status>=500",
            *window,
            "--json",
            "--limit",
            "2",
            "--order",
            "asc",
        )
    )
    assert failures["count"] == 7  # type: ignore[index]
    assert len(failures["rows"]) == 2  # type: ignore[index]
    table = cli("query", "-p", "shop", "-l", "app", "refused", *window)
    assert table.returncode == 0
    assert "refused" in table.stdout

    bad = cli("query", "-p", "shop", "-l", "app", "status>=", *window)
    assert bad.returncode == 1
    assert "position 8" in bad.stderr

    shown = _json(cli("logstore", "show", "app", "-p", "shop", "--json"))
    assert {field["name"] for field in shown["fields"]} >= {"timestamp", "message", "status"}  # type: ignore[index]
    assert [item["name"] for item in _json(cli("logstore", "list", "-p", "shop", "--json"))] == [
        "app"
    ]  # type: ignore[union-attr]
    assert cli("logstore", "delete", "app", "-p", "shop").returncode == 0
    assert cli("project", "delete", "shop").returncode == 0
    assert _json(cli("project", "list", "--json")) == []


def test_demo_data_fills_three_logstores(running_server: RunningServer) -> None:
    cli = running_server.cli
    end = "2026-03-01T00:00:00Z"
    filled = _json(
        cli("demo-data", "-p", "demo", "--records", "3000", "--days", "2", "--end", end, "--json")
    )
    assert {name: totals["accepted"] for name, totals in filled["logstores"].items()} == {  # type: ignore[index]
        "app": 3000,
        "access": 3000,
        "cdn": 3000,
    }
    window = ["--from", "2026-02-27T00:00:00Z", "--to", end]
    counted = _json(
        cli(
            "query",
            "-p",
            "demo",
            "-l",
            "cdn",
            "country:cn | select count(*) as n",
            *window,
            "--json",
        )
    )
    assert 0 < counted["rows"][0][0] < 3000  # type: ignore[index]
    cdn = _json(cli("logstore", "show", "cdn", "-p", "demo", "--json"))
    names = {field["name"] for field in cdn["fields"]}  # type: ignore[index]
    assert names == {
        "timestamp",
        "logstream",
        "domain",
        "url",
        "status",
        "bytes_sent",
        "client_ip",
        "isp",
        "country",
        "province",
        "user_agent",
        "referer",
    }
    shown = _json(cli("project", "show", "demo", "--json"))
    assert [item["name"] for item in shown["logstores"]] == ["access", "app", "cdn"]  # type: ignore[index]
