"""Native endpoints for projects: create, list, show, update (the default webhook), delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from logsluice.api.context import Caller, Context
from logsluice.api.native.fields import ProjectName
from logsluice.api.native.models import ProjectCreate, ProjectList, ProjectOut, ProjectUpdate
from logsluice.api.responses import error_responses
from logsluice.domain.errors import InvalidInputError

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectOut, responses=error_responses(409))
def create_project(body: ProjectCreate, context: Context, caller: Caller) -> ProjectOut:
    """Create a project. 409 when the name is taken, 400 for a bad name."""
    caller.require_admin()
    return ProjectOut.of(context.catalog.create_project(body.name, body.description))


@router.get("", response_model=ProjectList)
def list_projects(context: Context, caller: Caller) -> ProjectList:
    """List the projects the caller may see, ordered by name."""
    projects = [
        project
        for project in context.catalog.list_projects()
        if caller.project is None or caller.project == project.name
    ]
    return ProjectList(projects=[ProjectOut.of(project) for project in projects])


@router.get("/{project}", response_model=ProjectOut)
def get_project(project: ProjectName, context: Context, caller: Caller) -> ProjectOut:
    """Show one project."""
    caller.require_project(project)
    return ProjectOut.of(context.catalog.get_project(project))


@router.patch("/{project}", response_model=ProjectOut)
def update_project(
    project: ProjectName, body: ProjectUpdate, context: Context, caller: Caller
) -> ProjectOut:
    """Set or remove the project's default webhook (`{"webhook": {"url", "secret"?}}` or
    `{"webhook": null}`); every task of the project without its own webhook uses it."""
    caller.require_project(project, write=True)
    if context.project_webhooks is None:
        raise InvalidInputError("webhooks are not available on this server", field="webhook")
    if "webhook" not in body.model_fields_set:
        return ProjectOut.of(context.catalog.get_project(project))
    request = body.webhook.request() if body.webhook is not None else None
    updated, secret = context.project_webhooks.set_default(project, request)
    return ProjectOut.of(updated, secret)


@router.delete("/{project}", status_code=204)
def delete_project(project: ProjectName, context: Context, caller: Caller) -> Response:
    """Delete a project with all its logstores and records."""
    caller.require_admin()
    context.catalog.delete_project(project)
    return Response(status_code=204)
