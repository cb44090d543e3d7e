"""Consumers filed for by someone else (a partner channel, a regulator referral)."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError

from odr.domain.accounts import Role, check_display_name, normalise_login
from odr.domain.errors import ValidationFailed
from odr.services.passwords import Passwords
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import User


async def find_or_create_consumer(
    uow: UnitOfWork, passwords: Passwords, name: str, mobile: str
) -> int:
    """The consumer with this mobile number, created when new. A created account has an
    unusable random password: the consumer sets their own when they first log in by SMS."""
    kind, value = normalise_login(mobile)
    if kind != "mobile":
        raise ValidationFailed(
            "Give the consumer's mobile number.",
            code="invalid_login",
            details={"field": "consumer.mobile"},
        )
    user = await repo.user_by_login(uow.session, kind, value)
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
        display_name=check_display_name(name),
        password_hash=await passwords.hash(secrets.token_urlsafe(32)),
        role=Role.CONSUMER.value,
        is_admin=False,
        care_mode=False,
        active=True,
        birth_date=None,
    )
    uow.session.add(user)
    try:
        await uow.session.flush()
    except IntegrityError:  # created by a concurrent request a moment ago
        await uow.session.rollback()
        again = await repo.user_by_login(uow.session, kind, value)
        if again is None:
            raise
        return again.id
    user_id = user.id
    await uow.commit()
    return user_id
