"""A record of every phone call and text conversation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("caller_key", sa.String(32), nullable=True),
        sa.Column("system", sa.String(64), nullable=True),
        sa.Column("server", sa.String(128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.String(16), nullable=False),
        sa.Column("where", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("refusals", sa.Text(), nullable=False),
        sa.Column("submission", sa.String(128), nullable=True),
        sa.Column("resource", sa.String(16), nullable=True),
        sa.Column("by_voice", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_call_records_started", "call_records", ["started_at"])
    op.create_index("ix_call_records_open", "call_records", ["channel", "caller_key", "end"])
    op.create_index("ix_text_messages_received", "text_messages", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_text_messages_received", table_name="text_messages")
    op.drop_index("ix_call_records_open", table_name="call_records")
    op.drop_index("ix_call_records_started", table_name="call_records")
    op.drop_table("call_records")
