"""Contracts, meters with their tariff registers, submissions and readings.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("resource", sa.String(16), nullable=False),
        sa.UniqueConstraint("number", "resource", name="uq_contracts_number_resource"),
    )
    op.create_index("ix_contracts_number", "contracts", ["number"])
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("contract_id", "serial", name="uq_meters_contract_serial"),
    )
    op.create_table(
        "meter_registers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("meters.id"), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("previous", sa.BigInteger(), nullable=True),
        sa.Column("average", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("meter_id", "zone", name="uq_registers_meter_zone"),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("meters.id"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("caller", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "source_id", "meter_id", name="uq_submissions_source_meter"),
    )
    op.create_index("ix_submissions_meter_id", "submissions", ["meter_id"])
    op.create_index(
        "uq_submissions_current",
        "submissions",
        ["meter_id", "period"],
        unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"),
        postgresql_where=sa.text("superseded_at IS NULL"),
    )
    op.create_table(
        "readings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("submission_id", "zone", name="uq_readings_submission_zone"),
    )


def downgrade() -> None:
    op.drop_table("readings")
    op.drop_index("uq_submissions_current", table_name="submissions")
    op.drop_index("ix_submissions_meter_id", table_name="submissions")
    op.drop_table("submissions")
    op.drop_table("meter_registers")
    op.drop_table("meters")
    op.drop_index("ix_contracts_number", table_name="contracts")
    op.drop_table("contracts")
