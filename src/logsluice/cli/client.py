"""The HTTP client the CLI commands use to drive a logsluice server, and how it finds its token.

Errors in the server's envelope become :class:`ApiError` with the server's message, so the user
reads "project 'web' already exists" rather than a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from logsluice.api.auth import is_loopback_host, read_admin_token_file

DEFAULT_SERVER_URL = "http://127.0.0.1:8080"
REQUEST_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=300.0, pool=5.0)


class ApiError(Exception):
    """A request the server refused (``status``, ``code`` from its envelope) or could not reach."""

    def __init__(self, message: str, *, status: int = 0, code: str = "unreachable") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ClientConfig:
    """Where the server is and how to authenticate to it."""

    server_url: str
    token: str | None
    data_dir: Path
    # connection options given on the command line, repeated in the commands the CLI suggests
    repeated_options: tuple[str, ...] = ()

    def resolved_token(self) -> str | None:
        """Return the explicit token, else the admin token file's when the server is local."""
        if self.token:
            return self.token
        host = urlsplit(self.server_url).hostname or ""
        return read_admin_token_file(self.data_dir) if is_loopback_host(host) else None


def path_of(*segments: str) -> str:
    """Return ``/api/v1/<segments>`` with each segment percent-encoded."""
    return "/api/v1/" + "/".join(quote(segment, safe="") for segment in segments)


class ApiClient:
    """A small synchronous client of the native API."""

    def __init__(self, config: ClientConfig) -> None:
        token = config.resolved_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server_url = config.server_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.server_url, headers=headers, timeout=REQUEST_TIMEOUT
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **options: Any) -> Any:
        """Send a request and return its decoded JSON body (None for 204).

        Raises ApiError with the server's message, or when the server cannot be reached.
        """
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as error:
            raise ApiError(
                f"cannot reach the logsluice server at {self.server_url}: {error} "
                "(is `logsluice serve` running? see --server / LOGSLUICE_SERVER)"
            ) from error
        if response.status_code >= 400:
            raise _api_error(response)
        return None if response.status_code == 204 else response.json()


def _api_error(response: httpx.Response) -> ApiError:
    try:
        envelope = response.json()["error"]
        message, code = str(envelope["message"]), str(envelope["code"])
    except (ValueError, KeyError, TypeError):
        message, code = response.text[:500] or response.reason_phrase, "http_error"
    if response.status_code == 401:
        message += " (set --token / LOGSLUICE_TOKEN, or --data-dir of a local server)"
    return ApiError(message, status=response.status_code, code=code)
