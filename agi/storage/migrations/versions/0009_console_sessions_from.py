"""When each console account's sessions start to count: cookies issued before are refused.

Every account starts from the upgrade: a sign-out before it was not recorded, so a cookie
copied then would otherwise count until it expires.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts") as table:
        table.add_column(sa.Column("sessions_from", sa.DateTime(timezone=True), nullable=True))
    accounts = sa.table("staff_accounts", sa.column("sessions_from", sa.DateTime(timezone=True)))
    op.execute(accounts.update().values(sessions_from=datetime.now(UTC)))
    with op.batch_alter_table("staff_accounts") as table:
        table.alter_column(
            "sessions_from", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts") as table:
        table.drop_column("sessions_from")
