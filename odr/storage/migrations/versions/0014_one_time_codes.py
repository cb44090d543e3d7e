"""one-time codes; verified contacts; accounts without a password of their own yet

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 01:10:00.000000

Consumers created by a partner channel or a regulator referral before this revision were given
a random password nobody knows: they are marked ``password_set`` false, so their first login
is an activation by a one-time code. They are told apart from everyone else by having filed no
complaint themselves: every case of theirs came from a channel or a referral.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mobile_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("password_set", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    users = sa.table(
        "users",
        sa.column("id", ID),
        sa.column("role", sa.String()),
        sa.column("password_set", sa.Boolean()),
    )
    cases = sa.table(
        "cases",
        sa.column("consumer_id", ID),
        sa.column("channel_kind", sa.String()),
    )
    filed_for = sa.select(cases.c.consumer_id).where(cases.c.channel_kind != "web")
    filed_by_self = sa.select(cases.c.consumer_id).where(cases.c.channel_kind == "web")
    op.execute(
        users.update()
        .where(
            users.c.role == "consumer",
            users.c.id.in_(filed_for),
            users.c.id.not_in(filed_by_self),
        )
        .values(password_set=False)
    )
    op.create_table(
        "one_time_codes",
        sa.Column("id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("destination", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_one_time_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_codes")),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index("ix_one_time_codes_destination", ["destination", "created_at"])
        batch_op.create_index("ix_one_time_codes_client", ["client", "created_at"])
        batch_op.create_index("ix_one_time_codes_created_at", ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_one_time_codes_created_at")
        batch_op.drop_index("ix_one_time_codes_client")
        batch_op.drop_index("ix_one_time_codes_destination")
    op.drop_table("one_time_codes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_set")
        batch_op.drop_column("email_verified_at")
        batch_op.drop_column("mobile_verified_at")
