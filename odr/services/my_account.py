"""A person's own account: name, password, language and care mode, notification preferences,
and the rights PIPL gives them over their data: a copy of it ("download my data") and closing
the account.

Closing keeps what the law keeps: the cases (their events, messages, evidence and hash chain)
stay under the retention rule (`Settings.retention_years` after a case is closed, then their
files are deleted, `odr.services.evidence`); everything that only serves the account goes at
once — login, password, second factor, birth date, preferences, sessions, inbox, e-mails and
SMS not yet sent — and the name on the cases becomes a placeholder.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor, Role, check_display_name, check_password_policy
from odr.domain.cases import OPEN_STATES
from odr.domain.errors import Conflict, RateLimited, Unauthenticated, ValidationFailed
from odr.domain.one_time_codes import Medium, Purpose, destination_of
from odr.i18n import LANGUAGES, N_, translate
from odr.services import callbacks, notifications
from odr.services.accounts import UserInfo, user_info
from odr.services.admin import log_admin_action
from odr.services.case_views import case_detail, timeline
from odr.services.codes import Codes, CodeSent
from odr.services.evidence import EvidenceService
from odr.services.login_sessions import end_sessions
from odr.services.passwords import Passwords
from odr.services.ratelimit import RateLimiter
from odr.services.recovery_codes import drop_codes, remaining
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import CaseRow, Notification, Organisation, OutboxMessage, User

#: Wrong current passwords (changing the password, closing the account) per account.
REAUTH_FAILURES = 5
REAUTH_WINDOW = 15 * 60
#: The name a closed account's cases show.
CLOSED_NAME = "—"
#: What a closed account has for a password hash: not an argon2 hash, so nothing verifies.
CLOSED_HASH = "!closed"
#: The longest export: cases of one consumer (far more than anyone files).
EXPORT_CASES = 500
#: What of a case event's details the export carries: the texts and facts of the case, never
#: the ids or names of the people who handled it.
EXPORT_PAYLOAD_KEYS = frozenset(
    {
        "text",
        "reason",
        "kind",
        "name",
        "size",
        "media_type",
        "sha256",
        "description",
        "amount_fen",
        "offered_amount_fen",
        "category",
        "due_on",
        "answer_due_at",
        "due_at",
        "in_time",
        "visibility",
        "sequence",
        "masked",
    }
)


@dataclass(frozen=True, slots=True)
class AccountView:
    user: UserInfo
    email: str | None
    mobile: str | None
    preferences: dict[str, dict[str, bool]]
    recovery_codes_left: int | None  # staff only


def _preferences(prefs: Mapping[str, Any] | None) -> dict[str, dict[str, bool]]:
    return {
        g.key: {m: notifications.wants(prefs, next(iter(g.kinds)), m) for m in notifications.MEDIA}
        for g in notifications.PREFERENCE_GROUPS
    }


class MyAccount:
    """The account page's use cases, each in its own unit of work."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        passwords: Passwords,
        limiter: RateLimiter,
        evidence: EvidenceService,
        codes: Codes,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.passwords = passwords
        self.limiter = limiter
        self.evidence = evidence
        self.codes = codes
        self.clock = clock or (lambda: datetime.now(UTC))

    async def _user(self, uow: UnitOfWork, user_id: int) -> User:
        user = await repo.user_by_id(uow.session, user_id)
        if user is None or not user.active:
            raise Unauthenticated("Please log in again.", code="unauthenticated")
        return user

    async def _check_password(self, user: User, password: str) -> None:
        """The current password again, with its own limit (a session left open is not a
        licence to guess)."""
        key = f"reauth:{user.id}"
        window = await self.limiter.peek(key)
        if window.count >= REAUTH_FAILURES:
            raise RateLimited(
                "Too many failed attempts. Please wait and try again.",
                retry_after=window.retry_after,
                code="too_many_attempts",
            )
        if not password or not await self.passwords.verify(user.password_hash, password):
            await self.limiter.hit(key, REAUTH_WINDOW)
            raise ValidationFailed(  # a field of the form: 401 stays "not logged in"
                "The current password is wrong.",
                code="wrong_password",
                details={"field": "current_password"},
            )
        await self.limiter.reset(key)

    async def view(self, user_id: int, today: date) -> AccountView:
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, user_id)
            staff = Role(user.role) is not Role.CONSUMER
            return AccountView(
                user=user_info(user, today),
                email=user.email,
                mobile=user.mobile,
                preferences=_preferences(user.notification_prefs),
                recovery_codes_left=await remaining(uow.session, user.id) if staff else None,
            )

    async def rename(self, user_id: int, display_name: str) -> None:
        name = check_display_name(display_name)
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, user_id)
            user.display_name = name
            await uow.commit()

    # --- a new mobile number or e-mail address, proved by a one-time code --------------------

    async def start_contact_change(
        self, user_id: int, new_contact: str, password: str, client: str | None
    ) -> CodeSent:
        """Send a one-time code to the new number or address (after the current password).
        One already in use by another account gets the same answer and no message (nobody
        learns whose it is); its code can never be right."""
        medium, destination = destination_of(new_contact)
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, user_id)
            await self._check_password(user, password)
            current = user.mobile if medium is Medium.SMS else user.email
            if current == destination:
                raise ValidationFailed(
                    "This is already your number or address.",
                    code="contact_unchanged",
                    details={"field": "new_contact"},
                )
            kind = "mobile" if medium is Medium.SMS else "email"
            taken = await repo.user_by_login(uow.session, kind, destination) is not None
            language = user.locale
        return await self.codes.issue(
            Purpose.CHANGE_CONTACT,
            destination,
            client=client,
            user_id=user_id,
            deliver=not taken,
            language=language,
        )

    async def confirm_contact_change(self, user_id: int, new_contact: str, code: str) -> str:
        """Spend the code and make the number or address the account's login; which one
        changed ("mobile" or "email")."""
        medium, destination = destination_of(new_contact)
        async with UnitOfWork(self.sessionmaker) as uow:
            used = await self.codes.consume_in(
                uow.session, Purpose.CHANGE_CONTACT, destination, code
            )
            if used.user_id != user_id:  # issued for another account: as good as wrong
                raise ValidationFailed(
                    "The code is wrong.", code="code_invalid", details={"field": "code"}
                )
            user = await self._user(uow, user_id)
            kind = "mobile" if medium is Medium.SMS else "email"
            if await repo.user_by_login(uow.session, kind, destination) is not None:
                raise Conflict(
                    "An account with this login already exists.",
                    code="login_taken",
                    details={"field": "new_contact"},
                )
            now = self.clock()
            if medium is Medium.SMS:
                user.mobile = destination
                user.mobile_verified_at = now
            else:
                user.email = destination
                user.email_verified_at = now
            await uow.commit()
            return kind

    async def change_password(
        self, user_id: int, current: str, new: str, keep_session: str | None
    ) -> int:
        """A new password, after the current one; every other session ends (how many)."""
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, user_id)
            await self._check_password(user, current)
            try:
                check_password_policy(new)
            except ValidationFailed as error:
                error.details["field"] = "new_password"
                raise
            if new == current:
                raise ValidationFailed(
                    "Choose a password different from the current one.",
                    code="password_unchanged",
                    details={"field": "new_password"},
                )
            user.password_hash = await self.passwords.hash(new)
            ended = await end_sessions(uow.session, user.id, self.clock(), keep=keep_session)
            await uow.commit()
            return ended

    async def set_display(self, user_id: int, language: str, care_mode: bool) -> None:
        """The language pages and notifications use, and care mode."""
        if language not in LANGUAGES:
            raise ValidationFailed(
                "Choose a language.", code="invalid_language", details={"field": "language"}
            )
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, user_id)
            user.locale = language
            user.care_mode = care_mode
            await uow.commit()

    async def set_preferences(self, user_id: int, chosen: Mapping[str, Iterable[str]]) -> None:
        """For each group of notifications, the media ticked (legal notices stay in-app)."""
        prefs = notifications.clean_preferences(chosen)
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, user_id)
            user.notification_prefs = prefs
            await uow.commit()

    # --- the right to a copy -----------------------------------------------------------------

    async def export(self, actor: Actor, today: date) -> tuple[str, bytes]:
        """A ZIP of the person's data: ``my-data.json`` and the same as ``my-data.html``
        (and a short ``README.txt``). Only what is theirs: their account, their cases as
        they see them on the case page, with the other side's people named by role."""
        if actor.user_id is None:
            raise Unauthenticated("Please log in.", code="unauthenticated")
        now = self.clock()
        async with self.sessionmaker() as s:
            user = await s.get(User, actor.user_id)
            if user is None or not user.active:
                raise Unauthenticated("Please log in again.", code="unauthenticated")
            lang = user.locale
            account = await _account_data(s, user, today)
            cases = []
            if Role(user.role) is Role.CONSUMER:
                ids = (
                    await s.execute(
                        select(CaseRow.id)
                        .where(CaseRow.consumer_id == user.id)
                        .order_by(CaseRow.id)
                        .limit(EXPORT_CASES)
                    )
                ).scalars()
                for case_id in list(ids):
                    cases.append(await _case_data(s, actor, case_id))
        for case in cases:
            items = await self.evidence.visible_items(actor, case["id"])
            case["evidence"] = [_item_data(i, actor) for i in items]
        data = {"exported_at": now.isoformat(), "account": account, "cases": cases}
        stamp = now.strftime("%Y%m%d")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("my-data.json", json.dumps(data, ensure_ascii=False, indent=2))
            z.writestr("my-data.html", _html(data, lang))
            z.writestr("README.txt", translate(lang, README))
        return f"odr-my-data-{stamp}.zip", buffer.getvalue()

    # --- closing the account -----------------------------------------------------------------

    async def close(self, actor: Actor, password: str, confirmed: bool) -> None:
        """Close the account for good (see the module's notes): the password again and the
        box ticked; refused while a case of theirs is still under way."""
        if actor.user_id is None:
            raise Unauthenticated("Please log in.", code="unauthenticated")
        if not confirmed:
            raise ValidationFailed(
                "Tick the box to confirm that you want to close your account.",
                code="confirmation_required",
                details={"field": "confirm"},
            )
        now = self.clock()
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await self._user(uow, actor.user_id)
            await self._check_password(user, password)
            if Role(user.role) is not Role.CONSUMER:
                raise Conflict(
                    "Staff accounts are closed by an administrator.", code="staff_account"
                )
            open_cases = (
                await uow.session.execute(
                    select(CaseRow.number).where(
                        CaseRow.consumer_id == user.id,
                        CaseRow.state.in_([s.value for s in OPEN_STATES]),
                    )
                )
            ).scalars()
            numbers = list(open_cases)
            if numbers:
                raise Conflict(
                    "Your account cannot be closed while a case is under way: withdraw it or "
                    "wait until it ends.",
                    code="open_cases",
                    details={"cases": numbers},
                )
            s = uow.session
            contacts = [c for c in (user.email, user.mobile) if c]
            if contacts:
                await s.execute(
                    delete(OutboxMessage).where(
                        OutboxMessage.status == "pending",
                        or_(*[OutboxMessage.recipient == c for c in contacts]),
                    )
                )
            await s.execute(delete(Notification).where(Notification.user_id == user.id))
            own_cases = (
                await s.execute(select(CaseRow.id).where(CaseRow.consumer_id == user.id))
            ).scalars()
            await callbacks.anonymise_requests_of(s, user, list(own_cases), CLOSED_NAME)
            await drop_codes(s, user.id)
            await end_sessions(s, user.id, now)
            user.email = None
            user.mobile = None
            user.display_name = CLOSED_NAME
            user.password_hash = CLOSED_HASH
            user.totp_secret = None
            user.totp_last_step = None
            user.birth_date = None
            user.locale = None
            user.care_mode = False
            user.notification_prefs = None
            user.active = False
            user.closed_at = now
            log_admin_action(s, actor, "account_closed", user.id, now)
            await uow.commit()


