"""Alibaba's SDK (``alibabacloud-sls20201230``) against a real ``logsluice serve`` process.

A team migrating from SLS keeps its code and changes only the endpoint: the client connects to
``{project}.sls.test:{port}`` (this process resolves ``*.sls.test`` to 127.0.0.1, as the
reference's §4.1 recommends) and signs with an access key made by ``logsluice key create``. The
round trip — create, poll, download the ``filePath``, compare with the native query, delete, the
SDK's not-found error — runs in v1 and v4 signing; then the refusals: wrong secret, unknown key,
expired date, tampered body, another project's job. Each refusal must change nothing.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alibabacloud_openapi_util.client import Client as OpenApiUtilClient
from alibabacloud_sls20201230 import models
from alibabacloud_tea_util.client import Client as UtilClient

from tests.acceptance.conftest import (
    RunningServer,
    create_access_key,
    load_app_records,
    local_lake_settings,
    start_server,
    stop_server,
)
from tests.integration.tasks_support import decompress, query_rows, read_rows
from tests.integration.test_sls_api import (
    capture,
    create_request,
    replay,
    resolve_sls_test_to_loopback,
    sls_client,
    sls_error,
    status_and_code,
    wait_until_done,
)

# Starts a real server process (seconds).
pytestmark = pytest.mark.slow

Key = tuple[str, str]


@dataclass
class Deployment:
    server: RunningServer
    port: int
    admin: httpx.Client
    web_writer: Key
    other_writer: Key


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("sls-serve") / "data"
    server = start_server(data_dir, environment=local_lake_settings(data_dir))  # once on a lake
    token = server.read_printed_line()
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    try:
        load_app_records(admin, "web", 500, seed=5)
        load_app_records(admin, "other", 10, seed=5)
        yield Deployment(
            server=server,
            port=int(server.url.rsplit(":", 1)[1]),
            admin=admin,
            web_writer=create_access_key(server, token, "web", "writer"),
            other_writer=create_access_key(server, token, "other", "writer"),
        )
    finally:
        admin.close()
        stop_server(server)


@pytest.fixture(autouse=True)
def loopback_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_sls_test_to_loopback(monkeypatch)


def _native_task_count(deployment: Deployment, project: str = "web") -> int:
    response = deployment.admin.get(f"/api/v1/projects/{project}/download-tasks")
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_round_trip_with_the_sdk(deployment: Deployment, signature_version: str) -> None:
    client = sls_client(deployment.port, deployment.web_writer, signature_version)
    name = f"errors-{signature_version}"
    query = "status>=500 and host:web-2"
    client.create_download_job(
        "web", create_request(name, query=query, content_type="json", compression_type="gzip")
    )
    job = wait_until_done(client, "web", name)
    assert job.status == "SUCCEEDED"
    details = job.execution_details
    assert details.progress == 100
    response = httpx.get(details.file_path, timeout=30)
    assert response.status_code == 200
    assert len(response.content) == details.file_size
    columns, rows = read_rows(decompress(response.content, "gzip"), "jsonl")
    expected_columns, expected_rows = query_rows(deployment.admin, query)
    assert len(rows) == details.log_count == len(expected_rows) > 0
    assert columns == expected_columns
    assert rows == expected_rows
    listed = client.list_download_jobs("web", models.ListDownloadJobsRequest(logstore="app"))
    assert name in [item.name for item in listed.body.results]

    client.delete_download_job("web", name)
    error = sls_error(lambda: client.get_download_job("web", name))
    assert status_and_code(error) == (404, "JobNotExist")
    assert error.data["requestId"]
    assert httpx.get(details.file_path, timeout=30).status_code in (403, 404, 410)


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_refusals_change_nothing(
    deployment: Deployment, signature_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id, secret = deployment.web_writer
    before = _native_task_count(deployment)

    wrong_secret = sls_client(deployment.port, (key_id, secret + "x"), signature_version)
    error = sls_error(lambda: wrong_secret.create_download_job("web", create_request("w1")))
    assert status_and_code(error) == (401, "SignatureNotMatch")

    unknown = sls_client(deployment.port, ("LSAKNOSUCHKEY0000000", secret), signature_version)
    error = sls_error(lambda: unknown.create_download_job("web", create_request("w2")))
    assert status_and_code(error) == (401, "Unauthorized")

    client = sls_client(deployment.port, deployment.web_writer, signature_version)
    sent = capture(monkeypatch, lambda: client.create_download_job("web", create_request("w3")))
    tampered = replay(deployment.port, sent, body=sent.body.replace(b'"w3"', b'"w4"'))
    assert (tampered.status_code, tampered.json()["errorCode"]) == (400, "PostBodyInvalid")

    with monkeypatch.context() as patch:
        patch.setattr(UtilClient, "get_date_utcstring", staticmethod(_an_hour_ago_rfc1123))
        patch.setattr(OpenApiUtilClient, "get_timestamp", staticmethod(_an_hour_ago_iso))
        error = sls_error(lambda: client.create_download_job("web", create_request("w5")))
    assert status_and_code(error) == (400, "RequestTimeExpired")

    assert _native_task_count(deployment) == before


def test_another_projects_job_is_not_found(deployment: Deployment) -> None:
    theirs = sls_client(deployment.port, deployment.other_writer, "v4")
    theirs.create_download_job("other", create_request("private"))
    mine = sls_client(deployment.port, deployment.web_writer, "v1")
    for call in (
        lambda: mine.get_download_job("other", "private"),
        lambda: mine.delete_download_job("other", "private"),
    ):
        assert status_and_code(sls_error(call)) == (404, "ProjectNotExist")
    error = sls_error(lambda: mine.get_download_job("web", "private"))
    assert status_and_code(error) == (404, "JobNotExist")
    assert wait_until_done(theirs, "other", "private").status == "SUCCEEDED"
    assert _native_task_count(deployment, "other") == 1
    theirs.delete_download_job("other", "private")


def _an_hour_ago_rfc1123() -> str:
    return email.utils.formatdate(time.time() - 3600, usegmt=True)


def _an_hour_ago_iso() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
