"""``bench/ingest.py --lake``: ingest into a DuckLake on PostgreSQL + S3 by two nodes against one.

In one run, on the same file and the same servers (PostgreSQL, and moto or ``rclone serve s3``
from ``lake_servers``, ``--s3-server``):

(L1) one ``logsluice serve`` node: the whole file sent by ``logsluice ingest`` in chunks of
     ``--chunk-records`` (zstd, an ``Idempotency-Key`` per chunk, one request at a time);
(L2) two ``serve`` nodes on one fresh lake and one shared task store, each sent one half of the
     file at once by its own ``logsluice ingest``.

(``--lake-client httpx`` sends uncompressed JSON Lines POSTs without keys from threads of this
process instead, as ``send_with_httpx``; ``--lake-client prepared`` sends the very requests the
CLI sends — the same chunks, zstd bodies and keys, made before the clock starts — from threads
of this process, so the clients' own work (reading, compressing and hashing the file, which on
a real deployment runs on the senders' hosts) does not take the nodes' cores here.)

``--pin-nodes`` pins node i (and every thread it starts) to core i, as nodes on one-core hosts
of their own: the one node then has one core, as each of the two has, rather than both cores of
the machine; PostgreSQL, the S3 server and the clients are not pinned.

Each side gets a fresh lake (its own catalog database
and data prefix) and task store database; only the sending is timed; afterwards the logstore must
hold exactly the records accepted. Before the clock starts, each node is sent a warm-up of
``--warmup-records`` records (node i the i-th run of that many lines of the file; 0: none), so
the logstore's columns, the lake's receipt and guard tables and each node's first connection to
the lake exist: the timed part is the steady state of a lake that ingests for days, not the
one-off set-up of a fresh one. For the same reason the first warm-up also holds the file's
records whose field types come later (its text ``status``, see ``CLASH_EVERY``), so the one
widening of that column to text (ADR 0012) happens before the clock, as it happened long ago on
such a lake; ``--clashes-timed`` leaves them where they are in the file, inside the timed part.
The result is records/s of each and the ratio L2 / L1 (the
issue's target: at least 1.7×), and for each side the CPU seconds (user + system) each process
spent while it was timed: every node, PostgreSQL (all its processes, whoever they serve), the S3
server and the clients (the CLI processes, or this process's threads) — on a small machine they
all share the cores, so these say which of them the ratio waits for. Each side also prints what
its nodes' ``/metrics`` counted of the lake's concurrency: writes retried for a conflicting
commit, widening intents announced (one per try of a widening) and seconds appends waited for
another node's widening (ADR 0012).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lake_servers
import serving
from process_cpu import CpuMeter, format_cpu, postgresql_pids

Send = Callable[[serving.RunningServer, Any, argparse.Namespace], int]
Prepare = Callable[[Path, argparse.Namespace], Any]


def as_is(source: Path, arguments: argparse.Namespace) -> Path:
    """Prepare nothing: the sender reads the file itself."""
    return source


@dataclass
class NodesRun:
    """One side's result: records stored, seconds, and the CPU seconds of each process group."""

    records: int
    seconds: float
    cpu: dict[str, float]
    lake: dict[str, float]


