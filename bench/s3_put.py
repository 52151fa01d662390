"""Streaming a large object to an S3-compatible server: boto3 against obstore, in bounded memory.

Each client uploads the same ``--megabytes`` of data (a 1 MiB random block repeated, produced chunk
by chunk, never held whole) to a fresh ``moto_server`` (or ``--endpoint``), in a child process of
its own so its peak resident memory (VmHWM) is its own. Measured in one run:

(a) boto3 ``upload_fileobj`` from a streaming reader (8 MiB parts, 4 at a time) — the baseline;
(b) obstore ``put`` of an iterator of chunks (its own multipart, 8 MiB parts, 4 at a time);
(c) logsluice's ``S3ArtifactStore`` part writer (spooled to a local temporary file, uploaded with
    boto3 on commit) followed by ``complete`` (one server-side part copy) — what an export does.

Every upload's size is checked with a HEAD; a mismatch exits with status 1. obstore is not a
dependency of logsluice: ``pip install obstore`` to include (b).

    .venv/bin/python bench/s3_put.py --megabytes 500
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

MIB = 1024 * 1024
PART_BYTES = 8 * MIB
THREADS = 4
BUCKET = "bench"
KEY_ID, SECRET = "bench-key", "bench-secret"


def chunks(megabytes: int) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for _ in range(megabytes):
        yield block


class ChunkReader(io.RawIOBase):
    """A read-only file over a chunk iterator, for boto3's ``upload_fileobj``."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._source, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def boto3_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def put_boto3(endpoint: str, megabytes: int) -> str:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=THREADS
    )
    reader = io.BufferedReader(ChunkReader(chunks(megabytes)), buffer_size=MIB)
    boto3_client(endpoint).upload_fileobj(reader, BUCKET, "boto3.bin", Config=config)
    return "boto3.bin"


def put_obstore(endpoint: str, megabytes: int) -> str:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        region="us-east-1",
        client_options={"allow_http": True},
    )
    obstore.put(
        store, "obstore.bin", chunks(megabytes), chunk_size=PART_BYTES, max_concurrency=THREADS
    )
    return "obstore.bin"


def put_logsluice(endpoint: str, megabytes: int) -> str:
    from logsluice.adapters.artifacts import S3ArtifactStore
    from logsluice.adapters.artifacts.s3_client import S3Location

    location = S3Location(
        BUCKET, "", endpoint, "us-east-1", access_key_id=KEY_ID, secret_access_key=SECRET
    )
    store = S3ArtifactStore(location)
    writer = store.open_part("p/t/logsluice.bin", 1)
    for chunk in chunks(megabytes):
        writer.write(chunk)
    writer.commit()
    store.complete("p/t/logsluice.bin", [1])
    return "p/t/logsluice.bin"


CLIENTS = {"boto3": put_boto3, "obstore": put_obstore, "logsluice": put_logsluice}


def peak_rss_megabytes() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(name: str, endpoint: str, megabytes: int) -> None:
    baseline = peak_rss_megabytes()
    started = time.perf_counter()
    key = CLIENTS[name](endpoint, megabytes)
    seconds = time.perf_counter() - started
    size = boto3_client(endpoint).head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    result = {"seconds": seconds, "peak_mb": peak_rss_megabytes(), "start_mb": baseline}
    print(json.dumps({**result, "size": size}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    executable = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(endpoint, timeout=1)
            return process, endpoint
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto_server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--endpoint", help="an S3 server taking any key (default: start moto)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.endpoint, arguments.megabytes)
        return 0
    process, endpoint = (None, arguments.endpoint) if arguments.endpoint else start_moto()
    try:
        boto3_client(endpoint).create_bucket(Bucket=BUCKET)
        return run_all(endpoint, arguments.megabytes)
    finally:
        if process is not None:
            process.terminate()
            process.wait()


def run_all(endpoint: str, megabytes: int) -> int:
    print(f"{megabytes} MiB to {endpoint}; parts of {PART_BYTES // MIB} MiB, {THREADS} at a time")
    baseline = None
    failed = 0
    for name in CLIENTS:
        command = [sys.executable, __file__, "--child", name, "--endpoint", endpoint]
        answer = subprocess.run(
            [*command, "--megabytes", str(megabytes)], capture_output=True, text=True, check=False
        )
        if answer.returncode != 0:
            print(f"{name:10} failed: {answer.stderr.strip().splitlines()[-1:]}")
            failed += name != "obstore"  # optional
            continue
        result = json.loads(answer.stdout.strip().splitlines()[-1])
        if result["size"] != megabytes * MIB:
            print(f"{name:10} wrote {result['size']} bytes, not {megabytes * MIB}")
            failed += 1
        baseline = baseline or result["seconds"]
        rate = megabytes / result["seconds"]
        print(
            f"{name:10} {result['seconds']:7.2f} s  {rate:7.1f} MiB/s  "
            f"x{result['seconds'] / baseline:4.2f} of boto3  peak RSS {result['peak_mb']:6.0f} MB "
            f"(at start {result['start_mb']:4.0f} MB)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
