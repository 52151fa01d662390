"""The SLS dialect in-process: the app served by uvicorn on 127.0.0.1, driven by Alibaba's SDK.

``alibabacloud-sls20201230`` is the client, unchanged, in v1 and v4 signing: it connects to
``{project}.sls.test:{port}``, and this test process resolves ``*.sls.test`` to 127.0.0.1 (the
reference's §4.1 recipe), so the server sees ``Host: web.sls.test:{port}`` exactly as in
production. Hand-made variants of the SDK's own signed requests (captured by replacing only its
HTTP send) check the refusals: wrong secret, unknown key, expired date, tampered body, a project
out of the key's reach.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from alibabacloud_openapi_util.client import Client as OpenApiUtilClient
from alibabacloud_sls20201230 import models
from alibabacloud_sls20201230.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from alibabacloud_tea_util.client import Client as UtilClient
from darabonba.core import DaraCore
from darabonba.exceptions import UnretryableException

from logsluice.bootstrap import Server, build_server
from logsluice.settings import load_settings
from tests.acceptance.conftest import free_port
from tests.integration.tasks_support import (
    END,
    START,
    decompress,
    generate_records,
    query_rows,
    read_rows,
)
from tests.s3_server import S3Bucket

SLS_SUFFIX = ".sls.test"
FROM_TIME = int(START.timestamp())
TO_TIME = int(END.timestamp())
POLL_SECONDS = 30


# --- helpers shared with tests/acceptance/test_sls_sdk.py -----------------------------------------


@dataclass
class SlsKeys:
    """Access keys of the test server: id and secret of each."""

    writer: tuple[str, str]
    reader: tuple[str, str]
    other_project: tuple[str, str]
    admin: tuple[str, str]


def resolve_sls_test_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``*.sls.test`` resolve to 127.0.0.1 in this process (the SDK's project host)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *arguments: Any, **keywords: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        return real("127.0.0.1" if name.endswith(SLS_SUFFIX) else host, *arguments, **keywords)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for variable in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(variable, raising=False)


def sls_client(port: int, key: tuple[str, str], signature_version: str) -> Client:
    """Return the SDK's client for a loopback server, as a migrating user would configure it."""
    return Client(
        Config(
            access_key_id=key[0],
            access_key_secret=key[1],
            endpoint=f"sls.test:{port}",
            protocol="http",
            region_id="cn-hangzhou",
            signature_version=signature_version,
        )
    )


def create_request(
    name: str,
    *,
    query: str = "*",
    content_type: str = "csv",
    compression_type: str = "none",
    logstore: str = "app",
    **sink: Any,
) -> models.CreateDownloadJobRequest:
    return models.CreateDownloadJobRequest(
        name=name,
        display_name=f"display {name}",
        description="made by the SDK",
        configuration=models.CreateDownloadJobRequestConfiguration(
            logstore=logstore,
            from_time=FROM_TIME,
            to_time=TO_TIME,
            query=query,
            allow_in_complete=False,
            power_sql=False,
            sink=models.CreateDownloadJobRequestConfigurationSink(
                type="AliyunOSS",
                content_type=content_type,
                compression_type=compression_type,
                **sink,
            ),
        ),
    )


