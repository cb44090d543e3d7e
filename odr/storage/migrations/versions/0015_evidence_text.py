"""evidence text: the pages read from an item (OCR or a PDF's text layer), their search index,
the redacted copies

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:40:00.000000

Search reads ``evidence_pages.text``: PostgreSQL through a trigram index (pg_trgm, which serves
LIKE and ILIKE for Chinese as well as any other script), SQLite through an FTS5 table with the
trigram tokenizer (SQLite 3.34 or newer) kept in step by triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE evidence_pages_fts USING fts5("
    "text, content='evidence_pages', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER evidence_pages_fts_insert AFTER INSERT ON evidence_pages BEGIN "
    "INSERT INTO evidence_pages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER evidence_pages_fts_delete AFTER DELETE ON evidence_pages BEGIN "
    "INSERT INTO evidence_pages_fts(evidence_pages_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER evidence_pages_fts_update AFTER UPDATE ON evidence_pages BEGIN "
    "INSERT INTO evidence_pages_fts(evidence_pages_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO evidence_pages_fts(rowid, text) VALUES (new.id, new.text); END",
)


def upgrade() -> None:
    op.create_table(
        "evidence_texts",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("redacted_sha256", sa.String(length=64), nullable=True),
        sa.Column("redacted_media_type", sa.String(length=64), nullable=True),
        sa.Column("redactions", sa.JSON(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_evidence_texts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "sequence", name=op.f("pk_evidence_texts")),
    )
    op.create_table(
        "evidence_pages",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_evidence_pages_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_pages")),
        sa.UniqueConstraint("case_id", "sequence", "page", name=op.f("uq_evidence_pages_case_id")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_evidence_pages_text_trgm ON evidence_pages "
            "USING gin (text gin_trgm_ops)"
        )
    elif op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS evidence_pages_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS evidence_pages_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_evidence_pages_text_trgm")
    op.drop_table("evidence_pages")
    op.drop_table("evidence_texts")
