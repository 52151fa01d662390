"""Scale-out benchmark: one download task's slices run by 1 and by 2 worker processes.

For ``--records`` (default 10 M) synthetic records (the dataset of ``bench/export.py``, loaded once
into ``bench/out/task-<records>/data``), in one run:

1. *Today's single-worker path*: the whole export as one file, ``pipeline.export.export_slices``
   (slices in order into one staging file, one running hash), in one process pinned to core 0,
   reading the logstore through ``DuckDBLogStore`` opened read-only, each slice in storage order
   checked to be in time order, as that runner read them and as the workers do (before
   2026-12-08 this path sorted every slice, which cost it ~1.7 CPU-s per 10 M rows more than
   the workers and flattered their CPU per row by ~9 %).
2. *Slices as leasable units*, for each ``--workers`` count (default ``1,2``): a task is created in
   the data directory's SQLite task store; N ``Worker`` processes, each pinned to its own core
   (``os.sched_setaffinity``) with its own read-only ``DuckDBLogStore`` (``--threads`` DuckDB
   threads) and the local artifact store, claim its slices until it SUCCEEDED (``Worker.run_chain``,
   each claiming its next slice while its current one ends, as ``logsluice worker`` does;
   ``--no-claim-ahead``: one slice at a time, ``Worker.run_once``). Every process runs
   one small query first (``warm_up``: what a long-running worker has done once already). The
   time is from the moment the processes may start to the task's SUCCEEDED; each process's CPU
   seconds (user + system, all threads) are summed. Like ``logsluice worker``, every process
   takes the objects it made while starting out of the garbage collector's sweeps
   (``bootstrap.freeze_startup_objects``) before the clock starts, and caps glibc's malloc arenas
   at two (``process_memory.limit_malloc_arenas``) when it starts; so does the single-worker
   path's process.

Before the runs, the machine's own ceiling (``--no-ceiling`` to skip): 1 and then 2 processes,
each pinned to its own core, copying a 64 MiB buffer over and over (memory-bound work, as an
export's is largely) and, apart, a pure-Python loop (compute only); printed is how much slower
each of the two ran than one alone. Where two processes slow each other's memory copies by 15 %,
two workers cannot reach 2x one, whatever logsluice does.

``--rows-per-slice`` and ``--batch-rows`` default to the runner's own (``RunnerSettings``: what
``logsluice worker`` runs with).

Reported per run: wall seconds, rows per second, the speed-up over one worker, and CPU seconds per
million rows (against the single-worker path's); for the worker runs also the phases of the task's
timeline from the workers' events (wall clock, any worker): start → planned (serial), planned →
last slice done (parallel), last slice done → SUCCEEDED (completion, serial). Every output's rows
are counted from the file and must equal the records loaded; any failure exits with status 1.

    .venv/bin/python bench/scale.py --records 10000000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import export
import pyarrow as pa
import zstandard
from serving import pin_to_core

from logsluice.bootstrap import freeze_startup_objects
from logsluice.process_memory import limit_malloc_arenas
from logsluice.services.runner import RunnerSettings

PROJECT, LOGSTORE = export.PROJECT, export.LOGSTORE
POLL_SECONDS = 0.05
PHASE_EVENTS = ("task.started", "task.planned", "task.slice_done", "task.succeeded")


@dataclass
class Measurement:
    """One run: its label, wall seconds, summed CPU seconds, rows in the file."""

    label: str
    seconds: float
    cpu_seconds: float
    rows: int


def record_phase_events(events: list[tuple[str, float]]) -> None:
    """Keep the wall-clock time of this process's task events named in PHASE_EVENTS."""
    import structlog

    def keep(_logger: object, _method: str, event_dict: Any) -> Any:
        if event_dict.get("event") in PHASE_EVENTS:
            events.append((event_dict["event"], time.time()))
        return event_dict

    configuration = structlog.get_config()
    structlog.configure(processors=[keep, *configuration["processors"]])