README = N_(
    "This archive holds a copy of your data at the online dispute resolution service: your "
    "account, and each of your cases with its events, messages and the list of its evidence. "
    "my-data.html is for reading, my-data.json for programs. The files of the evidence are "
    "not included: download them from each case's page."
)


async def _account_data(s: AsyncSession, user: User, today: date) -> dict[str, Any]:
    info = user_info(user, today)
    notes = (
        await s.execute(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at)
        )
    ).scalars()
    return {
        "name": user.display_name,
        "email": user.email,
        "mobile": user.mobile,
        "role": user.role,
        "organisation": info.organisation_name,
        "birth_date": user.birth_date.isoformat() if user.birth_date else None,
        "language": user.locale,
        "care_mode": user.care_mode,
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "notification_preferences": _preferences(user.notification_prefs),
        "notifications": [
            {
                "kind": n.kind,
                "case_id": n.case_id,
                "at": n.created_at.isoformat(),
                "read": n.read_at is not None,
                "text": notifications.render(n.kind, user.locale, n.params)[1]
                if n.kind in notifications.TEXTS
                else "",
            }
            for n in notes
        ],
    }


async def _case_data(s: AsyncSession, actor: Actor, case_id: int) -> dict[str, Any]:
    detail = await case_detail(s, actor, case_id)
    events = await timeline(s, actor, case_id)
    insurer = await s.get(Organisation, detail["insurer"]["id"])
    keep = (
        "id",
        "number",
        "state",
        "category",
        "received_at",
        "due_at",
        "policy_numbers",
        "amount_fen",
        "description",
        "desired_outcome",
        "contact_preference",
        "answer",
    )
    case = {k: detail.get(k) for k in keep}
    case["insurer"] = insurer.name if insurer else detail["insurer"]["name"]
    rows: list[dict[str, Any]] = [
        {
            "sequence": e["sequence"],
            "kind": e["kind"],
            "at": e["at"],
            "by": "you" if e["actor"]["role"] == Role.CONSUMER.value else e["actor"]["role"],
            "details": {
                k: v for k, v in (e.get("payload") or {}).items() if k in EXPORT_PAYLOAD_KEYS
            },
        }
        for e in events
    ]
    case["events"] = rows
    case["messages"] = [
        {"at": e["at"], "by": e["by"], "text": e["details"].get("text", "")}
        for e in rows
        if e["kind"] == "message_sent"
    ]
    return case


