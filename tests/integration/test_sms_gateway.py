"""The signed-HTTP SMS gateway against a fake gateway on 127.0.0.1: the request and its
signature, a refusal kept in the outbox for a retry, the development and production senders."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from odr.services.outbox import (
    CODE_KEY_PREFIX,
    REMOVED_BODY,
    LoggingSender,
    SmtpSender,
    backoff,
    send_due,
)
from odr.services.sms import (
    DevelopmentSender,
    SignedHttpSmsSender,
    SmsGateway,
    SmsGatewayError,
    message_senders,
    sign,
)
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.models import OutboxMessage

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
KEY, SECRET, TEMPLATE = "odr-test", "gateway-secret-for-tests", "SMS_0001"


@dataclass
class FakeGateway:
    """Checks every request's signature like a real gateway; answers ``status``."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-ODR-Timestamp", "")
        good = request.headers.get("X-ODR-Key") == KEY and request.headers.get(
            "X-ODR-Signature"
        ) == sign(SECRET, stamp, body)
        if not good:
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=401)
        if self.status != 200:
            return web.json_response({"error": "busy"}, status=self.status)
        self.received.append(json.loads(body))
        return web.json_response({"accepted": True})


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeGateway, str]]:
    fake = FakeGateway()
    app = web.Application()
    app.router.add_post("/sms", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/sms"
    await runner.cleanup()


def sender(url: str, secret: str = SECRET) -> SignedHttpSmsSender:
    return SignedHttpSmsSender(url, KEY, secret, TEMPLATE, timeout=5, clock=lambda: 1_700_000_000)


async def test_the_request_is_signed_and_carries_the_template(
    gateway: tuple[FakeGateway, str],
) -> None:
    fake, url = gateway
    await sender(url).send("13800000001", "ODR 验证码", "【ODR】您的验证码是 123456")
    assert fake.received == [
        {
            "to": "13800000001",
            "template_id": TEMPLATE,
            "params": {"content": "【ODR】您的验证码是 123456"},
        }
    ]
    with pytest.raises(SmsGatewayError, match="401"):  # a wrong secret is refused
        await sender(url, "another-secret").send("13800000001", "s", "b")
    assert fake.refused == 1


async def test_an_unreachable_gateway_is_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SmsGatewayError, match="unreachable"):
        await sender(f"http://127.0.0.1:{port}/sms").send("13800000001", "s", "b")


async def test_a_gateway_error_keeps_the_message_for_a_retry(
    database_url: str, gateway: tuple[FakeGateway, str]
) -> None:
    fake, url = gateway
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    async with maker() as s:
        s.add(
            OutboxMessage(
                key=f"{CODE_KEY_PREFIX}register:test",
                medium="sms",
                recipient="13900000123",
                subject="ODR 验证码",
                body="【ODR】您用于注册账户的验证码是 654321",
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
        await s.commit()
    senders = {"sms": sender(url), "email": LoggingSender("email")}
    fake.status = 503
    assert await send_due(maker, senders, NOW) == 0
    async with maker() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error and "503" in row.last_error
        assert row.next_attempt_at == NOW + backoff(1)
    fake.status = 200
    assert await send_due(maker, senders, NOW + timedelta(seconds=1)) == 0  # not due yet
    assert await send_due(maker, senders, NOW + backoff(1)) == 1
    async with maker() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
        assert row.status == "sent" and row.body == REMOVED_BODY  # the code is kept nowhere
    assert [m["params"]["content"] for m in fake.received] == [
        "【ODR】您用于注册账户的验证码是 654321"
    ]
    await engine.dispose()


async def test_development_prints_codes_production_never(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dev = message_senders(None, "ODR <x@odr.test>", production=False)
    assert isinstance(dev["sms"], DevelopmentSender)
    assert isinstance(dev["email"], DevelopmentSender)
    prod = message_senders(None, "ODR <x@odr.test>", production=True)
    assert isinstance(prod["sms"], LoggingSender) and isinstance(prod["email"], LoggingSender)
    with caplog.at_level(logging.INFO, logger="odr.outbox"):
        await dev["sms"].send("13800000001", "ODR 验证码", "验证码 246810")
        await prod["sms"].send("13800000001", "ODR 验证码", "验证码 135790")
    assert "246810" in caplog.text and "135790" not in caplog.text
    gateway = SmsGateway("https://sms.example/send", KEY, SECRET, TEMPLATE)
    configured = message_senders("smtp://127.0.0.1:25", "x", production=True, gateway=gateway)
    assert isinstance(configured["sms"], SignedHttpSmsSender)
    assert isinstance(configured["email"], SmtpSender)