def wait_until_done(client: Client, project: str, name: str) -> Any:
    """Poll GetDownloadJob until the job leaves STARTING/RUNNING; return its body."""
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        job = client.get_download_job(project, name).body
        if job.status not in ("STARTING", "RUNNING"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {name} did not finish in {POLL_SECONDS} s")


def sls_error(call: Callable[[], Any]) -> UnretryableException:
    """Run an SDK call that must fail; return the SDK's exception."""
    with pytest.raises(UnretryableException) as raised:
        call()
    return raised.value


def status_and_code(error: UnretryableException) -> tuple[int, str]:
    inner = error.inner_exception
    return error.statusCode or inner.statusCode, error.code or inner.code


@dataclass
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _CapturedError(Exception):
    pass


def capture(monkeypatch: pytest.MonkeyPatch, call: Callable[[], Any]) -> CapturedRequest:
    """Run an SDK call with only its HTTP send replaced; return what it would have sent."""
    recorded: list[Any] = []

    def record(request: Any, runtime: Any = None) -> Any:
        recorded.append(request)
        raise _CapturedError

    with monkeypatch.context() as patch:
        patch.setattr(DaraCore, "do_action", staticmethod(record))
        with pytest.raises(UnretryableException):
            call()
    sent = recorded.pop()
    url = DaraCore.compose_url(sent)
    path = "/" + url.split("://", 1)[1].partition("/")[2]
    body = sent.body.encode() if isinstance(sent.body, str) else (sent.body or b"")
    return CapturedRequest(sent.method, path, dict(sent.headers), body)


def replay(port: int, request: CapturedRequest, **changes: Any) -> httpx.Response:
    """Send a captured request (with ``changes`` to method/path/headers/body) to 127.0.0.1."""
    headers = {**request.headers, **changes.get("headers", {})}
    return httpx.request(
        changes.get("method", request.method),
        f"http://127.0.0.1:{port}{changes.get('path', request.path)}",
        headers=headers,
        content=changes.get("body", request.body),
        timeout=30,
    )


def job_rows(job: Any, export_format: str, compression: str) -> tuple[list[str], list[list[str]]]:
    """Download the job's ``filePath`` (no credentials) and read its rows."""
    response = httpx.get(job.execution_details.file_path, timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.content) == job.execution_details.file_size
    return read_rows(decompress(response.content, compression), export_format)


# --- the in-process server ------------------------------------------------------------------------


@dataclass
class LiveServer:
    server: Server
    port: int
    admin: httpx.Client
    keys: SlsKeys


def _serve(server: Server) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning")
    http_server = uvicorn.Server(config)
    thread = threading.Thread(target=http_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not http_server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return http_server, thread, port


def load_projects(admin: httpx.Client) -> None:
    """Project ``web`` (300 records in ``app``) and project ``other`` (20 records in ``app``)."""
    for project, count in (("web", 300), ("other", 20)):
        assert admin.post("/api/v1/projects", json={"name": project}).status_code == 201
        url = f"/api/v1/projects/{project}/logstores"
        assert admin.post(url, json={"name": "app"}).status_code == 201
        body = b"".join(orjson.dumps(record) + b"\n" for record in generate_records(count))
        response = admin.post(f"{url}/app/records", content=body)
        assert response.json()["accepted"] == count, response.text


def make_keys(server: Server) -> SlsKeys:
    access_keys = server.container.access_keys

    def key(project: str | None, role: str) -> tuple[str, str]:
        access_key, secret = access_keys.create(project, role)
        return access_key.id, secret

    return SlsKeys(
        writer=key("web", "writer"),
        reader=key("web", "reader"),
        other_project=key("other", "writer"),
        admin=key(None, "admin"),
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("sls") / "data", workers=2)
    server = build_server(settings)
    http_server, thread, port = _serve(server)
    assert server.admin_token is not None
    admin = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {server.admin_token.value}"},
        timeout=30,
    )
    load_projects(admin)
    yield LiveServer(server=server, port=port, admin=admin, keys=make_keys(server))
    admin.close()
    http_server.should_exit = True
    thread.join(timeout=15)
    server.container.close()


@pytest.fixture(autouse=True)
def loopback_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_sls_test_to_loopback(monkeypatch)


def jobs_total(live: LiveServer, project: str = "web") -> int:
    client = sls_client(live.port, live.keys.admin, "v4")
    total: int = client.list_download_jobs(project, models.ListDownloadJobsRequest()).body.total
    return total


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_sdk_round_trip_create_poll_download_delete(
    live: LiveServer, signature_version: str
) -> None:
    client = sls_client(live.port, live.keys.writer, signature_version)
    name = f"round-trip-{signature_version}"
    query = "status>=500"
    client.create_download_job("web", create_request(name, query=query))
    job = wait_until_done(client, "web", name)
    assert job.status == "SUCCEEDED"
    assert job.name == name
    assert job.display_name == f"display {name}"
    assert job.description == "made by the SDK"
    assert isinstance(job.create_time, str)
    assert abs(int(job.create_time) - time.time()) < 120
    configuration = job.configuration
    assert (configuration.logstore, configuration.query) == ("app", query)
    assert (configuration.from_time, configuration.to_time) == (FROM_TIME, TO_TIME)
    assert configuration.allow_in_complete is False
    assert configuration.power_sql is False
    sink = configuration.sink
    assert (sink.type, sink.content_type, sink.compression_type) == ("AliyunOSS", "csv", "none")
    assert (sink.bucket, sink.prefix, sink.role_arn) == (None, None, None)
    details = job.execution_details
    assert details.progress == 100
    assert details.error_message == ""
    assert details.notice == ""
    assert isinstance(details.execute_time, int)
    assert details.execute_time >= 0
    assert len(details.check_sum) == 32
    assert details.check_sum == details.check_sum.upper()
    columns, rows = job_rows(job, "csv", "none")
    expected_columns, expected_rows = query_rows(live.admin, query)
    assert details.log_count == len(rows) == len(expected_rows) > 0
    assert columns == expected_columns
    assert rows == expected_rows

    client.delete_download_job("web", name)
    error = sls_error(lambda: client.get_download_job("web", name))
    assert status_and_code(error) == (404, "JobNotExist")
    assert error.data["requestId"]


def test_a_job_with_a_registered_sink_leaves_its_file_in_that_bucket(
    live: LiveServer, s3_bucket: S3Bucket
) -> None:
    sink = {
        "name": "oss-main",
        "endpoint": s3_bucket.server.endpoint,
        "bucket": s3_bucket.name,
        "prefix": "sls",
        "access_key_id": s3_bucket.server.access_key_id,
        "secret_access_key": s3_bucket.server.secret_access_key,
    }
    assert live.admin.post("/api/v1/projects/web/sinks", json=sink).status_code == 201
    client = sls_client(live.port, live.keys.writer, "v4")
    role_arn = "acs:ram::0123456789:role/aliyunlogdefaultrole"
    request = create_request(
        "to-oss", query="status>=500", bucket="oss-main", prefix="download/", role_arn=role_arn
    )
    client.create_download_job("web", request)
    job = wait_until_done(client, "web", "to-oss")
    assert job.status == "SUCCEEDED", job.execution_details.error_message
    echoed = job.configuration.sink
    assert (echoed.bucket, echoed.prefix, echoed.role_arn) == ("oss-main", "download/", role_arn)
    objects = s3_bucket.server.client().list_objects_v2(Bucket=s3_bucket.name)
    keys = sorted(item["Key"] for item in objects["Contents"])
    assert [key.rsplit("/", 1)[-1] for key in keys] == [
        "columns.json",
        "manifest.json",
        "to-oss.csv",
    ]
    assert all(key.startswith("sls/download/web/") for key in keys)
    assert job.execution_details.file_path.startswith(
        f"{s3_bucket.server.endpoint}/{s3_bucket.name}/sls/download/web/"
    )
    _, rows = job_rows(job, "csv", "none")
    _, expected = query_rows(live.admin, "status>=500")
    assert rows == expected
    client.delete_download_job("web", "to-oss")
    live.admin.delete("/api/v1/projects/web/sinks/oss-main")


def test_a_job_naming_an_unregistered_bucket_is_refused(live: LiveServer) -> None:
    client = sls_client(live.port, live.keys.writer, "v4")
    request = create_request("nowhere", bucket="not-registered", prefix="x/")
    error = sls_error(lambda: client.create_download_job("web", request))
    assert status_and_code(error) == (400, "ParameterInvalid")
    assert "not-registered" in error.message
    assert sls_error(lambda: client.get_download_job("web", "nowhere")).statusCode == 404


@pytest.mark.parametrize(
    ("content_type", "compression_type", "export_format"),
    [("json", "gzip", "jsonl"), ("csv", "zstd", "csv"), ("json", "lz4", "jsonl")],
)
def test_sink_content_and_compression_types_are_honoured(
    live: LiveServer, content_type: str, compression_type: str, export_format: str
) -> None:
    client = sls_client(live.port, live.keys.writer, "v1")
    name = f"sink-{content_type}-{compression_type}"
    request = create_request(
        name, query="level:ERROR", content_type=content_type, compression_type=compression_type
    )
    client.create_download_job("web", request)
    job = wait_until_done(client, "web", name)
    assert job.status == "SUCCEEDED"
    assert job.configuration.sink.content_type == content_type
    assert job.configuration.sink.compression_type == compression_type
    _, rows = job_rows(job, export_format, compression_type)
    _, expected = query_rows(live.admin, "level:ERROR")
    assert sorted(rows) == sorted(expected)
    client.delete_download_job("web", name)


def test_list_pages_with_offset_size_total_and_count(live: LiveServer) -> None:
    client = sls_client(live.port, live.keys.writer, "v4")
    names = [f"page-{index}" for index in range(5)]
    for name in names:
        client.create_download_job("web", create_request(name, query="host:web-1"))
    listed = client.list_download_jobs("web", models.ListDownloadJobsRequest()).body
    assert listed.total == listed.count == len(listed.results) == 5
    assert [job.name for job in listed.results] == names[::-1]  # newest first
    page = client.list_download_jobs("web", models.ListDownloadJobsRequest(offset=1, size=3)).body
    assert (page.total, page.count) == (5, 3)
    assert [job.name for job in page.results] == names[::-1][1:4]
    tail = client.list_download_jobs(
        "web", models.ListDownloadJobsRequest(logstore="app", offset=4, size=2)
    ).body
    assert (tail.total, tail.count, [job.name for job in tail.results]) == (5, 1, names[:1])
    none = client.list_download_jobs(
        "web", models.ListDownloadJobsRequest(logstore="nothing-here")
    ).body
    assert (none.total, none.count, none.results) == (0, 0, [])
    for name in names:
        wait_until_done(client, "web", name)
        client.delete_download_job("web", name)
    assert jobs_total(live) == 0


def test_a_sql_query_job_holds_the_sql_rows(live: LiveServer) -> None:
    client = sls_client(live.port, live.keys.writer, "v1")
    query = "* | select host, count(*) as n group by host order by host"
    client.create_download_job("web", create_request("sql-job", query=query))
    job = wait_until_done(client, "web", "sql-job")
    assert job.status == "SUCCEEDED"
    assert job_rows(job, "csv", "none") == query_rows(live.admin, query)
    client.delete_download_job("web", "sql-job")


# --- bad input ------------------------------------------------------------------------------------


def test_a_duplicate_name_is_job_already_exist(live: LiveServer) -> None:
    client = sls_client(live.port, live.keys.writer, "v1")
    client.create_download_job("web", create_request("twice"))
    for request in (create_request("twice"), create_request("twice", query="level:WARN")):
        error = sls_error(lambda request=request: client.create_download_job("web", request))
        assert status_and_code(error) == (400, "JobAlreadyExist")
    assert jobs_total(live) == 1
    wait_until_done(client, "web", "twice")
    client.delete_download_job("web", "twice")
    client.create_download_job("web", create_request("twice"))  # free again once deleted
    wait_until_done(client, "web", "twice")
    client.delete_download_job("web", "twice")


@pytest.mark.parametrize(
    ("request_changes", "code"),
    [
        ({"name": "Bad_Name"}, "ParameterInvalid"),
        ({"name": "x"}, "ParameterInvalid"),
        ({"compression_type": "snappy"}, "ParameterInvalid"),
        ({"content_type": "parquet"}, "ParameterInvalid"),
        ({"query": "status:>>"}, "ParameterInvalid"),
        ({"query": "NOT " * 87 + "status:200"}, "ParameterInvalid"),
        ({"query": "* | SELECT " + "abs(" * 300 + "1" + ")" * 300}, "ParameterInvalid"),
        ({"logstore": "missing"}, "LogStoreNotExist"),
    ],
)
def test_bad_jobs_are_refused_with_sls_codes(
    live: LiveServer, request_changes: dict[str, str], code: str
) -> None:
    client = sls_client(live.port, live.keys.writer, "v4")
    arguments = {"name": "bad-job", **request_changes}
    request = create_request(**arguments)
    error = sls_error(lambda: client.create_download_job("web", request))
    assert status_and_code(error) == (404 if code.endswith("NotExist") else 400, code)
    assert error.message
    assert jobs_total(live) == 0


def test_inverted_times_and_a_missing_field_are_parameter_invalid(live: LiveServer) -> None:
    client = sls_client(live.port, live.keys.writer, "v1")
    inverted = create_request("inverted")
    inverted.configuration.from_time, inverted.configuration.to_time = TO_TIME, FROM_TIME
    error = sls_error(lambda: client.create_download_job("web", inverted))
    assert status_and_code(error) == (400, "ParameterInvalid")
    without_display_name = create_request("no-display")
    without_display_name.display_name = None
    error = sls_error(lambda: client.create_download_job("web", without_display_name))
    assert status_and_code(error) == (400, "ParameterInvalid")
    assert "displayName" in error.message
    assert jobs_total(live) == 0


def test_list_size_bounds(live: LiveServer) -> None:
    client = sls_client(live.port, live.keys.reader, "v1")
    for request in (
        models.ListDownloadJobsRequest(size=501),
        models.ListDownloadJobsRequest(offset=-1),
    ):
        error = sls_error(lambda request=request: client.list_download_jobs("web", request))
        assert status_and_code(error) == (400, "ParameterInvalid")


# --- authentication and reach ---------------------------------------------------------------------


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_wrong_secret_and_unknown_key(live: LiveServer, signature_version: str) -> None:
    wrong_secret = sls_client(live.port, (live.keys.writer[0], "not-the-secret"), signature_version)
    error = sls_error(lambda: wrong_secret.create_download_job("web", create_request("nope")))
    assert status_and_code(error) == (401, "SignatureNotMatch")
    unknown = sls_client(live.port, ("LSAKUNKNOWN000000000", "whatever"), signature_version)
    error = sls_error(lambda: unknown.get_download_job("web", "nope"))
    assert status_and_code(error) == (401, "Unauthorized")
    assert "LSAKUNKNOWN000000000" in error.message
    assert jobs_total(live) == 0


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_an_expired_date_is_request_time_expired(
    live: LiveServer, signature_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        UtilClient, "get_date_utcstring", staticmethod(lambda: "Sun, 01 Mar 2026 00:00:00 GMT")
    )
    monkeypatch.setattr(
        OpenApiUtilClient, "get_timestamp", staticmethod(lambda: "2026-03-01T00:00:00Z")
    )
    client = sls_client(live.port, live.keys.writer, signature_version)
    error = sls_error(lambda: client.create_download_job("web", create_request("stale")))
    assert status_and_code(error) == (400, "RequestTimeExpired")
    monkeypatch.undo()
    resolve_sls_test_to_loopback(monkeypatch)
    assert jobs_total(live) == 0


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_a_tampered_body_is_refused_and_creates_nothing(
    live: LiveServer, signature_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sls_client(live.port, live.keys.writer, signature_version)
    sent = capture(monkeypatch, lambda: client.create_download_job("web", create_request("tamper")))
    tampered = sent.body.replace(b'"tamper"', b'"tamped"')
    assert len(tampered) == len(sent.body)
    assert tampered != sent.body
    response = replay(live.port, sent, body=tampered)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "PostBodyInvalid"
    assert response.headers["x-log-requestid"]
    assert jobs_total(live) == 0
    assert replay(live.port, sent).status_code == 200  # the untouched request is accepted
    wait_until_done(client, "web", "tamper")
    client.delete_download_job("web", "tamper")


def test_a_tampered_path_or_query_breaks_the_signature(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sls_client(live.port, live.keys.reader, "v1")
    listing = models.ListDownloadJobsRequest(offset=0, size=10)
    sent = capture(monkeypatch, lambda: client.list_download_jobs("web", listing))
    response = replay(live.port, sent, path=sent.path.replace("size=10", "size=11"))
    assert (response.status_code, response.json()["errorCode"]) == (401, "SignatureNotMatch")


@pytest.mark.parametrize("signature_version", ["v1", "v4"])
def test_another_projects_jobs_are_out_of_reach(live: LiveServer, signature_version: str) -> None:
    other = sls_client(live.port, live.keys.other_project, signature_version)
    other.create_download_job("other", create_request("theirs"))
    web = sls_client(live.port, live.keys.writer, signature_version)
    # the web key addressing project other (in v1 the Host is not signed): not found, no leak
    for call in (
        lambda: web.get_download_job("other", "theirs"),
        lambda: web.list_download_jobs("other", models.ListDownloadJobsRequest()),
        lambda: web.delete_download_job("other", "theirs"),
        lambda: web.create_download_job("other", create_request("intruder")),
        lambda: web.get_download_job("no-such-project", "theirs"),
    ):
        assert status_and_code(sls_error(call)) == (404, "ProjectNotExist")
    # the other project's job name asked in the key's own project: not found
    error = sls_error(lambda: web.get_download_job("web", "theirs"))
    assert status_and_code(error) == (404, "JobNotExist")
    assert wait_until_done(other, "other", "theirs").status == "SUCCEEDED"
    assert jobs_total(live, "other") == 1
    other.delete_download_job("other", "theirs")


def test_a_reader_key_reads_but_cannot_create_or_delete(live: LiveServer) -> None:
    writer = sls_client(live.port, live.keys.writer, "v1")
    writer.create_download_job("web", create_request("readable"))
    reader = sls_client(live.port, live.keys.reader, "v4")
    assert reader.get_download_job("web", "readable").body.name == "readable"
    assert reader.list_download_jobs("web", models.ListDownloadJobsRequest()).body.total == 1
    for call in (
        lambda: reader.create_download_job("web", create_request("by-reader")),
        lambda: reader.delete_download_job("web", "readable"),
    ):
        assert status_and_code(sls_error(call)) == (401, "Unauthorized")
    assert jobs_total(live) == 1
    wait_until_done(writer, "web", "readable")
    writer.delete_download_job("web", "readable")


def test_a_revoked_key_stops_at_once(live: LiveServer) -> None:
    access_key, secret = live.server.container.access_keys.create("web", "reader")
    client = sls_client(live.port, (access_key.id, secret), "v1")
    assert client.list_download_jobs("web", models.ListDownloadJobsRequest()).body.total == 0
    live.server.container.access_keys.revoke(access_key.id)
    error = sls_error(lambda: client.list_download_jobs("web", models.ListDownloadJobsRequest()))
    assert status_and_code(error) == (401, "Unauthorized")


def test_no_signature_is_unauthorized_in_the_sls_envelope(live: LiveServer) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{live.port}/downloadjobs", headers={"Host": "web.sls.test"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "errorCode": "Unauthorized",
        "errorMessage": "The Authorization header does not exist.",
    }
    assert len(response.headers["x-log-requestid"]) == 24


def test_a_bare_ip_host_without_project_parameter_is_invalid_host(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sls_client(live.port, live.keys.reader, "v1")
    listing = models.ListDownloadJobsRequest(offset=0, size=10)
    sent = capture(monkeypatch, lambda: client.list_download_jobs("web", listing))
    # the same signed request on a bare IP Host names no project, and there is no ?project=
    response = replay(live.port, sent, headers={"host": f"127.0.0.1:{live.port}"})
    assert (response.status_code, response.json()["errorCode"]) == (400, "InvalidHost")


def sign_v1_by_hand(
    key: tuple[str, str],
    method: str,
    path: str,
    query: dict[str, str],
    host: str,
    *,
    classic_sha1: bool = False,
) -> dict[str, str]:
    """Sign a bodiless request with SLS v1, written out from the reference (§2.5): hmac-sha256,
    or the classic hmac-sha1 (no ``x-log-signaturemethod`` header) of older SDKs."""
    headers = {
        "host": host,
        "content-type": "application/json",
        "content-md5": "",
        "date": email.utils.formatdate(usegmt=True),
        "x-log-apiversion": "0.6.0",
        "x-log-bodyrawsize": "0",
        "x-log-signaturemethod": "hmac-sha256",
    }
    if classic_sha1:
        del headers["x-log-signaturemethod"]
    signed = "".join(
        f"{name}:{headers[name]}\n" for name in sorted(headers) if name[:6] == "x-log-"
    )
    resource = path + "?" + "&".join(f"{name}={query[name]}" for name in sorted(query))
    text = f"{method}\n\napplication/json\n{headers['date']}\n{signed}{resource}"
    algorithm = hashlib.sha1 if classic_sha1 else hashlib.sha256
    digest = hmac.new(key[1].encode(), text.encode(), algorithm).digest()
    headers["authorization"] = f"LOG {key[0]}:{base64.b64encode(digest).decode()}"
    return headers


def test_project_query_parameter_works_when_the_host_names_none(live: LiveServer) -> None:
    query = {"project": "web", "offset": "0", "size": "5"}
    headers = sign_v1_by_hand(
        live.keys.reader, "GET", "/downloadjobs", query, f"127.0.0.1:{live.port}"
    )
    response = httpx.get(
        f"http://127.0.0.1:{live.port}/downloadjobs", params=query, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"total": 0, "count": 0, "results": []}
    query["project"] = "other"  # signed, but out of the reader key's reach
    headers = sign_v1_by_hand(
        live.keys.reader, "GET", "/downloadjobs", query, f"127.0.0.1:{live.port}"
    )
    response = httpx.get(
        f"http://127.0.0.1:{live.port}/downloadjobs", params=query, headers=headers
    )
    assert (response.status_code, response.json()["errorCode"]) == (404, "ProjectNotExist")


def test_a_configured_base_domain_takes_the_label_in_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = build_server(
        load_settings(data_dir=tmp_path / "data", workers=0, sls_domain="sls.test")
    )
    http_server, thread, port = _serve(server)
    try:
        server.container.catalog.create_project("shop")
        server.container.catalog.create_logstore("shop", "app")
        access_key, secret = server.container.access_keys.create("shop", "writer")
        client = sls_client(port, (access_key.id, secret), "v4")
        client.create_download_job("shop", create_request("queued-job"))
        job = client.get_download_job("shop", "queued-job").body
        assert (job.status, job.execution_details.progress) == ("STARTING", 0)
        assert client.list_download_jobs("shop", models.ListDownloadJobsRequest()).body.total == 1
        sent = capture(monkeypatch, lambda: client.get_download_job("shop", "queued-job"))
        response = replay(port, sent, headers={"host": f"shop.elsewhere.test:{port}"})
        assert (response.status_code, response.json()["errorCode"]) == (401, "SignatureNotMatch")
        signed = sign_v1_by_hand(
            (access_key.id, secret), "GET", "/downloadjobs", {"size": "5"}, "shop.elsewhere.test"
        )
        response = httpx.get(
            f"http://127.0.0.1:{port}/downloadjobs", params={"size": "5"}, headers=signed
        )
        assert (response.status_code, response.json()["errorCode"]) == (400, "InvalidHost")
    finally:
        http_server.should_exit = True
        thread.join(timeout=15)
        server.container.close()


def test_the_classic_hmac_sha1_v1_scheme_is_accepted(live: LiveServer) -> None:
    host = f"web.sls.test:{live.port}"
    headers = sign_v1_by_hand(
        live.keys.reader, "GET", "/downloadjobs", {"size": "3"}, host, classic_sha1=True
    )
    assert "x-log-signaturemethod" not in headers
    url = f"http://127.0.0.1:{live.port}/downloadjobs"
    response = httpx.get(url, params={"size": "3"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 0
    response = httpx.get(url, params={"size": "4"}, headers=headers)
    assert (response.status_code, response.json()["errorCode"]) == (401, "SignatureNotMatch")
