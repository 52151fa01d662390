"""The error answers the native API declares in its OpenAPI document: one envelope, one description
per status. Routes name their own further statuses with :func:`error_responses` (ADR 0021).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "invalid input: malformed JSON, a value out of range, a bad name, query or time range",
    401: "no credentials, or credentials that do not verify (`WWW-Authenticate: Bearer`)",
    403: "the credentials may not do this (another project, a reader key writing, no CSRF token)",
    404: "no such project, logstore, task or access key",
    405: "a method the path does not have; `Allow` lists those it has",
    409: "the name is taken, or the request conflicts with the current state",
    410: "the task's file expired or was deleted",
    413: "the body is larger than the limit",
    416: "the Range cannot be satisfied",
    503: "a store cannot be reached, or the query was cancelled; retry",
    504: "the query ran past LOGSLUICE_QUERY_TIMEOUT; retry with a smaller range",
    507: "a disk is full; nothing was stored, retry once space is freed",
}


class ErrorBody(BaseModel):
    code: str = Field(description="stable, machine-readable: `project_not_found`, …")
    message: str = Field(description="for people")
    details: dict[str, Any] = Field(description="typed fields of the error (may be empty)")


class ErrorEnvelope(BaseModel):
    """Every native error answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return FastAPI ``responses=`` declaring ``statuses`` as native error envelopes."""
    return {
        status: {"model": ErrorEnvelope, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }
