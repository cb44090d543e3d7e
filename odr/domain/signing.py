"""Signed requests from partner channels: HMAC-SHA256 over method, path, timestamp and body.

The string signed is ``METHOD\\nPATH\\nTIMESTAMP\\nSHA256(body) in hex``; the signature is the
lower-case hex HMAC-SHA256 of it under the channel's secret. A timestamp (Unix seconds) more
than `MAX_SKEW` seconds away from the server's clock is refused, so a captured request cannot
be replayed later; retries within the window are made safe by the ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import hmac

from odr.domain.errors import Unauthenticated

MAX_SKEW = 300  # seconds


def string_to_sign(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{digest}".encode()


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_timestamp(timestamp: str, now: float) -> None:
    try:
        value = int(timestamp)
    except ValueError:
        raise Unauthenticated(
            "The timestamp must be Unix seconds.", code="invalid_timestamp"
        ) from None
    if abs(now - value) > MAX_SKEW:
        raise Unauthenticated(
            f"The timestamp is more than {MAX_SKEW} seconds away from the server's clock.",
            code="stale_timestamp",
        )


def check_signature(
    secret: str, method: str, path: str, timestamp: str, body: bytes, signature: str
) -> None:
    expected = sign(secret, method, path, timestamp, body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Unauthenticated("The request signature does not match.", code="bad_signature")
