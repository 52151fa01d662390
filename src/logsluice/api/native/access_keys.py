"""Native endpoints of access keys under ``/api/v1/access-keys``: create, list, revoke (admin only).

The secret is in the create response and nowhere else: listings and the store never show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from logsluice.api.context import ApiContext, Caller, Context
from logsluice.api.native.fields import NAME_SCHEMA, NameFilter
from logsluice.api.responses import error_responses
from logsluice.domain.access_keys import AccessKey, AccessKeyRole
from logsluice.domain.errors import BackendUnavailableError
from logsluice.services.access_keys import AccessKeyService

router = APIRouter(prefix="/api/v1/access-keys", tags=["access keys"])


class ProjectKeyCreate(BaseModel):
    """A reader or writer key: it reaches one project."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["reader", "writer"] = Field(description="reader, or writer (also changes)")
    project: str = Field(description="the project the key reaches", json_schema_extra=NAME_SCHEMA)
    description: str = Field(default="", max_length=1024)


class AdminKeyCreate(BaseModel):
    """An admin key: it reaches every project, so it names none."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["admin"]
    project: None = Field(default=None, description="none: an admin key reaches every project")
    description: str = Field(default="", max_length=1024)


AccessKeyCreate = Annotated[ProjectKeyCreate | AdminKeyCreate, Field(discriminator="role")]


class AccessKeyOut(BaseModel):
    access_key_id: str
    project: str | None
    role: AccessKeyRole
    description: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, access_key: AccessKey) -> AccessKeyOut:
        return cls(
            access_key_id=access_key.id,
            project=access_key.project,
            role=access_key.role,
            description=access_key.description,
            created_at=access_key.created_at,
            revoked_at=access_key.revoked_at,
        )


class AccessKeyCreated(AccessKeyOut):
    access_key_secret: str = Field(description="shown once, here; it cannot be retrieved later")


class AccessKeyList(BaseModel):
    access_keys: list[AccessKeyOut]


def _service(context: ApiContext) -> AccessKeyService:
    if context.access_keys is None:
        raise BackendUnavailableError("access keys are not configured on this server")
    return context.access_keys


@router.post("", status_code=201, response_model=AccessKeyCreated, responses=error_responses(404))
def create_access_key(
    body: AccessKeyCreate, context: Context, caller: Caller, response: Response
) -> AccessKeyCreated:
    """Create an access key; the response holds its secret, which is never shown again."""
    caller.require_admin()
    access_key, secret = _service(context).create(
        body.project, body.role, description=body.description
    )
    response.headers["Cache-Control"] = "no-store"
    return AccessKeyCreated(**AccessKeyOut.of(access_key).model_dump(), access_key_secret=secret)


@router.get("", response_model=AccessKeyList)
def list_access_keys(
    context: Context,
    caller: Caller,
    project: NameFilter = None,
    include_revoked: bool = False,
) -> AccessKeyList:
    """List access keys (live ones unless `include_revoked`), oldest first, without secrets."""
    caller.require_admin()
    access_keys = _service(context).list(project=project, include_revoked=include_revoked)
    return AccessKeyList(access_keys=[AccessKeyOut.of(key) for key in access_keys])


@router.delete("/{access_key_id}", status_code=204)
def revoke_access_key(access_key_id: str, context: Context, caller: Caller) -> Response:
    """Revoke an access key at once; requests signed with it fail from now on."""
    caller.require_admin()
    _service(context).revoke(access_key_id)
    return Response(status_code=204)
