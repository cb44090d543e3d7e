"""list indexes: the case lists' order (care priority, deadline, newest) and the inbox's
(newest first, ties by id) for keyset pages; the inbox's unread count

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-02 06:45:00.000000

Each index ends in ``id DESC`` so that one run of the order (a care priority, deadlines
ascending, the newest first among equal deadlines) is one forward walk of the index on
PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_cases_list": ["care_priority", "due_at"],
    "ix_cases_insurer_list": ["insurer_id", "care_priority", "due_at"],
    "ix_cases_insurer_state_list": ["insurer_id", "state", "care_priority", "due_at"],
    "ix_cases_state_list": ["state", "care_priority", "due_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, [*columns, sa.desc(sa.column("id"))], unique=False)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_created")
        batch_op.create_index(
            "ix_notifications_user_list", ["user_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_notifications_user_read", ["user_id", "read_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_read")
        batch_op.drop_index("ix_notifications_user_list")
        batch_op.create_index(
            "ix_notifications_user_created", ["user_id", "created_at"], unique=False
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in reversed(INDEXES):
            batch_op.drop_index(name)