def phases(events: list[tuple[str, float]]) -> str:
    """Return the seconds of the serial start, the slices and the serial completion."""
    first = {name: min(at for event, at in events if event == name) for name, _ in events}
    last_slice = max(at for event, at in events if event == "task.slice_done")
    return (
        f"start → planned {first['task.planned'] - first['task.started']:.2f} s, "
        f"slices {last_slice - first['task.planned']:.2f} s, "
        f"last slice → succeeded {first['task.succeeded'] - last_slice:.2f} s"
    )


def cpu_seconds() -> float:
    """Return this process's CPU time (user + system, every thread) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def count_csv_rows(path: Path) -> int:
    """Return the records of a zstd CSV file (lines less the header)."""
    lines = 0
    with path.open("rb") as file:
        reader = zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True)
        while chunk := reader.read(1 << 24):
            lines += chunk.count(b"\n")
    return lines - 1


def task_spec(arguments: argparse.Namespace) -> Any:
    """Return the spec of the benchmark's task: everything as CSV + zstd."""
    from logsluice.domain.export import Compression, ExportFormat
    from logsluice.domain.tasks import TaskSpec
    from logsluice.domain.timerange import TimeRange

    return TaskSpec(
        name=f"scale-{time.time_ns()}",
        logstore=LOGSTORE,
        query="*",
        time_range=TimeRange(export.BASE_TIME, export.BASE_TIME + 2 * export.SPAN),
        format=ExportFormat.CSV,
        compression=Compression.ZSTD,
    )


def open_log_store(data_dir: Path, arguments: argparse.Namespace) -> Any:
    from logsluice.adapters.duckdb import DuckDBLogStore

    return DuckDBLogStore(
        data_dir / "logs.duckdb",
        read_only=True,
        threads=arguments.threads,
        memory_limit_bytes=arguments.memory_limit_bytes,
    )


def warm_up(source: Any, arguments: argparse.Namespace) -> None:
    """Run one first query, as a long-running worker has: the first ``execute`` of a process makes
    DuckDB import pandas (about 0.3 s of CPU) and sqlglot set up its dialect, once per process."""
    from logsluice.services.task_queries import records_query_for

    request = records_query_for(source, PROJECT, task_spec(arguments), limit=0)
    with source.stream(request, 1) as reader:
        reader.read_all()


# --- today's single-worker path: one staging file, slices in order ------------------------------


def single_file_child(data_dir: Path, arguments: argparse.Namespace, results: Any) -> None:
    from logsluice.adapters.artifacts import LocalArtifactStore
    from logsluice.adapters.artifacts.encoders import build_encoder
    from logsluice.domain.export import Compression
    from logsluice.domain.tasks import Task
    from logsluice.pipeline.compressors import build_compressor
    from logsluice.pipeline.export import export_slices
    from logsluice.pipeline.time_order import in_time_order
    from logsluice.services.task_plan import plan_task
    from logsluice.services.task_queries import records_query_for

    pin_to_core(0)
    limit_malloc_arenas()
    source = open_log_store(data_dir, arguments)
    warm_up(source, arguments)
    freeze_startup_objects()
    task = Task.queued(project=PROJECT, spec=task_spec(arguments), now=datetime.now(UTC))
    started, cpu_started = time.perf_counter(), cpu_seconds()
    plan = plan_task(task, source, [], rows_per_slice=arguments.rows_per_slice)

    def open_reader(item: Any) -> Any:
        # as the single-file runner read its slices (and the workers read theirs): in storage
        # order, checked to be in time order, not sorted
        request = records_query_for(source, PROJECT, task.spec, time_range=item.time_range)
        reader = source.stream(replace(request, sort=False), arguments.batch_rows)
        return pa.RecordBatchReader.from_batches(reader.schema, in_time_order(reader))

    store = LocalArtifactStore(data_dir / "scale-artifacts")
    result = export_slices(
        plan.slices,
        open_reader,
        build_encoder(task.spec.format),
        build_compressor(Compression.ZSTD),
        store,
        f"{PROJECT}/single/export.csv.zst",
    )
    results.put((time.perf_counter() - started, cpu_seconds() - cpu_started, result.rows))
    source.close()


