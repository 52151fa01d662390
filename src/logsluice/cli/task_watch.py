"""Watching a download task until it ends: a live progress bar with rows, rate, ETA, queue place.

Ctrl-C stops the watching, not the task: :func:`detach` says the task keeps running and prints
the commands that watch, download or cancel it; a second Ctrl-C within a moment (or
``--cancel-on-interrupt``) cancels it. Either way the command exits 130.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from logsluice.cli import exit_codes
from logsluice.cli.client import ApiClient, ApiError, ClientConfig, path_of
from logsluice.cli.interrupts import Interrupts

POLL_SECONDS = 0.5
CANCEL_GRACE_SECONDS = 3.0
ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})


def tasks_path(project: str, *rest: str) -> str:
    """Return the API path of a project's download tasks (and of one task, its actions)."""
    return path_of("projects", project, "download-tasks", *rest)


def _details(item: dict[str, Any]) -> str:
    if item["status"] == "QUEUED" and item.get("queue_position"):
        return f"queued, place {item['queue_position']}"
    parts = [f"{item['rows_written']:,} rows"]
    estimate = item.get("estimate") or {}
    if estimate.get("rows") is not None:
        parts[0] += f" of ~{estimate['rows']:,}"
    elif estimate.get("status") == "pending":
        parts[0] += " (estimating)"
    if item.get("rows_per_second"):
        parts.append(f"{item['rows_per_second']:,.0f} rows/s")
    if item.get("eta_seconds") is not None:
        parts.append(f"ETA {_duration(item['eta_seconds'])}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    minutes, whole_seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}:{minutes:02d}:{whole_seconds:02d}" if hours else f"{minutes}:{whole_seconds:02d}"
    )


def watch_task(
    client: ApiClient, task_path: str, interrupts: Interrupts, *, quiet: bool = False
) -> dict[str, Any] | None:
    """Poll the task at ``task_path`` until it ends; show a progress bar unless ``quiet``.

    Prints ``task ID STATUS`` first (and, when stderr is not a terminal, at every change).
    Returns the task as it ended, or None as soon as Ctrl-C was pressed. Raises ApiError when the
    server refuses or cannot be reached.
    """
    item: dict[str, Any] = client.request("GET", task_path)
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.fields[status]:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[details]}"),
        console=console,
        disable=quiet,
        transient=False,
    )
    announced = ""
    with progress:
        bar = progress.add_task("export", total=100, status=item["status"], details="")
        while True:
            if (
                not quiet
                and item["status"] != announced
                and (not announced or not console.is_terminal)
            ):
                progress.console.print(f"task {item['id']} {item['status']}", highlight=False)
                announced = item["status"]
            progress.update(
                bar, completed=item["progress"], status=item["status"], details=_details(item)
            )
            if item["status"] in ENDED_STATUSES:
                return item
            if interrupts.count or interrupts.sleep(POLL_SECONDS):
                return None
            item = client.request("GET", task_path)


def suggested_command(config: ClientConfig, action: str, task_id: str, project: str) -> str:
    """Return the exact ``logsluice task ACTION`` command line for this task and connection."""
    words = ["logsluice", "task", action, task_id, "-p", project, *config.repeated_options]
    return shlex.join(words)


def detach(
    client: ApiClient,
    config: ClientConfig,
    project: str,
    task_id: str,
    interrupts: Interrupts,
    *,
    cancel_now: bool,
) -> NoReturn:
    """After Ctrl-C: leave the task running (say how to reach it) or cancel it; exit 130."""
    presses = interrupts.count  # read before printing: a press while printing must count
    if not cancel_now:
        click.echo(
            f"\nCtrl-C: stopped watching; task {task_id} keeps running on the server.", err=True
        )
        for label, action in (("watch it", "wait"), ("download it", "download"),
                              ("cancel it", "cancel")):  # fmt: skip
            click.echo(
                f"  {label + ':':<13} {suggested_command(config, action, task_id, project)}",
                err=True,
            )
        click.echo(
            f"Press Ctrl-C again within {CANCEL_GRACE_SECONDS:.0f} s to cancel it now.", err=True
        )
        cancel_now = interrupts.sleep(CANCEL_GRACE_SECONDS, until_count=presses + 1)
    if cancel_now:
        _cancel(client, project, task_id)
    sys.exit(exit_codes.INTERRUPTED)


def _cancel(client: ApiClient, project: str, task_id: str) -> None:
    try:
        cancelled = client.request("POST", tasks_path(project, task_id, "cancel"))
    except ApiError as error:
        click.echo(f"task {task_id} was not cancelled: {error.message}", err=True)
        return
    click.echo(f"task {task_id} {cancelled['status']} (cancelled on Ctrl-C)", err=True)
