"""The ``logsluice`` command group: every sub-command registered in one place.

Sub-commands are imported only when invoked, so ``logsluice project list`` does not pay for
loading the server (FastAPI, DuckDB, SQLAlchemy) it never uses. Ctrl-C ends any command with exit
code 130 (``logsluice.cli.exit_codes``); shell completion is click's (``_LOGSLUICE_COMPLETE``).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

import logsluice
from logsluice.cli import exit_codes

COMMANDS = {
    "serve": "logsluice.cli.serve:serve",
    "project": "logsluice.cli.catalog:project",
    "logstore": "logsluice.cli.catalog:logstore",
    "ingest": "logsluice.cli.ingest:ingest",
    "query": "logsluice.cli.query:query",
    "demo-data": "logsluice.cli.demo_data:demo_data",
    "key": "logsluice.cli.key:key",
    "sink": "logsluice.cli.sink:sink",
    "task": "logsluice.cli.task:task",
    "tail": "logsluice.cli.tail:tail",
    "worker": "logsluice.cli.worker:worker",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(logsluice.__version__, prog_name="logsluice")
def cli() -> None:
    """logsluice: a self-hosted log store that turns any query into a file."""


def main() -> None:
    """Run the ``logsluice`` command; exit with its code (130 after Ctrl-C)."""
    try:
        result = cli.main(prog_name="logsluice", standalone_mode=False)
    except click.Abort:
        click.echo("interrupted", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except BrokenPipeError:
        # the reader of stdout left (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(exit_codes.SUCCESS)
    sys.exit(result if isinstance(result, int) else exit_codes.SUCCESS)
