"""``logsluice query``: run a query over a logstore and print the rows as a table, or write them
as JSON Lines, CSV or JSON to a file or standard output (``--output -``)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from logsluice.cli.client import ClientConfig, path_of
from logsluice.cli.options import (
    api_client,
    client_options,
    json_text,
    project_option,
)
from logsluice.cli.time_options import (
    TIME_HELP,
    range_options,
    resolve_range,
    rfc3339,
    time_zone_of,
)

OUTPUT_FORMATS = ("table", "jsonl", "csv", "json")
_FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".json": "json"}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _print_table(result: dict[str, Any]) -> None:
    table = Table(show_lines=False)
    for column in result["columns"]:
        table.add_column(column["name"], overflow="fold")
    for row in result["rows"]:
        table.add_row(*(_cell(value) for value in row))
    Console().print(table)
    _print_footer(result)


def _print_footer(result: dict[str, Any]) -> None:
    click.echo(
        f"{len(result['rows'])} rows shown of {result['count']:,} "
        f"from {result['from']} to {result['to']} in {result['elapsed_ms']:.0f} ms",
        err=True,
    )


def write_rows(result: dict[str, Any], output_format: str, stream: IO[str]) -> None:
    """Write the rows of a query result to ``stream`` as JSON Lines, CSV or the whole JSON."""
    if output_format == "json":
        stream.write(json_text(result) + "\n")
        return
    names = [column["name"] for column in result["columns"]]
    if output_format == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_cell(value) for value in row] for row in result["rows"])
        return
    for row in result["rows"]:
        record = dict(zip(names, row, strict=True))
        stream.write(orjson.dumps(record, option=orjson.OPT_UTC_Z).decode() + "\n")


@contextmanager
def _opened(output: Path | None) -> Iterator[IO[str]]:
    if output is None or str(output) == "-":
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8", newline="") as file:
        yield file


def _chosen_format(output_format: str | None, output: Path | None, as_json: bool) -> str:
    if as_json:
        return "json"
    if output_format is not None:
        return output_format
    if output is None:
        return "table"
    return _FORMAT_BY_SUFFIX.get(output.suffix.lower(), "jsonl")


@click.command()
@click.argument("query_text", metavar="[QUERY]", default="*")
@project_option()
@click.option("--logstore", "-l", required=True, help="The logstore to search.")
@range_options(
    from_help=f"Start: {TIME_HELP}; default 15 minutes before --to (the server's window).",
    to_help="End (exclusive); default now.",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA zone of --from/--to given without an offset.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="Rows to show (server default 100, most 10,000).",
)
@click.option(
    "--order",
    type=click.Choice(["desc", "asc"]),
    default="desc",
    show_default=True,
    help="By time: newest first (desc) or oldest first (asc).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="table (default on a terminal), jsonl, csv or json (the server's whole answer); "
    "with --output, default from its suffix, else jsonl.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    default=None,
    help="Write the rows to this file (`-`: standard output) instead of a table.",
)
@client_options
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
def query(
    client_config: ClientConfig,
    query_text: str,
    project: str,
    logstore: str,
    as_json: bool,
    output_format: str | None,
    output: Path | None,
    **options: Any,
) -> None:
    """Run QUERY (SEARCH, or SEARCH | SQL) over a logstore; default `*` (everything)."""
    body = _query_body(query_text, options)
    with api_client(client_config) as client:
        result = client.request(
            "POST", path_of("projects", project, "logstores", logstore, "query"), json=body
        )
    if "from" not in body:
        click.echo(
            f"note: no --from or --since: searched the server's default window "
            f"{result['from']} .. {result['to']}",
            err=True,
        )
    chosen = _chosen_format(output_format, output, as_json)
    if chosen == "table":
        _print_table(result)
        return
    with _opened(output) as stream:
        write_rows(result, chosen, stream)
    if chosen != "json":
        _print_footer(result)


def _query_body(query_text: str, options: dict[str, Any]) -> dict[str, Any]:
    start, end = resolve_range(
        options["start"], options["end"], options["since"], time_zone_of(options["timezone"])
    )
    body: dict[str, Any] = {"query": query_text, "order": options["order"]}
    for name, value in (("from", start), ("to", end)):
        if value is not None:
            body[name] = rfc3339(value)
    if options["limit"] is not None:
        body["limit"] = options["limit"]
    return body
