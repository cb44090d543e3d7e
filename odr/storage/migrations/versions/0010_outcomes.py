"""outcomes: blind offers, agreement drafts, alerts, satisfaction

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 06:37:25.877918
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement_drafts",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column(
            "updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_agreement_drafts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_agreement_drafts_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_agreement_drafts")),
    )
    op.create_table(
        "blind_offers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=32), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column(
            "submitted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_blind_offers_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_blind_offers_submitted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_offers")),
        sa.UniqueConstraint("case_id", "round", "side", name=op.f("uq_blind_offers_case_id")),
    )
    with op.batch_alter_table("blind_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blind_offers_case_id"), ["case_id"], unique=False)

    op.create_table(
        "blind_rounds",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("round", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("overlap", sa.Boolean(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_blind_rounds_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "round", name=op.f("pk_blind_rounds")),
    )
    op.create_table(
        "outcome_alerts",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_outcome_alerts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "key", name=op.f("pk_outcome_alerts")),
    )
    op.create_table(
        "satisfaction_ratings",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_satisfaction_ratings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_satisfaction_ratings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_satisfaction_ratings")),
    )
    with op.batch_alter_table("satisfaction_ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_satisfaction_ratings_rated_at"), ["rated_at"], unique=False
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("satisfaction_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_satisfaction_ratings_rated_at"))

    op.drop_table("satisfaction_ratings")
    op.drop_table("outcome_alerts")
    op.drop_table("blind_rounds")
    with op.batch_alter_table("blind_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blind_offers_case_id"))

    op.drop_table("blind_offers")
    op.drop_table("agreement_drafts")
    # ### end Alembic commands ###
