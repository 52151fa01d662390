"""Download-task states and the transitions allowed between them: the one place that knows them.

Stores apply a transition with a status guard (``UPDATE … WHERE status IN allowed_sources``) so two
workers can never both win.
"""

from __future__ import annotations

import enum

from logsluice.domain.errors import ConflictError


class TaskStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


TERMINAL_STATUSES = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.EXPIRED}
)

ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED}),
    TaskStatus.RUNNING: frozenset(
        {
            TaskStatus.QUEUED,  # lease lapsed: requeued to resume after the last checkpoint
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
            TaskStatus.CANCELLING,
        }
    ),
    TaskStatus.CANCELLING: frozenset({TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.SUCCEEDED: frozenset({TaskStatus.EXPIRED}),
    TaskStatus.FAILED: frozenset({TaskStatus.QUEUED}),  # retry resumes
    TaskStatus.CANCELLED: frozenset({TaskStatus.QUEUED}),  # retry resumes
    TaskStatus.EXPIRED: frozenset(),
}


def sources_of(target: TaskStatus) -> frozenset[TaskStatus]:
    """Return the statuses from which ``target`` may be entered (the store's status guard)."""
    return frozenset(source for source, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def check_transition(current: TaskStatus, target: TaskStatus) -> None:
    """Raise ConflictError unless ``current → target`` is allowed."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise ConflictError(
            f"a task in {current} cannot become {target}",
            current_status=str(current),
            target_status=str(target),
        )
