"""Secrets at rest: values sealed with keys derived from the server's secret key.

The TOTP secrets of second factors are stored sealed (AES-256-GCM); recovery codes are stored
as keyed hashes (HMAC-SHA-256). Both keys are derived from ``ODR_SECRET_KEY`` with HKDF-SHA-256,
one key per purpose, so neither is the secret key itself and neither can stand in for the
other.

A sealed value reads ``s1$<key id>$<base64url(nonce | ciphertext | tag)>``; the key id (the
first 8 hex digits of the SHA-256 of the derived key) names the key that sealed it, so after a
rotation values sealed with a previous key (``ODR_PREVIOUS_SECRET_KEYS``) are still read, and
`odr reseal-secrets` seals them again with the current one. See docs/secret-keys.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "s1"
_TOTP_INFO = b"odr/totp-secrets/v1"
_RECOVERY_INFO = b"odr/recovery-codes/v1"
_NONCE = 12


class UnreadableSecret(Exception):
    """A sealed value that none of the configured keys opens (a key is missing)."""


def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_key.encode()
    )


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX + "$")


class SecretBox:
    """Seals and opens stored secrets with the current key; opens with previous keys too."""

    def __init__(self, secret_key: str, previous: Iterable[str] = ()) -> None:
        if not secret_key:
            raise ValueError("a secret key is needed to seal secrets")
        keys = [secret_key, *[k for k in previous if k and k != secret_key]]
        self._totp = [_derive(k, _TOTP_INFO) for k in keys]
        self._recovery = [_derive(k, _RECOVERY_INFO) for k in keys]
        self._by_id = {_key_id(k): k for k in self._totp}

    @property
    def current_key_id(self) -> str:
        return _key_id(self._totp[0])

    def seal(self, plain: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self._totp[0]).encrypt(nonce, plain.encode(), PREFIX.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}${self.current_key_id}${body}"

    def open(self, value: str) -> str:
        parts = value.split("$")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise UnreadableSecret("not a sealed value")
        key = self._by_id.get(parts[1])
        if key is None:
            raise UnreadableSecret(
                f"sealed with key {parts[1]}, which is not configured (ODR_PREVIOUS_SECRET_KEYS)"
            )
        raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        try:
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], PREFIX.encode()).decode()
        except InvalidTag:
            raise UnreadableSecret("the sealed value was altered") from None

    def needs_reseal(self, value: str) -> bool:
        return not value.startswith(f"{PREFIX}${self.current_key_id}$")

    def code_hash(self, code: str) -> str:
        """The stored form of a recovery code, under the current key."""
        return hmac.new(self._recovery[0], code.encode(), hashlib.sha256).hexdigest()

    def code_hashes(self, code: str) -> list[str]:
        """The code's hash under every configured key (codes made before a rotation)."""
        return [hmac.new(k, code.encode(), hashlib.sha256).hexdigest() for k in self._recovery]
