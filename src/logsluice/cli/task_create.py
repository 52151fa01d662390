"""``logsluice task create`` and ``logsluice task wait``: start an export, watch it, re-attach.

Creating never leaves the user without the task's id: the CLI sends an idempotency key of its
own (unless one is given) and counts Ctrl-C rather than dying while the request is in flight, so
the id is printed once the server answers (the server answers at once; it estimates a slow
``| SQL`` task afterwards). Ctrl-C while waiting detaches (:func:`task_watch.detach`).
"""

from __future__ import annotations

import shlex
import sys
import uuid
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner

from logsluice.cli import exit_codes
from logsluice.cli.client import ApiClient, ClientConfig
from logsluice.cli.interrupts import Interrupts
from logsluice.cli.options import (
    api_client,
    client_options,
    json_option,
    json_text,
    print_json,
    project_option,
)
from logsluice.cli.task_files import download_file, human_bytes
from logsluice.cli.task_watch import detach, tasks_path, watch_task
from logsluice.cli.time_options import (
    TIME_HELP,
    range_options,
    resolve_range,
    rfc3339,
    time_zone_of,
)

FORMATS = ("csv", "jsonl", "parquet")
COMPRESSIONS = ("none", "gzip", "zstd", "lz4")
_CREATING = "creating the task (checking the query; the server estimates its size)"
_CREATING_AFTER_ONE = "Ctrl-C: the task keeps running; waiting for its id (Ctrl-C again: cancel it)"
_CREATING_AFTER_TWO = "Ctrl-C twice: cancelling the task once it exists (again: give up waiting)"

output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    default=None,
    help="Once it SUCCEEDED, download the file here (`-`: standard output).",
)
cancel_option = click.option(
    "--cancel-on-interrupt",
    is_flag=True,
    help="Ctrl-C cancels the task instead of leaving it running.",
)


@click.command()
@click.argument("query_text", metavar="[QUERY]", default="*")
@project_option()
@click.option("--logstore", "-l", required=True, help="The logstore to export from.")
@range_options(
    from_help=f"Start (or --since): {TIME_HELP}.", to_help="End (exclusive); default now."
)
@click.option("--format", "export_format", type=click.Choice(FORMATS), default="csv",
              show_default=True, help="File format.")  # fmt: skip
@click.option(
    "--compression",
    type=click.Choice(COMPRESSIONS),
    default="none",
    show_default=True,
    help="Compression of CSV and JSON Lines (Parquet uses its internal zstd codec and warns "
    "that another value is ignored).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Most rows; default every row."
)
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True,
              help="By time: oldest first (asc) or newest first (desc).")  # fmt: skip
@click.option("--name", default=None, help="Task name; default <logstore>-export.")
@click.option("--display-name", default="", help="A label for people.")
@click.option("--description", default="", help="What the export is for.")
@click.option("--logstream", default=None, help="Only this logstream.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA zone of rendered times, and of --from/--to without an offset.",
)
@click.option(
    "--allow-incomplete", is_flag=True, help="Finish with a notice if a slice keeps failing."
)
@click.option("--no-header", is_flag=True, help="CSV: no header row.")
@click.option("--delimiter", default=",", show_default=True, help="CSV: the delimiter.")
@click.option("--no-escape-formulas", is_flag=True, help="CSV: keep cells starting with = + - @.")
@click.option(
    "--idempotency-key",
    default=None,
    help="Same key and spec: the same task. Default: a fresh key per command.",
)
@click.option(
    "--webhook-url",
    default=None,
    help="POST a signed event here when the task ends (default: the project's webhook).",
)
@click.option(
    "--webhook-secret",
    default=None,
    help="whsec_… secret signing the events; one is made and printed once when left out.",
)
@click.option(
    "--sink",
    default=None,
    help="Write the file to this sink of the project (`logsluice sink add`) instead of the "
    "server's artifact store.",
)
@click.option("--sink-prefix", default=None, help="A directory inside the sink.")
@click.option("--dry-run", is_flag=True, help="Only print the estimate of rows and bytes.")
@click.option("--wait", is_flag=True, help="Show a progress bar until the task ends.")
@output_option
@cancel_option
@client_options
@json_option
def create(client_config: ClientConfig, as_json: bool, wait: bool, output: Path | None,
           dry_run: bool, cancel_on_interrupt: bool, **options: Any) -> None:  # fmt: skip
    """Export QUERY (SEARCH, or SEARCH | SQL; default `*`) over [--from, --to) to a file.

    Ctrl-C leaves the task running and prints the commands to watch, download or cancel it; a
    second Ctrl-C (or --cancel-on-interrupt) cancels it.
    """
    body = _create_body(options)
    project = options["project"]
    with api_client(client_config) as client:
        if dry_run:
            _print_created(_post(client, project, body, dry_run=True), as_json)
            return
        body.setdefault("idempotency_key", f"cli-{uuid.uuid4().hex}")
        with Interrupts() as interrupts:
            created = _create_interruptibly(client, project, body, interrupts, quiet=as_json)
            if not wait or interrupts.count:
                _print_created(created, as_json)
            elif created.get("webhook_secret") and not as_json:
                click.echo(f"webhook secret (shown once): {created['webhook_secret']}", err=True)
            if interrupts.count:
                detach(client, client_config, project, created["id"], interrupts,
                       cancel_now=cancel_on_interrupt or interrupts.count > 1)  # fmt: skip
            if not wait:
                return
            finished = _watch(client, client_config, project, created["id"], interrupts,
                              cancel_on_interrupt=cancel_on_interrupt, quiet=as_json)  # fmt: skip
        conclude(client, project, finished, output, as_json)


