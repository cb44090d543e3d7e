"""One-time codes by SMS and e-mail: issued, stored hashed, sent through the outbox, used once.

`Codes` is the one service every flow that proves a contact goes through: registration,
password reset and activation (`odr.services.account_codes`), signing by SMS code, and a change
of contact (the account page: ``codes.issue(Purpose.CHANGE_CONTACT, new_number, ...)`` then
``codes.verify(Purpose.CHANGE_CONTACT, new_number, typed)`` or `consume_in` inside the unit of
work that makes the change). The rules (length, lifetime, attempts, resend interval, limits
per destination and per client address) are `odr.domain.one_time_codes`; the policy comes
from the settings (``ODR_CODE_*``).

A code's message is an outbox message (key ``code:…``), sent at once in the background and,
when the sender fails, retried by the outbox like any other; its text is removed from the
outbox once sent. The answer to the request never depends on whether the sending worked (nor
how long it took), and a code "issued" with ``deliver=False`` (a number already registered,
an account that does not exist) counts against the same limits and is answered the same way.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.one_time_codes import (
    CodePolicy,
    IssuedCode,
    IssueHistory,
    Medium,
    Purpose,
    check_issue,
    check_usable,
    destination_of,
    digest,
    expiry,
    generate,
    mask,
    matches,
    normalise_code,
    wrong_code,
)
from odr.i18n import NC_, translate_in
from odr.services.outbox import CODE_KEY_PREFIX, Sender, send_now
from odr.storage.db import UnitOfWork
from odr.storage.models import OneTimeCode, OutboxMessage

log = logging.getLogger("odr.codes")

#: Rows of codes are kept this long (for the limits and the resend interval), then deleted.
KEEP_ROWS = timedelta(days=1)

CONTEXT = "one-time code"
_WHAT: dict[Purpose, str] = {
    Purpose.REGISTER: NC_("one-time code", "register your account"),
    Purpose.CHANGE_CONTACT: NC_("one-time code", "confirm your new contact details"),
    Purpose.RESET: NC_("one-time code", "set a new password"),
    Purpose.ACTIVATE: NC_("one-time code", "activate your account"),
    Purpose.SIGN: NC_("one-time code", "sign a document"),
}
_SUBJECT = NC_("one-time code", "Your ODR verification code")
_BODY = NC_(
    "one-time code",
    "[ODR] Your code to %(what)s is %(code)s. It is valid for %(minutes)d minutes. "
    "Never tell anyone this code: our staff will never ask you for it.",
)


@dataclass(frozen=True, slots=True)
class CodeSent:
    """What the person is told: where the code went (masked), how long it lives, when another
    may be asked for. The same whether or not a message really left."""

    medium: Medium
    destination: str  # masked: 138****0001
    expires_in: int  # seconds
    resend_after: int  # seconds


@dataclass(frozen=True, slots=True)
class UsedCode:
    """A code that was right, now spent: who it was issued for and what it confirms."""

    medium: Medium
    destination: str  # normalised, in full
    user_id: int | None
    payload: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class IssuedFor:
    """Whom and what a code was issued for (`Codes.last_issued`)."""

    user_id: int | None
    payload: dict[str, Any] | None
    delivered: bool


class Codes:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        senders: dict[str, Sender],
        policy: CodePolicy,
        secret: str,
        clock: Callable[[], datetime],
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.senders = senders
        self.policy = policy
        self._secret = secret
        self.clock = clock
        self._randbelow = randbelow
        self._sending: set[asyncio.Task[bool]] = set()

    # --- issuing -------------------------------------------------------------------------

    async def issue(
        self,
        purpose: Purpose,
        destination: str,
        *,
        client: str | None = None,
        user_id: int | None = None,
        payload: dict[str, Any] | None = None,
        deliver: bool = True,
        language: str | None = None,
    ) -> CodeSent:
        """Issue a code for ``purpose`` to a mobile number or an e-mail address and send it
        (in the background). ``client`` is the asking client's address (its limit); with
        ``deliver`` False nothing is sent but everything else happens. Refused with
        `RateLimited` (``code_resend_too_soon``, ``code_limit_reached``) or `ValidationFailed`
        (``invalid_login``)."""
        medium, dest = destination_of(destination)
        now = self.clock()
        code = generate(self.policy, self._randbelow)
        message_id: int | None = None
        async with UnitOfWork(self.sessionmaker) as uow:
            s = uow.session
            check_issue(self.policy, await self._history(s, purpose, dest, client, now), now)
            s.add(
                OneTimeCode(
                    purpose=purpose.value,
                    destination=dest,
                    code_hash=digest(self._secret, purpose, dest, code) if deliver else "",
                    user_id=user_id,
                    client=(client or "")[:64] or None,
                    payload=payload,
                    delivered=deliver,
                    attempts=0,
                    created_at=now,
                    expires_at=expiry(self.policy, now),
                )
            )
            if deliver:
                message = self._message(purpose, medium, dest, code, now, language)
                s.add(message)
                await s.flush()
                message_id = message.id
            await uow.commit()
        if message_id is not None:
            self._send_soon(message_id)
        return CodeSent(
            medium, mask(medium, dest), self.policy.lifetime, self.policy.resend_interval
        )

    async def _history(
        self, s: AsyncSession, purpose: Purpose, dest: str, client: str | None, now: datetime
    ) -> IssueHistory:
        since = now - timedelta(seconds=self.policy.window)
        last = (
            await s.execute(
                select(func.max(OneTimeCode.created_at)).where(
                    OneTimeCode.purpose == purpose.value,
                    OneTimeCode.destination == dest,
                    OneTimeCode.created_at > now - timedelta(seconds=self.policy.resend_interval),
                )
            )
        ).scalar_one_or_none()
        to_destination = (
            await s.execute(
                select(func.count())
                .select_from(OneTimeCode)
                .where(OneTimeCode.destination == dest, OneTimeCode.created_at > since)
            )
        ).scalar_one()
        from_client = 0
        if client:
            from_client = (
                await s.execute(
                    select(func.count())
                    .select_from(OneTimeCode)
                    .where(OneTimeCode.client == client[:64], OneTimeCode.created_at > since)
                )
            ).scalar_one()
        return IssueHistory(last, int(to_destination), int(from_client))

    def _message(
        self,
        purpose: Purpose,
        medium: Medium,
        dest: str,
        code: str,
        now: datetime,
        language: str | None,
    ) -> OutboxMessage:
        what = translate_in(language, CONTEXT, _WHAT[purpose])
        body = translate_in(language, CONTEXT, _BODY) % {
            "what": what,
            "code": code,
            "minutes": self.policy.lifetime_minutes,
        }
        return OutboxMessage(
            key=f"{CODE_KEY_PREFIX}{purpose.value}:{secrets.token_hex(12)}",
            medium=medium.value,
            recipient=dest,
            subject=translate_in(language, CONTEXT, _SUBJECT),
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )

    def _send_soon(self, message_id: int) -> None:
        task = asyncio.get_running_loop().create_task(
            send_now(self.sessionmaker, self.senders, message_id, self.clock())
        )
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[bool]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a one-time code could not be sent now; the outbox retries it")

    async def drain(self) -> None:
        """Wait until the codes being sent are sent (or failed, and left to the outbox)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def last_issued(self, purpose: Purpose, destination: str) -> IssuedFor | None:
        """What the latest code of ``purpose`` to ``destination`` was issued for (to resend)."""
        _, dest = destination_of(destination)
        async with self.sessionmaker() as s:
            row = (
                await s.execute(
                    select(OneTimeCode)
                    .where(OneTimeCode.purpose == purpose.value, OneTimeCode.destination == dest)
                    .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if row is None:
            return None
        return IssuedFor(row.user_id, row.payload, row.delivered)

    # --- using ---------------------------------------------------------------------------

    async def verify(self, purpose: Purpose, destination: str, code: str) -> UsedCode:
        """Check and spend a code in a unit of work of its own."""
        async with UnitOfWork(self.sessionmaker) as uow:
            used = await self.consume_in(uow.session, purpose, destination, code)
            await uow.commit()
            return used

    async def consume_in(
        self, s: AsyncSession, purpose: Purpose, destination: str, code: str
    ) -> UsedCode:
        """Check the latest code of ``purpose`` to ``destination`` and mark it used in ``s``:
        the caller's unit of work commits it with the change the code allows (both or
        neither). Call it before writing anything in ``s``. A wrong code counts an attempt in
        a transaction of its own (a rollback does not undo it) and raises ``code_invalid``
        (with ``attempts_left``), then ``code_attempts_exceeded``; an expired one
        ``code_expired``. A code never sent, or already used, is simply wrong."""
        medium, dest = destination_of(destination)
        typed = normalise_code(code, self.policy)
        now = self.clock()
        row = (
            await s.execute(
                select(OneTimeCode)
                .where(OneTimeCode.purpose == purpose.value, OneTimeCode.destination == dest)
                .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        check_usable(
            self.policy,
            None
            if row is None
            else IssuedCode(row.created_at, row.expires_at, row.attempts, row.used_at),
            now,
        )
        assert row is not None
        if not matches(self._secret, purpose, dest, typed, row.code_hash):
            raise wrong_code(self.policy, await self._count_wrong(row.id))
        spent = await s.execute(
            update(OneTimeCode)
            .where(OneTimeCode.id == row.id, OneTimeCode.used_at.is_(None))
            .values(used_at=now)
        )
        if getattr(spent, "rowcount", 0) != 1:  # used by a concurrent request
            raise wrong_code(self.policy, None)
        return UsedCode(medium, dest, row.user_id, row.payload)

    async def _count_wrong(self, code_id: int) -> int:
        async with UnitOfWork(self.sessionmaker) as uow:
            await uow.session.execute(
                update(OneTimeCode)
                .where(OneTimeCode.id == code_id)
                .values(attempts=OneTimeCode.attempts + 1)
            )
            attempts = (
                await uow.session.execute(
                    select(OneTimeCode.attempts).where(OneTimeCode.id == code_id)
                )
            ).scalar_one()
            await uow.commit()
            return int(attempts)

    async def purge(self) -> int:
        """Delete the rows of codes older than `KEEP_ROWS`; how many."""
        async with UnitOfWork(self.sessionmaker) as uow:
            result = await uow.session.execute(
                delete(OneTimeCode).where(OneTimeCode.created_at < self.clock() - KEEP_ROWS)
            )
            await uow.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    async def aclose(self) -> None:
        await self.drain()