def measure_single_file(data_dir: Path, arguments: argparse.Namespace) -> Measurement:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=single_file_child, args=(data_dir, arguments, results))
    process.start()
    seconds, cpu, rows = results.get(timeout=3600)
    process.join()
    path = data_dir / "scale-artifacts" / PROJECT / "single" / "export.csv.zst"
    counted = count_csv_rows(path)
    path.unlink()
    if counted != rows:
        raise SystemExit(f"the single-file export holds {counted} rows, it said {rows}")
    return Measurement("today: one file, in order", seconds, cpu, rows)


# --- slices as leasable units: N worker processes ------------------------------------------------


def worker_child(
    data_dir: Path,
    arguments: argparse.Namespace,
    core: int,
    task_id: str,
    go: Any,
    results: Any,
) -> None:
    import threading

    from logsluice.adapters.artifacts import LocalArtifactStore
    from logsluice.adapters.artifacts.encoders import build_encoder
    from logsluice.adapters.sql import SqlTaskStore, create_sql_engine
    from logsluice.services.clock import SystemClock
    from logsluice.services.runner import RunnerSettings, TaskRunner
    from logsluice.services.worker import Worker, WorkerSettings

    pin_to_core(core)
    limit_malloc_arenas()
    events: list[tuple[str, float]] = []
    record_phase_events(events)
    task_store = SqlTaskStore(create_sql_engine(f"sqlite:///{data_dir / 'logsluice.sqlite3'}"))
    source = open_log_store(data_dir, arguments)
    warm_up(source, arguments)
    runner = TaskRunner(
        task_store=task_store,
        source=source,
        artifact_store=LocalArtifactStore(data_dir / "scale-artifacts"),
        encoder_factory=build_encoder,
        clock=SystemClock(),
        settings=RunnerSettings(
            rows_per_slice=arguments.rows_per_slice, batch_rows=arguments.batch_rows
        ),
    )
    worker = Worker(
        task_store,
        runner,
        SystemClock(),
        WorkerSettings(poll_interval=timedelta(milliseconds=20)),
        worker_id=f"scale-{core}",
        shutdown=threading.Event(),
    )
    freeze_startup_objects()  # as `logsluice worker` does once it is built
    go.wait()
    cpu_started = cpu_seconds()
    while task_store.get_task(PROJECT, task_id).status.value in ("QUEUED", "RUNNING"):
        ran = worker.run_once() is not None if arguments.no_claim_ahead else worker.run_chain()
        if not ran:
            time.sleep(POLL_SECONDS)
    results.put((cpu_seconds() - cpu_started, events))
    source.close()
    task_store.close()


def measure_workers(data_dir: Path, arguments: argparse.Namespace, count: int) -> Measurement:
    from logsluice.adapters.sql import SqlTaskStore, create_sql_engine, migrate_engine
    from logsluice.domain.tasks import Task, TaskStatus

    engine = create_sql_engine(f"sqlite:///{data_dir / 'logsluice.sqlite3'}")
    migrate_engine(engine)  # a data directory loaded by an older version gets the newest schema
    store = SqlTaskStore(engine)
    task = store.create_task(
        Task.queued(project=PROJECT, spec=task_spec(arguments), now=datetime.now(UTC))
    )
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=worker_child, args=(data_dir, arguments, core, task.id, go, results))
        for core in range(count)
    ]
    for process in processes:
        process.start()
    # imports, opening the stores and a first query (warm_up) are not measured
    time.sleep(arguments.startup_seconds)
    started = time.perf_counter()
    go.set()
    while (current := store.get_task(PROJECT, task.id)).status in (
        TaskStatus.QUEUED,
        TaskStatus.RUNNING,
    ):
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    answers = [results.get(timeout=600) for _ in processes]
    cpu = sum(cpu for cpu, _ in answers)
    timeline = phases([item for _, events in answers for item in events])
    print(f"{count} worker process(es): {timeline}")
    for process in processes:
        process.join()
    if current.status is not TaskStatus.SUCCEEDED:
        raise SystemExit(f"the task ended {current.status}: {current.error_message}")
    path = data_dir / "scale-artifacts" / PROJECT / task.id / f"{task.spec.name}.csv.zst"
    rows = count_csv_rows(path)
    if rows != current.rows_written:
        raise SystemExit(f"{path} holds {rows} rows, the task says {current.rows_written}")
    path.unlink()
    store.close()
    return Measurement(f"{count} worker process(es)", seconds, cpu, rows)