@click.command()
@click.argument("task_id")
@project_option()
@output_option
@cancel_option
@client_options
@json_option
def wait(client_config: ClientConfig, task_id: str, project: str, output: Path | None,
         cancel_on_interrupt: bool, as_json: bool) -> None:  # fmt: skip
    """Watch task TASK_ID with a live progress bar until it ends (re-attach after Ctrl-C).

    Exits 0 when it SUCCEEDED, 5 when it ended otherwise, 130 on Ctrl-C (the task keeps running;
    a second Ctrl-C or --cancel-on-interrupt cancels it).
    """
    with api_client(client_config) as client:
        with Interrupts() as interrupts:
            finished = _watch(client, client_config, project, task_id, interrupts,
                              cancel_on_interrupt=cancel_on_interrupt, quiet=as_json)  # fmt: skip
        conclude(client, project, finished, output, as_json)


def _watch(
    client: ApiClient,
    config: ClientConfig,
    project: str,
    task_id: str,
    interrupts: Interrupts,
    *,
    cancel_on_interrupt: bool,
    quiet: bool,
) -> dict[str, Any]:
    finished = watch_task(client, tasks_path(project, task_id), interrupts, quiet=quiet)
    if finished is None:
        detach(client, config, project, task_id, interrupts, cancel_now=cancel_on_interrupt)
    return finished


