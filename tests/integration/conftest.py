"""Fixtures of the integration tier: a server built by ``bootstrap`` on files in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server, build_server
from logsluice.settings import load_settings
from tests.integration.api_checks import authorized_client

ServerFactory = Callable[..., Server]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Return a factory of servers on ``tmp_path`` with settings overrides; closes them after."""
    servers: list[Server] = []

    def factory(**overrides: Any) -> Server:
        data_dir = tmp_path / f"data-{len(servers)}"
        # no 32 MiB space reserve per test server unless a test asks for one
        settings = load_settings(data_dir=data_dir, **({"disk_reserve_bytes": 0} | overrides))
        server = build_server(settings)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.container.close()


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    return make_server()


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        yield test_client


@pytest.fixture
def logstore_url(client: TestClient) -> str:
    """Create project ``web`` with logstore ``app``; return the logstore's URL."""
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    response = client.post("/api/v1/projects/web/logstores", json={"name": "app"})
    assert response.status_code == 201
    return "/api/v1/projects/web/logstores/app"
