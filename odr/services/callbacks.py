""" "Call me back" (请给我回电): a consumer asks staff to phone them.

The request reaches the people who can help with the consumer's case: its mediator once one is
assigned, else the insurer's staff; a request about no case reaches the platform's supervisors.
Each gets an inbox entry with the number to call, and an e-mail (or SMS) that shows the number
masked — e-mails and texts leave the platform, the inbox does not. A consumer may ask a few
times a day (`DAILY_LIMIT`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor, Role
from odr.domain.authz import Action, authorize
from odr.domain.errors import Forbidden, RateLimited, ValidationFailed
from odr.domain.masking import mask_personal_numbers
from odr.services import notifications as notify
from odr.services.ratelimit import RateLimiter
from odr.storage import accounts as accounts_repo
from odr.storage import cases as cases_repo
from odr.storage.db import UnitOfWork
from odr.storage.models import Notification, OutboxMessage, User

DAILY_LIMIT = 3
WINDOW = 24 * 3600
MAX_NOTE = 200
#: The notification kinds: about a case, and about none.
KINDS = ("callback_requested", "callback_requested_general")

_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$", re.ASCII)
_LANDLINE = re.compile(r"^0\d{9,11}$", re.ASCII)


@dataclass(frozen=True, slots=True)
class CallbackForm:
    case_id: int | None
    time: str
    phone: str  # empty: the account's mobile number
    note: str = ""


@dataclass(frozen=True, slots=True)
class CallbackSent:
    case_number: str | None
    phone_masked: str
    recipients: int


def normalise_phone(raw: str) -> str:
    """A mainland mobile (13800000002) or a landline with its area code (010-12345678)."""
    compact = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", raw))
    if (m := _MOBILE.match(compact)) is not None:
        return m.group(1)
    if _LANDLINE.match(compact):
        # area codes: 010 and 02x have three digits, all others four
        area = 3 if compact.startswith(("010", "02")) else 4
        if 7 <= len(compact) - area <= 8:
            return f"{compact[:area]}-{compact[area:]}"
    raise ValidationFailed(
        "Enter a mobile number (11 digits) or a landline with its area code.",
        code="invalid_phone",
        details={"field": "phone"},
    )


def mask_phone(phone: str) -> str:
    """138****0002, 010-****5678: enough to recognise, not enough to dial."""
    if "-" in phone:
        area, local = phone.split("-", 1)
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def check_form(form: CallbackForm, account_mobile: str | None) -> tuple[str, str]:
    """The number to call and the note, checked."""
    if form.time not in notify.CALLBACK_TIMES:
        raise ValidationFailed(
            "Choose when we should call.", code="invalid_callback_time", details={"field": "time"}
        )
    phone = normalise_phone(form.phone) if form.phone.strip() else account_mobile
    if not phone:
        raise ValidationFailed(
            "Enter the number we should call.", code="phone_required", details={"field": "phone"}
        )
    note = mask_personal_numbers(form.note.strip()).text
    if len(note) > MAX_NOTE:
        raise ValidationFailed(
            f"The note may have at most {MAX_NOTE} characters.",
            code="callback_note_too_long",
            details={"field": "note"},
        )
    return phone, note


async def request_callback(
    uow: UnitOfWork,
    limiter: RateLimiter,
    actor: Actor,
    form: CallbackForm,
    now: datetime,
) -> CallbackSent:
    """Ask staff to call the consumer back; the caller's ``uow`` is committed here."""
    authorize(actor, Action.REQUEST_CALLBACK)
    if actor.user_id is None:
        raise Forbidden("Only consumers ask to be called back.", code="forbidden")
    s = uow.session
    consumer = await accounts_repo.user_by_id(s, actor.user_id)
    if consumer is None:
        raise Forbidden("Only consumers ask to be called back.", code="forbidden")
    phone, note = check_form(form, consumer.mobile)
    number: str | None = None
    if form.case_id is not None:
        _, case = await cases_repo.load(s, form.case_id)
        authorize(actor, Action.VIEW_CASE_STATUS, case.scope())  # the consumer's own case
        number = case.number
        recipients = await _case_staff(s, case.mediator_id, case.insurer_id)
    else:
        recipients = await notify.users_with_role(s, Role.SUPERVISOR.value)
    window = await limiter.hit(f"callback:{actor.user_id}", WINDOW)
    if window.count > DAILY_LIMIT:
        raise RateLimited(
            "You have asked to be called back several times today. Staff will call you.",
            retry_after=window.retry_after,
            code="callback_limit",
        )
    masked = mask_phone(phone)
    params = {
        "consumer_id": consumer.id,  # so that closing the account can anonymise the request
        "number": number or "",
        "name": consumer.display_name,
        "phone": phone,
        "phone_masked": masked,
        "time": form.time,  # named in the reader's language when the text is rendered
        "note": note,
    }
    notify.notify(
        s,
        recipients,
        kind=KINDS[0] if number else KINDS[1],
        key=f"callback:{actor.user_id}:{now.isoformat()}",
        case_id=form.case_id,
        params=params,
        now=now,
    )
    await uow.commit()
    return CallbackSent(number, masked, len({r.user_id for r in recipients}))


async def _case_staff(
    s: AsyncSession, mediator_id: int | None, insurer_id: int
) -> list[notify.Recipient]:
    """The case's mediator once assigned, else the insurer's staff."""
    if mediator_id is not None:
        mediator = await s.get(User, mediator_id)
        if mediator is not None and mediator.active:
            return [notify.recipient(mediator)]
    return await notify.staff_of(s, insurer_id, Role.INSURER_REP.value)


async def anonymise_requests_of(
    s: AsyncSession, consumer: User, case_ids: Iterable[int], name: str
) -> int:
    """Remove the consumer's name, number and note from the call-back requests they made
    (their account is being closed), and drop the e-mails and texts about them not yet sent.
    A request is theirs when it names them, or, made before requests named their maker, when
    it is about one of their cases or asked to be called on their account's number."""
    cases = set(case_ids)
    rows = (await s.execute(select(Notification).where(Notification.kind.in_(KINDS)))).scalars()
    changed = 0
    for n in rows:
        params = n.params or {}
        maker = params.get("consumer_id")
        if maker is not None:
            mine = maker == consumer.id
        else:
            mine = (n.case_id is not None and n.case_id in cases) or (
                n.case_id is None
                and bool(consumer.mobile)
                and params.get("phone") == consumer.mobile
            )
        if not mine:
            continue
        n.params = {**params, "name": name, "phone": "", "phone_masked": "", "note": ""}
        changed += 1
    await s.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status == "pending",
            OutboxMessage.key.startswith(f"callback:{consumer.id}:", autoescape=True),
        )
    )
    return changed


async def addressed_to(s: AsyncSession, user_id: int, limit: int = 50) -> list[Notification]:
    """The call-back requests that reached ``user_id``, newest first."""
    stmt = (
        select(Notification)
        .where(Notification.user_id == user_id, Notification.kind.in_(KINDS))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list((await s.execute(stmt)).scalars())


class Callbacks:
    """Call-back requests, each call in a session or unit of work of its own."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], limiter: RateLimiter
    ) -> None:
        self.sessionmaker = sessionmaker
        self.limiter = limiter

    async def request_callback(
        self, actor: Actor, form: CallbackForm, now: datetime
    ) -> CallbackSent:
        async with UnitOfWork(self.sessionmaker) as uow:
            return await request_callback(uow, self.limiter, actor, form, now)

    async def addressed_to(self, user_id: int, limit: int = 50) -> list[Notification]:
        async with self.sessionmaker() as s:
            return await addressed_to(s, user_id, limit)
