"""dashboard read model: one row of facts per case, kept by a trigger on case_events

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 11:20:00.000000
"""

# ruff: noqa: S608  (the SQL below is built from constants only)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KINDS = (
    "'answered', 'escalated', 'answer_accepted', 'agreement_signed', 'not_settled', "
    "'payment_confirmed', 'agreement_proposed'"
)

#: Each period figure is a range over one of these; the columns after the first let
#: PostgreSQL answer from the index alone.
INDEXES = (
    ["answered_at", "received_at"],
    ["answer_escalated_at"],
    ["escalated_at", "insurer_id"],
    ["decided_at", "received_at", "decided_in_time"],
    ["paid_at", "due_on"],
    ["due_on", "paid_at"],
)


def _sql(dialect: str) -> dict[str, str]:
    """The dialect's spelling of the trigger's tests on the event ``e``."""
    if dialect == "postgresql":

        def field(e: str, key: str) -> str:
            return f"({e}.payload->>'{key}')"

        true, false = "'true'", "'false'"
    else:

        def field(e: str, key: str) -> str:
            return f"json_extract({e}.payload, '$.{key}')"

        true, false = "1", "0"

    def tests(e: str) -> dict[str, str]:
        return {
            "answered": f"{e}.kind = 'answered'",
            "in_time": f"({e}.kind = 'answered' AND {field(e, 'in_time')} = {true})",
            "late": f"({e}.kind = 'answered' AND {field(e, 'in_time')} = {false})",
            "answer_escalation": (f"({e}.kind = 'escalated' AND {field(e, 'stage')} = 'answer')"),
            "escalation": f"{e}.kind = 'escalated'",
            "decision": (
                f"({e}.kind IN ('answer_accepted', 'not_settled') OR "
                f"({e}.kind = 'agreement_signed' AND {e}.to_state = 'settled'))"
            ),
            "paid": f"{e}.kind = 'payment_confirmed'",
            "proposed": f"{e}.kind = 'agreement_proposed'",
            "due_on": field(e, "due_on"),
        }

    t = tests("NEW")
    update = f"""
    UPDATE dashboard_case_facts SET
      answered_at = CASE WHEN {t["answered"]} AND answered_at IS NULL THEN NEW.at
                    ELSE answered_at END,
      answered_in_time = CASE WHEN {t["in_time"]} THEN {true_value(dialect)}
                         ELSE answered_in_time END,
      answered_late = CASE WHEN {t["late"]} THEN {true_value(dialect)} ELSE answered_late END,
      answer_escalated_at = CASE WHEN {t["answer_escalation"]} AND answer_escalated_at IS NULL
                            THEN NEW.at ELSE answer_escalated_at END,
      escalated_at = CASE WHEN {t["escalation"]} AND escalated_at IS NULL THEN NEW.at
                     ELSE escalated_at END,
      decided_in_time = CASE WHEN {t["decision"]} AND decided_at IS NULL
                        THEN NOT (escalated_at IS NOT NULL OR answered_late)
                        ELSE decided_in_time END,
      decided_at = CASE WHEN {t["decision"]} AND decided_at IS NULL THEN NEW.at
                   ELSE decided_at END,
      paid_at = CASE WHEN {t["paid"]} AND paid_at IS NULL THEN NEW.at ELSE paid_at END,
      due_on = CASE WHEN {t["proposed"]} THEN {t["due_on"]} ELSE due_on END
    WHERE case_id = NEW.case_id"""
    start = """
    INSERT INTO dashboard_case_facts (case_id, insurer_id, received_at, answered_in_time,
        answered_late)
    SELECT id, insurer_id, received_at, {f}, {f} FROM cases WHERE id = NEW.case_id
    """.format(f=false_value(dialect))
    e = tests("e")
    bad = f"({e['escalation']} OR {e['late']})"
    backfill = f"""
    INSERT INTO dashboard_case_facts (case_id, insurer_id, received_at, answered_at,
        answered_in_time, answered_late, answer_escalated_at, escalated_at, decided_at,
        decided_in_time, paid_at, due_on)
    SELECT a.case_id, a.insurer_id, a.received_at, a.answered_at, a.in_time = 1, a.late = 1,
      a.answer_escalated_at, a.escalated_at, d.at,
      CASE WHEN a.first_decision IS NULL THEN NULL
           ELSE (a.first_bad IS NULL OR a.first_bad > a.first_decision) END,
      a.paid_at, {tests("p")["due_on"]}
    FROM (
      SELECT c.id AS case_id, c.insurer_id AS insurer_id, c.received_at AS received_at,
        min(CASE WHEN {e["answered"]} THEN e.at END) AS answered_at,
        max(CASE WHEN {e["in_time"]} THEN 1 ELSE 0 END) AS in_time,
        max(CASE WHEN {e["late"]} THEN 1 ELSE 0 END) AS late,
        min(CASE WHEN {e["answer_escalation"]} THEN e.at END) AS answer_escalated_at,
        min(CASE WHEN {e["escalation"]} THEN e.at END) AS escalated_at,
        min(CASE WHEN {e["decision"]} THEN e.sequence END) AS first_decision,
        min(CASE WHEN {bad} THEN e.sequence END) AS first_bad,
        min(CASE WHEN {e["paid"]} THEN e.at END) AS paid_at,
        max(CASE WHEN {e["proposed"]} THEN e.sequence END) AS last_proposed
      FROM cases c JOIN case_events e ON e.case_id = c.id
      WHERE e.kind IN ({KINDS})
      GROUP BY c.id, c.insurer_id, c.received_at
    ) a
    LEFT JOIN case_events d ON d.case_id = a.case_id AND d.sequence = a.first_decision
    LEFT JOIN case_events p ON p.case_id = a.case_id AND p.sequence = a.last_proposed
    """
    return {"start": start, "update": update, "backfill": backfill}


