"""User and organisation administration for supervisors with admin rights: the lists the admin
pages show and the checks before `odr.services.accounts` creates anything."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from odr.domain.accounts import Actor, OrganisationKind, Role
from odr.domain.authz import Action, authorize
from odr.domain.errors import NotFound, ValidationFailed
from odr.services.accounts import create_organisation
from odr.services.login_sessions import end_sessions
from odr.services.passwords import new_totp_secret
from odr.services.recovery_codes import store_codes
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import AdminLogEntry, Membership, Organisation, User
from odr.storage.sealed import SecretBox

LIST_LIMIT = 200
MAX_ORGANISATION_NAME = 200


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    display_name: str
    login: str
    role: Role
    organisation_name: str | None
    badge_number: str | None
    is_admin: bool
    active: bool  # the account is active and, for staff, its membership runs today
    has_second_factor: bool


@dataclass(frozen=True, slots=True)
class OrganisationRow:
    id: int
    kind: OrganisationKind
    name: str
    name_en: str | None
    policy_count: int | None
    active: bool
    members: int  # staff with a running membership


async def list_users(
    session: AsyncSession, actor: Actor, today: date, role: Role | None = None
) -> list[UserRow]:
    """Accounts, staff first, newest first within a role; at most `LIST_LIMIT`."""
    authorize(actor, Action.MANAGE_USERS)
    stmt = select(User).order_by(User.role == Role.CONSUMER.value, User.role, User.id.desc())
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    rows = []
    for user in (await session.execute(stmt.limit(LIST_LIMIT))).scalars():
        membership = repo.active_membership(user, today)
        latest = membership or _latest_membership(user)
        staff = Role(user.role) is not Role.CONSUMER
        rows.append(
            UserRow(
                id=user.id,
                display_name=user.display_name,
                login=user.email or user.mobile or "",
                role=Role(user.role),
                organisation_name=latest.organisation.name if latest else None,
                badge_number=latest.badge_number if latest else None,
                is_admin=user.is_admin,
                active=user.active and (membership is not None or not staff),
                has_second_factor=user.totp_secret is not None,
            )
        )
    return rows


def _latest_membership(user: User) -> Membership | None:
    return max(user.memberships, key=lambda m: m.started_on, default=None)


async def list_organisations(
    session: AsyncSession, actor: Actor, today: date
) -> list[OrganisationRow]:
    authorize(actor, Action.MANAGE_USERS)
    running = (Membership.ended_on.is_(None)) | (Membership.ended_on > today)
    members = (
        select(Membership.organisation_id, func.count().label("n"))
        .where(Membership.started_on <= today, running)
        .group_by(Membership.organisation_id)
        .subquery()
    )
    stmt = (
        select(Organisation, func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.organisation_id == Organisation.id)
        .order_by(Organisation.kind, Organisation.id)
    )
    return [
        OrganisationRow(
            id=o.id,
            kind=OrganisationKind(o.kind),
            name=o.name,
            name_en=o.name_en,
            policy_count=o.policy_count,
            active=o.active,
            members=int(n),
        )
        for o, n in (await session.execute(stmt)).all()
    ]


@dataclass(frozen=True, slots=True)
class NewOrganisation:
    kind: str
    name: str
    name_en: str = ""
    policy_count: str = ""  # as typed; insurers' policies in force, for complaint rates


async def add_organisation(uow: UnitOfWork, actor: Actor, new: NewOrganisation) -> int:
    """Check and create an organisation; its id."""
    authorize(actor, Action.MANAGE_USERS)
    try:
        kind = OrganisationKind(new.kind)
    except ValueError:
        raise ValidationFailed(
            "Choose the kind of organisation.",
            code="invalid_organisation_kind",
            details={"field": "kind"},
        ) from None
    name = _name(new.name, "name", required=True)
    name_en = _name(new.name_en, "name_en", required=False)
    count_text = unicodedata.normalize("NFKC", new.policy_count).strip().replace(",", "")
    if count_text and not (count_text.isascii() and count_text.isdigit()):
        raise ValidationFailed(
            "Enter the number of policies as a whole number.",
            code="invalid_policy_count",
            details={"field": "policy_count"},
        )
    return await create_organisation(
        uow,
        kind=kind,
        name=name,
        name_en=name_en or None,
        policy_count=int(count_text) if count_text else None,
    )


def _name(raw: str, field: str, *, required: bool) -> str:
    value = " ".join(unicodedata.normalize("NFKC", raw).split())
    if required and not value:
        raise ValidationFailed(
            "Enter the organisation's name.", code="name_required", details={"field": field}
        )
    if len(value) > MAX_ORGANISATION_NAME:
        raise ValidationFailed(
            f"The name may have at most {MAX_ORGANISATION_NAME} characters.",
            code="organisation_name_too_long",
            details={"field": field},
        )
    return value


# --- the second factor of a member of staff and the admin log -------------------------------

ADMIN_LOG_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A second factor just set up: its secret and recovery codes, to show once."""

    user_id: int
    display_name: str
    login: str
    totp_secret: str
    recovery_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AdminLogRow:
    at: datetime
    actor_name: str
    action: str
    target_name: str
    details: dict[str, Any]


