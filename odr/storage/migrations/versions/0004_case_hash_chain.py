"""case hash chain

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:49:01.416241
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_chain",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_chain_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "sequence", name=op.f("pk_case_chain")),
    )
    with op.batch_alter_table("case_chain", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_chain_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_chain", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_chain_at"))

    op.drop_table("case_chain")
