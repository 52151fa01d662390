"""The download-task lifecycle rules and task records of ``logsluice.domain.tasks`` (no I/O)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from logsluice.domain.errors import ConflictError, InvalidInputError
from logsluice.domain.export import Compression, CsvOptions, ExportFormat, Order
from logsluice.domain.tasks import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    Task,
    TaskSpec,
    TaskStatus,
    check_transition,
    entry_changes,
    finishes,
    sources_of,
)
from logsluice.domain.timerange import TimeRange

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PINNED_FINGERPRINT = "06a288d0653fdff1bfc8817ea003d2a4ec75d985f977c53419859082e889cb53"
SPEC = TaskSpec(
    name="nightly",
    logstore="app",
    query="status>=500",
    time_range=TimeRange(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)),
    format=ExportFormat.JSONL,
)
LIFECYCLE = {
    (TaskStatus.QUEUED, TaskStatus.RUNNING),
    (TaskStatus.QUEUED, TaskStatus.CANCELLED),
    (TaskStatus.RUNNING, TaskStatus.QUEUED),
    (TaskStatus.RUNNING, TaskStatus.SUCCEEDED),
    (TaskStatus.RUNNING, TaskStatus.FAILED),
    (TaskStatus.RUNNING, TaskStatus.CANCELLING),
    (TaskStatus.CANCELLING, TaskStatus.CANCELLED),
    (TaskStatus.CANCELLING, TaskStatus.FAILED),
    (TaskStatus.SUCCEEDED, TaskStatus.EXPIRED),
    (TaskStatus.FAILED, TaskStatus.QUEUED),
    (TaskStatus.CANCELLED, TaskStatus.QUEUED),
}


@pytest.mark.parametrize(
    ("current", "target"),
    list(itertools.product(TaskStatus, TaskStatus)),
    ids=lambda status: str(status).lower(),
)
def test_exactly_the_documented_transitions_are_allowed(
    current: TaskStatus, target: TaskStatus
) -> None:
    if (current, target) in LIFECYCLE:
        check_transition(current, target)
        assert current in sources_of(target)
    else:
        with pytest.raises(ConflictError) as raised:
            check_transition(current, target)
        assert raised.value.details == {"current_status": current, "target_status": target}
        assert current not in sources_of(target)


def test_every_status_has_a_rule_and_expired_is_final() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(TaskStatus)
    assert ALLOWED_TRANSITIONS[TaskStatus.EXPIRED] == frozenset()


def test_entering_queued_drops_the_lease_error_and_cancel_request() -> None:
    assert entry_changes(TaskStatus.QUEUED) == {
        "lease_owner": None,
        "lease_expires_at": None,
        "cancel_requested": False,
        "error_code": None,
        "error_message": None,
        "finished_at": None,
    }


def test_entering_cancelling_records_the_cancel_request() -> None:
    assert entry_changes(TaskStatus.CANCELLING) == {"cancel_requested": True}
    assert entry_changes(TaskStatus.RUNNING) == {}


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_terminal_statuses_drop_the_lease(status: TaskStatus) -> None:
    dropped = {"lease_owner": None, "lease_expires_at": None}
    if status in (TaskStatus.SUCCEEDED, TaskStatus.CANCELLED):  # the outage shown while running
        dropped |= {"error_code": None, "error_message": None}
    assert entry_changes(status) == dropped
    assert finishes(status) == (status != TaskStatus.EXPIRED)


def test_a_full_spec_survives_json() -> None:
    spec = dataclasses.replace(
        SPEC,
        display_name="Nightly errors",
        description="for the on-call",
        logstream="edge",
        compression=Compression.LZ4,
        limit=500,
        order=Order.DESC,
        allow_incomplete=True,
        csv=CsvOptions(header=False, delimiter="\t", escape_formulas=False),
        idempotency_key="key-1",
        timezone="Europe/Berlin",
    )

    assert TaskSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_absent_optional_keys_take_their_defaults() -> None:
    minimal = {
        key: SPEC.to_dict()[key] for key in ("name", "logstore", "query", "time_range", "format")
    }

    assert TaskSpec.from_dict(minimal) == SPEC


@pytest.mark.parametrize(
    "broken",
    [
        {"name": "x"},
        {**SPEC.to_dict(), "format": "xml"},
        {**SPEC.to_dict(), "time_range": {"start": "yesterday", "end": "today"}},
        {**SPEC.to_dict(), "csv": {"quote": "'"}},
    ],
)
def test_a_malformed_spec_is_invalid_input(broken: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        TaskSpec.from_dict(broken)


def test_the_fingerprint_is_stable_and_ignores_the_idempotency_key() -> None:
    keyed = dataclasses.replace(SPEC, idempotency_key="key-1")

    assert SPEC.fingerprint() == keyed.fingerprint()
    # Pinned: stored tasks compare against it, so a change would break idempotent retries.
    assert SPEC.fingerprint() == PINNED_FINGERPRINT


@pytest.mark.parametrize(
    "change",
    [
        {"query": "status>=400"},
        {"limit": 10},
        {"format": ExportFormat.CSV},
        {"csv": CsvOptions(delimiter=";")},
        {"timezone": "Asia/Tokyo"},
        {"time_range": TimeRange(NOW - timedelta(hours=1), NOW)},
    ],
)
def test_the_fingerprint_changes_with_the_spec(change: dict[str, object]) -> None:
    assert dataclasses.replace(SPEC, **change).fingerprint() != SPEC.fingerprint()


def test_a_new_task_is_queued_with_zeroed_metrics() -> None:
    task = Task.queued(project="web", spec=SPEC, now=NOW)
    other = Task.queued(project="web", spec=SPEC, now=NOW)

    assert (task.status, task.created_at, task.updated_at, task.attempts) == (
        TaskStatus.QUEUED,
        NOW,
        NOW,
        0,
    )
    assert (task.rows_written, task.progress, task.missing_ranges, task.deleted) == (
        0,
        0.0,
        (),
        False,
    )
    assert len(task.id) == 32
    assert task.id != other.id
