"""Recovery codes of a second factor: made at enrolment and shown once, stored as keyed
hashes (`odr.storage.sealed.SecretBox.code_hash`), each usable once instead of the
authenticator's code.

A code is 10 characters of a 31-letter alphabet without look-alikes (about 50 bits), shown
as ``xxxxx-xxxxx``; typing it with or without the dash, in any case, with full-width
characters, is the same code.
"""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from odr.storage.models import RecoveryCode
from odr.storage.sealed import SecretBox

COUNT = 10
LENGTH = 10
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i, l, o, 0, 1


def new_codes(count: int = COUNT) -> list[str]:
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(count)]
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def normalise(code: str) -> str:
    text = unicodedata.normalize("NFKC", code).strip().lower()
    return text.replace("-", "").replace(" ", "")


def looks_like_recovery_code(code: str) -> bool:
    text = normalise(code)
    return len(text) == LENGTH and all(ch in ALPHABET for ch in text)


async def store_codes(
    session: AsyncSession, box: SecretBox, user_id: int, now: datetime
) -> list[str]:
    """Replace the user's codes by new ones; the new codes, to show once."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = new_codes()
    for code in codes:
        session.add(
            RecoveryCode(user_id=user_id, code_hash=box.code_hash(normalise(code)), created_at=now)
        )
    await session.flush()
    return codes


async def use_code(
    session: AsyncSession, box: SecretBox, user_id: int, code: str, now: datetime
) -> bool:
    """Spend one of the user's unused codes; False when ``code`` is none of them."""
    if not looks_like_recovery_code(code):
        return False
    hashes = box.code_hashes(normalise(code))
    # one statement: of two logins racing with the same code, one spends it
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash.in_(hashes),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def remaining(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def drop_codes(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
