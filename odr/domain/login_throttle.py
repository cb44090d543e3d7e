"""How failed logins slow further attempts, without letting a stranger lock anyone out.

Failures are counted in several scopes at once, each with its own threshold:

- the account *and* the client address together (or the account on a device that logged into
  it before): a few failures, then delays that double up to a ceiling. A stranger guessing at
  someone's mobile number slows only themself; the owner, elsewhere, is not affected;
- the account from devices it has never been used on, any address: a high threshold, so that
  guessing spread over many addresses is slowed too, while the owner on a known device still
  gets in;
- the client address, any account: slows password spraying across accounts.

Pure rules; the service keeps the counters (`odr.services.accounts.Logins`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    PAIR = "pair"  # this account from this address
    DEVICE = "device"  # this account on a device it was used on before
    ACCOUNT = "account"  # this account from unknown devices, any address
    ADDRESS = "address"  # this address, any account


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    pair_failures: int = 5
    account_failures: int = 50
    address_failures: int = 20
    window: int = 15 * 60  # seconds in which failures are counted
    first_delay: int = 60  # seconds to wait once a threshold is reached; doubles after
    max_delay: int = 15 * 60

    def __post_init__(self) -> None:
        if min(self.pair_failures, self.account_failures, self.address_failures) < 1:
            raise ValueError("login thresholds must be at least 1")
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError("the first login delay must be positive and at most the ceiling")

    def threshold(self, scope: Scope) -> int:
        if scope is Scope.ACCOUNT:
            return self.account_failures
        if scope is Scope.ADDRESS:
            return self.address_failures
        return self.pair_failures

    def delay(self, scope: Scope, failures: int) -> int:
        """Seconds to wait after ``failures`` failures in ``scope``: none below its threshold,
        then ``first_delay``, doubling with each further failure, at most ``max_delay``."""
        over = failures - self.threshold(scope)
        if over < 0:
            return 0
        return min(self.max_delay, self.first_delay * (1 << min(over, 30)))


def scopes(known_device: bool) -> tuple[Scope, ...]:
    """The scopes an attempt counts in: a known device only in its own."""
    if known_device:
        return (Scope.DEVICE,)
    return (Scope.PAIR, Scope.ACCOUNT, Scope.ADDRESS)


# --- device tokens: "this browser logged into this account before" ---------------------------


def device_token(secret: str, login: str) -> str:
    """A new token for a device that just logged in as ``login``: a random id and a MAC that
    binds it to the login, so one account's token says nothing about another account."""
    device = secrets.token_urlsafe(12)
    return f"{device}.{_mac(secret, device, login)}"


def device_of(secret: str, token: str | None, login: str) -> str | None:
    """The device id of ``token`` if it was issued for ``login``; otherwise None."""
    if not token or token.count(".") != 1 or len(token) > 128:
        return None
    device, mac = token.split(".")
    if not device or not hmac.compare_digest(mac, _mac(secret, device, login)):
        return None
    return device


def _mac(secret: str, device: str, login: str) -> str:
    message = f"odr-device|{device}|{login}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
