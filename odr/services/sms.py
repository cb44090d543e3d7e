"""SMS senders for the outbox: a generic signed-HTTP gateway, and the development sender.

**The gateway** (`SignedHttpSmsSender`, documented in ``docs/sms-gateway.md``): one ``POST``
of a JSON body to ``ODR_SMS_GATEWAY_URL``::

    {"to": "13800000001", "template_id": "<ODR_SMS_TEMPLATE_ID>",
     "params": {"content": "<the text>"}}

with the headers ``X-ODR-Key`` (``ODR_SMS_GATEWAY_KEY``), ``X-ODR-Timestamp`` (Unix seconds)
and ``X-ODR-Signature``: hex HMAC-SHA256 under ``ODR_SMS_GATEWAY_SECRET`` of
``TIMESTAMP + "\\n" + BODY`` (the exact bytes sent). A 2xx answer means accepted; anything
else (an error status, a refused or timed-out connection) raises `SmsGatewayError`, and the
outbox keeps the message for a retry with backoff.

**The development sender** (`DevelopmentSender`) writes the whole message to the log, so that
``make run`` shows the codes on the console, and keeps the last messages in memory for tests.
It is never used in production mode (`senders_for`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from odr.services.outbox import Attachment, LoggingSender, Sender, SmtpSender

log = logging.getLogger("odr.outbox")

SIGNATURE_HEADER = "X-ODR-Signature"
TIMESTAMP_HEADER = "X-ODR-Timestamp"
KEY_HEADER = "X-ODR-Key"


class SmsGatewayError(Exception):
    """The gateway did not accept the message (the outbox retries it)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The gateway's signature of one request."""
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


@dataclass
class SignedHttpSmsSender:
    url: str
    key: str
    secret: str
    template_id: str
    timeout: float = 10.0
    clock: Callable[[], float] = time.time

    async def send(
        self, recipient: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        payload = json.dumps(
            {
                "to": recipient,
                "template_id": self.template_id,
                "params": {"content": body},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            KEY_HEADER: self.key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, payload),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http,
                http.post(self.url, data=payload, headers=headers) as resp,
            ):
                if not 200 <= resp.status < 300:
                    detail = (await resp.text())[:200]
                    raise SmsGatewayError(f"gateway answered {resp.status}: {detail}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SmsGatewayError(f"gateway unreachable: {type(error).__name__}") from error


@dataclass(frozen=True)
class SentMessage:
    medium: str
    recipient: str
    subject: str
    body: str


@dataclass
class DevelopmentSender:
    """Logs the whole message, the code in it included (development mode only), and keeps the
    last `KEEP` messages in ``sent`` for tests."""

    medium: str
    sent: deque[SentMessage] = field(default_factory=lambda: deque(maxlen=DevelopmentSender.KEEP))

    KEEP = 200

    async def send(
        self, recipient: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        self.sent.append(SentMessage(self.medium, recipient, subject, body))
        names = ", ".join(str(a.get("name")) for a in attachments)
        log.info(
            "development %s to %s: %s | %s%s",
            self.medium,
            recipient,
            subject,
            body.replace("\n", " "),
            f" [{names}]" if names else "",
        )

    def last_to(self, recipient: str) -> SentMessage | None:
        """The last message sent to ``recipient``."""
        for message in reversed(self.sent):
            if message.recipient == recipient:
                return message
        return None


@dataclass(frozen=True)
class SmsGateway:
    """The gateway's settings (``ODR_SMS_GATEWAY_URL`` and its key, secret and template)."""

    url: str
    key: str
    secret: str
    template_id: str


def message_senders(
    smtp_url: str | None,
    mail_from: str,
    *,
    production: bool,
    gateway: SmsGateway | None = None,
) -> dict[str, Sender]:
    """The outbox's senders. E-mail: SMTP when configured. SMS: the gateway when configured.
    Otherwise the message is logged: in development with its text (the codes a person needs to
    try every flow), in production without (a code is never written to a production log)."""
    email: Sender
    sms: Sender
    if smtp_url:
        email = SmtpSender(smtp_url, mail_from)
    else:
        email = LoggingSender("email") if production else DevelopmentSender("email")
    if gateway is not None:
        sms = SignedHttpSmsSender(gateway.url, gateway.key, gateway.secret, gateway.template_id)
    else:
        sms = LoggingSender("sms") if production else DevelopmentSender("sms")
    return {"email": email, "sms": sms}
