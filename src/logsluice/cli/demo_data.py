"""``logsluice demo-data``: fill a project with realistic, reproducible demo logs on a server, or
write them as sample files (``--write-files DIR``, :mod:`logsluice.cli.demo_files`).

Creates the project (if needed) and the logstores ``app``, ``access`` and ``cdn``, generates the
records locally with a seed and sends them in zstd-compressed JSON Lines chunks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from logsluice.cli.client import ApiClient, ApiError, ClientConfig, path_of
from logsluice.cli.demo_files import demo_range, write_demo_files
from logsluice.cli.ingest import send_records
from logsluice.cli.options import (
    api_client,
    client_options,
    json_option,
    print_json,
    project_option,
)
from logsluice.cli.record_files import records_as_jsonl
from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.timerange import parse_time
from logsluice.services.demo_data import DEMO_LOGSTORES, DemoDataSpec, generate_demo_records


def _create_if_missing(client: ApiClient, path: str, body: dict[str, Any]) -> None:
    try:
        client.request("POST", path, json=body)
    except ApiError as error:
        if error.status != 409:
            raise


def _fill_logstore(
    client: ApiClient, project: str, logstore: str, spec: DemoDataSpec, progress: Progress
) -> dict[str, int]:
    task = progress.add_task(logstore, total=spec.records)
    totals = {"accepted": 0, "rejected": 0}
    for table in generate_demo_records(logstore, spec):
        result = send_records(client, project, logstore, records_as_jsonl(table.to_pylist()))
        totals["accepted"] += int(result["accepted"])
        totals["rejected"] += int(result["rejected"])
        progress.advance(task, table.num_rows)
    return totals


def _end_time(end: str | None) -> datetime:
    if end is None:
        return datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        return parse_time(end, field_name="--end")
    except InvalidTimeRangeError as error:
        raise click.BadParameter(error.message, param_hint="--end") from error


@click.command("demo-data")
@project_option(required=False)
@click.option(
    "--days",
    type=click.IntRange(min=1, max=365),
    default=None,
    help="Days of logs, ending at --end [default: 3; 30 with --write-files].",
)
@click.option(
    "--records",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Records per logstore.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--end", default=None, help="End of the range (RFC 3339); default this minute.")
@click.option(
    "--write-files",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write sample files here instead (no server): app-YYYY-MM-DD.jsonl.zst per day, "
    "access.csv.gz (nginx times), cdn.parquet.",
)
@client_options
@json_option
def demo_data(
    client_config: ClientConfig,
    project: str | None,
    days: int | None,
    records: int,
    seed: int,
    end: str | None,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Create logstores app, access and cdn in a project and fill them with demo logs, or write
    them as sample files with --write-files DIR."""
    if directory is not None:
        start, end_time = demo_range(_end_time(end), days or 30)
        spec = DemoDataSpec(start=start, end=end_time, records=records, seed=seed)
        _write_files(directory, spec, as_json)
        return
    if project is None:
        raise click.UsageError(
            "no project: give --project/-p or LOGSLUICE_PROJECT (or --write-files DIR)"
        )
    end_time = _end_time(end)
    spec = DemoDataSpec(
        start=end_time - timedelta(days=days or 3), end=end_time, records=records, seed=seed
    )
    _fill(client_config, project, spec, as_json)


def _write_files(directory: Path, spec: DemoDataSpec, as_json: bool) -> None:
    written = write_demo_files(directory, spec)
    if as_json:
        print_json({"from": spec.start, "to": spec.end, "files": [str(path) for path in written]})
        return
    click.echo(
        f"wrote {len(written)} files to {directory} "
        f"({spec.start:%Y-%m-%d} .. {spec.end:%Y-%m-%d %H:%M} UTC):"
    )
    for path in written:
        click.echo(f"  {path}")


def _fill(client_config: ClientConfig, project: str, spec: DemoDataSpec, as_json: bool) -> None:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        disable=as_json,
    )
    summary: dict[str, dict[str, int]] = {}
    days = max(1, round((spec.end - spec.start) / timedelta(days=1)))
    with api_client(client_config) as client, progress:
        _create_if_missing(client, path_of("projects"), {"name": project})
        for logstore in DEMO_LOGSTORES:
            _create_if_missing(
                client,
                path_of("projects", project, "logstores"),
                {"name": logstore, "retention_days": max(30, days + 1)},
            )
            summary[logstore] = _fill_logstore(client, project, logstore, spec, progress)
    if as_json:
        print_json({"project": project, "from": spec.start, "to": spec.end, "logstores": summary})
        return
    for logstore, totals in summary.items():
        click.echo(f"{project}/{logstore}: {totals['accepted']} records")
