"""mediator choices of the parties; the invitation sequence of a hearing

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mediator_choices",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column(
            "mediator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "chosen_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_mediator_choices_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["chosen_by"], ["users.id"], name=op.f("fk_mediator_choices_chosen_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["mediator_id"], ["users.id"], name=op.f("fk_mediator_choices_mediator_id_users")
        ),
        sa.PrimaryKeyConstraint("case_id", "side", name=op.f("pk_mediator_choices")),
    )
    with op.batch_alter_table("hearings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("hearings", schema=None) as batch_op:
        batch_op.drop_column("sequence")
    op.drop_table("mediator_choices")
