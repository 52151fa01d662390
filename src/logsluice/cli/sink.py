"""``logsluice sink …``: register, list and remove the buckets a project's tasks may write to.

A task names a sink (``--sink`` on the native API, SLS ``sink.bucket``, BLS ``fileDir``) and its
file goes to that bucket instead of the server's artifact store. The secret is sent once, stored
encrypted and never shown. Every sub-command needs the admin token.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from logsluice.cli.client import ClientConfig, path_of
from logsluice.cli.options import (
    api_client,
    client_options,
    json_option,
    print_json,
    project_option,
)

LIST_COLUMNS = ("name", "endpoint", "bucket", "prefix", "region", "access_key_id", "created_at")


@click.group()
def sink() -> None:
    """Register, list and remove the buckets (sinks) a project's tasks may write their files to."""


@sink.command("add")
@project_option()
@click.option("--name", required=True, help="The sink's name, unique in the project.")
@click.option("--endpoint", required=True, help="The S3-compatible server's URL.")
@click.option("--bucket", required=True, help="An existing bucket.")
@click.option("--prefix", default="", help="Key prefix the files go under.")
@click.option("--region", default="", help="Signing region (default us-east-1).")
@click.option("--access-key", "access_key_id", required=True, help="The bucket's access key id.")
@click.option(
    "--addressing-style",
    type=click.Choice(["path", "virtual"]),
    default="path",
    show_default=True,
    help="Bucket in the URL's path (MinIO, Ceph) or host name (virtual: Alibaba OSS).",
)
@click.option(
    "--secret",
    "secret_access_key",
    prompt=True,
    hide_input=True,
    envvar="LOGSLUICE_SINK_SECRET",
    help="Its secret (prompted when left out; or LOGSLUICE_SINK_SECRET); stored encrypted.",
)
@client_options
@json_option
def add_sink(client_config: ClientConfig, project: str, as_json: bool, **fields: str) -> None:
    """Register a bucket for PROJECT's tasks."""
    with api_client(client_config) as client:
        created: dict[str, Any] = client.request(
            "POST", path_of("projects", project, "sinks"), json=fields
        )
    if as_json:
        print_json(created)
        return
    where = f"{created['endpoint']}/{created['bucket']}/{created['prefix']}".rstrip("/")
    click.echo(f"registered sink {created['name']} of project {project}: {where}")


@sink.command("list")
@project_option()
@client_options
@json_option
def list_sinks(client_config: ClientConfig, project: str, as_json: bool) -> None:
    """List the project's sinks (never their secrets)."""
    with api_client(client_config) as client:
        sinks = client.request("GET", path_of("projects", project, "sinks"))["sinks"]
    if as_json:
        print_json(sinks)
        return
    table = Table(title=f"sinks of {project}")
    for column in LIST_COLUMNS:
        table.add_column(column)
    for row in sinks:
        table.add_row(*(str(row.get(column) or "") for column in LIST_COLUMNS))
    Console().print(table)


@sink.command("remove")
@project_option()
@click.argument("name")
@client_options
def remove_sink(client_config: ClientConfig, project: str, name: str) -> None:
    """Remove sink NAME; files already written there stay."""
    with api_client(client_config) as client:
        client.request("DELETE", path_of("projects", project, "sinks", name))
    click.echo(f"removed sink {name} of project {project}")
