"""suggestion_bias_cache: the figures per suggestion condition as of a labels revision

Revision ID: 0005_suggestion_bias_cache
Revises: 0004_suggestions
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_suggestion_bias_cache"
down_revision: str | None = "0004_suggestions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suggestion_bias_cache",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("labels_revision", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_suggestion_bias_cache_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_suggestion_bias_cache")),
    )


def downgrade() -> None:
    op.drop_table("suggestion_bias_cache")
