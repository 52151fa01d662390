"""Claims, creates and migrations racing from many threads and processes, on SQLite and PostgreSQL.

Each racer waits at a barrier so they really start together; every task must be claimed exactly
once, and a per-project running limit must hold even when claims race.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from logsluice.adapters.sql import SqlTaskStore, create_sql_engine, migrate
from logsluice.adapters.sql.metadata import VERSION_TABLE, metadata, tasks
from logsluice.domain.tasks import Task, TaskStatus
from tests.contract.task_samples import LEASE, NO_LIMIT, T0, make_spec, make_task

THREADS = 6
PROCESSES = 4
PROJECTS = ("alpha", "beta", "gamma")


def _fill_queue(store: SqlTaskStore, per_project: int) -> set[str]:
    created = set()
    for index in range(per_project):
        for project in PROJECTS:
            task = make_task(project, now=T0 + timedelta(seconds=index))
            created.add(store.create_task(task).id)
    return created


def _claim_until_empty(store: SqlTaskStore, worker_id: str) -> list[str]:
    claimed = []
    while True:
        task = store.claim_next_task(
            worker_id, lease=LEASE, now=T0, max_running_per_project=NO_LIMIT
        )
        if task is None:
            return claimed
        assert task.lease_owner == worker_id
        claimed.append(task.id)


def _in_threads(count: int, action: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        barrier.wait()
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def _process_claimer(url: str, worker_id: str, barrier: Any, results: Any) -> None:
    engine = create_sql_engine(url)
    store = SqlTaskStore(engine)
    barrier.wait()
    results.put((worker_id, _claim_until_empty(store, worker_id)))
    engine.dispose()


def test_threads_claim_every_task_exactly_once(task_store: SqlTaskStore) -> None:
    created = _fill_queue(task_store, per_project=20)

    results = _in_threads(THREADS, lambda index: _claim_until_empty(task_store, f"thread-{index}"))

    claims = Counter(task_id for claimed in results for task_id in claimed)
    assert set(claims) == created
    assert set(claims.values()) == {1}


@pytest.mark.slow
def test_processes_claim_every_task_exactly_once(task_store: SqlTaskStore, sql_url: str) -> None:
    created = _fill_queue(task_store, per_project=20)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=_process_claimer, args=(sql_url, f"process-{index}", barrier, results)
        )
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)

    assert all(process.exitcode == 0 for process in processes)
    claims = Counter(task_id for claimed in outcomes.values() for task_id in claimed)
    assert set(claims) == created
    assert set(claims.values()) == {1}


def test_the_running_limit_holds_when_claims_race(task_store: SqlTaskStore) -> None:
    for index in range(10):
        task_store.create_task(make_task("alpha", now=T0 + timedelta(seconds=index)))

    def claim(index: int) -> Task | None:
        return task_store.claim_next_task(
            f"thread-{index}", lease=LEASE, now=T0, max_running_per_project=2
        )

    claimed = [task for task in _in_threads(THREADS, claim) if task is not None]

    assert len(claimed) == 2
    assert len({task.id for task in claimed}) == 2


def test_racing_creates_with_one_key_make_one_task(task_store: SqlTaskStore) -> None:
    def create(index: int) -> str:
        task = make_task(now=T0 + timedelta(seconds=index), spec=make_spec(idempotency_key="k"))
        return task_store.create_task(task).id

    ids = _in_threads(THREADS, create)

    assert len(set(ids)) == 1
    assert task_store.list_tasks("web")[1] == 1


def test_racing_migrations_leave_one_correct_schema(fresh_sql_url: str) -> None:
    _in_threads(4, lambda _index: migrate(fresh_sql_url))

    engine = create_sql_engine(fresh_sql_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_racing_claimers_share_starts_equally_among_projects_under_a_flood(
    task_store: SqlTaskStore, sql_engine: Engine
) -> None:
    projects = [f"project-{index}" for index in range(10)]
    for index in range(100):  # one project floods the queue first
        task_store.create_task(make_task(projects[0], now=T0 + timedelta(seconds=index)))
    for index in range(10):
        for number, project in enumerate(projects[1:]):
            later = T0 + timedelta(hours=1 + index, seconds=number)
            task_store.create_task(make_task(project, now=later))

    def claim_and_finish(index: int) -> None:
        for _ in range(15):  # 6 claimers x 15 = the first 90 starts
            task = task_store.claim_next_task(
                f"thread-{index}", lease=LEASE, now=T0, max_running_per_project=NO_LIMIT
            )
            assert task is not None
            task_store.transition(task.id, TaskStatus.SUCCEEDED, now=T0, worker_id=task.lease_owner)

    _in_threads(THREADS, claim_and_finish)

    with sql_engine.connect() as connection:
        started = connection.execute(
            select(tasks.c.project).where(tasks.c.claim_sequence.is_not(None))
        ).scalars()
        shares = Counter(started)
    assert shares == dict.fromkeys(projects, 9)
