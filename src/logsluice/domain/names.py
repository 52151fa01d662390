"""The naming rule shared by projects, logstores and task names."""

from __future__ import annotations

import re

from logsluice.domain.errors import InvalidNameError

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]")
NAME_RULE = (
    "2 to 64 characters: lowercase letters, digits, '_' and '-', "
    "starting and ending with a letter or digit"
)


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it follows the naming rule, else raise InvalidNameError for ``kind``."""
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise InvalidNameError(
            f"invalid {kind} name {name!r}: {NAME_RULE}", kind=kind, name=str(name), rule=NAME_RULE
        )
    return name
