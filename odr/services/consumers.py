"""Consumers filed for by someone else (a partner channel, a regulator referral)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Role, check_display_name, normalise_login
from odr.domain.errors import ValidationFailed
from odr.services.passwords import Passwords
from odr.storage import accounts as repo
from odr.storage.models import User


@dataclass(frozen=True)
class ConsumerIdentity:
    """Who the complaint is for, as the one filing it knows them."""

    name: str
    mobile: str


class ConsumerCreatedMeanwhile(Exception):
    """A concurrent request created the same consumer first: the transaction is spoilt;
    the whole unit of work is to be tried again (it will find the consumer)."""


async def find_or_create_consumer(
    session: AsyncSession, passwords: Passwords, who: ConsumerIdentity
) -> int:
    """The consumer with this mobile number, added to ``session`` when new (the caller
    commits). A created account has an unusable random password: the consumer sets their own
    when they first log in, by a code to this number (``/activate``)."""
    kind, value = normalise_login(who.mobile)
    if kind != "mobile":
        raise ValidationFailed(
            "Give the consumer's mobile number.",
            code="invalid_login",
            details={"field": "consumer.mobile"},
        )
    user = await repo.user_by_login(session, kind, value)
    if user is not None:
        if user.role != Role.CONSUMER.value:
            raise ValidationFailed(
                "This mobile number belongs to a staff account.",
                code="not_a_consumer",
                details={"field": "consumer.mobile"},
            )
        return user.id
    user = User(
        mobile=value,
        display_name=check_display_name(who.name),
        password_hash=await passwords.hash(secrets.token_urlsafe(32)),
        role=Role.CONSUMER.value,
        is_admin=False,
        care_mode=False,
        active=True,
        birth_date=None,
        password_set=False,  # the first login is an activation (`odr.services.account_codes`)
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise ConsumerCreatedMeanwhile(value) from None
    return user.id