def _item_data(item: Any, actor: Actor) -> dict[str, Any]:
    return {
        "sequence": item.sequence,
        "name": item.name,
        "kind": item.kind,
        "media_type": item.media_type,
        "size": item.size,
        "sha256": item.sha256,
        "description": item.description,
        "submitted_at": item.submitted_at.isoformat(),
        "by": "you" if item.submitter_id == actor.user_id else item.submitter_role,
    }


#: The people behind the role codes the export records (the readable copy names them; the
#: JSON copy keeps the codes for programs). The same texts as the pages' role labels.
ROLE_NAMES = {
    "you": N_("You"),
    "consumer": N_("the consumer"),
    "insurer_rep": N_("the insurer"),
    "mediator": N_("the mediator"),
    "centre_lead": N_("the mediation centre"),
    "supervisor": N_("a supervisor"),
    "channel": N_("a partner service"),
    "system": N_("the platform"),
}
#: The fields of the export that hold a role code.
ROLE_FIELDS = frozenset({"role", "by"})

HTML_TEXTS = {
    "title": N_("My data"),
    "account": N_("Account"),
    "cases": N_("Cases"),
    "events": N_("What happened"),
    "messages": N_("Messages"),
    "evidence": N_("Evidence"),
    "notifications": N_("Notifications"),
    "exported": N_("Exported at"),
    "none": N_("None."),
}


