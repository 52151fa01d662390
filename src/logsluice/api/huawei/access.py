"""Who calls a Huawei route and which project it reaches: signature, access key, role.

Every request is signed with ``SDK-HMAC-SHA256`` by an access key created through the native API.
The signature is verified over the raw request (ASGI ``raw_path`` and ``query_string``, the exact
body bytes). Huawei's requests name no project, so the key's own project is the one addressed: an
admin key, which spans every project, is refused with ``CDN.0004``. A ``reader`` key may list;
creating takes a ``writer`` key. A body the signature does not cover (``UNSIGNED-PAYLOAD``) is
refused on create, so a changed body can never create a task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from logsluice.api.context import ApiContext, get_context
from logsluice.api.raw_request import read_body_at_most, signed_request
from logsluice.api.signatures import huawei
from logsluice.domain.access_keys import AccessKey
from logsluice.domain.errors import (
    AccessKeyNotFoundError,
    PermissionDeniedError,
)

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class HuaweiCall:
    """A verified Huawei request: the project of its key, the key and the body it carried."""

    project: str
    access_key: AccessKey
    body: bytes


async def read_body(request: Request) -> bytes:
    """Return the request body (at most 64 KiB). Raises PayloadTooLargeError."""
    return await read_body_at_most(request, MAX_BODY_BYTES)


def authenticate(request: Request, body: bytes, context: ApiContext, *, write: bool) -> HuaweiCall:
    """Verify the signature and the key; return the call.

    Raises HuaweiSignatureError (401 ``APIGW.0301``) for a signature that does not verify, an
    unknown or revoked key, or an unsigned body on create; PermissionDeniedError for an admin key
    or a reader creating.
    """
    access_keys = context.access_keys
    if access_keys is None:
        raise huawei.HuaweiSignatureError("ak not found")
    caller = huawei.verify(
        signed_request(request, body), access_keys.secret_for, context.clock.now()
    )
    if write and not caller.body_covered:
        raise huawei.HuaweiSignatureError("the body must be signed (UNSIGNED-PAYLOAD is refused)")
    try:
        access_key = access_keys.resolve(caller.access_key_id)
    except AccessKeyNotFoundError as error:  # removed since the signature verified
        raise huawei.HuaweiSignatureError("ak not found") from error
    if access_key.revoked:
        raise huawei.HuaweiSignatureError("ak not found")
    if access_key.project is None:
        raise PermissionDeniedError(
            "Insufficient permission: an admin key spans every project; "
            "the Huawei dialect needs a key bound to one project."
        )
    if write and not access_key.can_write():
        raise PermissionDeniedError(
            f"Insufficient permission: access key {access_key.id} may only read."
        )
    return HuaweiCall(project=access_key.project, access_key=access_key, body=body)


RawBody = Annotated[bytes, Depends(read_body)]


def reading_call(request: Request, body: RawBody) -> HuaweiCall:
    """Dependency: an authenticated call that may read (list)."""
    return authenticate(request, body, get_context(request), write=False)


def writing_call(request: Request, body: RawBody) -> HuaweiCall:
    """Dependency: an authenticated call that may also create."""
    return authenticate(request, body, get_context(request), write=True)


ReadingCall = Annotated[HuaweiCall, Depends(reading_call)]
WritingCall = Annotated[HuaweiCall, Depends(writing_call)]