# --- the machine's own ceiling: what two pinned processes do to each other ---------------------

CEILING_BUFFER_BYTES = 64 << 20
CEILING_COPIES = 150
CEILING_LOOP = 20_000_000


def ceiling_child(core: int, kind: str, go: Any, results: Any) -> None:
    pin_to_core(core)
    source = bytearray(b"x" * CEILING_BUFFER_BYTES) if kind == "memory" else None
    target = bytearray(CEILING_BUFFER_BYTES) if kind == "memory" else None
    go.wait()
    started = time.perf_counter()
    if source is not None and target is not None:
        for _ in range(CEILING_COPIES):
            target[:] = source
    else:
        total = 0
        for number in range(CEILING_LOOP):
            total += number * number
    results.put(time.perf_counter() - started)


def ceiling_seconds(kind: str, count: int) -> list[float]:
    """Return the seconds each of ``count`` pinned processes took for the same work at once."""
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=ceiling_child, args=(core, kind, go, results))
        for core in range(count)
    ]
    for process in processes:
        process.start()
    time.sleep(1.0)  # started and their buffers filled
    go.set()
    seconds = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return seconds


def report_ceiling() -> None:
    for kind, work in (
        ("memory", "copying 64 MiB buffers"),
        ("compute", "a pure-Python loop"),
    ):
        alone = ceiling_seconds(kind, 1)[0]
        together = ceiling_seconds(kind, 2)
        slower = " and ".join(f"{seconds / alone:.2f}x" for seconds in together)
        print(
            f"this machine, {work}: two processes on a core each took {slower} "
            f"the time of one alone ({alone:.2f} s)"
        )


def report(measurements: list[Measurement], records: int) -> None:
    baseline, one_worker = measurements[0], measurements[1]
    print(f"\n{records:,} records, CSV + zstd\n")
    print(f"{'run':<28} {'wall s':>8} {'rows/s':>12} {'speed-up':>9} {'CPU s/M rows':>13}")
    for item in measurements:
        speed_up = one_worker.seconds / item.seconds
        cpu_per_million = item.cpu_seconds / (item.rows / 1e6)
        print(
            f"{item.label:<28} {item.seconds:>8.2f} {item.rows / item.seconds:>12,.0f} "
            f"{speed_up:>8.2f}x {cpu_per_million:>13.2f}"
        )
    base_cpu = baseline.cpu_seconds / (baseline.rows / 1e6)
    for item in measurements[1:]:
        ratio = item.cpu_seconds / (item.rows / 1e6) / base_cpu
        print(f"{item.label}: CPU per row = {ratio:.2f} x today's single-worker path")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--workers", default="1,2", help="worker process counts, e.g. 1,2")
    parser.add_argument("--rows-per-slice", type=int, default=RunnerSettings().rows_per_slice)
    parser.add_argument("--batch-rows", type=int, default=RunnerSettings().batch_rows)
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads per process")
    parser.add_argument("--memory-limit-bytes", type=int, default=1 << 30)
    parser.add_argument("--cache-limit-bytes", type=int, default=256 << 20)
    parser.add_argument("--startup-seconds", type=float, default=3.0)
    parser.add_argument("--rebuild", action="store_true", help="load the records again")
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip measuring the machine's own ceiling"
    )
    parser.add_argument(
        "--no-claim-ahead",
        action="store_true",
        help="workers claim one slice at a time (Worker.run_once), as before 2026-12-07",
    )
    arguments = parser.parse_args()
    arguments.workers_counts = [int(item) for item in arguments.workers.split(",")]
    arguments.workers = 1  # the serve that loads the data runs one worker (export.py's setting)
    return arguments


def main() -> int:
    arguments = parse_arguments()
    data_dir = export.prepare_data_dir(arguments.records, arguments)
    if not arguments.no_ceiling:
        report_ceiling()
    measurements = [measure_single_file(data_dir, arguments)]
    for count in arguments.workers_counts:
        measurements.append(measure_workers(data_dir, arguments, count))
    report(measurements, arguments.records)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
