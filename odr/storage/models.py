"""SQLAlchemy tables. Rows are storage; the rules live in `odr.domain`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    desc,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes, stored in UTC and read back in UTC on every database (SQLite keeps no
    offset, so a Shanghai time stored as is would read back eight hours off)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class Versioned:
    """A version column that SQLAlchemy checks on every UPDATE (optimistic locking):
    a writer holding a stale row gets `StaleDataError` instead of overwriting."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Organisation(Versioned, Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_en: Mapped[str | None] = mapped_column(String(200))
    policy_count: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class User(Versioned, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the TOTP secret, sealed (`odr.storage.sealed.SecretBox`), never in clear
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    care_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    #: {group: {"inbox": bool, "email": bool, "sms": bool}}; missing: the defaults
    #: (`odr.services.notifications.PREFERENCE_GROUPS`)
    notification_prefs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column()  # the owner closed the account
    #: when the owner last proved by a one-time code that the number / address is theirs
    mobile_verified_at: Mapped[datetime | None] = mapped_column()
    email_verified_at: Mapped[datetime | None] = mapped_column()
    #: False for a consumer created by a partner channel or a regulator referral until they
    #: set their own password by a code (their first login is an activation)
    password_set: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    memberships: Mapped[list[Membership]] = relationship(back_populates="user", lazy="selectin")


class Membership(Base):
    """A user's employment by an organisation, in a role, with a staff badge number.

    Ended memberships are kept (``ended_on``): recusal rules look at recent employers.
    """

    __tablename__ = "memberships"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    badge_number: Mapped[str] = mapped_column(String(32), unique=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class WebSession(Base):
    """Server-side login sessions when Redis is not configured. The key is a hash of the
    cookie value, so a database dump does not hand out live sessions."""

    __tablename__ = "web_sessions"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginSession(Base):
    """A login: one row per session a person started, so they can see their sessions and end
    them. The session (cookie) carries ``id``; a request whose row is ended or missing is
    anonymous (`odr.http.auth.current_user`)."""

    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(100))  # the user agent, summarised
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class RecoveryCode(Base):
    """A staff member's single-use recovery code, stored as a keyed hash
    (`odr.services.recovery_codes`)."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class AdminLogEntry(Base):
    """What administrators did to accounts (a second factor reset, ...): who, when, to whom."""

    __tablename__ = "admin_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(48))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class CaseAccess(Base):
    """A member of staff opened a case, one of its evidence items or a recording (PIPL access
    log): shown to supervisors, and to the consumer by organisation and role."""

    __tablename__ = "case_access_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # case | evidence | recording
    item: Mapped[str | None] = mapped_column(String(64))  # evidence sequence, recording id
    at: Mapped[datetime] = mapped_column()
    __table_args__ = (Index("ix_case_access_log_case_at", "case_id", "at"),)


class JobRun(Base):
    """Keys of jobs that have completed, so a job that must happen once happens once."""

    __tablename__ = "job_runs"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    job: Mapped[str] = mapped_column(String(100), index=True)
    finished_at: Mapped[datetime] = mapped_column()


# --- Cases ------------------------------------------------------------------------------------


class CaseSerial(Base):
    """The last serial number used in a year, for readable case numbers (ODR-2026-000123)."""

    __tablename__ = "case_serials"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Channel(Base):
    """A partner system that submits complaints over the signed API."""

    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # partner_api | hotline
    api_key: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(128))  # HMAC key; shown once at creation
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CaseRow(Base):
    """A case: the columns lists and inboxes filter and sort on, the complaint as filed, and
    a snapshot of the whole aggregate (`odr.domain.case_snapshot`)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), index=True)
    channel_kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    care_priority: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_score: Mapped[int | None] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    next_action_at: Mapped[datetime | None] = mapped_column(index=True)  # reminder or escalation
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    regulator_reference: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    desired_outcome: Mapped[str] = mapped_column(Text, default="")
    contact_preference: Mapped[str] = mapped_column(String(16))
    terms_version: Mapped[str] = mapped_column(String(32))
    triage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    __table_args__ = (
        Index("ix_cases_insurer_state_due", "insurer_id", "state", "due_at"),
        Index("ix_cases_state_due", "state", "due_at"),
        Index("ix_cases_consumer_insurer", "consumer_id", "insurer_id"),
        Index("ix_cases_received_at", "received_at"),  # the dashboard's periods
        # the case lists' order (`odr.services.case_views.list_cases`), for every case, an
        # insurer's inbox, its inbox of one state, one state
        Index("ix_cases_list", "care_priority", "due_at", desc("id")),
        Index("ix_cases_insurer_list", "insurer_id", "care_priority", "due_at", desc("id")),
        Index(
            "ix_cases_insurer_state_list",
            "insurer_id",
            "state",
            "care_priority",
            "due_at",
            desc("id"),
        ),
        Index("ix_cases_state_list", "state", "care_priority", "due_at", desc("id")),
    )


