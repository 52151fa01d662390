"""The webhook parts of native request and response bodies: the webhook a task or project names,
and a task's webhook state with its deliveries.

A webhook is given as ``{"url", "secret"?}`` (or, on a task, flat ``webhook_url`` and
``webhook_secret``); a secret is ``whsec_`` + base64 of 24–64 bytes, and one is made when left out
and shown once in the response. Secrets are never shown again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from logsluice.domain.webhooks import MAX_URL_LENGTH, DeliveryStatus, WebhookDelivery
from logsluice.services.task_progress import TaskWebhook
from logsluice.services.webhooks import WebhookRequest

WebhookState = Literal["none", "waiting", "pending", "retrying", "delivered", "failed"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http:// or https:// URL; its host must resolve to public addresses only "
        "(or to networks in LOGSLUICE_WEBHOOK_ALLOW_NETWORKS)",
    )
    secret: str | None = Field(
        default=None,
        description="whsec_<base64 of 24-64 bytes> that signs each event; made (and shown once) "
        "when left out",
    )

    def request(self) -> WebhookRequest:
        return WebhookRequest(url=self.url, secret=self.secret)


class DeliveryOut(BaseModel):
    id: str = Field(description="the webhook-id header: the same on every attempt")
    event_type: str = Field(description="download_task.succeeded, .failed, .cancelled, .expired")
    status: DeliveryStatus = Field(description="pending, delivering, delivered or failed")
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when the next attempt is due")
    delivered_at: datetime | None
    last_status_code: int | None = Field(description="the receiver's last HTTP status")
    last_error: str | None

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        settled = delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
        return cls(
            id=delivery.id,
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            created_at=delivery.created_at,
            last_attempt_at=delivery.last_attempt_at,
            next_attempt_at=None if settled else delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
        )


class TaskWebhookOut(BaseModel):
    url: str | None = Field(description="where events go: the task's own URL or its project's")
    source: Literal["task", "project"] | None
    state: WebhookState = Field(
        description="waiting (the task has not ended, or runs again after a retry), else the "
        "latest delivery's state: pending, retrying, delivered, failed"
    )
    deliveries: list[DeliveryOut] = Field(description="one per ending of the task, oldest first")

    @classmethod
    def of(cls, webhook: TaskWebhook | None, ended: bool) -> TaskWebhookOut | None:
        if webhook is None:
            return None
        return cls(
            url=webhook.url,
            source=webhook.source,
            state=webhook_state(webhook, ended),
            deliveries=[DeliveryOut.of(item) for item in webhook.deliveries],
        )


def webhook_state(webhook: TaskWebhook, ended: bool) -> WebhookState:
    """Return the one-word state of a task's webhook, from its latest delivery."""
    if not webhook.deliveries:
        return "waiting" if webhook.url and not ended else "none"
    latest = webhook.deliveries[-1]
    settled = latest.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
    if settled and not ended:  # a retried task runs again: its next ending sends a new event
        return "waiting"
    if latest.status == DeliveryStatus.DELIVERED:
        return "delivered"
    if latest.status == DeliveryStatus.FAILED:
        return "failed"
    return "retrying" if latest.last_error is not None else "pending"
