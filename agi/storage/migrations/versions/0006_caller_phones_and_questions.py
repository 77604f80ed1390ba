"""The phone numbers billing knows for each contract, and what a text conversation asks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_phones",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.UniqueConstraint("contract_id", "phone", name="uq_contract_phones_contract_phone"),
    )
    op.create_index("ix_contract_phones_phone", "contract_phones", ["phone"])
    with op.batch_alter_table("text_conversations") as table:
        table.add_column(sa.Column("question", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("text_conversations") as table:
        table.drop_column("question")
    op.drop_index("ix_contract_phones_phone", table_name="contract_phones")
    op.drop_table("contract_phones")
