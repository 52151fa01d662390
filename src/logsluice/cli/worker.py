"""``logsluice worker``: a process that runs download tasks beside ``serve``.

It opens the task store (``LOGSLUICE_DATABASE_URL``) and the artifact store
(``LOGSLUICE_ARTIFACT_STORE_URL``) directly. It reads records from the log store directly when it is
a DuckLake that many processes open (catalog on PostgreSQL or SQLite), else through a serving node
(``--server``), because the embedded DuckDB file is held by the ``serve`` process. SIGTERM or
Ctrl-C stops it between batches and queues its running tasks again for another worker; SIGKILL
just lets their leases lapse, and the janitor queues them again.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from logsluice.api.auth import read_admin_token_file
from logsluice.bootstrap import build_worker_process, freeze_startup_objects
from logsluice.cli.client import DEFAULT_SERVER_URL
from logsluice.domain.errors import LogsluiceError
from logsluice.metrics import Metrics
from logsluice.observability import configure_logging
from logsluice.process_memory import limit_malloc_arenas
from logsluice.settings import load_settings


@click.command()
@click.option(
    "--server",
    envvar="LOGSLUICE_SERVER",
    default=DEFAULT_SERVER_URL,
    show_default=True,
    help="URL of the serving node that holds the log store [env LOGSLUICE_SERVER]; unused when "
    "the log store is a shared DuckLake (read directly).",
)
@click.option(
    "--token",
    envvar="LOGSLUICE_TOKEN",
    default=None,
    help="Admin token of the serving node [env LOGSLUICE_TOKEN]; default: the data "
    "directory's admin-token file.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory shared with serve [env LOGSLUICE_DATA_DIR; ./data].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Tasks this process runs at once.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this process's Prometheus metrics at http://<metrics-host>:<port>/metrics "
    "(default: none; a worker's counters are its own, serve's /metrics does not have them).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the --metrics-port endpoint binds to.",
)
def worker(
    server: str,
    token: str | None,
    data_dir: Path | None,
    threads: int,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run download tasks from the shared task store until stopped."""
    limit_malloc_arenas()
    try:
        settings = load_settings(data_dir=data_dir)
        metrics = Metrics()
        configure_logging(settings.log_level, metrics)
        admin_token = (
            token
            or _configured_token(settings.admin_token)
            or read_admin_token_file(settings.data_dir)
        )
        process = build_worker_process(settings, server, admin_token, size=threads, metrics=metrics)
        if metrics_port is not None:
            metrics.serve(metrics_host, metrics_port)
        freeze_startup_objects()
    except LogsluiceError as error:
        raise click.ClickException(error.message) from error
    except OSError as error:  # the metrics port is taken or not ours to bind
        raise click.ClickException(f"--metrics-port {metrics_port}: {error}") from error
    stopping = threading.Event()

    def stop(signal_number: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker: {threads} thread(s), records from {process.records_from}", err=True)
    process.pool.start()
    if process.webhooks is not None:
        process.webhooks.start()
    try:
        stopping.wait()
    finally:
        click.echo("worker: stopping (running tasks are queued again)", err=True)
        process.pool.stop()
        if process.webhooks is not None:
            process.webhooks.stop()
        process.close()


def _configured_token(secret: object) -> str | None:
    value = getattr(secret, "get_secret_value", None)
    return str(value()) if callable(value) else None
