"""Access keys: AK/SK pairs bound to one project (or to every project, for an admin) with a role.

An access key verifies the vendors' request signatures (Baidu, Alibaba, Huawei) and can also be
sent as a native bearer token. This module holds the record and the rules of its fields; the
secret itself never appears here, only in the service that creates it and the store that keeps it
encrypted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from logsluice.domain.errors import InvalidInputError
from logsluice.domain.names import check_name


class AccessKeyRole(enum.StrEnum):
    """What a key may do: ``reader`` get/list/link; ``writer`` also create/delete; ``admin`` all."""

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True)
class AccessKey:
    """An access key as stored, without its secret.

    ``project`` is None only for an ``admin`` key, which reaches every project. A revoked key is
    kept (so listings can show it) but no longer verifies anything.
    """

    id: str
    project: str | None
    role: AccessKeyRole
    created_at: datetime
    revoked_at: datetime | None = None
    description: str = ""
    # the generation of ``project`` the key was made for: a re-created project is not reached
    project_generation: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def can_reach(self, project: str) -> bool:
        """Tell whether this key may touch ``project``: live, and its own project or admin."""
        return not self.revoked and (self.project is None or self.project == project)

    def can_write(self) -> bool:
        """Tell whether this key may create and delete (writer or admin), not only read."""
        return not self.revoked and self.role is not AccessKeyRole.READER


def parse_role(value: object) -> AccessKeyRole:
    """Return the role named by ``value``. Raises InvalidInputError for anything else."""
    try:
        return AccessKeyRole(str(value).strip().lower())
    except ValueError as error:
        roles = ", ".join(role.value for role in AccessKeyRole)
        raise InvalidInputError(
            f"invalid role {value!r}: expected one of {roles}", field="role"
        ) from error


def check_binding(project: str | None, role: AccessKeyRole) -> str | None:
    """Return ``project`` when it suits ``role``: an admin key spans every project (no project),
    a reader or writer key belongs to exactly one. Raises InvalidInputError / InvalidNameError."""
    if role is AccessKeyRole.ADMIN:
        if project:
            raise InvalidInputError(
                "an admin key reaches every project: leave 'project' out (or use role writer)",
                field="project",
            )
        return None
    if not project:
        raise InvalidInputError(f"a {role} key needs a 'project'", field="project")
    return check_name("project", project)
