"""Partner channels and their API credentials."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from odr.domain.errors import Conflict, ValidationFailed
from odr.storage.db import UnitOfWork
from odr.storage.models import Channel

KINDS = ("partner_api", "hotline")


@dataclass(frozen=True)
class ChannelCredentials:
    channel_id: int
    api_key: str
    secret: str


async def create_channel(
    uow: UnitOfWork, name: str, kind: str, *, api_key: str | None = None, secret: str | None = None
) -> ChannelCredentials:
    """A new channel; its secret is shown once, here."""
    if kind not in KINDS:
        raise ValidationFailed(
            f"A channel is one of {', '.join(KINDS)}.",
            code="invalid_channel_kind",
            details={"field": "kind"},
        )
    exists = await uow.session.execute(select(Channel.id).where(Channel.name == name))
    if exists.scalar_one_or_none() is not None:
        raise Conflict(
            "A channel with this name exists.", code="channel_exists", details={"field": "name"}
        )
    channel = Channel(
        name=name,
        kind=kind,
        api_key=api_key or f"odr_{secrets.token_hex(12)}",
        secret=secret or secrets.token_urlsafe(32),
        active=True,
    )
    uow.session.add(channel)
    await uow.session.flush()
    credentials = ChannelCredentials(channel.id, channel.api_key, channel.secret)
    await uow.commit()
    return credentials
