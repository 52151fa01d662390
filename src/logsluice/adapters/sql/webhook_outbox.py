"""The outbox of completion webhooks: writing a delivery in the transaction of a task's ending, and
claiming, settling and listing deliveries for the dispatchers and the API (ADR 0020).

A task that ends (SUCCEEDED, FAILED, CANCELLED, EXPIRED) and has a webhook, its own or its
project's default, gets one ``webhook_deliveries`` row in the same transaction as the status
change, so an ending is never recorded without its event nor an event without its ending. A
deleted task sends nothing: nobody can read it any more.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, Update, delete, func, insert, select, update

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import projects, webhook_deliveries
from logsluice.adapters.sql.task_rows import webhook_target
from logsluice.domain.tasks import Task, WebhookTarget
from logsluice.domain.webhooks import (
    EVENT_TYPES,
    DeliveryOutcome,
    DeliveryStatus,
    WebhookDelivery,
    completion_snapshot,
)


def record_endings(connection: Connection, ended: Iterable[Task]) -> None:
    """Write a delivery for each task of ``ended`` that entered an ending and has a webhook."""
    for task in ended:
        event_type = EVENT_TYPES.get(task.status)
        if event_type is None or task.deleted:
            continue
        target = task.webhook or _project_default(connection, task)
        if target is None:
            continue
        connection.execute(
            insert(webhook_deliveries).values(
                id=f"msg_{uuid.uuid4().hex}",
                task_id=task.id,
                project=task.project,
                event_type=event_type,
                url=target.url,
                secret_ciphertext=target.secret_ciphertext,
                payload=json.dumps(completion_snapshot(task), sort_keys=True),
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                created_at=task.updated_at,
                next_attempt_at=task.updated_at,
            )
        )


def _project_default(connection: Connection, task: Task) -> WebhookTarget | None:
    query = select(projects.c.webhook_url, projects.c.webhook_secret_ciphertext).where(
        projects.c.name == task.project
    )
    if task.project_generation is not None:  # a project re-created under the name is another
        query = query.where(projects.c.generation == task.project_generation)
    row = connection.execute(query).first()
    return None if row is None else webhook_target(row[0], row[1])


def forget_deliveries(connection: Connection, task_id: str) -> None:
    """Remove the deliveries of a task that is purged."""
    connection.execute(delete(webhook_deliveries).where(webhook_deliveries.c.task_id == task_id))


class SqlWebhookStore:
    """Implements :class:`logsluice.ports.WebhookStore` on the task store's database.

    Claims are exactly-once at a time: on PostgreSQL the due rows are picked ``FOR UPDATE SKIP
    LOCKED`` (two dispatchers never wait for or take the same row); SQLite's write lock
    (``BEGIN IMMEDIATE``) serializes claimers. A claim holds a delivery until ``now + hold``; a
    dispatcher that died meanwhile leaves it due again, so it is sent again (at least once).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim_due(self, *, now: datetime, hold: timedelta, limit: int) -> list[WebhookDelivery]:
        """Claim up to ``limit`` deliveries due at ``now``; see the WebhookStore port."""
        table = webhook_deliveries
        due = (
            select(table.c.id)
            .where(
                table.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value]),
                table.c.next_attempt_at <= now,
            )
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
        )
        token = uuid.uuid4().hex
        with read_transaction(self._engine) as connection:
            # most polls find nothing: they should not take SQLite's write lock to learn it
            if connection.execute(due.limit(1)).first() is None:
                return []
        with write_transaction(self._engine) as connection:
            if connection.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = [row.id for row in connection.execute(due)]
            if not ids:
                return []
            rows = connection.execute(
                update(table)
                .where(table.c.id.in_(ids))
                .values(
                    status=DeliveryStatus.DELIVERING.value,
                    claim_token=token,
                    next_attempt_at=now + hold,
                    attempts=table.c.attempts + 1,
                    last_attempt_at=now,
                )
                .returning(*table.c)
            ).all()
        return sorted((delivery_from_row(row) for row in rows), key=lambda item: item.id)

    def settle(self, outcomes: Sequence[DeliveryOutcome]) -> set[str]:
        """Record how claimed attempts went, in one transaction; see the WebhookStore port."""
        settled: set[str] = set()
        if not outcomes:
            return settled
        with write_transaction(self._engine) as connection:
            for outcome in outcomes:
                if connection.execute(_settle_statement(outcome)).rowcount == 1:
                    settled.add(outcome.delivery.id)
        return settled

    def list_deliveries(self, task_ids: Collection[str]) -> dict[str, list[WebhookDelivery]]:
        """Return the deliveries of each task among ``task_ids``; see the WebhookStore port."""
        if not task_ids:
            return {}
        table = webhook_deliveries
        query = (
            select(table)
            .where(table.c.task_id.in_(list(task_ids)))
            .order_by(table.c.task_id, table.c.created_at, table.c.id)
        )
        found: dict[str, list[WebhookDelivery]] = {}
        with read_transaction(self._engine) as connection:
            for row in connection.execute(query):
                found.setdefault(row.task_id, []).append(delivery_from_row(row))
        return found

    def count_unsettled(self) -> int:
        """Return how many deliveries still wait to be delivered or given up."""
        table = webhook_deliveries
        waiting = [DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value]
        query = select(func.count()).select_from(table).where(table.c.status.in_(waiting))
        with read_transaction(self._engine) as connection:
            return int(connection.execute(query).scalar_one())

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()


def _settle_statement(outcome: DeliveryOutcome) -> Update:
    """Return the update recording ``outcome``, guarded by the claim (status and attempt count)."""
    table, delivery = webhook_deliveries, outcome.delivery
    values: dict[str, Any] = {
        "status": outcome.status.value,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at,
        "claim_token": None,
    }
    if outcome.status == DeliveryStatus.DELIVERED:
        values["delivered_at"] = outcome.at
    return (
        update(table)
        .where(
            table.c.id == delivery.id,
            table.c.status == DeliveryStatus.DELIVERING.value,
            table.c.attempts == delivery.attempts,
        )
        .values(values)
    )


def delivery_from_row(row: Row[Any]) -> WebhookDelivery:
    """Return the WebhookDelivery stored in ``row``."""
    values = row._mapping
    return WebhookDelivery(
        id=values["id"],
        task_id=values["task_id"],
        project=values["project"],
        event_type=values["event_type"],
        url=values["url"],
        status=DeliveryStatus(values["status"]),
        attempts=values["attempts"],
        created_at=values["created_at"],
        payload=json.loads(values["payload"]),
        secret_ciphertext=values["secret_ciphertext"],
        next_attempt_at=values["next_attempt_at"],
        last_attempt_at=values["last_attempt_at"],
        delivered_at=values["delivered_at"],
        last_status_code=values["last_status_code"],
        last_error=values["last_error"],
    )
