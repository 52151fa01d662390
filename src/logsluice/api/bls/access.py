"""Who calls a BLS route and what it may reach: signature, access key, role, projects.

Every BLS request is signed with ``bce-auth-v1`` (the Go SDK's listed headers or the Python SDK's
empty list) using an access key created through the native API. The signature is verified over the
raw request (ASGI ``raw_path`` and ``query_string``, the exact body bytes) and the key resolved. A
key bound to project A treats every other project as if it did not exist: creating there is
``ProjectNotFound``, its tasks are ``DownloadTaskNotFound``, listing it is an empty page. A
``reader`` key may describe, link and list; creating and deleting take a ``writer`` or ``admin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from logsluice.api.context import ApiContext, get_context
from logsluice.api.raw_request import read_body_at_most, signed_request
from logsluice.api.signatures import bce
from logsluice.domain.access_keys import AccessKey
from logsluice.domain.errors import (
    AccessKeyNotFoundError,
    PermissionDeniedError,
    ProjectNotFoundError,
)

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class BlsCall:
    """A verified BLS request: the key that signed it and the body it carried."""

    access_key: AccessKey
    body: bytes

    def project_for(self, requested: str) -> str:
        """Return the project a request addresses: ``requested``, else the key's own project,
        else BLS's ``default``. Raises ProjectNotFoundError for a project out of the key's reach.
        """
        project = requested or self.access_key.project or DEFAULT_PROJECT
        if not self.access_key.can_reach(project):
            raise ProjectNotFoundError(f"project {project!r} does not exist", project=project)
        return project


async def read_body(request: Request) -> bytes:
    """Return the request body (at most 1 MiB). Raises PayloadTooLargeError."""
    return await read_body_at_most(request, MAX_BODY_BYTES)


def authenticate(request: Request, body: bytes, context: ApiContext, *, write: bool) -> BlsCall:
    """Verify the signature and the key's role; return the call.

    Raises BceSignatureError (Baidu status and code), PermissionDeniedError (a reader writing).
    """
    access_keys = context.access_keys
    if access_keys is None:
        raise bce.invalid_access_key_id()
    caller = bce.verify(signed_request(request, body), access_keys.secret_for, context.clock.now())
    try:
        access_key = access_keys.resolve(caller.access_key_id)
    except AccessKeyNotFoundError as error:  # gone since the signature verified
        raise bce.invalid_access_key_id() from error
    if write and not access_key.can_write():
        raise PermissionDeniedError(
            f"access key {access_key.id} may only read: creating and deleting take a writer key"
        )
    return BlsCall(access_key=access_key, body=body)


def reachable_projects(context: ApiContext, access_key: AccessKey) -> list[str]:
    """Return the projects whose tasks the key may see: its own, or every one for an admin."""
    if access_key.project is not None:
        return [access_key.project]
    return [project.name for project in context.catalog.list_projects()]


RawBody = Annotated[bytes, Depends(read_body)]


def reading_call(request: Request, body: RawBody) -> BlsCall:
    """Dependency: an authenticated call that may read (describe, link, list)."""
    return authenticate(request, body, get_context(request), write=False)


def writing_call(request: Request, body: RawBody) -> BlsCall:
    """Dependency: an authenticated call that may also write (create, delete)."""
    return authenticate(request, body, get_context(request), write=True)


ReadingCall = Annotated[BlsCall, Depends(reading_call)]
WritingCall = Annotated[BlsCall, Depends(writing_call)]