class CasePolicy(Base):
    """The policies a case is about (normalised numbers), for the same-policy duplicate rule."""

    __tablename__ = "case_policies"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    policy_no: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class CaseEventRow(Base):
    """One entry of a case's log; never updated or deleted."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(48))
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column()
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (
        UniqueConstraint("case_id", "sequence"),
        Index("ix_case_events_kind_at", "kind", "at"),  # the dashboard's event figures
    )


class ChainEntryRow(Base):
    """A case's hash chain (`odr.domain.ledger`): one entry per event, never changed."""

    __tablename__ = "case_chain"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_sha256: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16))
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)


class EvidenceUpload(Base):
    """A resumable upload in progress: what the item will be once its bytes are all in."""

    __tablename__ = "evidence_uploads"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    visibility: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column()


class EvidenceText(Base):
    """The text read from an evidence item (derived data: the stored bytes and their hash stay
    the evidence). No row: not read yet. ``status`` ``done`` (its pages are in
    `EvidencePage`) or ``unavailable`` (``reason`` says why; the item is unaffected).
    ``redacted_sha256`` names the derived copy with personal numbers blacked out, when the
    pages had any (``redactions``: page, kind and box of each)."""

    __tablename__ = "evidence_texts"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))  # ocr | pdf_text | none
    pages: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    seconds: Mapped[float] = mapped_column(Float)
    redacted_sha256: Mapped[str | None] = mapped_column(String(64))
    redacted_media_type: Mapped[str | None] = mapped_column(String(64))
    redactions: Mapped[list[Any]] = mapped_column(JSON)
    processed_at: Mapped[datetime] = mapped_column()


class EvidencePage(Base):
    """One page of an item's text: the lines with their boxes ([text, x0, y0, x1, y1] in the
    page image's pixels), and ``text``, the lines joined, which search reads (a trigram index
    on PostgreSQL, an FTS5 trigram table on SQLite)."""

    __tablename__ = "evidence_pages"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    page: Mapped[int] = mapped_column(Integer)  # from 1
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[Any]] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("case_id", "sequence", "page"),)


#: What the migrations build for search that the models do not describe: the trigram index of
#: PostgreSQL and the FTS5 table (with its shadow tables) of SQLite. Schema comparisons skip them.
SEARCH_STRUCTURES = ("ix_evidence_pages_text_trgm", "evidence_pages_fts")


#: The case lists' indexes end in a descending column, which Alembic cannot read back on
#: SQLite; schema comparisons skip them and tests/integration/test_migrations.py checks them.
LIST_INDEXES = (
    "ix_cases_list",
    "ix_cases_insurer_list",
    "ix_cases_insurer_state_list",
    "ix_cases_state_list",
)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic's comparisons: everything but the `SEARCH_STRUCTURES` and `LIST_INDEXES`."""
    return not (name and (name.startswith(SEARCH_STRUCTURES) or name in LIST_INDEXES))


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """For Alembic's comparisons, on the models' side: everything but the `LIST_INDEXES`."""
    return include_name(name, type_, None)


class DailyDigest(Base):
    """One hash over every case's chain head at the end of a day (`ledger.daily_digest`):
    published or handed to a notary, it pins the whole record of that day."""

    __tablename__ = "daily_digests"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    heads: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()


class IdempotencyKey(Base):
    """A partner's retry with the same key and body gets the same case."""

    __tablename__ = "idempotency_keys"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ComplaintFingerprint(Base):
    """A complaint's MinHash signature, for near-duplicate and cluster checks."""

    __tablename__ = "complaint_fingerprints"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class NearDuplicateBand(Base):
    """The LSH index: one row per (band, bucket) a complaint falls into."""

    __tablename__ = "near_duplicate_bands"
    band: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )


class EarlyWarningRow(Base):
    """A cluster of similar complaints against one insurer, for supervisors."""

    __tablename__ = "early_warnings"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    insurer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    category: Mapped[str | None] = mapped_column(String(32))
    case_ids: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()


# --- Notifications -----------------------------------------------------------------------------


