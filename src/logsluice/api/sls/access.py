"""Who calls an SLS route and which project it addresses: signature, access key, project, role.

Every SLS request is signed (v1 ``LOG ak:signature`` or v4 ``SLS4-HMAC-SHA256``) with an access
key created through the native API. The signature is verified over the raw request (ASGI
``raw_path`` and ``query_string``, the exact body bytes), the key resolved, and the project taken
from the Host (see :mod:`logsluice.api.sls.hosts`). SLS v1 does not sign the Host, so the key's
own project is what protects a project: a key bound to project A that addresses project B gets
``ProjectNotExist``, exactly as if B did not exist, whether it exists or not. A ``reader`` key may
get and list; creating and deleting take a ``writer`` or ``admin`` key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from logsluice.api.context import ApiContext, get_context
from logsluice.api.raw_request import read_body_at_most, signed_request
from logsluice.api.signatures import sls
from logsluice.api.sls.hosts import require_project_exists, resolve_project
from logsluice.domain.access_keys import AccessKey
from logsluice.domain.errors import (
    AccessKeyNotFoundError,
    AuthenticationError,
    PermissionDeniedError,
    ProjectNotFoundError,
)

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SlsCall:
    """A verified SLS request: its project, the key that signed it and the body it carried."""

    project: str
    access_key: AccessKey
    body: bytes


async def read_body(request: Request) -> bytes:
    """Return the request body (at most 1 MiB). Raises PayloadTooLargeError."""
    return await read_body_at_most(request, MAX_BODY_BYTES)


def authenticate(request: Request, body: bytes, context: ApiContext, *, write: bool) -> SlsCall:
    """Verify the signature and the key's reach; return the call.

    Raises SignatureError (SLS status and code), ProjectNotFoundError (also for a project out of
    the key's reach), PermissionDeniedError (a reader writing), InvalidInputError (no project).
    """
    access_keys = context.access_keys
    if access_keys is None:
        raise AuthenticationError("access keys are not available on this server")
    caller = sls.verify(signed_request(request, body), access_keys.secret_for, context.clock.now())
    try:
        access_key = access_keys.resolve(caller.access_key_id)
    except AccessKeyNotFoundError as error:  # revoked and purged since the signature verified
        raise sls.unauthorized(f"AccessKeyId not found: {caller.access_key_id}") from error
    project = resolve_project(
        request.headers.get("host", ""),
        request.query_params.get("project"),
        context.sls_domain,
        lambda name: _project_exists(context, name),
    )
    if not access_key.can_reach(project):
        raise ProjectNotFoundError(f"The Project does not exist : {project}", project=project)
    require_project_exists(project, lambda name: _project_exists(context, name))
    if write and not access_key.can_write():
        raise PermissionDeniedError(
            f"denied by sts or ram: access key {access_key.id} may only read project {project}"
        )
    return SlsCall(project=project, access_key=access_key, body=body)


def _project_exists(context: ApiContext, name: str) -> bool:
    try:
        context.catalog.get_project(name)
    except ProjectNotFoundError:
        return False
    return True


RawBody = Annotated[bytes, Depends(read_body)]


def reading_call(request: Request, body: RawBody) -> SlsCall:
    """Dependency: an authenticated call that may read (get, list)."""
    return authenticate(request, body, get_context(request), write=False)


def writing_call(request: Request, body: RawBody) -> SlsCall:
    """Dependency: an authenticated call that may also write (create, delete)."""
    return authenticate(request, body, get_context(request), write=True)


ReadingCall = Annotated[SlsCall, Depends(reading_call)]
WritingCall = Annotated[SlsCall, Depends(writing_call)]
