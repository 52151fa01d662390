"""``make demo``: a download task end to end on a fresh machine, in ``./demo-data``.

Run as ``python -m logsluice.cli.demo``. It starts ``logsluice serve`` on a free loopback port with
its own data directory, loads the demo logs (``logsluice demo-data``), exports the CDN errors of the
last two days with a live progress bar (``logsluice task create --wait``), prints where the file is,
a summary of its manifest and the web console's address with the admin token, and — on a terminal —
keeps serving until Ctrl+C (otherwise it stops the server cleanly). Exit code 0 when all went well.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

DEMO_DIR = Path("demo-data")
PROJECT = "demo"
RECORDS_PER_LOGSTORE = 100_000
STARTUP_SECONDS = 60.0
_CLI = [sys.executable, "-c", "from logsluice.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited early (code {server.returncode})")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer at {url} within {STARTUP_SECONDS:.0f} s")


def _run(*arguments: str, environment: dict[str, str], show: bool = True) -> str:
    if show:
        print(f"\n$ logsluice {' '.join(arguments)}", flush=True)
    completed = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [*_CLI, *arguments], env=environment, check=True, stdout=subprocess.PIPE, text=True
    )
    if show:
        print(completed.stdout, end="", flush=True)
    return completed.stdout


def _announce_console(url: str, data_dir: Path) -> None:
    token_file = data_dir / "admin-token"
    print(f"\nThe web console: {url}/console/")
    print(f"  sign in with the admin token: {token_file.read_text(encoding='utf-8').strip()}")
    print(f"  (kept in {token_file.resolve()})")


def _summarize(manifest_text: str, file_path: Path) -> None:
    manifest = json.loads(manifest_text)
    print("\nThe export:")
    print(f"  file      {file_path.resolve()}")
    print(f"  status    {manifest['status']}  ({manifest['format']} + {manifest['compression']})")
    print(f"  rows      {manifest['rows']:,} in {len(manifest['slices'])} slice(s)")
    print(f"  bytes     {manifest['bytes']:,}")
    print(f"  sha256    {manifest['sha256']}")
    print(f"  query     {manifest['spec']['query']}")
    print(f"  range     {manifest['time_range']['start']} .. {manifest['time_range']['end']}")


def _demo(environment: dict[str, str]) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(days=2)
    _run("demo-data", "--project", PROJECT, "--days", "2", "--records",
         str(RECORDS_PER_LOGSTORE), environment=environment)  # fmt: skip
    output = DEMO_DIR / "exports" / "cdn-errors.csv.zst"
    created = _run(
        "task", "create", "status>=400", "--project", PROJECT, "--logstore", "cdn",
        "--from", start.isoformat(), "--to", end.isoformat(), "--format", "csv",
        "--compression", "zstd", "--name", "cdn-errors", "--wait", "--output", str(output),
        environment=environment,
    )  # fmt: skip
    task_id = created.split("task ", 1)[1].split()[0]
    manifest = _run(
        "task", "manifest", task_id, "--project", PROJECT, environment=environment, show=False
    )
    _summarize(manifest, output)


def main() -> None:
    """Run the demo; exit non-zero when a step fails."""
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    data_dir = DEMO_DIR / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "LOGSLUICE_SERVER": url, "LOGSLUICE_DATA_DIR": str(data_dir)}
    print(f"Starting logsluice serve on {url} with data in {data_dir} …", flush=True)
    DEMO_DIR.mkdir(parents=True)
    with (DEMO_DIR / "server.log").open("wb") as server_log:
        server = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [*_CLI, "serve", "--data-dir", str(data_dir), "--port", str(port)],
            env=environment,
            stdout=server_log,
            stderr=server_log,
        )
        _run_and_stop(server, url, environment)


def _keep_serving(server: subprocess.Popen[bytes]) -> None:
    """On a terminal, keep the server (and so the console) up until Ctrl+C."""
    if not sys.stdin.isatty():
        return
    print("\nThe server keeps running so you can use the console; press Ctrl+C to stop it.")
    with contextlib.suppress(KeyboardInterrupt):
        server.wait()


def _run_and_stop(server: subprocess.Popen[bytes], url: str, environment: dict[str, str]) -> None:
    try:
        _wait_until_up(url, server)
        _demo(environment)
        _announce_console(url, Path(environment["LOGSLUICE_DATA_DIR"]))
        _keep_serving(server)
    except subprocess.CalledProcessError as error:
        message = f"demo step failed (exit {error.returncode}); see {DEMO_DIR}/server.log"
        raise SystemExit(message) from error
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        print(f"\nServer stopped. Its log is in {DEMO_DIR / 'server.log'}.")


if __name__ == "__main__":
    main()
