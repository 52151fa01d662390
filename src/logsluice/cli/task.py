"""``logsluice task …``: create download tasks (and watch them finish), list, describe, cancel,
retry, delete, link, show the manifest, and download the file (resumable, sha256-checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from logsluice.cli.client import ApiClient, ClientConfig, path_of
from logsluice.cli.options import api_client, client_options, json_option, print_json
from logsluice.cli.task_files import download_file, human_bytes
from logsluice.cli.task_watch import watch_task

_FORMATS = ["csv", "jsonl", "parquet"]
_COMPRESSIONS = ["none", "gzip", "zstd", "lz4"]
EXIT_TASK_FAILED = 2


def _tasks_path(project: str, *rest: str) -> str:
    return path_of("projects", project, "download-tasks", *rest)


project_option = click.option("--project", "-p", required=True, help="The project.")


@click.group()
def task() -> None:
    """Download tasks: export any query over any time range to a file."""


@task.command()
@click.argument("query_text", metavar="QUERY", default="*")
@project_option
@click.option("--logstore", "-l", required=True, help="The logstore to export from.")
@click.option("--from", "start", required=True, help="Start: RFC 3339 or epoch seconds.")
@click.option("--to", "end", required=True, help="End (exclusive): RFC 3339 or epoch seconds.")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(_FORMATS),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "--compression",
    type=click.Choice(_COMPRESSIONS),
    default="none",
    show_default=True,
    help="Compression (Parquet uses its internal codec).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Most rows; default every row."
)
@click.option(
    "--order",
    type=click.Choice(["asc", "desc"]),
    default="asc",
    show_default=True,
    help="By time: oldest first (asc) or newest first (desc).",
)
@click.option("--name", default=None, help="Task name; default <logstore>-export.")
@click.option("--display-name", default="", help="A label for people.")
@click.option("--description", default="", help="What the export is for.")
@click.option("--logstream", default=None, help="Only this logstream.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of rendered times.")
@click.option(
    "--allow-incomplete", is_flag=True, help="Finish with a notice if a slice keeps failing."
)
@click.option("--no-header", is_flag=True, help="CSV: no header row.")
@click.option("--delimiter", default=",", show_default=True, help="CSV: the delimiter.")
@click.option("--no-escape-formulas", is_flag=True, help="CSV: keep cells starting with = + - @.")
@click.option("--idempotency-key", default=None, help="Same key and spec: the same task.")
@click.option("--dry-run", is_flag=True, help="Only print the estimate of rows and bytes.")
@click.option("--wait", is_flag=True, help="Show a progress bar until the task ends.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --wait: download the file here.",
)
@client_options
@json_option
def create(client_config: ClientConfig, as_json: bool, wait: bool, output: Path | None,
           dry_run: bool, **options: Any) -> None:  # fmt: skip
    """Export QUERY (SEARCH, or SEARCH | SQL; default `*`) over [--from, --to) to a file."""
    body = _create_body(options)
    project = options["project"]
    with api_client(client_config) as client:
        created = client.request(
            "POST", _tasks_path(project), json=body, params={"dry_run": str(dry_run).lower()}
        )
        if dry_run or not wait:
            _print_created(created, as_json)
            return
        if not as_json:
            click.echo(f"task {created['id']} queued", err=True)
        finished = watch_task(client, _tasks_path(project, created["id"]), quiet=as_json)
        _conclude(client, client_config, project, finished, output, as_json)


def _create_body(options: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "logstore": options["logstore"],
        "query": options["query_text"],
        "from": options["start"],
        "to": options["end"],
        "format": options["export_format"],
        "compression": options["compression"],
        "order": options["order"],
        "display_name": options["display_name"],
        "description": options["description"],
        "timezone": options["timezone"],
        "allow_incomplete": options["allow_incomplete"],
        "csv": {
            "header": not options["no_header"],
            "delimiter": options["delimiter"],
            "escape_formulas": not options["no_escape_formulas"],
        },
    }
    for name in ("limit", "name", "logstream", "idempotency_key"):
        if options[name] is not None:
            body[name] = options[name]
    return body


def _print_created(created: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(created)
        return
    estimate = created["estimate"]
    rows = "unknown" if estimate["rows"] is None else f"{estimate['rows']:,}"
    size = "unknown" if estimate["bytes"] is None else human_bytes(estimate["bytes"])
    if created.get("dry_run"):
        click.echo(f"estimate: {rows} rows, about {size}")
        return
    click.echo(f"task {created['id']} {created['status']} (estimate: {rows} rows, about {size})")


def _conclude(client: ApiClient, config: ClientConfig, project: str, finished: dict[str, Any],
              output: Path | None, as_json: bool) -> None:  # fmt: skip
    if finished["status"] != "SUCCEEDED":
        error = finished.get("error") or {}
        click.echo(
            f"task {finished['id']} {finished['status']}: {error.get('message', '')}", err=True
        )
        raise SystemExit(EXIT_TASK_FAILED)
    link = client.request("GET", _tasks_path(project, finished["id"], "link"))
    path = None
    if output is not None:
        manifest = client.request("GET", _tasks_path(project, finished["id"], "manifest"))
        path = download_file(link["url"], output, manifest["sha256"], quiet=as_json)
    if as_json:
        print_json({**finished, "link": link, "path": str(path) if path else None})
        return
    _print_summary(finished)
    click.echo(f"link: {link['url']} (until {link['expires_at']})")
    if path is not None:
        click.echo(f"file: {path}")


def _print_summary(finished: dict[str, Any]) -> None:
    flags = " (truncated at the limit)" if finished["truncated"] else ""
    if finished["incomplete"]:
        flags += " (incomplete: some ranges are missing, see the manifest)"
    click.echo(
        f"task {finished['id']} SUCCEEDED: {finished['rows_written']:,} rows, "
        f"{human_bytes(finished['bytes_written'])} in {finished['duration_seconds'] or 0:.1f} s"
        f"{flags}"
    )


@task.command(name="list")
@project_option
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
        listing = client.request("GET", _tasks_path(project), params=params)
    if as_json:
        print_json(listing)
        return
    table = Table()
    table.add_column("ID", no_wrap=True)
    for column in ("NAME", "STATUS", "PROGRESS", "ROWS", "SIZE", "CREATED"):
        table.add_column(column, overflow="fold")
    for item in listing["download_tasks"]:
        table.add_row(item["id"], item["name"], item["status"], f"{item['progress']:.1f}%",
                      f"{item['rows_written']:,}", human_bytes(item["bytes_written"]),
                      item["created_at"])  # fmt: skip
    console = Console()
    console.print(table)
    console.print(f"{len(listing['download_tasks'])} of {listing['total']} tasks", style="dim")


@task.command()
@click.argument("task_id")
@project_option
@client_options
@json_option
def describe(client_config: ClientConfig, task_id: str, project: str, as_json: bool) -> None:
    """Show a task: status, progress, rows, bytes, estimate, errors and times."""
    with api_client(client_config) as client:
        item = client.request("GET", _tasks_path(project, task_id))
    if as_json:
        print_json(item)
        return
    skipped = {"spec", "missing_ranges"}
    for key, value in item.items():
        if key not in skipped:
            click.echo(f"{key:>16}: {'' if value is None else value}")
    spec = item["spec"]
    click.echo(f"{'query':>16}: {spec['query']}  [{spec['from']} .. {spec['to']})")
    click.echo(f"{'file':>16}: {spec['format']} + {spec['compression']}, order {spec['order']}")


def _simple_action(name: str, method: str, help_text: str) -> None:
    @task.command(name=name, help=help_text)
    @click.argument("task_id")
    @project_option
    @client_options
    @json_option
    def action(client_config: ClientConfig, task_id: str, project: str, as_json: bool) -> None:
        suffix = () if name == "delete" else (name,)
        with api_client(client_config) as client:
            result = client.request(method, _tasks_path(project, task_id, *suffix))
        if as_json:
            print_json(result or {"id": task_id, "deleted": True})
        elif result is None:
            click.echo(f"task {task_id} deleted")
        else:
            click.echo(f"task {task_id} {result['status']}")


_simple_action("cancel", "POST", "Cancel a task (a running one stops within about a second).")
_simple_action("retry", "POST", "Queue a FAILED or CANCELLED task again; it resumes.")
_simple_action("delete", "DELETE", "Delete a task and its file.")


@task.command()
@click.argument("task_id")
@project_option
@click.option("--ttl", type=click.IntRange(min=1), default=None, help="Seconds; default 3600.")
@client_options
@json_option
def link(client_config: ClientConfig, task_id: str, project: str, ttl: int | None,
         as_json: bool) -> None:  # fmt: skip
    """Print a signed download link of the task's file."""
    params = {"ttl": ttl} if ttl is not None else {}
    with api_client(client_config) as client:
        result = client.request("GET", _tasks_path(project, task_id, "link"), params=params)
    if as_json:
        print_json(result)
    else:
        click.echo(result["url"])
        click.echo(f"expires at {result['expires_at']}", err=True)


@task.command()
@click.argument("task_id")
@project_option
@client_options
def manifest(client_config: ClientConfig, task_id: str, project: str) -> None:
    """Print the manifest of the task's file (JSON)."""
    with api_client(client_config) as client:
        print_json(client.request("GET", _tasks_path(project, task_id, "manifest")))


@task.command()
@click.argument("task_id")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@project_option
@client_options
def download(client_config: ClientConfig, task_id: str, path: Path | None, project: str) -> None:
    """Download the task's file to PATH (default: its own name), resuming a partial download
    and checking the sha256 of the manifest."""
    with api_client(client_config) as client:
        item = client.request("GET", _tasks_path(project, task_id))
        manifest_body = client.request("GET", _tasks_path(project, task_id, "manifest"))
        link_body = client.request("GET", _tasks_path(project, task_id, "link"))
    target = path or Path(item["file_name"])
    saved = download_file(link_body["url"], target, manifest_body["sha256"], quiet=False)
    click.echo(f"file: {saved} ({human_bytes(saved.stat().st_size)}, sha256 verified)")