class Notification(Base):
    """The in-app inbox. Texts are rendered in the reader's language when shown."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(48))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (
        # the inbox's order, newest first, read backwards (`odr.services.inbox.Inbox.page`)
        Index("ix_notifications_user_list", "user_id", "created_at", "id"),
        Index("ix_notifications_user_read", "user_id", "read_at"),  # the unread count
    )


class OutboxMessage(Base):
    """E-mail and SMS waiting to be sent by the worker; never lost, retried with backoff."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    medium: Mapped[str] = mapped_column(String(8))  # email | sms
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    #: files sent with an e-mail, e.g. a hearing's invitation.ics: [{"name", "mime", "text"}]
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class OneTimeCode(Base):
    """A one-time code sent by SMS or e-mail (`odr.domain.one_time_codes`): only its HMAC is
    kept. ``payload`` holds what the code confirms (a registration's details, the password
    hash among them); ``delivered`` is False for a code that was only pretended (a number
    already registered, an unknown account), so that the answer and the limits are the same.
    Rows older than a day are deleted."""

    __tablename__ = "one_time_codes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(320))
    code_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client: Mapped[str | None] = mapped_column(String(64))  # the asking client's address
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    delivered: Mapped[bool] = mapped_column(Boolean, default=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (
        Index("ix_one_time_codes_destination", "destination", "created_at"),
        Index("ix_one_time_codes_client", "client", "created_at"),
        Index("ix_one_time_codes_created_at", "created_at"),
    )


# --- Hearings ----------------------------------------------------------------------------------


class HearingRow(Versioned, Base):
    """A video hearing of a case: its schedule, its state and the mediator's minutes (笔录).

    ``slots`` are the times the mediator proposed (ISO 8601, UTC); ``choices`` maps a party's
    user id (as a string) to the slots it can attend; ``reminders_sent`` names the reminders
    already sent for the current ``starts_at`` ("24h", "15m")."""

    __tablename__ = "hearings"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    mediator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    slots: Mapped[list[str]] = mapped_column(JSON)
    choices: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime | None] = mapped_column(index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    reminders_sent: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))  # of the last reschedule or cancel
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    minutes: Mapped[str] = mapped_column(Text, default="")
    minutes_updated_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    #: the invitation's iCalendar SEQUENCE: grows on every reschedule and on cancellation
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MediatorChoice(Base):
    """The mediator one side of a case would like (while the case waits for one): when both
    sides choose the same eligible mediator, the case is assigned to them."""

    __tablename__ = "mediator_choices"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    side: Mapped[str] = mapped_column(String(16), primary_key=True)  # consumer | insurer
    mediator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    chosen_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    chosen_at: Mapped[datetime] = mapped_column()


class HearingMessage(Base):
    """A chat message of a hearing, stored (masked) before anyone sees it."""

    __tablename__ = "hearing_messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sender_role: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(64))  # the sender's own id: retries are one
    text: Mapped[str] = mapped_column(Text)
    masked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: who may read it: "all", or the side of a caucus ("consumer" / "insurer")
    audience: Mapped[str] = mapped_column(String(16), default="all")
    at: Mapped[datetime] = mapped_column()
    __table_args__ = (
        UniqueConstraint("hearing_id", "sequence", name="uq_hearing_messages_sequence"),
        UniqueConstraint("hearing_id", "sender_id", "client_id", name="uq_hearing_messages_client"),
    )


class HearingLogEntry(Base):
    """The call record: joins, leaves, reconnects, mutes, caucuses, recording on and off."""

    __tablename__ = "hearing_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class HearingRecording(Base):
    """One closed recording segment of one participant (its bytes are also evidence)."""

    __tablename__ = "hearing_recordings"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    path: Mapped[str] = mapped_column(String(300), unique=True)  # under the recordings directory
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime] = mapped_column()
    evidence_sequence: Mapped[int | None] = mapped_column(Integer)


# --- outcomes: offers, agreements, payments -------------------------------------------------------


class BlindOffer(Base):
    """One side's secret figure in one blind-offer round. Only this table holds the figure (and
    the nonce of its commitment); no endpoint shows it to anyone but its side."""

    __tablename__ = "blind_offers"
    __table_args__ = (UniqueConstraint("case_id", "round", "side"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(16))  # consumer | insurer
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(32))
    commitment: Mapped[str] = mapped_column(String(64))
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column()


class BlindRound(Base):
    """How a blind-offer round ended: settled at ``amount_fen``, or no overlap."""

    __tablename__ = "blind_rounds"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    overlap: Mapped[bool] = mapped_column(Boolean)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    ended_at: Mapped[datetime] = mapped_column()


class AgreementDraftRow(Base):
    """The mediator's last draft of a case's agreement (the signed text is in the case)."""

    __tablename__ = "agreement_drafts"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    facts: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text)
    confidential: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column()


class OutcomeAlert(Base):
    """An overdue-payment or confirmation-window alert already recorded: each key once."""

    __tablename__ = "outcome_alerts"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    fired_at: Mapped[datetime] = mapped_column()


