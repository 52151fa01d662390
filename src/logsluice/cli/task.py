"""``logsluice task …``: create download tasks (and watch them finish, or re-attach with
``wait``), list, describe, cancel, retry, delete, link, show the manifest, and download the file
(resumable, sha256-checked)."""

from __future__ import annotations

import click

from logsluice.cli.task_actions import (
    cancel,
    delete,
    describe,
    download,
    link,
    list_tasks,
    manifest,
    retry,
)
from logsluice.cli.task_create import create, wait


@click.group()
def task() -> None:
    """Download tasks: export any query over any time range to a file."""


for _command in (
    create,
    wait,
    list_tasks,
    describe,
    cancel,
    retry,
    delete,
    link,
    manifest,
    download,
):
    task.add_command(_command)