def _html(data: dict[str, Any], lang: str | None) -> str:
    t = {k: html.escape(translate(lang, v)) for k, v in HTML_TEXTS.items()}
    e = html.escape

    def shown(key: str, value: Any) -> str:
        if value is None:
            return ""
        if key in ROLE_FIELDS and str(value) in ROLE_NAMES:
            return e(translate(lang, ROLE_NAMES[str(value)]))
        return e(str(value))

    def table(rows: Iterable[tuple[str, Any]]) -> str:
        body = "".join(f"<tr><th>{e(str(k))}</th><td>{shown(k, v)}</td></tr>" for k, v in rows)
        return f"<table>{body}</table>"

    def listing(items: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
        if not items:
            return f"<p>{t['none']}</p>"
        head = "".join(f"<th>{e(k)}</th>" for k in keys)
        rows = "".join(
            "<tr>" + "".join(f"<td>{shown(k, i.get(k, ''))}</td>" for k in keys) + "</tr>"
            for i in items
        )
        return f"<table><tr>{head}</tr>{rows}</table>"

    account = data["account"]
    parts = [
        f'<!doctype html><html lang="{e(lang or "zh-CN")}"><head><meta charset="utf-8">'
        f"<title>{t['title']}</title></head><body><h1>{t['title']}</h1>",
        f"<p>{t['exported']}: {e(data['exported_at'])}</p>",
        f"<h2>{t['account']}</h2>",
        table((k, v) for k, v in account.items() if k not in ("notifications",)),
        f"<h3>{t['notifications']}</h3>",
        listing(account["notifications"], ("at", "kind", "text")),
        f"<h2>{t['cases']}</h2>",
    ]
    if not data["cases"]:
        parts.append(f"<p>{t['none']}</p>")
    for case in data["cases"]:
        parts.append(f"<section><h3>{e(case['number'])}</h3>")
        parts.append(
            table(
                (k, v)
                for k, v in case.items()
                if k not in ("events", "messages", "evidence", "answer")
            )
        )
        if case.get("answer"):
            parts.append(table(case["answer"].items()))
        parts.append(f"<h4>{t['messages']}</h4>")
        parts.append(listing(case["messages"], ("at", "by", "text")))
        parts.append(f"<h4>{t['evidence']}</h4>")
        parts.append(listing(case["evidence"], ("sequence", "name", "kind", "size", "by")))
        parts.append(f"<h4>{t['events']}</h4>")
        parts.append(listing(case["events"], ("sequence", "at", "kind", "by")))
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)
