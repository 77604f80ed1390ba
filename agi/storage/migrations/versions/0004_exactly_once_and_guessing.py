"""Asterisk's id of a call beside the IVR's own, and the counts of failed attempts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as table:
        table.add_column(sa.Column("correlation_id", sa.String(160), nullable=True))
    op.create_table(
        "guess_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("limit_kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(96), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_guess_attempts_key", "guess_attempts", ["limit_kind", "key", "at"])


def downgrade() -> None:
    op.drop_index("ix_guess_attempts_key", table_name="guess_attempts")
    op.drop_table("guess_attempts")
    with op.batch_alter_table("submissions") as table:
        table.drop_column("correlation_id")