class SatisfactionRating(Base):
    """A party's rating of the service after the case closed (1-5 and a comment)."""

    __tablename__ = "satisfaction_ratings"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id"), primary_key=True, autoincrement=False
    )
    role: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(index=True)


# --- Oversight ----------------------------------------------------------------------------------


class DashboardCaseFacts(Base):
    """The dashboard's read model: one row per case with the moments and flags the supervisor's
    figures are computed from, so that a period's figures are range scans over one narrow table
    instead of walks through every case's log.

    Rows are written by the database itself: a trigger on ``case_events`` (migration 0011, on
    SQLite and PostgreSQL) updates the case's row in the same transaction as the event, so the
    facts can never lag behind the log. Nothing in Python writes this table.

    Columns (the definitions are those of `odr.services.dashboard`):

    * ``answered_at``: the first ``answered`` event; ``answered_in_time`` / ``answered_late``:
      some ``answered`` event carried ``in_time`` true / false.
    * ``answer_escalated_at``: the first answer-stage ``escalated`` event; ``escalated_at``: the
      first escalation of any stage.
    * ``decided_at``: the first decision (``answer_accepted``, ``agreement_signed`` to
      ``settled``, ``not_settled``); ``decided_in_time``: no escalation and no late answer came
      before it.
    * ``paid_at``: the first ``payment_confirmed``; ``due_on``: the ``due_on`` (YYYY-MM-DD) of the
      last ``agreement_proposed``.
    """

    __tablename__ = "dashboard_case_facts"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    insurer_id: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    answered_in_time: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_late: Mapped[bool] = mapped_column(Boolean, default=False)
    answer_escalated_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_in_time: Mapped[bool | None] = mapped_column(Boolean)
    paid_at: Mapped[datetime | None] = mapped_column()
    due_on: Mapped[str | None] = mapped_column(String(10))
    __table_args__ = (
        Index("ix_dashboard_case_facts_answered_at", "answered_at", "received_at"),
        Index("ix_dashboard_case_facts_answer_escalated_at", "answer_escalated_at"),
        Index("ix_dashboard_case_facts_escalated_at", "escalated_at", "insurer_id"),
        Index("ix_dashboard_case_facts_decided_at", "decided_at", "received_at", "decided_in_time"),
        Index("ix_dashboard_case_facts_paid_at", "paid_at", "due_on"),
        Index("ix_dashboard_case_facts_due_on", "due_on", "paid_at"),
    )


class DashboardDaily(Base):
    """The dashboard's per-day counts (migration 0012): for each UTC ``day``, ``n`` for a
    ``dimension`` and ``key``. Written by database triggers on ``cases``,
    ``dashboard_case_facts`` and ``case_events`` in the same transaction as the change; nothing
    in Python writes it.

    Dimensions (days are UTC days of the moment named):

    * ``category``, ``insurer``, ``channel``, ``state`` (key: the case's current value),
      ``high_risk`` (``risk_score`` >= 70) and ``duplicate`` (linked by triage, key ``''``):
      cases received that day; ``received_q``: cases received, key the quarter hour of the
      day (0-95).
    * ``escalation`` (key: insurer id) and ``escalated_q`` (key: quarter hour): cases first
      escalated that day.
    * ``answer_days`` / ``decision_days``: cases first answered / decided that day, key the
      whole days from receipt to that moment (a histogram for the exact medians).
    * ``decided_in_time`` (key ``''``): cases decided that day in time.
    * ``mediation`` (key: ``agreement_signed`` or ``not_settled``): mediations ended that day
      (signed to ``settled``, or failed), one per such event.
    * ``settled_due`` (day 2000-01-01, key: the agreement's ``due_on``): cases now ``settled``,
      not paid, whose agreement named a due date.
    """

    __tablename__ = "dashboard_daily"
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class DashboardDuration(Base):
    """Hours from receipt to a case's first answer (``measure`` ``answer``) and to its decision
    (``decision``), at ``at`` (that moment), filed under ``days`` (whole days of it): the
    medians sort only the cases of one such bucket. Kept by the trigger on
    ``dashboard_case_facts`` of migration 0012; nothing in Python writes it."""

    __tablename__ = "dashboard_durations"
    measure: Mapped[str] = mapped_column(String(8), primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    days: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column()
    hours: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        Index("ix_dashboard_durations_days", "measure", "days", "at", "hours"),
        Index("ix_dashboard_durations_at", "measure", "at", "days"),
    )


# The early-warning lists of the dashboard (migration 0012): the longest overdue cases first,
# the riskiest cases of a period first.
Index("ix_cases_due_at_id", CaseRow.due_at, CaseRow.id)
Index("ix_cases_risk_score", CaseRow.risk_score, CaseRow.received_at, CaseRow.state)
