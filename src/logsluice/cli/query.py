"""``logsluice query``: run a query over a logstore and print the rows as a table (or JSON)."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from logsluice.cli.client import ClientConfig, path_of
from logsluice.cli.options import api_client, client_options, json_option, print_json


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _print_result(result: dict[str, Any]) -> None:
    table = Table(show_lines=False)
    for column in result["columns"]:
        table.add_column(column["name"], overflow="fold")
    for row in result["rows"]:
        table.add_row(*(_cell(value) for value in row))
    console = Console()
    console.print(table)
    console.print(
        f"{len(result['rows'])} rows shown of {result['count']} "
        f"from {result['from']} to {result['to']} in {result['elapsed_ms']:.0f} ms",
        style="dim",
    )


@click.command()
@click.argument("query_text", metavar="QUERY", default="*")
@click.option("--project", "-p", required=True, help="The project.")
@click.option("--logstore", "-l", required=True, help="The logstore to search.")
@click.option(
    "--from",
    "start",
    default=None,
    help="Start: RFC 3339 or epoch seconds; default 15 minutes before --to.",
)
@click.option("--to", "end", default=None, help="End (exclusive): RFC 3339 or epoch; default now.")
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
@client_options
@json_option
def query(
    client_config: ClientConfig,
    query_text: str,
    project: str,
    logstore: str,
    start: str | None,
    end: str | None,
    limit: int | None,
    order: str,
    as_json: bool,
) -> None:
    """Run QUERY (SEARCH, or SEARCH | SQL) over a logstore; default `*` (everything)."""
    body: dict[str, Any] = {"query": query_text, "order": order}
    for name, value in (("from", start), ("to", end), ("limit", limit)):
        if value is not None:
            body[name] = value
    with api_client(client_config) as client:
        result = client.request(
            "POST", path_of("projects", project, "logstores", logstore, "query"), json=body
        )
    if as_json:
        print_json(result)
    else:
        _print_result(result)
