"""Options and output shared by the client commands: server, token, data directory, ``--json``.

Every client command takes ``--server``/``LOGSLUICE_SERVER``, ``--token``/``LOGSLUICE_TOKEN`` and
``--data-dir``/``LOGSLUICE_DATA_DIR`` (where a local server keeps its admin token), and turns an
:class:`ApiError` into the server's message on stderr with a non-zero exit code.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson

from logsluice.cli.client import DEFAULT_SERVER_URL, ApiClient, ApiError, ClientConfig
from logsluice.settings import DEFAULT_DATA_DIR

EXIT_SERVER_ERROR = 1
EXIT_UNREACHABLE = 3


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--server``, ``--token`` and ``--data-dir``; the command receives ``client_config``."""

    @click.option(
        "--server",
        envvar="LOGSLUICE_SERVER",
        default=DEFAULT_SERVER_URL,
        show_default=True,
        help="URL of the logsluice server [env LOGSLUICE_SERVER].",
    )
    @click.option(
        "--token",
        envvar="LOGSLUICE_TOKEN",
        default=None,
        help="Bearer token [env LOGSLUICE_TOKEN]; default: the local server's admin token file.",
    )
    @click.option(
        "--data-dir",
        envvar="LOGSLUICE_DATA_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DATA_DIR,
        show_default=True,
        help="Data directory of a local server, to read its admin token [env LOGSLUICE_DATA_DIR].",
    )
    @functools.wraps(command)
    def wrapper(server: str, token: str | None, data_dir: Path, **options: Any) -> Any:
        config = ClientConfig(server_url=server, token=token, data_dir=data_dir)
        return command(client_config=config, **options)

    return wrapper


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table."
)


@contextmanager
def api_client(config: ClientConfig) -> Iterator[ApiClient]:
    """Yield a client; an ApiError inside becomes the server's message and a non-zero exit."""
    try:
        with ApiClient(config) as client:
            yield client
    except ApiError as error:
        click.echo(f"error: {error.message}", err=True)
        sys.exit(EXIT_UNREACHABLE if error.status == 0 else EXIT_SERVER_ERROR)


def print_json(value: object) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode())
