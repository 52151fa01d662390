"""Serving the console's files: ``/console/`` and its assets, ``/`` redirecting there.

Every answer carries a strict Content-Security-Policy (only this origin's scripts, styles, images
and connections; no inline script; no framing), ``nosniff`` and ``no-referrer``, and is revalidated
on each load (``no-cache`` with an ETag), so an upgraded server is never shown with stale files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_PATH = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    """The package's static files with the console's security and caching headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def static_directory() -> Path:
    """Return the directory of the console's files inside the installed package."""
    return Path(str(resources.files("logsluice.console") / "static"))


def _redirect_to_console() -> RedirectResponse:
    return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` on ``app``; ``/`` and ``/console`` redirect there."""
    app.add_api_route("/", _redirect_to_console, methods=["GET"], include_in_schema=False)
    app.add_api_route(CONSOLE_PATH, _redirect_to_console, methods=["GET"], include_in_schema=False)
    app.mount(CONSOLE_PATH, ConsoleFiles(directory=static_directory(), html=True), name="console")