def true_value(dialect: str) -> str:
    return "true" if dialect == "postgresql" else "1"


def false_value(dialect: str) -> str:
    return "false" if dialect == "postgresql" else "0"


def upgrade() -> None:
    op.create_table(
        "dashboard_case_facts",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("insurer_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_in_time", sa.Boolean(), nullable=False),
        sa.Column("answered_late", sa.Boolean(), nullable=False),
        sa.Column("answer_escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_in_time", sa.Boolean(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_on", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_dashboard_case_facts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_dashboard_case_facts")),
    )
    dialect = op.get_bind().dialect.name
    sql = _sql(dialect)
    op.execute(sql["backfill"])
    for columns in INDEXES:
        op.create_index(f"ix_dashboard_case_facts_{columns[0]}", "dashboard_case_facts", columns)
    if dialect == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION dashboard_case_facts_on_event() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              {sql["start"]} ON CONFLICT (case_id) DO NOTHING;
              {sql["update"]};
              RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER dashboard_case_facts_on_event AFTER INSERT ON case_events
            FOR EACH ROW WHEN (NEW.kind IN ({KINDS}))
            EXECUTE FUNCTION dashboard_case_facts_on_event()
            """
        )
    else:
        start = sql["start"].replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
        op.execute(
            f"""
            CREATE TRIGGER dashboard_case_facts_on_event AFTER INSERT ON case_events
            FOR EACH ROW WHEN NEW.kind IN ({KINDS})
            BEGIN
              {start};
              {sql["update"]};
            END
            """
        )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS dashboard_case_facts_on_event ON case_events"
        if op.get_bind().dialect.name == "postgresql"
        else "DROP TRIGGER IF EXISTS dashboard_case_facts_on_event"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS dashboard_case_facts_on_event()")
    for columns in INDEXES:
        op.drop_index(f"ix_dashboard_case_facts_{columns[0]}", table_name="dashboard_case_facts")
    op.drop_table("dashboard_case_facts")
