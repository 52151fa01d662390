"""Native endpoints of sinks under ``/api/v1/projects/{project}/sinks``: register, list, show and
remove the buckets a project's tasks may write their files to (admin only).

The secret goes in with the registration and never comes out: no answer carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from logsluice.api.context import ApiContext, Caller, Context
from logsluice.api.native.fields import NAME_SCHEMA, ProjectName
from logsluice.api.responses import error_responses
from logsluice.domain.errors import BackendUnavailableError
from logsluice.domain.names import NAME_PATTERN, NAME_RULE
from logsluice.domain.sinks import Sink
from logsluice.services.sinks import SinkRegistration, SinkService

router = APIRouter(prefix="/api/v1/projects/{project}/sinks", tags=["sinks"])
SinkName = Annotated[str, Path(description=f"the sink: {NAME_RULE}", json_schema_extra=NAME_SCHEMA)]


class SinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(
        pattern=NAME_PATTERN.pattern,
        description="2–64 characters a-z 0-9 _ -, unique in the project",
    )
    endpoint: str = Field(
        pattern=r"^https?://[^/\s]+",
        max_length=1024,
        description="the S3-compatible server's URL, e.g. https://oss.example",
    )
    bucket: str = Field(pattern=r"^[a-z0-9._-]{3,63}$", description="an existing bucket")
    prefix: str = Field(default="", max_length=512, description="key prefix the files go under")
    region: str = Field(default="", max_length=64, description="signing region; default us-east-1")
    access_key_id: str = Field(min_length=1, max_length=256, description="the bucket's key id")
    secret_access_key: str = Field(
        min_length=1, max_length=1024, description="its secret; stored encrypted, never shown"
    )
    addressing_style: Literal["path", "virtual"] = Field(
        default="path",
        description="bucket in the URL's path (MinIO, Ceph) or host name (virtual: Alibaba OSS)",
    )


class SinkOut(BaseModel):
    project: str
    name: str
    endpoint: str
    bucket: str
    prefix: str
    region: str
    access_key_id: str
    addressing_style: str
    created_at: datetime

    @classmethod
    def of(cls, sink: Sink) -> SinkOut:
        return cls(
            project=sink.project,
            name=sink.name,
            endpoint=sink.endpoint,
            bucket=sink.bucket,
            prefix=sink.prefix,
            region=sink.region,
            access_key_id=sink.access_key_id,
            addressing_style=sink.addressing_style,
            created_at=sink.created_at,
        )


class SinkList(BaseModel):
    sinks: list[SinkOut]


def _service(context: ApiContext) -> SinkService:
    if context.sinks is None:
        raise BackendUnavailableError("sinks are not configured on this server")
    return context.sinks


@router.post("", status_code=201, response_model=SinkOut, responses=error_responses(409))
def create_sink(
    project: ProjectName, body: SinkCreate, context: Context, caller: Caller
) -> SinkOut:
    """Register a bucket the project's tasks may write their files to."""
    caller.require_admin()
    registration = SinkRegistration(
        name=body.name,
        endpoint=body.endpoint,
        bucket=body.bucket,
        prefix=body.prefix,
        region=body.region,
        access_key_id=body.access_key_id,
        secret_access_key=body.secret_access_key,
        addressing_style=body.addressing_style,
    )
    return SinkOut.of(_service(context).register(project, registration))


@router.get("", response_model=SinkList)
def list_sinks(project: ProjectName, context: Context, caller: Caller) -> SinkList:
    """List the project's sinks (without secrets)."""
    caller.require_admin()
    return SinkList(sinks=[SinkOut.of(sink) for sink in _service(context).list_sinks(project)])


@router.get("/{name}", response_model=SinkOut)
def get_sink(project: ProjectName, name: SinkName, context: Context, caller: Caller) -> SinkOut:
    """Show one sink (without its secret)."""
    caller.require_admin()
    return SinkOut.of(_service(context).get(project, name))


@router.delete("/{name}", status_code=204)
def delete_sink(project: ProjectName, name: SinkName, context: Context, caller: Caller) -> Response:
    """Remove a sink; files tasks already wrote there stay."""
    caller.require_admin()
    _service(context).remove(project, name)
    return Response(status_code=204)
