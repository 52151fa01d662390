"""Bench: a real ``logsluice serve``'s peak memory on bad inputs (wide records, bombs, deep JSON).

Usage::

    .venv/bin/python bench/hardening_inputs.py [--cases wide,spread,wide-query,bomb,body,deep]
        [--fields 300,1000,5000,10000] [--work-dir DIR] [-- LOGSLUICE_X=value ...]

Each case sends its requests to one ``serve`` started for the run, and prints the HTTP status,
the answer's error code and the server's peak resident memory during the case (``VmHWM`` of
``/proc/<pid>/status``, reset before each case through ``/proc/<pid>/clear_refs``) above the
resident memory it started the case with. Cases:

- ``wide``: one JSON record with N fields (``--fields``), each case a new logstore;
- ``spread``: 2,000 JSON Lines records, each with 5 fields no other record has;
- ``wide-query``: a logstore of the widest accepted record, then a query, a count-only query and
  a CSV download task on it;
- ``bomb``: a gzip, a zstd and a deflate body each expanding to 1 GiB, then three zstd bombs at
  once;
- ``body``: JSON array bodies of 7 and 57 MiB, an uncompressed JSON Lines body just under the
  body limit, and one sent chunked (no ``Content-Length``) past it;
- ``deep``: JSON arrays nested 100, 1,000 and 100,000 deep.

The figures in ``docs/reliability.md`` ("Bad inputs") come from this script.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import (
    RunningServer,
    create_logstore,
    describe_run,
    running_server,
)

PROJECT = "hardening"
MEBIBYTE = 1024 * 1024
BOMB_BYTES = 1024 * MEBIBYTE
TIME = "2026-11-05T12:00:00Z"


@dataclass(frozen=True)
class Outcome:
    """What one case saw: the answers' statuses and codes, and the server's memory."""

    name: str
    answers: str
    start_rss_bytes: int
    peak_rss_bytes: int


def reset_peak(server: RunningServer) -> int:
    """Reset the server's VmHWM to its current RSS (``clear_refs`` 5); return that RSS."""
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")
    return server.rss_bytes()


def answer_of(response: httpx.Response) -> str:
    """Return ``status code`` (``200 accepted=N`` for a stored batch) of one response."""
    try:
        payload = response.json()
    except ValueError:
        return f"{response.status_code}"
    if isinstance(payload, dict) and "accepted" in payload:
        return f"{response.status_code} accepted={payload['accepted']}"
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code", "") if isinstance(error, dict) else ""
    return f"{response.status_code} {code}".strip()


def measure(server: RunningServer, name: str, work: Callable[[], list[str]]) -> Outcome:
    """Run ``work`` (which returns the answers it saw) and the server's memory around it."""
    start = reset_peak(server)
    answers = work()
    return Outcome(name, ", ".join(answers), start, server.peak_rss_bytes())


def ingest(
    client: httpx.Client, logstore: str, body: bytes | Iterator[bytes], **headers: str
) -> str:
    path = f"/api/v1/projects/{PROJECT}/logstores/{logstore}/records"
    try:
        return answer_of(client.post(path, content=body, headers=headers))
    except httpx.TransportError as error:
        return f"no answer ({type(error).__name__})"


def new_logstore(client: httpx.Client, name: str) -> str:
    create_logstore(client, PROJECT, name, "time")
    return name


def wide_record(fields: int) -> bytes:
    record = {"time": TIME} | {f"field_{index:05d}": f"v{index}" for index in range(fields)}
    return orjson.dumps([record])


def spread_records(records: int, fields_each: int) -> bytes:
    lines = []
    for record in range(records):
        fields = {f"r{record}_f{index}": index for index in range(fields_each)}
        lines.append(orjson.dumps({"time": TIME} | fields))
    return b"\n".join(lines)


