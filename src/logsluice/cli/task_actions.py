"""``logsluice task list|describe|cancel|retry|delete|link|manifest|download``: one task at a time.

``download`` resumes a partial file and checks the manifest's sha256; ``-`` streams to stdout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from logsluice.cli.client import ClientConfig
from logsluice.cli.options import (
    api_client,
    client_options,
    json_option,
    print_json,
    project_option,
)
from logsluice.cli.task_create import describe_estimate
from logsluice.cli.task_files import STANDARD_OUTPUT, download_file, human_bytes
from logsluice.cli.task_watch import tasks_path
from logsluice.domain.links import DEFAULT_LINK_TTL, MAXIMUM_LINK_TTL, MINIMUM_LINK_TTL

in_project = project_option()


def _seconds(value: Any) -> str:
    return f"{value:,.0f} s" if value is not None else ""


def _error(value: Any) -> str:
    return f"{value['code']}: {value['message']}" if value else ""


def _ranges(value: Any) -> str:
    return ", ".join(f"[{item['from']} .. {item['to']})" for item in value or ())


def describe_webhook(value: Any) -> str:
    """Return a task's webhook as people read it: state, URL and the latest delivery."""
    if not value:
        return "none"
    text = f"{value['state']} -> {value['url'] or '(no URL any more)'}"
    if value.get("source") == "project":
        text += " (project default)"
    deliveries = value.get("deliveries") or []
    if deliveries:
        latest = deliveries[-1]
        text += f"; {latest['event_type']} {latest['status']} after {latest['attempts']} attempt(s)"
        if latest.get("last_status_code") is not None:
            text += f", last answer {latest['last_status_code']}"
        if latest.get("last_error"):
            text += f", last error: {latest['last_error']}"
        if latest["status"] in ("pending", "delivering") and latest.get("next_attempt_at"):
            text += f", next attempt {latest['next_attempt_at']}"
    return text


def webhook_column(value: Any) -> str:
    """Return the short webhook state of a task list row ("" without a webhook)."""
    return "" if not value else str(value["state"])


_READABLE: dict[str, Callable[[Any], str]] = {
    "progress": lambda value: f"{value:.1f} %",
    "rows_written": lambda value: f"{value:,}",
    "bytes_written": lambda value: f"{human_bytes(value)} ({value:,} bytes)",
    "rows_per_second": lambda value: f"{value:,.0f}" if value is not None else "",
    "eta_seconds": _seconds,
    "duration_seconds": lambda value: f"{value:,.1f} s" if value is not None else "",
    "estimate": describe_estimate,
    "error": _error,
    "missing_ranges": _ranges,
    "webhook": describe_webhook,
}


@click.command(name="list")
@in_project
@click.option("--status", default=None, help="Only these statuses, comma-separated.")
@click.option("--logstore", "-l", default=None, help="Only tasks of this logstore.")
@click.option("--name", default=None, help="Only tasks with this name.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--size", type=click.IntRange(1, 500), default=20, show_default=True)
@client_options
@json_option
def list_tasks(client_config: ClientConfig, project: str, as_json: bool, **filters: Any) -> None:
    """List the project's download tasks, newest first."""
    params = {name: value for name, value in filters.items() if value is not None}
    with api_client(client_config) as client:
        listing = client.request("GET", tasks_path(project), params=params)
    if as_json:
        print_json(listing)
        return
    table = Table()
    table.add_column("ID", no_wrap=True)
    for column in ("NAME", "STATUS", "PROGRESS", "ROWS", "SIZE", "WEBHOOK", "CREATED"):
        table.add_column(column, overflow="fold")
    for item in listing["download_tasks"]:
        table.add_row(item["id"], item["name"], item["status"], f"{item['progress']:.1f}%",
                      f"{item['rows_written']:,}", human_bytes(item["bytes_written"]),
                      webhook_column(item.get("webhook")), item["created_at"])  # fmt: skip
    console = Console()
    console.print(table)
    console.print(f"{len(listing['download_tasks'])} of {listing['total']} tasks", style="dim")


