"""Call records forget the callers' keys made before the installation's secret.

Those keys were plain SHA-256 digests of the channel and the number: hashing every number
of a region finds the caller again. They cannot be told from the keys made under the
secret, so every key kept until the upgrade goes; a text conversation that waits for its
sender's next message then starts a record of its own.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    records = sa.table("call_records", sa.column("caller_key", sa.String(32)))
    op.execute(records.update().where(records.c.caller_key.is_not(None)).values(caller_key=None))


def downgrade() -> None:
    pass  # the keys are gone for good: a key cannot be made again without the number
