"""``logsluice serve``: run the API server (uvicorn) on the stores named by the settings."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click
import uvicorn
import uvicorn.config

from logsluice.api.auth import AdminToken, check_no_auth_allowed
from logsluice.domain.errors import LogsluiceError
from logsluice.metrics import Metrics
from logsluice.observability import configure_logging
from logsluice.process_memory import limit_malloc_arenas
from logsluice.settings import load_settings


def _log_config() -> dict[str, Any]:
    """uvicorn's logging with the access log on stderr too: stdout carries only the token.

    Whoever starts ``serve`` may read the token from stdout and never read it again; a line per
    request written there fills the pipe and then blocks the event loop, so every request hangs.
    """
    log_config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return log_config


GRACEFUL_SHUTDOWN = timedelta(seconds=10)


class StreamEndingServer(uvicorn.Server):
    """uvicorn's server that, when told to stop, first ends the live event streams.

    uvicorn waits for open responses before it stops; a server-sent-events stream never ends by
    itself, so the first signal also sets the app's shutdown signal, which ends them.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def _announce_token(admin_token: AdminToken | None, no_auth: bool) -> None:
    if no_auth:
        click.echo("WARNING: authentication is off (--no-auth); do not expose this port.", err=True)
    elif admin_token is None or admin_token.source == "settings":
        click.echo("admin token: from LOGSLUICE_ADMIN_TOKEN", err=True)
    elif admin_token.created:
        click.echo(f"admin token (shown once, kept in {admin_token.path}):", err=True)
        click.echo(admin_token.value)
    else:
        click.echo(f"admin token: in {admin_token.path}", err=True)


@click.command()
@click.option("--host", default=None, help="Address to bind [env LOGSLUICE_HOST; 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env LOGSLUICE_PORT; 8080].")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory [env LOGSLUICE_DATA_DIR; ./data].",
)
@click.option(
    "--no-auth",
    is_flag=True,
    default=None,
    help="Accept calls without a token (development; loopback addresses only).",
)
@click.option(
    "--no-workers",
    is_flag=True,
    default=False,
    help="Run no download-task workers here (API-only node; see `logsluice worker`).",
)
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    no_auth: bool | None,
    no_workers: bool,
) -> None:
    """Run the logsluice server; the API's OpenAPI page is at /docs."""
    limit_malloc_arenas()
    try:
        settings = load_settings(
            host=host,
            port=port,
            data_dir=data_dir,
            no_auth=no_auth or None,
            workers=0 if no_workers else None,
        )
        check_no_auth_allowed(settings.host, settings.no_auth)
        metrics = Metrics()
        configure_logging(settings.log_level, metrics)
        # Imported here: loading the server stack takes seconds a refused start need not wait.
        from logsluice.bootstrap import build_server, freeze_startup_objects

        server = build_server(settings, metrics=metrics)
        freeze_startup_objects()
    except LogsluiceError as error:
        raise click.ClickException(error.message) from error
    _announce_token(server.admin_token, settings.no_auth)
    base_url = f"http://{settings.host}:{settings.port}"
    click.echo(
        f"logsluice on {base_url} (console at {base_url}/console/, API docs at /docs)", err=True
    )
    config = uvicorn.Config(
        server.app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=_log_config(),
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN.total_seconds()),
    )
    try:
        StreamEndingServer(config, server.context.shutdown.set).run()
    finally:
        server.container.close()