def split_in_halves(source: Path) -> list[Path]:
    """Write the first and second half of ``source``'s lines beside it (once); return them."""
    halves = [source.with_suffix(f".half-{index}.jsonl") for index in (0, 1)]
    if all(path.exists() for path in halves):
        return halves
    with source.open("rb") as file:
        total = sum(1 for _ in file)
    with source.open("rb") as file, halves[0].open("wb") as first, halves[1].open("wb") as second:
        first.writelines(itertools.islice(file, total // 2))
        second.writelines(file)
    return halves


def warmups(
    source: Path, count: int, arguments: argparse.Namespace, settle: bytes = b""
) -> list[Path]:
    """Write (once) and return ``count`` warm-up files: the i-th holds the i-th run of
    ``--warmup-records`` lines of ``source``, the first one also the lines ``settle`` (records
    whose field types the file changes to later); none when ``--warmup-records`` is 0."""
    size = arguments.warmup_records
    if size <= 0:
        return []
    settled = f"-settled-{len(settle)}" if settle else ""
    paths = [source.with_suffix(f".warmup-{size}{settled}-{index}.jsonl") for index in range(count)]
    if not all(path.exists() for path in paths):
        with source.open("rb") as file:
            for index, path in enumerate(paths):
                lines = b"".join(itertools.islice(file, size))
                path.write_bytes(lines + settle if index == 0 else lines)
    return paths


def measure_nodes(
    servers: lake_servers.LakeServers,
    parts: list[Path],
    workdir: Path,
    settings: dict[str, str],
    send: Send,
    arguments: argparse.Namespace,
    prepare: Prepare = as_is,
    settle: bytes = b"",
) -> NodesRun:
    """Start one node per part on a fresh lake; send each its part at once; return the records
    stored, the seconds and the CPU seconds of the nodes, the clients (the sending processes
    this bench waited for, and its own threads), PostgreSQL and the S3 server. ``prepare`` makes
    what ``send`` is given of each file, before the clock starts; ``settle`` goes into the first
    warm-up (``warmups``). Raises BenchError when the
    logstore holds other than what was accepted."""
    shared = (
        settings
        | servers.environment()
        | {
            "LOGSLUICE_DATABASE_URL": servers.database_url(),
            "LOGSLUICE_LOG_STORE_URL": servers.lake_url(workdir.name),
        }
    )
    nodes = [
        serving.start_server(
            workdir / f"node-{index}" / "data",
            shared,
            core=index if arguments.pin_nodes else None,
        )
        for index in range(len(parts))
    ]
    try:
        with nodes[0].client() as client:
            serving.create_logstore(client, "bench", "web", "timestamp")
        warmed = sum(
            send(node, prepare(warmup, arguments), arguments)
            for node, warmup in zip(
                nodes, warmups(parts[0], len(nodes), arguments, settle), strict=False
            )
        )
        payloads = [prepare(part, arguments) for part in parts]
        accepted = [0] * len(parts)
        failures: list[BaseException] = []

        def run(index: int) -> None:
            try:
                accepted[index] = send(nodes[index], payloads[index], arguments)
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=run, args=(index,)) for index in range(len(parts))]
        meter = _meter(servers, nodes)
        clients = _client_cpu_seconds()
        meter.start()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        cpu = meter.stop() | {"clients": _client_cpu_seconds() - clients}
        if failures:
            raise serving.BenchError(f"a node's ingest failed: {failures[0]}")
        with nodes[0].client() as client:
            path = "/api/v1/projects/bench/logstores/web/stats"
            stored = int(serving.call(client, "GET", path)["records"])
        lake = _lake_counters(nodes)
    finally:
        for node in nodes:
            node.stop()
    if stored != warmed + sum(accepted):
        raise serving.BenchError(
            f"{warmed + sum(accepted)} records accepted, the lake holds {stored}"
        )
    return NodesRun(sum(accepted), seconds, cpu, lake)  # the warm-up is not timed, nor counted


def _meter(servers: lake_servers.LakeServers, nodes: list[serving.RunningServer]) -> CpuMeter:
    meter = CpuMeter()
    for index, node in enumerate(nodes):
        meter.add(f"node {index + 1}", lambda pid=node.process.pid: [pid])
    meter.add("PostgreSQL", postgresql_pids)
    meter.add(servers.s3_name, lambda: [servers.s3_pid])
    return meter


LAKE_COUNTERS = {
    "logsluice_lake_commit_retries_total": "commit retries",
    "logsluice_lake_widenings_announced_total": "widenings announced",
    "logsluice_lake_widening_wait_seconds_total": "seconds waited for widenings",
}


def _lake_counters(nodes: list[serving.RunningServer]) -> dict[str, float]:
    """Return the lake counters of every node's ``/metrics``, summed (warm-up included)."""
    totals = dict.fromkeys(LAKE_COUNTERS.values(), 0.0)
    for node in nodes:
        with node.client() as client:
            text = client.get("/metrics").raise_for_status().text
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in LAKE_COUNTERS:
                totals[LAKE_COUNTERS[name]] += float(value)
    return totals


def _client_cpu_seconds() -> float:
    """CPU seconds of this process (the sending threads) and its waited-for children (CLIs)."""
    seconds = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        seconds += usage.ru_utime + usage.ru_stime
    return seconds


def run_lake(
    source: Path,
    arguments: argparse.Namespace,
    settings: dict[str, str],
    send: Send,
    prepare: Prepare = as_is,
    settle: bytes = b"",
) -> bool:
    """Measure L1 and L2; print both and the ratio; return whether the ratio met 1.7×."""
    halves = split_in_halves(source)
    workroot = source.parent / "ingest-lake-work"
    with lake_servers.lake_servers(
        arguments.postgresql_url, workroot, s3_server=arguments.s3_server
    ) as servers:
        one = measure_nodes(
            servers, [source], workroot / "one", settings, send, arguments, prepare, settle
        )
        two = measure_nodes(
            servers, halves, workroot / "two", settings, send, arguments, prepare, settle
        )
    for name, run in (("(L1) one node", one), ("(L2) two nodes", two)):
        rate = run.records / run.seconds
        print(
            f"{name:34s} {run.records:>12,} records {run.seconds:8.2f} s {rate:>12,.0f} records/s"
        )
        print(format_cpu(run.cpu, run.seconds))
        print("  lake: " + ", ".join(f"{name} {value:g}" for name, value in run.lake.items()))
    ratio = (two.records / two.seconds) / (one.records / one.seconds)
    print(f"two nodes / one node: {ratio:.2f}× the records per second (target ≥ 1.7×)")
    return ratio >= 1.7
