"""Regenerate the console screenshots of ``docs/console.md`` (``make console-screenshots``).

Starts ``logsluice serve`` on a free loopback port with a fresh data directory, loads the demo logs
(``logsluice demo-data``), runs one download task to the end, registers a sink on a moto S3
server, then drives Debian's Chromium with Playwright through the main pages and saves PNGs into
``docs/images/``. Exits non-zero (and saves nothing more) when a page logs an error in the browser
console.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
LOGSLUICE = str(Path(sys.executable).parent / "logsluice")
PROJECT = "demo"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LOGSLUICE_")
    }
    server = subprocess.Popen(
        [LOGSLUICE, "serve", "--data-dir", str(data_dir), "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("logsluice serve did not start")


def _start_s3() -> tuple[subprocess.Popen[bytes], str]:
    """Start ``moto_server`` (dev extra) on a free loopback port with the demo sink's bucket."""
    port = _free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    httpx.put(f"{endpoint}/acme-log-exports", timeout=10).raise_for_status()
    return moto, endpoint


def _load_demo(url: str, token: str, end: datetime, s3_endpoint: str) -> None:
    subprocess.run(
        [LOGSLUICE, "demo-data", "--project", PROJECT, "--days", "2", "--records", "50000",
         "--end", end.isoformat(), "--server", url, "--token", token],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    spec = {"name": "cdn-errors", "logstore": "cdn", "query": "status>=500",
            "from": (end - timedelta(days=2)).isoformat(), "to": end.isoformat(),
            "format": "csv", "compression": "zstd"}  # fmt: skip
    task = client.post(f"/api/v1/projects/{PROJECT}/download-tasks", json=spec).json()
    for _ in range(600):
        if (
            client.get(f"/api/v1/projects/{PROJECT}/download-tasks/{task['id']}").json()["status"]
            == "SUCCEEDED"
        ):
            break
        time.sleep(0.1)
    queued = {
        **spec,
        "name": "app-everything",
        "logstore": "app",
        "query": "*",
        "format": "parquet",
    }
    client.post(f"/api/v1/projects/{PROJECT}/download-tasks", json=queued)
    # A sink for the Sinks page and the export form (registering tries its bucket).
    sink = {"name": "oss-archive", "endpoint": s3_endpoint,
            "bucket": "acme-log-exports", "prefix": "logsluice/demo", "region": "eu-central-1",
            "access_key_id": "LTAI5tDemoKeyId", "secret_access_key": "demo-secret"}  # fmt: skip
    client.post(f"/api/v1/projects/{PROJECT}/sinks", json=sink).raise_for_status()


def _shoot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=False)
    print(f"docs/images/{name}.png")


def _tour(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/console/")
    page.fill("#signin-token", token)
    _shoot(page, "console-sign-in")
    page.click("button[type=submit]")
    page.wait_for_selector(".logstore")
    _shoot(page, "console-logstores")
    page.goto(f"{url}/console/#/p/{PROJECT}/search?logstore=app&range=24h&q=level%3AERROR")
    page.wait_for_selector("#histogram svg")
    page.click("#results tbody tr.record-row button.expand")
    _shoot(page, "console-search")
    page.click("#export-button")
    page.wait_for_selector("#estimate-rows")
    _shoot(page, "console-export")
    page.keyboard.press("Escape")
    page.goto(f"{url}/console/#/p/{PROJECT}/tasks")
    page.wait_for_selector("tr.task-row")
    _shoot(page, "console-tasks")
    page.click("tr.task-row[data-status=SUCCEEDED] .task-name a")
    page.wait_for_selector("#manifest")
    _shoot(page, "console-task")
    page.goto(f"{url}/console/#/p/{PROJECT}/sinks")
    page.wait_for_selector("tr[data-sink]")
    _shoot(page, "console-sinks")


def main() -> None:
    """Capture the screenshots; exit 1 when the browser console showed an error."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="logsluice-shots-")) / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start(data_dir, port)
    moto, s3_endpoint = _start_s3()
    errors: list[str] = []
    try:
        token = (data_dir / "admin-token").read_text().strip()
        _load_demo(url, token, datetime.now(UTC).replace(second=0, microsecond=0), s3_endpoint)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            _tour(page, url, token)
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    if errors:
        raise SystemExit(f"the browser console showed errors: {errors}")


if __name__ == "__main__":
    main()