def _create_body(options: dict[str, Any]) -> dict[str, Any]:
    start, end = resolve_range(
        options["start"],
        options["end"] or "now",
        options["since"],
        time_zone_of(options["timezone"]),
    )
    if start is None:
        raise click.UsageError("give the start of the range: --from T or --since DURATION")
    assert end is not None
    body: dict[str, Any] = {
        "logstore": options["logstore"],
        "query": options["query_text"],
        "from": rfc3339(start),
        "to": rfc3339(end),
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
    for name in ("limit", "name", "logstream", "idempotency_key", "webhook_url", "sink"):
        if options[name] is not None:
            body[name] = options[name]
    if options["sink_prefix"] is not None:
        if options["sink"] is None:
            raise click.UsageError("--sink-prefix needs --sink")
        body["sink_prefix"] = options["sink_prefix"]
    if options["webhook_secret"] is not None:
        if options["webhook_url"] is None:
            raise click.UsageError("--webhook-secret needs --webhook-url")
        body["webhook_secret"] = options["webhook_secret"]
    return body


def _post(
    client: ApiClient, project: str, body: dict[str, Any], *, dry_run: bool
) -> dict[str, Any]:
    params = {"dry_run": "true"} if dry_run else {}
    created: dict[str, Any] = client.request("POST", tasks_path(project), json=body, params=params)
    return created


def _create_interruptibly(client: ApiClient, project: str, body: dict[str, Any],
                          interrupts: Interrupts, *, quiet: bool) -> dict[str, Any]:  # fmt: skip
    interrupts.messages = {1: _CREATING_AFTER_ONE, 2: _CREATING_AFTER_TWO}
    try:
        with _creating(interrupts, quiet=quiet):
            return _post(client, project, body, dry_run=False)
    except KeyboardInterrupt:
        same = shlex.join(("--from", body["from"], "--to", body["to"], "--idempotency-key",
                           body["idempotency_key"]))  # fmt: skip
        click.echo(
            "\ngave up waiting for the server; the task may have been created. Repeat the "
            f"command with {same} to get it without creating another (`logsluice task list -p "
            f"{project}` lists the tasks).",
            err=True,
        )
        sys.exit(exit_codes.INTERRUPTED)
    finally:
        interrupts.messages = {}


def _creating(interrupts: Interrupts, *, quiet: bool) -> AbstractContextManager[object]:
    """A spinner on a terminal while the task is created, saying what Ctrl-C does."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return nullcontext()
    spinner = Spinner("dots", text=_CREATING)

    def render() -> Spinner:
        if interrupts.count:
            spinner.text = _CREATING_AFTER_ONE if interrupts.count == 1 else _CREATING_AFTER_TWO
        return spinner

    return Live(get_renderable=render, console=console, transient=True, refresh_per_second=12.5)


def _print_created(created: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(created)
        return
    for warning in created.get("warnings") or ():
        click.echo(f"warning: {warning}", err=True)
    estimate = describe_estimate(created["estimate"])
    if created.get("dry_run"):
        click.echo(f"estimate: {estimate}")
        return
    click.echo(f"task {created['id']} {created['status']} (estimate: {estimate})")
    if created.get("webhook_secret"):
        click.echo(f"webhook secret (shown once): {created['webhook_secret']}")


def describe_estimate(estimate: dict[str, Any]) -> str:
    """Return an estimate as people read it: ``1,234,567 rows, about 12.3 MiB``."""
    if estimate.get("status") == "pending":
        return "being estimated"
    if estimate["rows"] is None:
        return "unknown (the count ran past its time limit)"
    size = (
        "unknown size" if estimate["bytes"] is None else f"about {human_bytes(estimate['bytes'])}"
    )
    return f"{estimate['rows']:,} rows, {size}"


def conclude(client: ApiClient, project: str, finished: dict[str, Any], output: Path | None,
             as_json: bool) -> None:  # fmt: skip
    """Report how the task ended; exit 5 unless it SUCCEEDED; download to ``output`` if given."""
    if finished["status"] != "SUCCEEDED":
        error = finished.get("error") or {}
        click.echo(
            f"task {finished['id']} {finished['status']}: {error.get('message', '')}", err=True
        )
        sys.exit(exit_codes.TASK_FAILED)
    link = client.request("GET", tasks_path(project, finished["id"], "link"))
    path = None
    if output is not None:
        manifest = client.request("GET", tasks_path(project, finished["id"], "manifest"))
        path = _download(link["url"], output, manifest["sha256"], finished["id"], as_json)
    to_stdout = output is not None and str(output) == "-"  # stdout holds the file: report on stderr
    if as_json:
        click.echo(json_text({**finished, "link": link, "path": str(path) if path else None}),
                   err=to_stdout)  # fmt: skip
        return
    _print_summary(finished, err=to_stdout)
    click.echo(f"link: {link['url']} (until {link['expires_at']})", err=to_stdout)
    if path is not None and not to_stdout:
        click.echo(f"file: {path}")


def _download(url: str, output: Path, sha256: str, task_id: str, quiet: bool) -> Path:
    try:
        return download_file(url, output, sha256, quiet=quiet or str(output) == "-")
    except KeyboardInterrupt:
        click.echo(
            f"\ndownload interrupted; `logsluice task download {task_id} {output}` resumes it",
            err=True,
        )
        sys.exit(exit_codes.INTERRUPTED)


def _print_summary(finished: dict[str, Any], *, err: bool) -> None:
    flags = " (truncated at the limit)" if finished["truncated"] else ""
    if finished["incomplete"]:
        flags += " (incomplete: some ranges are missing, see the manifest)"
    click.echo(
        f"task {finished['id']} SUCCEEDED: {finished['rows_written']:,} rows, "
        f"{human_bytes(finished['bytes_written'])} in {finished['duration_seconds'] or 0:.1f} s"
        f"{flags}",
        err=err,
    )
