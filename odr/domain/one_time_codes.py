"""One-time codes sent by SMS or e-mail: their rules, pure.

A code proves that a person holds a mobile number or an e-mail address right now. It is
issued for one purpose (registering, changing a contact, resetting or setting a password,
signing) to one destination, lives `CodePolicy.lifetime` seconds, allows
`CodePolicy.max_attempts` wrong tries, is used once, and is kept only as an HMAC under the
server's key (a database dump gives no live code). Issuing is limited: one code per purpose and
destination every `CodePolicy.resend_interval` seconds, `CodePolicy.per_destination` codes
to one number or address and `CodePolicy.per_client` codes asked from one client address in
`CodePolicy.window` seconds. The service (`odr.services.codes`) counts, stores and sends;
the decisions are here.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from odr.domain.accounts import normalise_login
from odr.domain.errors import RateLimited, ValidationFailed


class Purpose(StrEnum):
    REGISTER = "register"
    CHANGE_CONTACT = "change_contact"
    RESET = "reset"
    ACTIVATE = "activate"
    SIGN = "sign"


class Medium(StrEnum):
    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class CodePolicy:
    """Every limit of one-time codes (`odr.config.Settings` reads them from ``ODR_CODE_*``)."""

    length: int = 6  # digits
    lifetime: int = 10 * 60  # seconds a code is valid
    max_attempts: int = 5  # wrong tries before the code is dead
    resend_interval: int = 60  # seconds between two codes of one purpose to one destination
    per_destination: int = 5  # codes to one number or address per window
    per_client: int = 20  # codes asked from one client address per window
    window: int = 60 * 60  # seconds

    def __post_init__(self) -> None:
        if not 4 <= self.length <= 10:
            raise ValueError("a one-time code has 4 to 10 digits")
        for name in (
            "lifetime",
            "max_attempts",
            "resend_interval",
            "per_destination",
            "per_client",
            "window",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"the one-time code {name} must be positive")

    @property
    def lifetime_minutes(self) -> int:
        return max(1, math.ceil(self.lifetime / 60))


def destination_of(raw: str) -> tuple[Medium, str]:
    """The medium and the normalised destination of a mobile number or an e-mail address
    (`ValidationFailed` ``invalid_login`` otherwise)."""
    kind, value = normalise_login(raw)
    return (Medium.SMS if kind == "mobile" else Medium.EMAIL), value


def generate(policy: CodePolicy, randbelow: Callable[[int], int]) -> str:
    """A new code of ``policy.length`` digits (``randbelow`` is `secrets.randbelow`)."""
    return "".join(str(randbelow(10)) for _ in range(policy.length))


def digest(secret: str, purpose: Purpose, destination: str, code: str) -> str:
    """What is stored of a code: an HMAC-SHA256 under the server's key, bound to the purpose
    and the destination (a code for one use is no code for another)."""
    message = f"{purpose.value}\n{destination}\n{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def matches(secret: str, purpose: Purpose, destination: str, code: str, stored: str) -> bool:
    """Whether ``code`` is the one stored (constant time; an empty ``stored`` never is)."""
    if not stored:
        return False
    return hmac.compare_digest(digest(secret, purpose, destination, code), stored)


def normalise_code(raw: str, policy: CodePolicy) -> str:
    """The code as typed: full-width digits and spaces allowed. ``code_invalid`` when it
    cannot be a code at all (no attempt is counted for it)."""
    code = unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "").replace("-", "")
    if len(code) != policy.length or not (code.isascii() and code.isdigit()):
        raise ValidationFailed(
            f"Enter the {policy.length}-digit code we sent you.",
            code="code_invalid",
            details={"field": "code"},
        )
    return code


@dataclass(frozen=True, slots=True)
class IssueHistory:
    """What the store knows when a new code is asked for."""

    last_issued_at: datetime | None  # the last code of this purpose to this destination
    to_destination: int  # codes sent to this destination in the window
    from_client: int  # codes asked from this client address in the window (0: unknown)


def check_issue(policy: CodePolicy, history: IssueHistory, now: datetime) -> None:
    """Refuse a new code when one was sent too recently, or a limit is reached."""
    if history.last_issued_at is not None:
        wait = history.last_issued_at + timedelta(seconds=policy.resend_interval) - now
        if wait > timedelta(0):
            raise RateLimited(
                "A code was sent a moment ago. Please wait before asking for another.",
                retry_after=max(1, math.ceil(wait.total_seconds())),
                code="code_resend_too_soon",
            )
    if history.to_destination >= policy.per_destination:
        raise RateLimited(
            "Too many codes were sent to this number or address. Please try again later.",
            retry_after=policy.window,
            code="code_limit_reached",
        )
    if history.from_client >= policy.per_client:
        raise RateLimited(
            "Too many codes were asked for from your connection. Please try again later.",
            retry_after=policy.window,
            code="code_limit_reached",
        )


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A stored code as the checks see it."""

    created_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None


def expiry(policy: CodePolicy, now: datetime) -> datetime:
    return now + timedelta(seconds=policy.lifetime)


def check_usable(policy: CodePolicy, code: IssuedCode | None, now: datetime) -> None:
    """Whether the latest code may still be tried. No code, or a used one, reads as a wrong
    code (nobody learns whether one was sent)."""
    if code is None or code.used_at is not None:
        raise wrong_code(policy, None)
    if code.attempts >= policy.max_attempts:
        raise ValidationFailed(
            "This code was entered wrongly too many times. Ask for a new code.",
            code="code_attempts_exceeded",
            details={"field": "code"},
        )
    if now >= code.expires_at:
        raise ValidationFailed(
            "This code has expired. Ask for a new code.",
            code="code_expired",
            details={"field": "code"},
        )


def wrong_code(policy: CodePolicy, attempts: int | None) -> ValidationFailed:
    """The error of a wrong code after ``attempts`` wrong tries (None: not counted)."""
    if attempts is not None and attempts >= policy.max_attempts:
        return ValidationFailed(
            "This code was entered wrongly too many times. Ask for a new code.",
            code="code_attempts_exceeded",
            details={"field": "code"},
        )
    details: dict[str, object] = {"field": "code"}
    if attempts is not None:
        details["attempts_left"] = policy.max_attempts - attempts
    return ValidationFailed("The code is wrong.", code="code_invalid", details=details)


def mask(medium: Medium, destination: str) -> str:
    """The destination as a page may show it: 138****0001, w***@example.com."""
    if medium is Medium.SMS:
        return destination[:3] + "****" + destination[-4:]
    local, _, domain = destination.partition("@")
    return (local[:1] or "*") + "***@" + domain