def log_admin_action(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_user_id: int | None,
    now: datetime,
    **details: Any,
) -> None:
    session.add(
        AdminLogEntry(
            at=now,
            actor_user_id=actor.user_id,
            action=action,
            target_user_id=target_user_id,
            details=details,
        )
    )


async def reset_second_factor(
    uow: UnitOfWork, box: SecretBox, actor: Actor, user_id: int, now: datetime
) -> Enrolment:
    """A new authenticator secret and new recovery codes for a member of staff who lost
    theirs: the old secret and codes stop working, every session of theirs ends, and the
    reset is entered in the admin log."""
    authorize(actor, Action.MANAGE_USERS)
    user = await repo.user_by_id(uow.session, user_id)
    if user is None or not user.active:
        raise NotFound("No such user.", code="user_not_found")
    if Role(user.role) is Role.CONSUMER:
        raise ValidationFailed(
            "Only staff accounts have a second factor to reset.", code="not_staff"
        )
    secret = new_totp_secret()
    user.totp_secret = box.seal(secret)
    user.totp_last_step = None
    codes = await store_codes(uow.session, box, user.id, now)
    ended = await end_sessions(uow.session, user.id, now)
    log_admin_action(uow.session, actor, "second_factor_reset", user.id, now, sessions_ended=ended)
    enrolment = Enrolment(
        user.id, user.display_name, user.email or user.mobile or "", secret, tuple(codes)
    )
    await uow.commit()
    return enrolment


async def reseal_secrets(uow: UnitOfWork, box: SecretBox) -> int:
    """Seal again with the current key every TOTP secret sealed with a previous one; how
    many (`odr reseal-secrets`, after a key rotation)."""
    users = (await uow.session.execute(select(User).where(User.totp_secret.is_not(None)))).scalars()
    count = 0
    for user in users:
        assert user.totp_secret is not None
        if box.needs_reseal(user.totp_secret):
            user.totp_secret = box.seal(box.open(user.totp_secret))
            count += 1
    await uow.commit()
    return count


async def admin_log(
    session: AsyncSession, actor: Actor, limit: int = ADMIN_LOG_LIMIT
) -> list[AdminLogRow]:
    authorize(actor, Action.MANAGE_USERS)
    who, whom = aliased(User), aliased(User)
    rows = (
        await session.execute(
            select(AdminLogEntry, who.display_name, whom.display_name)
            .outerjoin(who, who.id == AdminLogEntry.actor_user_id)
            .outerjoin(whom, whom.id == AdminLogEntry.target_user_id)
            .order_by(AdminLogEntry.at.desc(), AdminLogEntry.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        AdminLogRow(e.at, actor_name or "", e.action, target_name or "", dict(e.details or {}))
        for e, actor_name, target_name in rows
    ]


class Admin:
    """User and organisation administration, each call in a session or unit of work of its
    own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self.sessionmaker = sessionmaker
        self.box = box

    async def reset_second_factor(self, actor: Actor, user_id: int, now: datetime) -> Enrolment:
        async with UnitOfWork(self.sessionmaker) as uow:
            return await reset_second_factor(uow, self.box, actor, user_id, now)

    async def admin_log(self, actor: Actor) -> list[AdminLogRow]:
        async with self.sessionmaker() as s:
            return await admin_log(s, actor)

    async def list_users(
        self, actor: Actor, today: date, role: Role | None = None
    ) -> list[UserRow]:
        async with self.sessionmaker() as s:
            return await list_users(s, actor, today, role)

    async def list_organisations(self, actor: Actor, today: date) -> list[OrganisationRow]:
        async with self.sessionmaker() as s:
            return await list_organisations(s, actor, today)

    async def users_and_organisations(
        self, actor: Actor, today: date, role: Role | None = None
    ) -> tuple[list[UserRow], list[OrganisationRow]]:
        async with self.sessionmaker() as s:
            return (
                await list_users(s, actor, today, role),
                await list_organisations(s, actor, today),
            )

    async def add_organisation(self, actor: Actor, new: NewOrganisation) -> int:
        async with UnitOfWork(self.sessionmaker) as uow:
            return await add_organisation(uow, actor, new)
