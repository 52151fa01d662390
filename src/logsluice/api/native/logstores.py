"""Native endpoints for the logstores of a project and their logstreams."""

from __future__ import annotations

from fastapi import APIRouter, Response

from logsluice.api.context import Caller, Context
from logsluice.api.native.fields import LogstoreName, ProjectName
from logsluice.api.native.models import (
    FieldOut,
    LogstoreCreate,
    LogstoreDetailsOut,
    LogstoreList,
    LogstoreOut,
    LogstoreStatsOut,
    LogstreamList,
    LogstreamOut,
)
from logsluice.api.responses import error_responses
from logsluice.ports import LogstreamInfo

router = APIRouter(prefix="/api/v1/projects/{project}/logstores", tags=["logstores"])


@router.post("", status_code=201, response_model=LogstoreOut, responses=error_responses(409))
def create_logstore(
    project: ProjectName, body: LogstoreCreate, context: Context, caller: Caller
) -> LogstoreOut:
    """Create a logstore. 404 for an unknown project, 409 when the name is taken."""
    caller.require_project(project, write=True)
    logstore = context.catalog.create_logstore(
        project,
        body.name,
        retention_days=body.retention_days,
        time_field=body.time_field,
        description=body.description,
    )
    return LogstoreOut.of(logstore)


@router.get("", response_model=LogstoreList)
def list_logstores(project: ProjectName, context: Context, caller: Caller) -> LogstoreList:
    """List the project's logstores, ordered by name."""
    caller.require_project(project)
    logstores = context.catalog.list_logstores(project)
    return LogstoreList(logstores=[LogstoreOut.of(logstore) for logstore in logstores])


@router.get("/{logstore}", response_model=LogstoreDetailsOut)
def get_logstore(
    project: ProjectName, logstore: LogstoreName, context: Context, caller: Caller
) -> LogstoreDetailsOut:
    """Show a logstore with its fields (name and type) and logstreams."""
    caller.require_project(project)
    details = context.catalog.describe_logstore(project, logstore)
    return LogstoreDetailsOut(
        **LogstoreOut.of(details.logstore).model_dump(),
        fields=[FieldOut(name=field.name, type=str(field.type)) for field in details.schema.fields],
        logstreams=_logstreams(details.logstreams),
    )


@router.get("/{logstore}/stats", response_model=LogstoreStatsOut)
def get_logstore_stats(
    project: ProjectName, logstore: LogstoreName, context: Context, caller: Caller
) -> LogstoreStatsOut:
    """Return how many records the logstore holds and the time of its oldest and newest."""
    caller.require_project(project)
    stats = context.catalog.logstore_stats(project, logstore)
    return LogstoreStatsOut(
        records=stats.records,
        first_record_at=stats.first_record_at,
        last_record_at=stats.last_record_at,
    )


@router.delete("/{logstore}", status_code=204)
def delete_logstore(
    project: ProjectName, logstore: LogstoreName, context: Context, caller: Caller
) -> Response:
    """Delete a logstore and its records."""
    caller.require_project(project, write=True)
    context.catalog.delete_logstore(project, logstore)
    return Response(status_code=204)


@router.get("/{logstore}/logstreams", response_model=LogstreamList)
def list_logstreams(
    project: ProjectName, logstore: LogstoreName, context: Context, caller: Caller
) -> LogstreamList:
    """List the logstreams seen in the logstore with their record counts."""
    caller.require_project(project)
    return LogstreamList(logstreams=_logstreams(context.catalog.list_logstreams(project, logstore)))


def _logstreams(logstreams: list[LogstreamInfo]) -> list[LogstreamOut]:
    return [LogstreamOut(name=stream.name, records=stream.records) for stream in logstreams]
