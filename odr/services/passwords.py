"""Password hashing (argon2id) off the event loop, and TOTP second factors."""

from __future__ import annotations

import asyncio
import time
import unicodedata

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from odr.domain.numbers import is_ascii_number

TOTP_ISSUER = "ODR"
TOTP_WINDOW = 1  # accept the previous and the next 30-second step too


class Passwords:
    """argon2id with the library's recommended parameters; hashing runs in a thread so the
    event loop keeps serving while a login is checked."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("not-a-password-timing-equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (``stored_hash`` None)."""
        target = stored_hash or self._dummy

        def check() -> bool:
            try:
                return self._hasher.verify(target, password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await asyncio.to_thread(check)
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=TOTP_ISSUER)


def current_totp(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret).at(at if at is not None else time.time())


def verify_totp(
    secret: str, code: str, last_step: int | None, at: float | None = None
) -> int | None:
    """Return the time step the code belongs to, or None. A step at or before
    ``last_step`` is refused, so a code seen once cannot be replayed."""
    code = unicodedata.normalize("NFKC", code).strip().replace(" ", "")  # full-width digits too
    if not (is_ascii_number(code) and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = at if at is not None else time.time()
    current = int(now // totp.interval)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
