"""Partner channels and their API credentials."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.errors import Conflict, ValidationFailed
from odr.storage.db import UnitOfWork
from odr.storage.models import CaseRow, Channel, IdempotencyKey

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


@dataclass(frozen=True)
class Replay:
    """The case an earlier request with the same Idempotency-Key filed."""

    number: str
    state: str


class Channels:
    """What the channel API reads about channels, in sessions of its own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def active_by_key(self, api_key: str) -> Channel | None:
        async with self.sessionmaker() as s:
            return (
                await s.execute(
                    select(Channel).where(Channel.api_key == api_key, Channel.active.is_(True))
                )
            ).scalar_one_or_none()

    async def replay(self, channel_id: int, key: str, digest: str) -> Replay | None:
        """The earlier answer to this Idempotency-Key, None when it is new; a Conflict when it
        came with another body (``digest``, its SHA-256)."""
        async with self.sessionmaker() as s:
            row = await s.get(IdempotencyKey, (channel_id, key))
            if row is None:
                return None
            if row.body_sha256 != digest:
                raise Conflict(
                    "This Idempotency-Key was used with another request body.",
                    code="idempotency_key_reused",
                )
            case = await s.get(CaseRow, row.case_id)
            assert case is not None
            return Replay(case.number, case.state)
