"""Project generations: a deleted and re-created project shares nothing with the old one.

Every project gets an immutable ``generation`` (a uuid); access keys and tasks record the generation
they were made for, so a key, a task or a link of an older generation is refused even while the
janitor still cleans up after a delete. Existing rows get their project's current generation; tasks
and keys whose project is gone get a generation no project has.

Revision ID: r0004_project_generation
Revises: r0006_console
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "r0004_project_generation"
down_revision = "r0006_console"
branch_labels = None
depends_on = None


def _fill_generations() -> None:
    """Give each project a generation, then copy it to its tasks and keys."""
    connection = op.get_bind()
    projects = sa.table("projects", sa.column("name"), sa.column("generation"))
    for (name,) in connection.execute(sa.select(projects.c.name)).all():
        connection.execute(
            projects.update().where(projects.c.name == name).values(generation=str(uuid.uuid4()))
        )
    for table_name in ("tasks", "access_keys"):
        table = sa.table(table_name, sa.column("project"), sa.column("project_generation"))
        current = (
            sa.select(projects.c.generation)
            .where(projects.c.name == table.c.project)
            .scalar_subquery()
        )
        connection.execute(
            table.update().where(table.c.project.is_not(None)).values(project_generation=current)
        )
    orphans = sa.table("tasks", sa.column("project_generation"))
    connection.execute(
        orphans.update()
        .where(orphans.c.project_generation.is_(None))
        .values(project_generation="00000000-0000-0000-0000-000000000000")
    )


def upgrade() -> None:
    """Add the generation columns and fill them."""
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("generation", sa.String(length=36), nullable=True))
    op.add_column("tasks", sa.Column("project_generation", sa.String(length=36), nullable=True))
    op.add_column(
        "access_keys", sa.Column("project_generation", sa.String(length=36), nullable=True)
    )
    _fill_generations()
    with op.batch_alter_table("projects") as batch:
        batch.alter_column("generation", existing_type=sa.String(length=36), nullable=False)


def downgrade() -> None:
    """Drop the generation columns."""
    op.drop_column("access_keys", "project_generation")
    op.drop_column("tasks", "project_generation")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("generation")
