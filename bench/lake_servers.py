"""The servers a lake bench runs on: PostgreSQL (a fresh database for the catalog) and moto S3.

``lake_servers()`` starts ``moto_server`` (from the ``dev`` extra) on a free loopback port, creates
a bucket, and hands out fresh PostgreSQL databases on ``--postgresql-url`` (default the local
``postgresql://postgres@127.0.0.1:5432``), dropped at the end; ``lake_url()`` is the
``ducklake:postgresql://…?data_path=s3://…`` of one of them. S3 access goes to serve through the
standard ``AWS_*`` variables (``environment()``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
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


@contextlib.contextmanager
def lake_servers(postgresql_url: str, log_dir: Path) -> Iterator[LakeServers]:
    """Start moto with a bucket; yield the servers; stop moto and drop the databases."""
    port = serving.free_port()
    moto = Path(sys.executable).parent / "moto_server"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        servers = LakeServers(f"http://127.0.0.1:{port}", "bench-lake", postgresql_url)
        try:
            _wait_for(servers.endpoint, process)
            httpx.put(f"{servers.endpoint}/{servers.bucket}", timeout=10).raise_for_status()
            yield servers
        finally:
            process.terminate()
            process.wait(timeout=10)
            servers.drop_databases()


def _wait_for(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise serving.BenchError(f"moto_server exited with {process.returncode}")
        try:
            httpx.get(endpoint, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise serving.BenchError("moto_server did not answer in 30 s")
