"""Bench: a flood of download tasks from many projects at once — none lost, none starved.

Usage::

    .venv/bin/python bench/reliability/task_flood.py [--tasks 1000] [--projects 10]
        [--records 200] [--seed 1] [--work-dir DIR]

One embedded ``logsluice serve`` (its default settings: 2 worker threads, at most 2 running tasks
per project). Each of ``--projects`` projects gets a logstore of ``--records`` records (ingested
through the API), so that each task is short. Then one thread per project, all released at the
same moment, creates that project's share of ``--tasks`` CSV+zstd download tasks of the whole
logstore through the native API, and the client waits until every task has ended. Checked and
printed:

- none lost or duplicated: each project lists exactly the ids created for it, each once, each
  SUCCEEDED with ``rows_written`` equal to the logstore's records, and each has its own file;
- no project starved: by ``started_at``, each project's share of the first ``10 × projects``
  starts, the rank of its first start and its median wait from create to start;
- time to drain (first create → last SUCCEEDED seen) and the peak memory of ``serve``
  (``VmHWM`` of ``/proc/<pid>/status``) over the whole run.

Any loss, duplicate, failure or wrong count exits with status 1. The figures in
``docs/reliability.md`` ("A flood of tasks") come from this script.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from restarts import ServerPool
from serving import BenchError, RunningServer, call, create_logstore, describe_run

LOGSTORE = "app"
WHOLE_RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
POLL_SECONDS = 2.0
DRAIN_TIMEOUT_SECONDS = 3 * 3600
PAGE_SIZE = 500


def _project(index: int) -> str:
    return f"flood-{index:02d}"


def _tasks_url(project: str) -> str:
    return f"/api/v1/projects/{project}/download-tasks"


def _fill(server: RunningServer, project: str, records: int) -> None:
    lines = (
        orjson.dumps(
            {
                "timestamp": f"2026-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "id": i,
                "project": project,
            }
        )
        for i in range(records)
    )
    with server.client() as client:
        create_logstore(client, project, LOGSTORE, "timestamp")
        call(
            client,
            "POST",
            f"/api/v1/projects/{project}/logstores/{LOGSTORE}/records",
            content=b"\n".join(lines) + b"\n",
            headers={"Content-Type": "application/x-ndjson"},
        )


def _create_all(
    server: RunningServer,
    project: str,
    count: int,
    gate: threading.Barrier,
    created: dict[str, list[str]],
) -> None:
    body = {
        "logstore": LOGSTORE,
        "query": "*",
        **WHOLE_RANGE,
        "format": "csv",
        "compression": "zstd",
    }
    ids: list[str] = []
    with server.client() as client:
        gate.wait()
        for _ in range(count):
            ids.append(call(client, "POST", _tasks_url(project), json=body)["id"])
    created[project] = ids


def flood(server: RunningServer, projects: list[str], tasks: int) -> dict[str, list[str]]:
    """Create ``tasks`` tasks spread over ``projects``, one thread per project, all at once."""
    created: dict[str, list[str]] = {}
    gate = threading.Barrier(len(projects))
    shares = [tasks // len(projects) + (i < tasks % len(projects)) for i in range(len(projects))]
    threads = [
        threading.Thread(target=_create_all, args=(server, project, share, gate, created))
        for project, share in zip(projects, shares, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if sum(len(ids) for ids in created.values()) != tasks:
        raise BenchError("not every create answered with an id")
    return created


def _ended(server: RunningServer, projects: list[str]) -> int:
    ended = 0
    with server.client() as client:
        for project in projects:
            query = {"status": "SUCCEEDED,FAILED,CANCELLED,EXPIRED", "size": 1}
            ended += int(call(client, "GET", _tasks_url(project), params=query)["total"])
    return ended


def wait_for_drain(server: RunningServer, projects: list[str], tasks: int) -> None:
    """Poll until every task has ended. Raises BenchError past the timeout."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _ended(server, projects) >= tasks:
            return
        time.sleep(POLL_SECONDS)
    raise BenchError(f"the tasks did not drain in {DRAIN_TIMEOUT_SECONDS} s")


