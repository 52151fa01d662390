"""Downloading a task's file: resumable with HTTP Range into ``<path>.part``, sha256-checked.

A partial ``.part`` file from an interrupted download is continued where it stopped (``If-Range``
on the file's ETag, so a different file starts over); the finished file must match the manifest's
sha256 before it is renamed into place. The path ``-`` streams the file to standard output instead
(no resume); its sha256 is checked as it passes and a mismatch fails the command at the end.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import IO

import click
import httpx
from rich.console import Console
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

_CHUNK_BYTES = 1024 * 1024
_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=10.0)


def human_bytes(size: int | None) -> str:
    """Return ``size`` as B, KiB, MiB or GiB."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


STANDARD_OUTPUT = Path("-")


def download_file(url: str, target: Path, sha256: str, *, quiet: bool) -> Path:
    """Download ``url`` to ``target`` (resuming ``target.part``); return ``target``.

    ``target`` ``-`` writes the file to standard output. Raises click.ClickException when the
    server refuses or the checksum does not match.
    """
    if target == STANDARD_OUTPUT:
        _stream_to(url, sys.stdout.buffer, sha256)
        return target
    if target.exists() and _sha256_of(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"If-Range": f'"{sha256}"', "Range": f"bytes={offset}-"} if offset else {}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=_TIMEOUT) as response:
            _save(response, partial, quiet)
    except httpx.HTTPError as error:
        raise click.ClickException(
            f"download interrupted ({error}); run it again to resume"
        ) from error
    if _sha256_of(partial) != sha256:
        partial.unlink()
        raise click.ClickException("the downloaded file does not match the manifest's sha256")
    partial.replace(target)
    return target


def _stream_to(url: str, output: IO[bytes], sha256: str) -> None:
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, timeout=_TIMEOUT) as response:
            if response.status_code != 200:
                response.read()
                raise click.ClickException(
                    f"download refused ({response.status_code}): {response.text[:300]}"
                )
            for chunk in response.iter_bytes(_CHUNK_BYTES):
                digest.update(chunk)
                output.write(chunk)
    except httpx.HTTPError as error:
        raise click.ClickException(f"download interrupted ({error}); run it again") from error
    output.flush()
    if digest.hexdigest() != sha256:
        raise click.ClickException("the downloaded bytes do not match the manifest's sha256")


def _save(response: httpx.Response, partial: Path, quiet: bool) -> None:
    if response.status_code == 416:
        return  # the partial file is already complete
    if response.status_code not in (200, 206):
        response.read()
        raise click.ClickException(
            f"download refused ({response.status_code}): {response.text[:300]}"
        )
    mode = "ab" if response.status_code == 206 else "wb"
    already = partial.stat().st_size if mode == "ab" and partial.exists() else 0
    total = already + int(response.headers.get("content-length", 0))
    progress = Progress(
        *Progress.get_default_columns()[:2], DownloadColumn(), TransferSpeedColumn(),
        console=Console(stderr=True), disable=quiet,
    )  # fmt: skip
    with progress, partial.open(mode) as file:
        bar = progress.add_task("download", total=total, completed=already)
        for chunk in response.iter_bytes(_CHUNK_BYTES):
            file.write(chunk)
            progress.advance(bar, len(chunk))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()
