"""annotation quality: gold clips, gold rate, dawid-skene threshold and cache, adaptive k

Revision ID: 0003_annotation_quality
Revises: 0002_server_sessions
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003_annotation_quality"
down_revision: str | None = "0002_server_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gold_rate", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("confidence_threshold", sa.Float(), nullable=False, server_default="0.9")
        )
        batch_op.add_column(sa.Column("k_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("k_max", sa.Integer(), nullable=True))
    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
    op.create_table(
        "reliability_cache",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("labels_revision", sa.Integer(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_reliability_cache_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_reliability_cache")),
    )
    op.create_table(
        "gold_clips",
        sa.Column("initiator", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("receiver", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("motion_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.id"], name=op.f("fk_gold_clips_clip_id_clips"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_gold_clips_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("clip_id", name=op.f("pk_gold_clips")),
    )
    with op.batch_alter_table("gold_clips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gold_clips_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gold_clips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gold_clips_project_id"))
    op.drop_table("gold_clips")
    op.drop_table("reliability_cache")
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+): a batch copy of `clips` or
    # `projects` drops the old table, which with SQLite's foreign keys on deletes every clip
    # and label (found by 0004's downgrade test; this downgrade did it before that was fixed).
    with op.batch_alter_table("clips", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("confidence")
    with op.batch_alter_table("projects", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("k_max")
        batch_op.drop_column("k_min")
        batch_op.drop_column("confidence_threshold")
        batch_op.drop_column("gold_rate")
