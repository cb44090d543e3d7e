"""dashboard indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 05:43:35.053669
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_kind_at", ["kind", "at"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_received_at")

    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_kind_at")
