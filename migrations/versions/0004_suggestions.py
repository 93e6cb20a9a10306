"""suggestions: suggestion mode, class typicals (backfilled by name), model suggestions and
their imports, what each annotation was shown and chose

Revision ID: 0004_suggestions
Revises: 0003_annotation_quality
Create Date: 2026-12-15
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from fgtext.schema import Schema
from fgtext.store.class_suggestions import builtin_typicals

revision: str = "0004_suggestions"
down_revision: str | None = "0003_annotation_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "suggestion_mode",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="off",
            )
        )
    with op.batch_alter_table("project_classes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("typical", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suggestions_shown", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("suggestion_chosen", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("suggestion_accepted", sa.Boolean(), nullable=True))
    op.create_table(
        "suggestion_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("schema_ref", sa.JSON(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("clips", sa.Integer(), nullable=False),
        sa.Column("suggestions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_suggestion_imports_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_suggestion_imports_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_imports")),
    )
    with op.batch_alter_table("suggestion_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestion_imports_project_id"), ["project_id"], unique=False
        )
    op.create_table(
        "model_suggestions",
        sa.Column("initiator", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("receiver", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("motion_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clip_id"],
            ["clips.id"],
            name=op.f("fk_model_suggestions_clip_id_clips"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["suggestion_imports.id"],
            name=op.f("fk_model_suggestions_import_id_suggestion_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_model_suggestions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_suggestions")),
        sa.UniqueConstraint("clip_id", "rank", name=op.f("uq_model_suggestions_clip_id_rank")),
    )
    with op.batch_alter_table("model_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_suggestions_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_model_suggestions_project_id"), ["project_id"], unique=False
        )
    _backfill_class_typicals()


def _backfill_class_typicals() -> None:
    """Existing projects' classes get the typical combinations of the built-in class list their
    names match, as a new project's do (`builtin_typicals`), within the project's own schema."""
    connection = op.get_bind()
    projects = sa.table(
        "projects", sa.column("id"), sa.column("name"), sa.column("schema_spec", sa.JSON())
    )
    classes = sa.table(
        "project_classes",
        sa.column("id"),
        sa.column("project_id"),
        sa.column("name"),
        sa.column("typical", sa.JSON()),
    )
    for project_id, name, spec in connection.execute(
        sa.select(projects.c.id, projects.c.name, projects.c.schema_spec)
    ).all():
        schema = Schema.from_dict(spec, source=f"project {name!r} schema")
        rows = connection.execute(
            sa.select(classes.c.id, classes.c.name)
            .where(classes.c.project_id == project_id)
            .order_by(classes.c.id)
        ).all()
        matched = builtin_typicals(schema, [row.name for row in rows])
        for row, typical in zip(rows, matched, strict=True):
            if typical:
                connection.execute(
                    classes.update().where(classes.c.id == row.id).values(typical=typical)
                )


def downgrade() -> None:
    with op.batch_alter_table("model_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_suggestions_project_id"))
        batch_op.drop_index(batch_op.f("ix_model_suggestions_import_id"))
    op.drop_table("model_suggestions")
    with op.batch_alter_table("suggestion_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestion_imports_project_id"))
    op.drop_table("suggestion_imports")
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+): a batch copy of `projects` would
    # drop the old table, and with foreign keys on SQLite would cascade that to every clip,
    # label and class of every project.
    for table, columns in (
        ("annotations", ("suggestion_accepted", "suggestion_chosen", "suggestions_shown")),
        ("project_classes", ("typical",)),
        ("projects", ("suggestion_mode",)),
    ):
        with op.batch_alter_table(table, schema=None, recreate="never") as batch_op:
            for name in columns:
                batch_op.drop_column(name)
