"""login sessions, sealed second factors, recovery codes, admin log, case access log,
notification preferences, closed accounts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:00:00.000000

The TOTP secrets already stored are sealed here with the key derived from the secret key
(`odr.storage.sealed`); going down opens them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from odr.storage.sealed import SecretBox, is_sealed

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
USERS = sa.table("users", sa.column("id", sa.Integer()), sa.column("totp_secret", sa.String(255)))


def _box() -> SecretBox:
    attributes = context.config.attributes
    key = attributes.get("secret_key")
    previous = tuple(attributes.get("previous_secret_keys") or ())
    if not key:
        from odr.config import Settings

        settings = Settings.from_env()
        key, previous = settings.secret_key, settings.previous_secret_keys
    return SecretBox(key, previous)


def _reseal(seal: bool) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(USERS.c.id, USERS.c.totp_secret).where(USERS.c.totp_secret.is_not(None))
    ).all()
    todo = [(uid, value) for uid, value in rows if is_sealed(value) != seal]
    if not todo:
        return
    box = _box()
    for uid, value in todo:
        new = box.seal(value) if seal else box.open(value)
        bind.execute(sa.update(USERS).where(USERS.c.id == uid).values(totp_secret=new))


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
        batch_op.add_column(sa.Column("notification_prefs", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    _reseal(seal=True)

    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "recovery_codes",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "admin_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", ID, nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_user_id", ID, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_admin_log_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"], ["users.id"], name=op.f("fk_admin_log_target_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_log")),
    )
    with op.batch_alter_table("admin_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_log_at"), ["at"], unique=False)

    op.create_table(
        "case_access_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_access_log_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_case_access_log_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_case_access_log_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_access_log")),
    )
    with op.batch_alter_table("case_access_log", schema=None) as batch_op:
        batch_op.create_index("ix_case_access_log_case_at", ["case_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("case_access_log")
    op.drop_table("admin_log")
    op.drop_table("recovery_codes")
    op.drop_table("login_sessions")
    _reseal(seal=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("notification_prefs")
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
