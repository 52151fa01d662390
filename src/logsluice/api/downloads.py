"""``GET /downloads/{token}``: the file behind a signed link, resumable with HTTP Range.

No bearer token here: the signed token is the credential. The response carries
``Content-Length``, ``Content-Disposition``, ``ETag`` (the file's sha256) and ``Accept-Ranges``;
a single ``Range`` gives 206 with ``Content-Range``, an unsatisfiable one 416. A tampered or expired
link is 403, a file that expired or was deleted 410 (native error envelope).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from logsluice.api.context import Context
from logsluice.api.native.errors import error_response
from logsluice.api.responses import error_responses
from logsluice.services.downloads import Download, DownloadService

router = APIRouter(tags=["downloads"])
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _UnsatisfiableRangeError(Exception):
    """The Range header asks for bytes the file does not have."""


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the whole file",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    206: {
        "description": "the bytes of the one range asked (`Content-Range`)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(403, 410, 416),
}


def download(token: str, request: Request, context: Context) -> Response:
    """Serve the file a signed link grants (206 for a Range, 416 when it cannot be satisfied)."""
    downloads = context.downloads
    artifact = downloads.open(token)
    headers = _headers(artifact)
    try:
        byte_range = _requested_range(request, artifact)
    except _UnsatisfiableRangeError:
        response = error_response(
            416, "range_not_satisfiable", f"the file has {artifact.size_bytes} bytes"
        )
        response.headers["Content-Range"] = f"bytes */{artifact.size_bytes}"
        return response
    start, end = byte_range or (0, artifact.size_bytes)
    headers["Content-Length"] = str(end - start)
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{artifact.size_bytes}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = _body(downloads, artifact, start, end)
    return StreamingResponse(body, status_code=status, headers=headers)


for _method in ("GET", "HEAD"):
    router.add_api_route(
        "/downloads/{token}",
        download,
        methods=[_method],
        operation_id=f"download_file_{_method.lower()}",
        response_class=Response,
        responses=_RESPONSES,
    )


def _headers(artifact: Download) -> dict[str, str]:
    return {
        "Accept-Ranges": "bytes",
        "ETag": f'"{artifact.sha256}"',
        "Content-Type": "application/octet-stream",
        "Content-Disposition": (
            f'attachment; filename="{artifact.file_name}"; '
            f"filename*=UTF-8''{quote(artifact.file_name)}"
        ),
        "Cache-Control": "private, no-store",
    }


def _requested_range(request: Request, artifact: Download) -> tuple[int, int] | None:
    """Return ``[start, end)`` asked by a single-range ``Range`` header, None for the whole file.

    An ``If-Range`` that does not match the ETag, a multi-range or a malformed header mean the
    whole file (as HTTP allows). Raises _UnsatisfiableRangeError for a range outside the file.
    """
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if header is None or (if_range is not None and if_range.strip() != f'"{artifact.sha256}"'):
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    if match.group(1) and match.group(2) and int(match.group(2)) < int(match.group(1)):
        return None  # an invalid range-spec: the header is ignored
    return _bounds(match.group(1), match.group(2), artifact.size_bytes)


def _bounds(first: str, last: str, size_bytes: int) -> tuple[int, int]:
    if first == "":
        suffix_bytes = int(last)
        if suffix_bytes == 0 or size_bytes == 0:
            raise _UnsatisfiableRangeError
        return max(size_bytes - suffix_bytes, 0), size_bytes
    start = int(first)
    end = size_bytes if last == "" else min(int(last) + 1, size_bytes)
    if start >= size_bytes or start >= end:
        raise _UnsatisfiableRangeError
    return start, end


def _body(downloads: DownloadService, artifact: Download, start: int, end: int) -> Iterator[bytes]:
    yield from downloads.read(artifact, start, end)
