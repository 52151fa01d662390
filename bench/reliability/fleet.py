"""Bench helpers for the scale-out reliability scripts: the fleet of ``docs/deploy.md`` running.

``S3Server`` runs ``moto_server`` or ``rclone serve s3`` (``bench/lake_servers.py``'s commands) on
one port and can be killed and started again on that port and directory; ``Fleet`` starts
``logsluice serve`` and ``logsluice worker --server URL`` processes with one environment, kills a
worker with SIGKILL, and stops every process it started; ``create_database`` and
``drop_database`` give a run a fresh PostgreSQL database.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lake_servers
from serving import LOGSLUICE, BenchError, RunningServer, free_port, wait_until_healthy

BUCKET, PREFIX = "bench-fleet", "artifacts"


class S3Server:
    """``moto_server`` or ``rclone serve s3`` on one port, which can be stopped and started again
    on that port (and, for rclone, over the same directory)."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        command = lake_servers._s3_command(self.kind, self.port, self.root)
        with (self.root.parent / f"{self.kind}.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        lake_servers._wait_for(self.endpoint, self.process, self.kind)

    def create_bucket(self) -> None:
        if self.kind == "rclone":
            (self.root / BUCKET).mkdir(exist_ok=True)  # a bucket is a directory of its root
        else:
            self.client().create_bucket(Bucket=BUCKET)

    def kill(self) -> None:
        """End the server with SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": lake_servers.ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": lake_servers.SECRET_ACCESS_KEY,
            "AWS_REGION": lake_servers.REGION,
        }

    def store_url(self) -> str:
        return f"s3://{BUCKET}/{PREFIX}?endpoint={self.endpoint}&region={lake_servers.REGION}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=lake_servers.ACCESS_KEY_ID,
            aws_secret_access_key=lake_servers.SECRET_ACCESS_KEY,
            region_name=lake_servers.REGION,
        )


class Fleet:
    """The serving node and the workers, all with one environment; every process it started is
    stopped by ``stop_all``."""

    def __init__(self, work: Path, environment: dict[str, str], token: str) -> None:
        self.work = work
        self.environment = environment
        self.token = token
        self.server: RunningServer | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def serve(self, *options: str) -> RunningServer:
        """Start ``logsluice serve`` over ``work/api`` on a free port; wait until it is healthy."""
        data_dir = self.work / "api"
        data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log_path = self.work / "api-serve.log"
        command = [str(LOGSLUICE), "serve", "--port", str(port), "--data-dir", str(data_dir)]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*command, *options], stdout=log, stderr=subprocess.STDOUT, env=self.environment
            )
        self.server = RunningServer(
            process, f"http://127.0.0.1:{port}", self.token, data_dir, log_path
        )
        wait_until_healthy(self.server)
        return self.server

    def start_worker(self, name: str) -> None:
        """Start ``logsluice worker --server URL`` with a data directory of its own."""
        if self.server is None:
            raise BenchError("a worker needs the serving node")
        data_dir = self.work / name
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [str(LOGSLUICE), "worker", "--server", self.server.url]
        command += ["--data-dir", str(data_dir)]
        with (self.work / f"{name}.log").open("ab") as log:
            self.workers[name] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.environment
            )

    def kill_worker(self, name: str) -> None:
        process = self.workers[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """Stop the workers (SIGTERM, SIGKILL if they will not stop) and the serving node."""
        for process in self.workers.values():
            if process.poll() is None:
                process.terminate()
        for process in self.workers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.server is not None:
            self.server.stop()


def create_database(postgresql_url: str) -> str:
    """Create a fresh database; return its name."""
    import psycopg

    name = f"logsluice_fleet_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{postgresql_url}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(postgresql_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgresql_url}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
