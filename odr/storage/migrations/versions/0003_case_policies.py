"""case policies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:22:23.628082
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_policies",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("policy_no", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_policies_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "policy_no", name=op.f("pk_case_policies")),
    )
    with op.batch_alter_table("case_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_policies_policy_no"), ["policy_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_policies_policy_no"))

    op.drop_table("case_policies")
