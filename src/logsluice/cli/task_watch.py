"""Watching a download task until it ends: a live progress bar with rows, rate, ETA, queue place."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from logsluice.cli.client import ApiClient

POLL_SECONDS = 0.5
_ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})


def _details(item: dict[str, Any]) -> str:
    if item["status"] == "QUEUED" and item.get("queue_position"):
        return f"queued, place {item['queue_position']}"
    parts = [f"{item['rows_written']:,} rows"]
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


def watch_task(client: ApiClient, task_path: str, *, quiet: bool = False) -> dict[str, Any]:
    """Poll the task at ``task_path`` until it ends; show a progress bar unless ``quiet``.

    Returns the task as it ended. Raises ApiError when the server refuses or cannot be reached.
    """
    item: dict[str, Any] = client.request("GET", task_path)
    progress = Progress(
        TextColumn("{task.fields[status]:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[details]}"),
        console=Console(stderr=True),
        disable=quiet,
        transient=False,
    )
    with progress:
        bar = progress.add_task("export", total=100, status=item["status"], details="")
        while True:
            progress.update(
                bar, completed=item["progress"], status=item["status"], details=_details(item)
            )
            if item["status"] in _ENDED:
                return item
            time.sleep(POLL_SECONDS)
            item = client.request("GET", task_path)
