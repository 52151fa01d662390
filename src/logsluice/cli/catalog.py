"""``logsluice project …`` and ``logsluice logstore …``: a server's projects and logstores."""

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


def _print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(column, "")) for column in columns))
    Console().print(table)


def _print_record(record: dict[str, Any]) -> None:
    for key, value in record.items():
        if not isinstance(value, list):
            click.echo(f"{key}: {value}")


@click.group()
def project() -> None:
    """Create, list, show, update and delete projects."""


@project.command("create")
@click.argument("name")
@click.option("--description", default="", help="Free text describing the project.")
@client_options
@json_option
def create_project(client_config: ClientConfig, name: str, description: str, as_json: bool) -> None:
    """Create project NAME."""
    with api_client(client_config) as client:
        created = client.request(
            "POST", path_of("projects"), json={"name": name, "description": description}
        )
    if as_json:
        print_json(created)
    else:
        click.echo(f"created project {created['name']}")


@project.command("list")
@client_options
@json_option
def list_projects(client_config: ClientConfig, as_json: bool) -> None:
    """List the projects."""
    with api_client(client_config) as client:
        projects = client.request("GET", path_of("projects"))["projects"]
    if as_json:
        print_json(projects)
    else:
        _print_table("projects", projects, ["name", "description", "webhook_url", "created_at"])


@project.command("show")
@click.argument("name")
@client_options
@json_option
def show_project(client_config: ClientConfig, name: str, as_json: bool) -> None:
    """Show project NAME and its logstores."""
    with api_client(client_config) as client:
        shown = client.request("GET", path_of("projects", name))
        shown["logstores"] = client.request("GET", path_of("projects", name, "logstores"))[
            "logstores"
        ]
    if as_json:
        print_json(shown)
        return
    _print_record(shown)
    _print_table("logstores", shown["logstores"], ["name", "retention_days", "time_field"])


@project.command("update")
@click.argument("name")
@click.option("--webhook-url", default=None, help="Default webhook of the project's tasks.")
@click.option(
    "--webhook-secret",
    default=None,
    help="whsec_… secret signing its events; one is made and printed once when left out.",
)
@click.option("--no-webhook", is_flag=True, help="Remove the project's default webhook.")
@client_options
@json_option
def update_project(
    client_config: ClientConfig,
    name: str,
    webhook_url: str | None,
    webhook_secret: str | None,
    no_webhook: bool,
    as_json: bool,
) -> None:
    """Change project NAME: its default webhook."""
    body = _project_changes(webhook_url, webhook_secret, no_webhook)
    with api_client(client_config) as client:
        updated = client.request("PATCH", path_of("projects", name), json=body)
    if as_json:
        print_json(updated)
        return
    click.echo(f"project {name}: webhook {updated.get('webhook_url') or 'none'}")
    if updated.get("webhook_secret"):
        click.echo(f"webhook secret (shown once): {updated['webhook_secret']}")


def _project_changes(
    webhook_url: str | None, webhook_secret: str | None, no_webhook: bool
) -> dict[str, Any]:
    if no_webhook and (webhook_url or webhook_secret):
        raise click.UsageError("--no-webhook goes without --webhook-url and --webhook-secret")
    if webhook_secret is not None and webhook_url is None:
        raise click.UsageError("--webhook-secret needs --webhook-url")
    if no_webhook:
        return {"webhook": None}
    if webhook_url is None:
        raise click.UsageError("nothing to change: give --webhook-url or --no-webhook")
    webhook: dict[str, str] = {"url": webhook_url}
    if webhook_secret is not None:
        webhook["secret"] = webhook_secret
    return {"webhook": webhook}


@project.command("delete")
@click.argument("name")
@client_options
def delete_project(client_config: ClientConfig, name: str) -> None:
    """Delete project NAME with all its logstores and records."""
    with api_client(client_config) as client:
        client.request("DELETE", path_of("projects", name))
    click.echo(f"deleted project {name}")


@click.group()
def logstore() -> None:
    """Create, list, show and delete the logstores of a project."""


in_project = project_option()


@logstore.command("create")
@click.argument("name")
@in_project
@click.option("--retention-days", type=int, default=30, show_default=True, help="Days kept.")
@click.option("--time-field", default="timestamp", show_default=True, help="Time field name.")
@click.option("--description", default="", help="Free text describing the logstore.")
@client_options
@json_option
def create_logstore(
    client_config: ClientConfig,
    name: str,
    project: str,
    retention_days: int,
    time_field: str,
    description: str,
    as_json: bool,
) -> None:
    """Create logstore NAME in a project."""
    body = {
        "name": name,
        "retention_days": retention_days,
        "time_field": time_field,
        "description": description,
    }
    with api_client(client_config) as client:
        created = client.request("POST", path_of("projects", project, "logstores"), json=body)
    if as_json:
        print_json(created)
    else:
        click.echo(f"created logstore {project}/{created['name']}")


@logstore.command("list")
@in_project
@client_options
@json_option
def list_logstores(client_config: ClientConfig, project: str, as_json: bool) -> None:
    """List the logstores of a project."""
    with api_client(client_config) as client:
        logstores = client.request("GET", path_of("projects", project, "logstores"))["logstores"]
    if as_json:
        print_json(logstores)
    else:
        columns = ["name", "retention_days", "time_field", "created_at"]
        _print_table(f"logstores of {project}", logstores, columns)


@logstore.command("show")
@click.argument("name")
@in_project
@client_options
@json_option
def show_logstore(client_config: ClientConfig, name: str, project: str, as_json: bool) -> None:
    """Show logstore NAME: settings, fields with types, logstreams."""
    with api_client(client_config) as client:
        shown = client.request("GET", path_of("projects", project, "logstores", name))
    if as_json:
        print_json(shown)
        return
    _print_record(shown)
    _print_table("fields", shown["fields"], ["name", "type"])
    _print_table("logstreams", shown["logstreams"], ["name", "records"])


@logstore.command("delete")
@click.argument("name")
@in_project
@client_options
def delete_logstore(client_config: ClientConfig, name: str, project: str) -> None:
    """Delete logstore NAME and its records."""
    with api_client(client_config) as client:
        client.request("DELETE", path_of("projects", project, "logstores", name))
    click.echo(f"deleted logstore {project}/{name}")