@click.command()
@click.argument("task_id")
@in_project
@client_options
@json_option
def describe(client_config: ClientConfig, task_id: str, project: str, as_json: bool) -> None:
    """Show a task: status, progress, rows, bytes, estimate, errors and times."""
    with api_client(client_config) as client:
        item = client.request("GET", tasks_path(project, task_id))
    if as_json:
        print_json(item)
        return
    for key, value in item.items():
        if key in ("spec", "warnings", "webhook_secret"):
            continue
        text = _READABLE[key](value) if key in _READABLE else "" if value is None else str(value)
        click.echo(f"{key:>16}: {text}")
    spec = item["spec"]
    click.echo(f"{'query':>16}: {spec['query']}  [{spec['from']} .. {spec['to']})")
    click.echo(f"{'file':>16}: {spec['format']} + {spec['compression']}, order {spec['order']}")


def _simple_action(name: str, method: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text)
    @click.argument("task_id")
    @in_project
    @client_options
    @json_option
    def action(client_config: ClientConfig, task_id: str, project: str, as_json: bool) -> None:
        suffix = () if name == "delete" else (name,)
        with api_client(client_config) as client:
            result = client.request(method, tasks_path(project, task_id, *suffix))
        if as_json:
            print_json(result or {"id": task_id, "deleted": True})
        elif result is None:
            click.echo(f"task {task_id} deleted")
        else:
            click.echo(f"task {task_id} {result['status']}")

    return action


cancel = _simple_action("cancel", "POST", "Cancel a task (a running one stops within a second).")
retry = _simple_action("retry", "POST", "Queue a FAILED or CANCELLED task again; it resumes.")
delete = _simple_action("delete", "DELETE", "Delete a task and its file.")

_TTL_HELP = (
    f"Seconds the link works: {MINIMUM_LINK_TTL.total_seconds():.0f} to "
    f"{MAXIMUM_LINK_TTL.total_seconds():,.0f} ({MAXIMUM_LINK_TTL.days} days; the server's "
    f"LOGSLUICE_LINK_TTL_MAX may differ); default {DEFAULT_LINK_TTL.total_seconds():.0f} "
    "(LOGSLUICE_LINK_TTL_DEFAULT)."
)


@click.command()
@click.argument("task_id")
@in_project
@click.option(
    "--ttl",
    type=click.IntRange(min=int(MINIMUM_LINK_TTL.total_seconds())),
    default=None,
    help=_TTL_HELP,
)
@client_options
@json_option
def link(client_config: ClientConfig, task_id: str, project: str, ttl: int | None,
         as_json: bool) -> None:  # fmt: skip
    """Print a signed download link of the task's file (it needs no token)."""
    params = {"ttl": ttl} if ttl is not None else {}
    with api_client(client_config) as client:
        result = client.request("GET", tasks_path(project, task_id, "link"), params=params)
    if as_json:
        print_json(result)
    else:
        click.echo(result["url"])
        click.echo(f"expires at {result['expires_at']}", err=True)


@click.command()
@click.argument("task_id")
@in_project
@client_options
def manifest(client_config: ClientConfig, task_id: str, project: str) -> None:
    """Print the manifest of the task's file (JSON)."""
    with api_client(client_config) as client:
        print_json(client.request("GET", tasks_path(project, task_id, "manifest")))


@click.command()
@click.argument("task_id")
@click.argument(
    "path", required=False, type=click.Path(dir_okay=False, path_type=Path, allow_dash=True)
)
@in_project
@client_options
def download(client_config: ClientConfig, task_id: str, path: Path | None, project: str) -> None:
    """Download the task's file to PATH (default: its own name; `-`: standard output), resuming
    a partial download and checking the sha256 of the manifest."""
    with api_client(client_config) as client:
        item = client.request("GET", tasks_path(project, task_id))
        manifest_body = client.request("GET", tasks_path(project, task_id, "manifest"))
        link_body = client.request("GET", tasks_path(project, task_id, "link"))
    target = path or Path(item["file_name"])
    to_stdout = target == STANDARD_OUTPUT
    saved = download_file(link_body["url"], target, manifest_body["sha256"], quiet=to_stdout)
    size = manifest_body.get("bytes", 0) if to_stdout else saved.stat().st_size
    where = "standard output" if to_stdout else str(saved)
    click.echo(f"file: {where} ({human_bytes(size)}, sha256 verified)", err=to_stdout)