def bomb_plain(size_bytes: int) -> Iterator[bytes]:
    line = b'{"time": "2026-11-05T12:00:00Z", "message": "' + b"a" * 200 + b'"}\n'
    block = line * (MEBIBYTE // len(line))
    for _ in range(size_bytes // len(block)):
        yield block


def compressed(codec: str, size_bytes: int) -> bytes:
    if codec == "zstd":
        return zstandard.ZstdCompressor(level=19).compress(b"".join(bomb_plain(size_bytes)))
    if codec == "deflate":
        compressor = zlib.compressobj(9)
        return b"".join(compressor.compress(part) for part in bomb_plain(size_bytes)) + (
            compressor.flush()
        )
    return gzip.compress(b"".join(bomb_plain(size_bytes)), compresslevel=9)


def case_wide(server: RunningServer, client: httpx.Client, fields: list[int]) -> list[Outcome]:
    outcomes = []
    for count in fields:
        logstore = new_logstore(client, f"wide-{count}")
        body = wide_record(count)
        outcomes.append(
            measure(
                server,
                f"one record, {count:,} fields ({len(body) // 1024} KiB)",
                lambda logstore=logstore, body=body: [
                    ingest(client, logstore, body, **{"Content-Type": "application/json"})
                ],
            )
        )
    return outcomes


def case_spread(server: RunningServer, client: httpx.Client) -> list[Outcome]:
    logstore = new_logstore(client, "spread")
    body = spread_records(2000, 5)
    return [
        measure(
            server,
            "2,000 records, 5 new fields each",
            lambda: [ingest(client, logstore, body, **{"Content-Type": "application/x-ndjson"})],
        )
    ]


def case_wide_query(
    server: RunningServer, client: httpx.Client, field_counts: list[int]
) -> list[Outcome]:
    """Query and export the widest logstore the server accepts of ``field_counts``."""
    fields = 0
    for count in sorted(field_counts, reverse=True):
        logstore = new_logstore(client, f"wide-query-{count}")
        body = wide_record(count)
        if ingest(client, logstore, body, **{"Content-Type": "application/json"}).startswith("200"):
            fields = count
            break
    window = {"from": "2026-11-05T00:00:00Z", "to": "2026-11-06T00:00:00Z"}
    query_path = f"/api/v1/projects/{PROJECT}/logstores/{logstore}/query"

    def query() -> list[str]:
        answers = [answer_of(client.post(query_path, json={"query": "*"} | window))]
        sql = {"query": "* | select count(*) as n"} | window
        answers.append(answer_of(client.post(query_path, json=sql)))
        return answers

    def export() -> list[str]:
        task = {"logstore": logstore, "query": "*", "format": "csv"} | window
        created = client.post(f"/api/v1/projects/{PROJECT}/download-tasks", json=task)
        if created.status_code != 201:
            return [answer_of(created)]
        return [f"201 {wait_for_task(client, created.json()['id'])}"]

    return [
        measure(server, f"query a {fields:,}-field logstore", query),
        measure(server, f"export a {fields:,}-field logstore (CSV)", export),
    ]


def wait_for_task(client: httpx.Client, task_id: str) -> str:
    deadline = time.monotonic() + 300
    state = "?"
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/projects/{PROJECT}/download-tasks/{task_id}").json()["status"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.5)
    return state


def case_bombs(server: RunningServer, client: httpx.Client) -> list[Outcome]:
    logstore = new_logstore(client, "bombs")
    outcomes = []
    encodings = {"gzip": "gzip", "zstd": "zstd", "deflate": "deflate"}
    for codec, encoding in encodings.items():
        body = compressed(codec, BOMB_BYTES)
        name = f"{codec} bomb: {len(body) // 1024} KiB to 1 GiB"
        outcomes.append(
            measure(
                server,
                name,
                lambda body=body, encoding=encoding: [
                    ingest(client, logstore, body, **{"Content-Encoding": encoding})
                ],
            )
        )
    zstd_body = compressed("zstd", BOMB_BYTES)
    outcomes.append(measure(server, "three zstd bombs at once", lambda: at_once(server, zstd_body)))
    outcomes.append(Outcome("  held after the three", "", reset_peak(server), server.rss_bytes()))
    return outcomes


def at_once(server: RunningServer, body: bytes) -> list[str]:
    answers: list[str] = []

    def send() -> None:
        with server.client() as client:
            answers.append(ingest(client, "bombs", body, **{"Content-Encoding": "zstd"}))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def json_array(size_bytes: int) -> bytes:
    record = orjson.dumps({"time": TIME, "message": "GET /api/v1/items HTTP/1.1", "status": 200})
    return b"[" + b",".join([record] * (size_bytes // (len(record) + 1))) + b"]"


def case_bodies(server: RunningServer, client: httpx.Client) -> list[Outcome]:
    logstore = new_logstore(client, "bodies")
    just_under = b"".join(bomb_plain(60 * MEBIBYTE))
    small_array, large_array = json_array(7 * MEBIBYTE), json_array(57 * MEBIBYTE)
    json_type = {"Content-Type": "application/json"}
    return [
        measure(
            server,
            "JSON array body of 7 MiB",
            lambda: [ingest(client, logstore, small_array, **json_type)],
        ),
        measure(
            server,
            "JSON array body of 57 MiB",
            lambda: [ingest(client, logstore, large_array, **json_type)],
        ),
        measure(
            server,
            f"plain body of {len(just_under) // MEBIBYTE} MiB",
            lambda: [ingest(client, logstore, just_under)],
        ),
        measure(
            server,
            "chunked body (no Content-Length) of 200 MiB",
            lambda: [ingest(client, logstore, bomb_plain(200 * MEBIBYTE))],
        ),
    ]


def case_deep(server: RunningServer, client: httpx.Client) -> list[Outcome]:
    logstore = new_logstore(client, "deep")
    outcomes = []
    for depth in (100, 1000, 100_000):
        value = b"[" * depth + b"]" * depth
        json_body = b'[{"time": "' + TIME.encode() + b'", "deep": ' + value + b"}]"
        outcomes.append(
            measure(
                server,
                f"JSON nested {depth:,} deep",
                lambda json_body=json_body: [
                    ingest(client, logstore, json_body, **{"Content-Type": "application/json"}),
                    ingest(
                        client,
                        logstore,
                        json_body[1:-1],
                        **{"Content-Type": "application/x-ndjson"},
                    ),
                ],
            )
        )
    return outcomes


def print_outcomes(outcomes: list[Outcome]) -> None:
    print("| case | answers | RSS before | peak | peak - before |")
    print("| --- | --- | ---: | ---: | ---: |")
    for outcome in outcomes:
        before = outcome.start_rss_bytes // MEBIBYTE
        peak = outcome.peak_rss_bytes // MEBIBYTE
        growth = peak - before
        print(f"| {outcome.name} | {outcome.answers} | {before} MiB | {peak} MiB | +{growth} MiB |")
    sys.stdout.flush()


def run(cases: list[str], fields: list[int], work_dir: Path, settings: dict[str, str]) -> None:
    print(describe_run())
    with running_server(work_dir / "data", settings) as server, server.client() as client:
        client.post("/api/v1/projects", json={"name": PROJECT})
        chosen: dict[str, Callable[[], list[Outcome]]] = {
            "wide": lambda: case_wide(server, client, fields),
            "spread": lambda: case_spread(server, client),
            "wide-query": lambda: case_wide_query(server, client, fields),
            "bomb": lambda: case_bombs(server, client),
            "body": lambda: case_bodies(server, client),
            "deep": lambda: case_deep(server, client),
        }
        for case in cases:
            print_outcomes(chosen[case]())
        health = httpx.get(f"{server.url}/healthz", timeout=10).status_code
        print(f"healthz after all cases: {health}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", default="wide,spread,wide-query,bomb,body,deep")
    parser.add_argument("--fields", default="300,1000,5000,10000")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("settings", nargs="*", help="LOGSLUICE_X=value for the server")
    arguments = parser.parse_args()
    settings = dict(setting.split("=", 1) for setting in arguments.settings)
    fields = [int(value) for value in arguments.fields.split(",")]
    cases = arguments.cases.split(",")
    if arguments.work_dir is not None:
        run(cases, fields, arguments.work_dir, settings)
        return
    with tempfile.TemporaryDirectory(prefix="logsluice-hardening-") as work_dir:
        run(cases, fields, Path(work_dir), settings)


if __name__ == "__main__":
    main()
