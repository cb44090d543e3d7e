"""The outbox: e-mail reaches a real SMTP server; failures are retried and never lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from odr.services.outbox import MAX_ATTEMPTS, LoggingSender, SmtpSender, send_due, senders_for
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.models import OutboxMessage

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, recipient: str, subject: str, body: str) -> None:
        self.calls += 1
        raise ConnectionRefusedError("smtp down")


async def add(
    maker: Any, key: str, medium: str = "email", recipient: str = "a@example.com"
) -> None:
    async with maker() as s:
        s.add(
            OutboxMessage(
                key=key,
                medium=medium,
                recipient=recipient,
                subject="投诉已受理",
                body="案件编号 ODR-2026-000001",
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
        await s.commit()


async def test_email_goes_out_over_smtp_once(database_url: str, smtp: Any) -> None:
    inbox, url = smtp
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    await add(maker, "k1")
    await add(maker, "k2", medium="sms", recipient="13800000001")
    senders = senders_for(url, "ODR <no-reply@odr.test>")
    assert isinstance(senders["email"], SmtpSender) and isinstance(senders["sms"], LoggingSender)
    sent = await asyncio.gather(send_due(maker, senders, NOW), send_due(maker, senders, NOW))
    assert sum(sent) == 2  # two workers at once: each message exactly once
    assert len(inbox.messages) == 1
    assert inbox.messages[0].rcpt_tos == ["a@example.com"]
    from email import message_from_bytes, policy

    mail = message_from_bytes(inbox.messages[0].content, policy=policy.default)
    assert mail["Subject"] == "投诉已受理"
    assert "ODR-2026-000001" in mail.get_body().get_content()
    async with maker() as s:
        rows = list((await s.execute(select(OutboxMessage))).scalars())
    assert {r.status for r in rows} == {"sent"}
    assert await send_due(maker, senders, NOW + timedelta(hours=1)) == 0
    await engine.dispose()


async def test_failures_back_off_and_are_kept(database_url: str) -> None:
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    await add(maker, "k3")
    failing = Failing()
    moment = NOW
    for _ in range(MAX_ATTEMPTS):
        assert await send_due(maker, {"email": failing}, moment) == 0
        moment += timedelta(days=1)
    async with maker() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
    assert "smtp down" in (row.last_error or "")
    assert await send_due(maker, {"email": failing}, moment) == 0
    assert failing.calls == MAX_ATTEMPTS  # a failed message is kept, not retried forever
    await engine.dispose()


async def test_a_retry_waits_for_its_backoff(database_url: str) -> None:
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    await add(maker, "k4")
    failing = Failing()
    await send_due(maker, {"email": failing}, NOW)
    await send_due(maker, {"email": failing}, NOW + timedelta(seconds=5))  # too early
    assert failing.calls == 1
    await send_due(maker, {"email": failing}, NOW + timedelta(seconds=31))
    assert failing.calls == 2
    await engine.dispose()