def list_tasks(server: RunningServer, project: str) -> list[dict[str, Any]]:
    """Return every task the project lists, page by page."""
    listed: list[dict[str, Any]] = []
    with server.client() as client:
        page = 1
        while True:
            params = {"page": page, "size": PAGE_SIZE, "order_by": "created", "order": "asc"}
            answer = call(client, "GET", _tasks_url(project), params=params)
            listed.extend(answer["download_tasks"])
            if page * PAGE_SIZE >= answer["total"]:
                return listed
            page += 1


def check_project(
    data_dir: Path, project: str, ids: list[str], listed: list[dict[str, Any]], records: int
) -> list[str]:
    """Return what is wrong with one project's tasks (nothing when all is well)."""
    problems: list[str] = []
    listed_ids = Counter(task["id"] for task in listed)
    if sorted(listed_ids) != sorted(ids) or max(listed_ids.values(), default=1) > 1:
        problems.append(f"{project}: created {len(ids)} ids, lists {len(listed)} tasks")
    for task in listed:
        if task["status"] != "SUCCEEDED" or task["rows_written"] != records:
            problems.append(f"{project}/{task['id']}: {task['status']} {task['rows_written']} rows")
        elif not (data_dir / "artifacts" / project / task["id"] / task["file_name"]).exists():
            problems.append(f"{project}/{task['id']}: no file")
    return problems


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def print_fairness(listed: dict[str, list[dict[str, Any]]]) -> None:
    """Print each project's share of the first starts, first start rank and median wait."""
    every = sorted(
        (task for tasks in listed.values() for task in tasks),
        key=lambda task: _time(task["started_at"]),
    )
    first = len(listed) * 10
    share = Counter(task["project"] for task in every[:first])
    rank = {}
    for position, task in enumerate(every, start=1):
        rank.setdefault(task["project"], position)
    print(
        f"| project | tasks | share of the first {first} starts | first start (rank) "
        "| median wait create → start | attempts > 1 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for project, tasks in sorted(listed.items()):
        waits = [(_time(t["started_at"]) - _time(t["created_at"])).total_seconds() for t in tasks]
        retried = sum(task["attempts"] > 1 for task in tasks)
        print(
            f"| {project} | {len(tasks)} | {share[project]} | {rank[project]} | "
            f"{statistics.median(waits):.1f} s | {retried} |"
        )


def parse_arguments() -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--work-dir", type=Path)
    return parser.parse_args()


def run(pool: ServerPool, work: Path, arguments: argparse.Namespace) -> bool:
    """Fill the projects, flood them with tasks, wait for the drain; print and check."""
    server = pool.start(work / "data")
    projects = [_project(index) for index in range(arguments.projects)]
    for project in projects:
        _fill(server, project, arguments.records)
    started = time.monotonic()
    created = flood(server, projects, arguments.tasks)
    created_seconds = time.monotonic() - started
    wait_for_drain(server, projects, arguments.tasks)
    drained_seconds = time.monotonic() - started
    peak = server.peak_rss_bytes()
    listed = {project: list_tasks(server, project) for project in projects}
    problems = [
        problem
        for project in projects
        for problem in check_project(
            server.data_dir, project, created[project], listed[project], arguments.records
        )
    ]
    print_fairness(listed)
    succeeded = sum(task["status"] == "SUCCEEDED" for tasks in listed.values() for task in tasks)
    print(
        f"{arguments.tasks:,} tasks from {len(projects)} projects created in "
        f"{created_seconds:.1f} s, drained in {drained_seconds:.1f} s; {succeeded:,} SUCCEEDED; "
        f"peak RSS of serve {peak / 2**20:,.0f} MiB; problems: {len(problems)}"
    )
    for problem in problems[:20]:
        print(f"  {problem}")
    return not problems


def main() -> int:
    arguments = parse_arguments()
    print(describe_run())
    work = arguments.work_dir or Path(tempfile.mkdtemp(prefix="logsluice-flood-"))
    pool = ServerPool({"LOGSLUICE_LOG_LEVEL": "warning"})
    try:
        good = run(pool, work, arguments)
    finally:
        pool.stop_all()  # a failed run must not leave a server behind
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
