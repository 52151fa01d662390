"""Which project an SLS request addresses: the Host label, or ``?project=`` as a fallback.

Alibaba's SDK puts the project in the host name (``{project}.{endpoint}``) and never in the path
or query. With a configured base domain (``LOGSLUICE_SLS_DOMAIN``, e.g. ``sls.example.com``) the
project is the one label in front of it; without one, the first label of the Host is the project
when a project of that name exists (so ``127.0.0.1`` or ``localhost`` never are). ``?project=``
is read only when the Host names no project.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from logsluice.domain.errors import InvalidInputError, ProjectNotFoundError
from logsluice.domain.names import NAME_PATTERN

ProjectExists = Callable[[str], bool]


def host_name(host_header: str) -> str:
    """Return the Host header's name, lower-cased, without port or trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):  # an IPv6 literal never names a project
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def project_in_host(
    host_header: str, base_domain: str, project_exists: ProjectExists
) -> str | None:
    """Return the project the Host names, None when it names none.

    Raises InvalidInputError (field ``host``) when a base domain is configured and the Host is
    neither that domain nor one label in front of it.
    """
    name = host_name(host_header)
    domain = base_domain.strip().lower().strip(".")
    if domain:
        if name == domain:
            return None
        label, separator, rest = name.partition(".")
        if not separator or rest != domain:
            raise InvalidInputError(
                f"The Host {host_header} is not a project under {domain}.", field="host"
            )
        return label
    label = name.partition(".")[0]
    if NAME_PATTERN.fullmatch(label) is not None and project_exists(label):
        return label
    return None


def resolve_project(
    host_header: str,
    query_project: str | None,
    base_domain: str,
    project_exists: ProjectExists,
) -> str:
    """Return the project of a request: the Host's, else ``?project=``.

    Raises InvalidInputError (field ``host``) for a Host outside the base domain or when nothing
    names a project, (field ``project``) when ``?project=`` contradicts the Host;
    ProjectNotFoundError when the Host looks like ``{project}.{domain}`` but no such project exists.
    """
    from_host = project_in_host(host_header, base_domain, project_exists)
    if from_host is not None:
        if query_project and query_project != from_host:
            raise InvalidInputError(
                f"project {query_project} in the query differs from {from_host} in the Host.",
                field="project",
            )
        return from_host
    if query_project:
        return query_project
    label = intended_project(host_header)
    if label is not None:
        raise ProjectNotFoundError(f"The Project does not exist : {label}", project=label)
    raise InvalidInputError(
        f"The Host {host_header} names no project; use {{project}}.{base_domain or 'endpoint'} "
        "or ?project=.",
        field="host",
    )


def intended_project(host_header: str) -> str | None:
    """Return the first label of a Host that looks like ``{project}.{domain}``: a valid project
    name in front of at least one more label, and not an IP address; None otherwise."""
    name = host_name(host_header)
    label, separator, _ = name.partition(".")
    if not separator or NAME_PATTERN.fullmatch(label) is None or _is_ip_address(name):
        return None
    return label


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def require_project_exists(project: str, project_exists: ProjectExists) -> None:
    """Raise ProjectNotFoundError unless ``project`` exists."""
    if NAME_PATTERN.fullmatch(project) is None or not project_exists(project):
        raise ProjectNotFoundError(f"The Project does not exist : {project}", project=project)
