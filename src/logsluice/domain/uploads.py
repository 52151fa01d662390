"""Unfinished uploads: multipart uploads an object store holds that were neither completed nor
aborted (a worker died while publishing), which the janitor aborts once no task owns them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UnfinishedUpload:
    """An upload of the artifact ``key`` (a store key, ``<project>/<task_id>/<file>``)."""

    key: str
    upload_id: str
    initiated_at: datetime

    @property
    def project_and_task(self) -> tuple[str, str] | None:
        """Return the project and task id the key names (its ``<project>/<task_id>/<file>`` end,
        after any sink prefix), or None for a key of another shape."""
        segments = self.key.split("/")
        return (segments[-3], segments[-2]) if len(segments) >= 3 else None
