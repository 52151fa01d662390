"""Completion webhooks: checking and storing targets, and the dispatcher that delivers events.

A target (a task's own or its project's default) is checked against the address rule when it is
set, and its secret is kept encrypted. When a task ends the task store writes a delivery into its
outbox in the same transaction; :class:`WebhookDispatcher` (a thread in ``serve`` and in
``logsluice worker``) claims due deliveries, signs each event the Standard Webhooks way and POSTs
it, retrying with exponential backoff until ``retry_window`` after the ending has passed, then
gives up (FAILED). Delivery is at least once: the ``webhook-id`` is the same on every attempt, so
a receiver drops a repeat. Workers never wait for a webhook. ADR 0020 tells the design.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from logsluice.domain.catalog import Project
from logsluice.domain.errors import (
    InvalidSettingsError,
    LogsluiceError,
    ProjectNotFoundError,
    WebhookDeliveryError,
)
from logsluice.domain.tasks import Task, TaskStatus, WebhookTarget
from logsluice.domain.webhooks import (
    DeliveryOutcome,
    DeliveryStatus,
    WebhookDelivery,
    completion_event,
    new_webhook_secret,
    retry_delay,
    webhook_headers,
    webhook_key,
)
from logsluice.ports import (
    CatalogStore,
    Clock,
    SecretCipher,
    TaskReader,
    WebhookResponse,
    WebhookSender,
    WebhookStore,
)
from logsluice.services.links import LinkSigner
from logsluice.services.periodic import PeriodicJob
from logsluice.services.sinks import ArtifactStores
from logsluice.services.task_files import manifest_key
from logsluice.services.task_progress import TaskView, TaskWebhook

# Longest error text kept on a delivery (the receiver's answer is cut to this).
MAX_ERROR_CHARS = 500
# Rounds of claims one call makes while every round comes back full (a backlog drains quickly).
_MAX_ROUNDS = 10


# Told of each attempt: the delivery, its new status (DELIVERED, PENDING: will retry, FAILED: given
# up) and the receiver's status code (None when no answer came).
OutcomeObserver = Callable[[WebhookDelivery, DeliveryStatus, int | None], None]


@dataclass(frozen=True)
class WebhookSettings:
    """How deliveries are attempted: per-attempt ``timeout``, the backoff from ``initial_delay``
    doubling up to ``max_delay``, given up ``retry_window`` after the ending; ``link_ttl`` of the
    download link in a success event; ``batch_size`` deliveries claimed at once and sent
    ``concurrency`` at a time (claim no more than are sent at once, or a claim's hold may pass
    while it waits)."""

    timeout: timedelta = timedelta(seconds=10)
    retry_window: timedelta = timedelta(hours=24)
    initial_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)
    link_ttl: timedelta = timedelta(hours=24)
    batch_size: int = 4
    concurrency: int = 4


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook as a client names it: the URL and, optionally, its ``whsec_…`` secret."""

    url: str
    secret: str | None = None


@dataclass(frozen=True)
class NewWebhook:
    """A checked target to store, and its secret in plain text when one was made for the caller
    (shown once: only the ciphertext is kept)."""

    target: WebhookTarget
    created_secret: str | None = None


class WebhookTargets:
    """Checks webhook URLs against the address rule and encrypts their secrets."""

    def __init__(self, sender: WebhookSender, cipher: SecretCipher) -> None:
        self._sender = sender
        self._cipher = cipher

    def prepare(self, url: str, secret: str | None) -> NewWebhook:
        """Return the target of ``url`` signed with ``secret`` (a fresh one when None).

        Raises InvalidInputError for a malformed URL or secret, WebhookTargetRefusedError for a
        host that resolves to a refused address (or not at all).
        """
        if secret is not None:
            webhook_key(secret)
        self._sender.check_target(url)
        plaintext = new_webhook_secret() if secret is None else secret
        target = WebhookTarget(url=url, secret_ciphertext=self._cipher.encrypt(plaintext))
        return NewWebhook(target=target, created_secret=plaintext if secret is None else None)


class WebhookDispatcher:
    """Claims due deliveries from the outbox and sends them; one round per :meth:`deliver_due`."""

    def __init__(
        self,
        *,
        store: WebhookStore,
        sender: WebhookSender,
        cipher: SecretCipher,
        task_store: TaskReader,
        artifact_stores: ArtifactStores,
        link_signer: LinkSigner,
        clock: Clock,
        settings: WebhookSettings,
        base_url: str,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),  # noqa: S311 (not secret)
        on_outcome: OutcomeObserver = lambda delivery, status, status_code: None,
    ) -> None:
        """``base_url`` is where download links of success events point (the server's URL);
        ``on_outcome`` hears of every attempt's outcome (metrics count them)."""
        self._on_outcome = on_outcome
        self._store = store
        self._sender = sender
        self._cipher = cipher
        self._task_store = task_store
        self._artifact_stores = artifact_stores
        self._link_signer = link_signer
        self._clock = clock
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._jitter = jitter
        self._logger = structlog.get_logger().bind(job="webhooks")
        self._pool = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="webhook"
        )

    def deliver_due(self) -> int:
        """Claim the deliveries due now and attempt each once; return how many were attempted.

        A batch is sent ``concurrency`` at a time and its outcomes are recorded together, in one
        transaction of the task store.
        """
        # an attempt ends within three timeouts (the sender's deadline); the hold outlasts it
        hold = self._settings.timeout * 3 + timedelta(seconds=30)
        attempted = 0
        for _ in range(_MAX_ROUNDS):
            claimed = self._store.claim_due(
                now=self._clock.now(), hold=hold, limit=self._settings.batch_size
            )
            self.record(list(self._pool.map(self.attempt, claimed)))
            attempted += len(claimed)
            if len(claimed) < self._settings.batch_size:
                break
        return attempted

    def attempt(self, delivery: WebhookDelivery) -> DeliveryOutcome:
        """Send one claimed delivery once; return its outcome (not yet recorded)."""
        try:
            response = self._send(delivery)
        except LogsluiceError as error:
            return self._failure(delivery, None, error.message)
        except Exception as error:  # a bug must not leave the delivery held, retried forever
            self._logger.exception("webhook.attempt_crashed", task_id=delivery.task_id)
            return self._failure(delivery, None, f"internal error: {type(error).__name__}")
        if 200 <= response.status_code < 300:
            return DeliveryOutcome(
                delivery=delivery,
                status=DeliveryStatus.DELIVERED,
                at=self._clock.now(),
                status_code=response.status_code,
            )
        return self._failure(delivery, response.status_code, _answer_text(response))

    def record(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Record ``outcomes`` in the store, then log and report each one that was recorded."""
        settled = self._store.settle(outcomes)
        for outcome in outcomes:
            if outcome.delivery.id not in settled:
                self._logger.warning("webhook.claim_lost", task_id=outcome.delivery.task_id)
                continue
            self._on_outcome(outcome.delivery, outcome.status, outcome.status_code)
            self._log(outcome)

    def close(self) -> None:
        """Stop the sending threads (an attempt in progress finishes)."""
        self._pool.shutdown(wait=True)

    # --- one attempt -----------------------------------------------------------------------------

    def _send(self, delivery: WebhookDelivery) -> WebhookResponse:
        try:
            key = webhook_key(self._cipher.decrypt(delivery.secret_ciphertext))
        except InvalidSettingsError as error:
            raise WebhookDeliveryError(
                "the webhook's secret cannot be decrypted: this server's "
                "LOGSLUICE_ACCESS_KEY_CIPHER_KEY is not the one it was sealed with"
            ) from error
        now = self._clock.now().replace(microsecond=0)  # the body's time is the header's
        sha256, link = self._file_of(delivery)
        event = completion_event(delivery, sent_at=now, sha256=sha256, link=link)
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = webhook_headers(key, delivery.id, int(now.timestamp()), body)
        return self._sender.send(delivery.url, headers, body)

    def _failure(
        self, delivery: WebhookDelivery, status_code: int | None, error: str
    ) -> DeliveryOutcome:
        now = self._clock.now()
        wait = retry_delay(
            delivery.attempts,
            self._settings.initial_delay,
            self._settings.max_delay,
            self._jitter(),
        )
        next_attempt_at = now + wait
        gives_up = next_attempt_at > delivery.created_at + self._settings.retry_window
        return DeliveryOutcome(
            delivery=delivery,
            status=DeliveryStatus.FAILED if gives_up else DeliveryStatus.PENDING,
            at=now,
            status_code=status_code,
            error=error[:MAX_ERROR_CHARS],
            next_attempt_at=None if gives_up else next_attempt_at,
        )

    def _log(self, outcome: DeliveryOutcome) -> None:
        delivery = outcome.delivery
        fields = {
            "task_id": delivery.task_id,
            "webhook_id": delivery.id,
            "project": delivery.project,
            "event_type": delivery.event_type,
            "attempts": delivery.attempts,
            "status_code": outcome.status_code,
        }
        if outcome.status == DeliveryStatus.DELIVERED:
            self._logger.info("webhook.delivered", **fields)
            return
        event = "webhook.failed" if outcome.status == DeliveryStatus.FAILED else "webhook.retrying"
        self._logger.warning(event, error=outcome.error, **fields)

    # --- what a success event links to -----------------------------------------------------------

    def _file_of(self, delivery: WebhookDelivery) -> tuple[str | None, dict[str, str] | None]:
        """Return the sha256 and a fresh link of a success event's file; None, None once the task
        is no longer SUCCEEDED (expired, deleted), its file is gone or its store refuses us.

        A store that fails for the moment (a retryable error) fails the attempt instead, so the
        retry carries the link.
        """
        if delivery.payload.get("status") != TaskStatus.SUCCEEDED.value:
            return None, None
        try:
            task = self._task_store.get_task(delivery.project, delivery.task_id)
            manifest_store = self._artifact_stores.artifact_store_for(task)
            manifest = json.loads(b"".join(manifest_store.read(manifest_key(task))))
        except LogsluiceError as error:
            if error.retryable:
                raise
            return None, None
        except ValueError:
            return None, None
        if task.status != TaskStatus.SUCCEEDED or task.artifact_key is None:
            return None, None
        signed = self._link_signer.sign(
            task.project, task.id, task.artifact_key, self._settings.link_ttl
        )
        direct_url = self._artifact_stores.direct_link(task, signed.expires_at)
        link = {
            "url": replace(signed, direct_url=direct_url).url(self._base_url),
            "expires_at": signed.expires_at.isoformat(),
        }
        sha256 = manifest.get("sha256")
        return (sha256 if isinstance(sha256, str) else None), link


def _answer_text(response: WebhookResponse) -> str:
    code = response.status_code
    if 300 <= code < 400:
        return f"the webhook answered {code}, a redirect; redirects are not followed"
    answer = " ".join(response.body_start.split())[:200]
    return f"the webhook answered {code}" + (f": {answer}" if answer else "")


class WebhookJob:
    """The webhook dispatcher on its periodic thread: started and stopped like a worker pool."""

    def __init__(self, dispatcher: WebhookDispatcher, interval: timedelta) -> None:
        self.dispatcher = dispatcher
        self._job = PeriodicJob("webhooks", interval, dispatcher.deliver_due)

    def start(self) -> None:
        """Start delivering in the background."""
        self._job.start()

    def stop(self) -> None:
        """Stop after the round in progress and its attempts end."""
        self._job.stop()
        self.dispatcher.close()


class ProjectWebhooks:
    """Sets and clears the default webhook of a project (tasks without their own use it)."""

    def __init__(self, catalog_store: CatalogStore, targets: WebhookTargets) -> None:
        self._catalog_store = catalog_store
        self._targets = targets

    def set_default(
        self, project: str, webhook: WebhookRequest | None
    ) -> tuple[Project, str | None]:
        """Set the project's default webhook (None clears it); return the project and the secret
        made for it when none was given (shown once).

        Raises ProjectNotFoundError, InvalidInputError, WebhookTargetRefusedError.
        """
        self._catalog_store.get_project(project)
        if webhook is None:
            return self._catalog_store.set_project_webhook(project, None), None
        prepared = self._targets.prepare(webhook.url, webhook.secret)
        updated = self._catalog_store.set_project_webhook(project, prepared.target)
        return updated, prepared.created_secret


def views_with_webhooks(
    views: Sequence[TaskView], store: WebhookStore, catalog_store: CatalogStore
) -> list[TaskView]:
    """Return ``views`` with each task's webhook in force and its deliveries (one read for all).

    A task's own webhook wins; else its project's default (read once per project).
    """
    deliveries = store.list_deliveries([view.task.id for view in views]) if views else {}
    defaults: dict[str, WebhookTarget | None] = {}

    def default_of(project: str) -> WebhookTarget | None:
        if project not in defaults:
            try:
                defaults[project] = catalog_store.get_project(project).webhook
            except ProjectNotFoundError:
                defaults[project] = None
        return defaults[project]

    return [
        replace(view, webhook=_task_webhook(view.task, deliveries, default_of)) for view in views
    ]


def _task_webhook(
    task: Task,
    deliveries: Mapping[str, Sequence[WebhookDelivery]],
    default_of: Callable[[str], WebhookTarget | None],
) -> TaskWebhook | None:
    sent = tuple(deliveries.get(task.id, ()))
    if task.webhook is not None:
        return TaskWebhook(url=task.webhook.url, source="task", deliveries=sent)
    default = default_of(task.project)
    if default is None:
        return TaskWebhook(url=None, source=None, deliveries=sent) if sent else None
    return TaskWebhook(url=default.url, source="project", deliveries=sent)
