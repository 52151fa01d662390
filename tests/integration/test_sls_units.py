"""The SLS dialect's pure parts: Host → project, the create body, the job object, the error table.

No server here: these pin the rules the SDK tests cannot reach easily (every task status, a
configured base domain, every body refusal) with plain values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from logsluice.api.signatures.sls import signature_not_match
from logsluice.api.sls.errors import status_code_message
from logsluice.api.sls.hosts import host_name, resolve_project
from logsluice.api.sls.jobs import JobFile, job_out
from logsluice.api.sls.models import parse_create_body
from logsluice.domain.errors import (
    AlreadyExistsError,
    InvalidInputError,
    LogsluiceError,
    LogstoreNotFoundError,
    PermissionDeniedError,
    ProjectNotFoundError,
    TaskNotFoundError,
)
from logsluice.domain.export import Compression, ExportFormat
from logsluice.domain.tasks import Task, TaskSpec, TaskStatus
from logsluice.domain.timerange import TimeRange
from logsluice.services.task_progress import progress_of

PROJECTS = {"web", "other"}
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def exists(name: str) -> bool:
    return name in PROJECTS


# --- Host → project -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Web.SLS.test:8080", "web.sls.test"),
        ("web.sls.test.", "web.sls.test"),
        ("[::1]:80", "[::1]"),
    ],
)
def test_host_name_drops_port_case_and_trailing_dot(host: str, expected: str) -> None:
    assert host_name(host) == expected


@pytest.mark.parametrize(
    ("host", "query_project", "expected"),
    [
        ("web.sls.test:9000", None, "web"),
        ("web.anything.example", None, "web"),
        ("127.0.0.1:9000", "web", "web"),
        ("localhost", "other", "other"),
        ("web.sls.test", "web", "web"),
    ],
)
def test_without_a_domain_the_first_label_names_an_existing_project(
    host: str, query_project: str | None, expected: str
) -> None:
    assert resolve_project(host, query_project, "", exists) == expected


def test_without_a_domain_an_unknown_label_is_project_not_exist() -> None:
    with pytest.raises(ProjectNotFoundError, match="nosuch"):
        resolve_project("nosuch.sls.test:1", None, "", exists)
    with pytest.raises(InvalidInputError) as raised:
        resolve_project("127.0.0.1:9000", None, "", exists)
    assert raised.value.details["field"] == "host"


@pytest.mark.parametrize(
    ("host", "query_project", "expected"),
    [
        ("web.sls.example.com", None, "web"),
        ("anyname.sls.example.com:443", None, "anyname"),  # existence is checked later
        ("sls.example.com", "other", "other"),
    ],
)
def test_with_a_domain_the_label_in_front_is_the_project(
    host: str, query_project: str | None, expected: str
) -> None:
    assert resolve_project(host, query_project, "sls.example.com", exists) == expected


@pytest.mark.parametrize(
    "host", ["web.elsewhere.com", "a.web.sls.example.com", "127.0.0.1:80", "example.com"]
)
def test_with_a_domain_a_host_outside_it_is_invalid_host(host: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        resolve_project(host, "web", "sls.example.com", exists)
    assert status_code_message(raised.value)[:2] == (400, "InvalidHost")


def test_a_query_project_contradicting_the_host_is_refused() -> None:
    with pytest.raises(InvalidInputError) as raised:
        resolve_project("web.sls.test", "other", "", exists)
    assert status_code_message(raised.value)[:2] == (400, "ParameterInvalid")


# --- the create body ------------------------------------------------------------------------------


def body(**changes: Any) -> bytes:
    content: dict[str, Any] = {
        "name": "job-1",
        "displayName": "Job 1",
        "configuration": {
            "logstore": "app",
            "fromTime": 1772323200,
            "toTime": 1772326800,
            "query": "* | select *",
            "allowInComplete": True,
            "powerSql": True,
            "sink": {
                "type": "AliyunOSS",
                "contentType": "json",
                "compressionType": "zstd",
                "bucket": "b",
                "prefix": "p/",
                "roleArn": "acs:ram::1:role/r",
            },
        },
    }
    content.update(changes)
    return json.dumps(content).encode()


def test_the_body_becomes_a_spec_that_keeps_the_sink_extras() -> None:
    spec = parse_create_body(body()).to_spec()
    assert (spec.name, spec.display_name, spec.description) == ("job-1", "Job 1", "")
    assert (spec.format, spec.compression) == (ExportFormat.JSONL, Compression.ZSTD)
    assert spec.time_range == TimeRange(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 1, tzinfo=UTC)
    )
    assert spec.allow_incomplete is True
    assert spec.idempotency_key == "sls-download-job:job-1"
    assert spec.dialect_options == {
        "sls": {
            "powerSql": True,
            "sink": {"bucket": "b", "prefix": "p/", "roleArn": "acs:ram::1:role/r"},
        }
    }
    assert TaskSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"\xff\xfe", "body"),
        (body(name=None), "name"),
        (body(displayName=None), "displayName"),
        (body(configuration={"logstore": "app"}), "configuration.fromTime"),
        (body(configuration="x"), "configuration"),
    ],
)
def test_malformed_bodies_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_create_body(raw)
    assert raised.value.details["field"] == field
    expected_code = "PostBodyInvalid" if field == "body" else "ParameterInvalid"
    assert status_code_message(raised.value)[:2] == (400, expected_code)


@pytest.mark.parametrize(
    ("sink_changes", "field"),
    [
        ({"type": "AliyunS3"}, "sink.type"),
        ({"contentType": "parquet"}, "sink.contentType"),
        ({"compressionType": "snappy"}, "sink.compressionType"),
        ({"compressionType": "GZIP"}, "sink.compressionType"),
    ],
)
def test_unsupported_sinks_are_refused(sink_changes: dict[str, str], field: str) -> None:
    content = json.loads(body())
    content["configuration"]["sink"].update(sink_changes)
    with pytest.raises(InvalidInputError) as raised:
        parse_create_body(json.dumps(content).encode()).to_spec()
    assert raised.value.details["field"] == field
    assert "not supported" in raised.value.message


# --- the job object -------------------------------------------------------------------------------


def task(status: TaskStatus, **fields: Any) -> Task:
    spec = parse_create_body(body()).to_spec()
    created = NOW - timedelta(minutes=5)
    return Task(
        id="t1",
        project="web",
        spec=spec,
        status=status,
        created_at=created,
        updated_at=created,
        **fields,
    )


def rendered(status: TaskStatus, file: JobFile | None = None, **fields: Any) -> dict[str, Any]:
    item = task(status, **fields)
    return job_out(_view(item), file, NOW)


def _view(item: Task) -> Any:
    from logsluice.services.task_progress import TaskView

    return TaskView(task=item, progress=progress_of(item, NOW, None))


@pytest.mark.parametrize(
    ("status", "sls_status"),
    [
        (TaskStatus.QUEUED, "STARTING"),
        (TaskStatus.RUNNING, "RUNNING"),
        (TaskStatus.CANCELLING, "RUNNING"),
        (TaskStatus.SUCCEEDED, "SUCCEEDED"),
        (TaskStatus.FAILED, "ERROR"),
        (TaskStatus.CANCELLED, "ERROR"),
        (TaskStatus.EXPIRED, "SUCCEEDED"),
    ],
)
def test_statuses_map_as_the_architecture_says(status: TaskStatus, sls_status: str) -> None:
    assert rendered(status)["status"] == sls_status


def test_a_succeeded_job_shows_every_field_with_the_sdk_types() -> None:
    started = NOW - timedelta(minutes=4)
    file = JobFile(url="http://web.sls.test/downloads/tok", size_bytes=123, check_sum="ABC")
    job = rendered(
        TaskStatus.SUCCEEDED,
        file,
        started_at=started,
        finished_at=started + timedelta(seconds=42, milliseconds=600),
        rows_written=77,
        progress=100.0,
    )
    assert job == {
        "name": "job-1",
        "displayName": "Job 1",
        "description": "",
        "status": "SUCCEEDED",
        "createTime": str(int((NOW - timedelta(minutes=5)).timestamp())),
        "configuration": {
            "logstore": "app",
            "fromTime": 1772323200,
            "toTime": 1772326800,
            "query": "* | select *",
            "powerSql": True,
            "allowInComplete": True,
            "sink": {
                "type": "AliyunOSS",
                "contentType": "json",
                "compressionType": "zstd",
                "bucket": "b",
                "prefix": "p/",
                "roleArn": "acs:ram::1:role/r",
            },
        },
        "executionDetails": {
            "progress": 100,
            "filePath": "http://web.sls.test/downloads/tok",
            "fileSize": 123,
            "executeTime": 42,
            "logCount": 77,
            "errorMessage": "",
            "checkSum": "ABC",
            "notice": "",
        },
    }


def test_running_failed_cancelled_expired_and_incomplete_details() -> None:
    running = rendered(
        TaskStatus.RUNNING, started_at=NOW - timedelta(seconds=30), progress=37.9, rows_written=5
    )["executionDetails"]
    assert (running["progress"], running["executeTime"], running["logCount"]) == (37, 30, 5)
    assert (running["filePath"], running["fileSize"], running["checkSum"]) == ("", 0, "")
    failed = rendered(TaskStatus.FAILED, error_code="x", error_message="the log store broke")
    assert failed["executionDetails"]["errorMessage"] == "the log store broke"
    cancelled = rendered(TaskStatus.CANCELLED)["executionDetails"]
    assert cancelled["errorMessage"] == "the download job was cancelled"
    expired = rendered(TaskStatus.EXPIRED)["executionDetails"]
    assert expired["filePath"] == ""
    assert expired["notice"].startswith("expired")
    missing = TimeRange(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 0, 10, tzinfo=UTC))
    incomplete = rendered(TaskStatus.SUCCEEDED, incomplete=True, missing_ranges=(missing,))
    assert "[1772323200, 1772323800)" in incomplete["executionDetails"]["notice"]
    queued = rendered(TaskStatus.QUEUED)["executionDetails"]
    assert (queued["progress"], queued["executeTime"]) == (0, 0)


# --- the error table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ProjectNotFoundError("p"), 404, "ProjectNotExist"),
        (LogstoreNotFoundError("l"), 404, "LogStoreNotExist"),
        (TaskNotFoundError("t"), 404, "JobNotExist"),
        (AlreadyExistsError("a"), 400, "JobAlreadyExist"),
        (InvalidInputError("i"), 400, "ParameterInvalid"),
        (PermissionDeniedError("d"), 401, "Unauthorized"),
        (signature_not_match("abc"), 401, "SignatureNotMatch"),
        (LogsluiceError("boom"), 500, "InternalServerError"),
        (RuntimeError("secret detail"), 500, "InternalServerError"),
    ],
)
def test_errors_map_to_sls_status_and_code(error: Exception, status: int, code: str) -> None:
    mapped_status, mapped_code, message = status_code_message(error)
    assert (mapped_status, mapped_code) == (status, code)
    assert "secret detail" not in message


@pytest.mark.parametrize("status", [TaskStatus.RUNNING, TaskStatus.FAILED])
def test_only_a_failed_task_shows_an_error_in_the_vendor_dialects(status: TaskStatus) -> None:
    """A running task waiting for a store shows it natively; BLS and SLS keep to failures."""
    from logsluice.api.bls.models import task_out

    item = task(status, error_code="backend_unavailable", error_message="waiting for s3://b")
    failed = status is TaskStatus.FAILED
    bls = task_out(_view(item))
    assert (bls["failedCode"], bls["failedMessage"]) == (
        ("backend_unavailable", "waiting for s3://b") if failed else ("", "")
    )
    sls = rendered(status, error_code="backend_unavailable", error_message="waiting for s3://b")
    assert sls["executionDetails"]["errorMessage"] == ("waiting for s3://b" if failed else "")
