"""``logsluice key …``: create, list and revoke access keys (AK/SK pairs) of a server.

``key create`` prints the secret once; the server cannot show it again. Every sub-command needs
the admin token.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from logsluice.cli.client import ClientConfig, path_of
from logsluice.cli.options import api_client, client_options, json_option, print_json

ROLES = ("reader", "writer", "admin")
LIST_COLUMNS = ("access_key_id", "project", "role", "created_at", "revoked_at", "description")


@click.group()
def key() -> None:
    """Create, list and revoke access keys for the vendor APIs and scoped bearer tokens."""


@key.command("create")
@click.option(
    "--project", "-p", default=None, help="The project the key reaches (leave out for admin)."
)
@click.option(
    "--role", type=click.Choice(ROLES), default="writer", show_default=True, help="What it may do."
)
@click.option("--description", default="", help="Free text saying what the key is for.")
@client_options
@json_option
def create_key(
    client_config: ClientConfig,
    project: str | None,
    role: str,
    description: str,
    as_json: bool,
) -> None:
    """Create an access key and print its id and secret (shown this once only)."""
    body = {"project": project, "role": role, "description": description}
    with api_client(client_config) as client:
        created: dict[str, Any] = client.request("POST", path_of("access-keys"), json=body)
    if as_json:
        print_json(created)
        return
    scope = created["project"] or "every project"
    click.echo(f"created {created['role']} key for {scope}")
    click.echo(f"access_key_id:     {created['access_key_id']}")
    click.echo(f"access_key_secret: {created['access_key_secret']}")
    click.echo("store the secret now: it cannot be shown again", err=True)


@key.command("list")
@click.option("--project", "-p", default=None, help="Only this project's keys.")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@client_options
@json_option
def list_keys(
    client_config: ClientConfig, project: str | None, include_revoked: bool, as_json: bool
) -> None:
    """List access keys (never their secrets)."""
    parameters: dict[str, str] = {"include_revoked": str(include_revoked).lower()}
    if project:
        parameters["project"] = project
    with api_client(client_config) as client:
        keys = client.request("GET", path_of("access-keys"), params=parameters)["access_keys"]
    if as_json:
        print_json(keys)
        return
    table = Table(title="access keys")
    for column in LIST_COLUMNS:
        table.add_column(column, no_wrap=column == "access_key_id")
    for row in keys:
        table.add_row(*(str(row.get(column) or "") for column in LIST_COLUMNS))
    Console().print(table)


@key.command("revoke")
@click.argument("access_key_id")
@client_options
def revoke_key(client_config: ClientConfig, access_key_id: str) -> None:
    """Revoke access key ACCESS_KEY_ID at once."""
    with api_client(client_config) as client:
        client.request("DELETE", path_of("access-keys", access_key_id))
    click.echo(f"revoked access key {access_key_id}")
