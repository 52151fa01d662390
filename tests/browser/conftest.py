"""Fixtures of the browser tier: Debian's Chromium driven by Playwright against a real
``logsluice serve`` process. No browser is ever downloaded; under ``CI=true`` a missing Chromium
fails the tests instead of skipping them. Every page collects its browser-console messages, and a
test fails when one of them is an error."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import RunningServer, load_app_records, start_server, stop_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RECORDS = 3000


def _require_browser() -> Any:
    problem = None
    if shutil.which(CHROMIUM) is None:
        problem = f"{CHROMIUM} is missing: apt-get install chromium (make install does)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is missing: pip install -e '.[dev]'"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Console:
    """A running server with data, its admin token and an admin HTTP client."""

    server: RunningServer
    token: str
    admin: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


def start_console(
    data_dir: Path, *extra: str, environment: dict[str, str] | None = None
) -> Console:
    server = start_server(data_dir, *extra, environment=environment)
    token = (data_dir / "admin-token").read_text().strip()
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return Console(server=server, token=token, admin=admin)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A server with project ``web`` (logstore ``app``, 3,000 records) and ``shop``."""
    running = start_console(tmp_path_factory.mktemp("console") / "data")
    load_app_records(running.admin, "web", RECORDS, seed=5)
    load_app_records(running.admin, "shop", 100, seed=6)
    yield running
    running.admin.close()
    stop_server(running.server)


@dataclass
class ConsoleErrors:
    messages: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(a in m for a in self.allowed)]


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


def open_page(browser: Any, errors: ConsoleErrors, **context_options: Any) -> Any:
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on(
        "console",
        lambda message: errors.messages.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.messages.append(f"page error: {error}"))
    return page


@pytest.fixture
def page(browser: Any, console_errors: ConsoleErrors) -> Iterator[Any]:
    """A fresh browser context and page (1280×800); no browser-console errors allowed."""
    opened = open_page(browser, console_errors, viewport={"width": 1280, "height": 800})
    yield opened
    opened.context.close()
    assert console_errors.unexpected() == [], "errors in the browser console"


def assert_fits_width(page: Any, selectors: tuple[str, ...], width: int = 400) -> None:
    """The page scrolls no wider than ``width`` and each of ``selectors`` lies within it."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width


def sign_in_with_token(page: Any, url: str, token: str) -> None:
    """Sign in through the form with the keyboard only: type the token, press Enter."""
    page.goto(f"{url}/console/")
    page.locator("#signin-token").focus()
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#topbar:not([hidden])")
