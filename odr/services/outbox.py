"""Sending what the outbox holds: e-mail over SMTP, SMS through a sender interface.

A message is claimed (pending → sending) by one worker at a time, sent, then marked sent; a
failure schedules a retry with exponential backoff; after `MAX_ATTEMPTS` it stays as
``failed`` for a person to look at — nothing is ever dropped. A worker that dies mid-send
leaves the row ``sending``; rows stuck there longer than `STUCK_AFTER` are retried.

An e-mail may carry attachments (``OutboxMessage.attachments``: ``[{"name", "mime",
"text"}]``, e.g. a hearing's ``invitation.ics``); they are passed to senders that take them.
A ``text/calendar`` attachment carries its METHOD as a content-type parameter, as mail
programs expect of an invitation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.storage.models import OutboxMessage

log = logging.getLogger("odr.outbox")

MAX_ATTEMPTS = 8
BATCH = 50
STUCK_AFTER = timedelta(minutes=10)


#: Messages whose key starts so carry a secret (a one-time code): their text is removed once
#: they are sent.
CODE_KEY_PREFIX = "code:"
REMOVED_BODY = "(removed after sending: it held a one-time code)"


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


Attachment = Mapping[str, Any]  # {"name": str, "mime": "type/subtype", "text": str}


class Sender(Protocol):
    """Sends one message. ``attachments`` is passed only when the message has some."""

    async def send(
        self, recipient: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> None: ...


class LoggingSender:
    """Writes the message to the log instead of sending it (development, and SMS until a
    provider is configured). Only the recipient's last four characters are logged."""

    def __init__(self, medium: str) -> None:
        self.medium = medium

    async def send(
        self, recipient: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        names = ", ".join(str(a.get("name")) for a in attachments)
        log.info(
            "%s to ***%s: %s%s",
            self.medium,
            recipient[-4:],
            subject,
            f" [{names}]" if names else "",
        )


def email_message(
    sender: str, recipient: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    """The MIME message: the text, then each attachment as a file (UTF-8 text)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    for item in attachments:
        maintype, _, subtype = str(item.get("mime", "text/plain")).partition("/")
        params: dict[str, str] = {}
        if maintype == "text" and subtype == "calendar":
            method = _calendar_method(str(item["text"]))
            if method:
                params["method"] = method
        message.add_attachment(
            str(item["text"]),
            subtype=subtype or "plain",
            filename=str(item.get("name", "attachment.txt")),
            params=params,
        )
    return message


def _calendar_method(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("METHOD:"):
            return line.removeprefix("METHOD:").strip()
        if line.startswith("BEGIN:VEVENT"):
            break
    return None


@dataclass(frozen=True)
class SmtpSender:
    url: str
    sender: str
    timeout: float = 20.0

    async def send(
        self, recipient: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        parts = urlsplit(self.url)
        query = parse_qs(parts.query)
        message = email_message(self.sender, recipient, subject, body, attachments)
        await aiosmtplib.send(
            message,
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=query.get("starttls", ["0"])[0] == "1",
            timeout=self.timeout,
        )


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    senders: dict[str, Sender],
    now: datetime,
) -> int:
    """Send every message that is due; return how many were sent."""
    async with sessionmaker() as db:
        ids = list(
            (
                await db.execute(
                    select(OutboxMessage.id)
                    .where(
                        or_(
                            (OutboxMessage.status == "pending")
                            & (OutboxMessage.next_attempt_at <= now),
                            (OutboxMessage.status == "sending")
                            & (OutboxMessage.next_attempt_at <= now - STUCK_AFTER),
                        )
                    )
                    .order_by(OutboxMessage.id)
                    .limit(BATCH)
                )
            ).scalars()
        )
    sent = 0
    for message_id in ids:
        if await _send_one(sessionmaker, senders, message_id, now):
            sent += 1
    return sent


async def _send_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    senders: dict[str, Sender],
    message_id: int,
    now: datetime,
) -> bool:
    async with sessionmaker() as db:
        claimed = await db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                or_(
                    OutboxMessage.status == "pending",
                    (OutboxMessage.status == "sending")
                    & (OutboxMessage.next_attempt_at <= now - STUCK_AFTER),
                ),
            )
            .values(status="sending", next_attempt_at=now)
        )
        await db.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False  # another worker has it
        message = await db.get(OutboxMessage, message_id)
        assert message is not None
        try:
            sender = senders[message.medium]
            if message.attachments and message.medium == "email":
                await sender.send(
                    message.recipient, message.subject, message.body, message.attachments
                )
            else:
                await sender.send(message.recipient, message.subject, message.body)
        except Exception as exc:  # any failure of the transport is retried
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
                log.error("outbox message %s failed for good", message_id)
            else:
                message.status = "pending"
                message.next_attempt_at = now + backoff(message.attempts)
            await db.commit()
            return False
        message.status = "sent"
        message.attempts += 1
        message.sent_at = now
        if message.key.startswith(CODE_KEY_PREFIX):
            message.body = REMOVED_BODY  # a one-time code is kept nowhere once it is sent
        await db.commit()
        return True


async def send_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    senders: dict[str, Sender],
    message_id: int,
    now: datetime,
) -> bool:
    """Send one message at once (a one-time code cannot wait for the next round); when that
    fails it stays in the outbox for the retries, like any other."""
    return await _send_one(sessionmaker, senders, message_id, now)


def senders_for(smtp_url: str | None, mail_from: str) -> dict[str, Sender]:
    """SMTP when configured, else the log; SMS goes to the log until a provider is set up."""
    email: Sender = SmtpSender(smtp_url, mail_from) if smtp_url else LoggingSender("email")
    return {"email": email, "sms": LoggingSender("sms")}
