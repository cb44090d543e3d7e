"""Care mode (老年人关爱): a larger, simpler interface, on by default for consumers aged 60 or
more and switched on or off by anyone; the choice is kept on the account."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.errors import NotFound
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork


async def set_care_mode(uow: UnitOfWork, user_id: int, on: bool) -> None:
    """Remember the user's choice."""
    user = await repo.user_by_id(uow.session, user_id)
    if user is None:
        raise NotFound("No such user.", code="not_found")
    if user.care_mode != on:
        user.care_mode = on
    await uow.commit()


class Care:
    """`set_care_mode` in a unit of work of its own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def set_care_mode(self, user_id: int, on: bool) -> None:
        async with UnitOfWork(self.sessionmaker) as uow:
            await set_care_mode(uow, user_id, on)
