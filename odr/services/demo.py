"""Demo data: two insurers, one mediation centre, one user per role, known passwords.

Only for development mode; the CLI refuses it in production. The TOTP secrets are fixed so
the printed codes work with any authenticator app or `odr totp-code`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import OrganisationKind, Role
from odr.services.accounts import NewUser, create_organisation, create_user
from odr.services.channels import create_channel
from odr.services.passwords import Passwords
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import User
from odr.storage.sealed import SecretBox

CHANNEL_NAME = "安康人寿 App"
CHANNEL_KEY = "demo-ankang-app"
CHANNEL_SECRET = "demo-channel-secret-not-for-production"  # noqa: S105 - demo mode only
DEMO_PASSWORD = "odr-demo-2026"  # noqa: S105 - printed at start; demo mode only

ORGANISATIONS: tuple[tuple[OrganisationKind, str, str, int | None], ...] = (
    (OrganisationKind.PLATFORM, "ODR 平台运营中心", "ODR Platform Operations", None),
    (OrganisationKind.INSURER, "安康人寿", "Ankang Life", 1_200_000),
    (OrganisationKind.INSURER, "华信财险", "Huaxin P&C", 800_000),
    (
        OrganisationKind.MEDIATION_CENTRE,
        "滨江保险纠纷调解中心",
        "Binjiang Insurance Mediation Centre",
        None,
    ),
)


@dataclass(frozen=True)
class DemoUser:
    login: str
    name: str
    role: Role
    organisation: str | None = None
    badge: str | None = None
    totp_secret: str | None = None
    birth_date: date | None = None
    is_admin: bool = False


USERS: tuple[DemoUser, ...] = (
    DemoUser("13800000001", "王芳", Role.CONSUMER, birth_date=date(1985, 4, 12)),
    DemoUser("13800000002", "李建国", Role.CONSUMER, birth_date=date(1952, 11, 2)),
    DemoUser(
        "rep@ankang.demo",
        "陈静 (安康人寿)",
        Role.INSURER_REP,
        "安康人寿",
        "AK-1001",
        "JBSWY3DPEHPK3PXPJBSWY3DP",
    ),
    DemoUser(
        "rep@huaxin.demo",
        "赵磊 (华信财险)",
        Role.INSURER_REP,
        "华信财险",
        "HX-2001",
        "KRSXG5DSNFXGOIDBKRSXG5DS",
    ),
    DemoUser(
        "mediator@binjiang.demo",
        "周敏 (调解员)",
        Role.MEDIATOR,
        "滨江保险纠纷调解中心",
        "MC-3001",
        "MFRGGZDFMZTWQ2LKMFRGGZDF",
    ),
    DemoUser(
        "lead@binjiang.demo",
        "孙涛 (调解中心主任)",
        Role.CENTRE_LEAD,
        "滨江保险纠纷调解中心",
        "MC-3000",
        "GEZDGNBVGY3TQOJQGEZDGNBV",
    ),
    DemoUser(
        "supervisor@odr.demo",
        "刘洋 (监管)",
        Role.SUPERVISOR,
        "ODR 平台运营中心",
        "SV-0001",
        "ONSWG4TFORXHEZLMONSWG4TF",
        is_admin=True,
    ),
)


async def seed(
    maker: async_sessionmaker[AsyncSession], passwords: Passwords, today: date, box: SecretBox
) -> bool:
    """Create the demo data when there are no users yet; False when there were. Second-factor
    secrets are sealed with ``box`` (the one of the server that will read them)."""
    async with UnitOfWork(maker) as uow:
        if await repo.count_users(uow.session) > 0:
            return False
    for kind, name, name_en, policies in ORGANISATIONS:
        async with UnitOfWork(maker) as uow:
            await create_organisation(
                uow, kind=kind, name=name, name_en=name_en, policy_count=policies
            )
    async with UnitOfWork(maker) as uow:
        await create_channel(
            uow, CHANNEL_NAME, "partner_api", api_key=CHANNEL_KEY, secret=CHANNEL_SECRET
        )
    for u in USERS:
        async with UnitOfWork(maker) as uow:
            await create_user(
                uow,
                passwords,
                NewUser(
                    login=u.login,
                    password=DEMO_PASSWORD,
                    display_name=u.name,
                    role=u.role,
                    organisation=u.organisation,
                    badge_number=u.badge,
                    totp_secret=u.totp_secret,
                    birth_date=u.birth_date,
                    is_admin=u.is_admin,
                ),
                today,
                box=box,
            )
    async with UnitOfWork(maker) as uow:  # the demo people's numbers and addresses are theirs
        now = datetime.now(UTC)
        await uow.session.execute(
            update(User).where(User.mobile.is_not(None)).values(mobile_verified_at=now)
        )
        await uow.session.execute(
            update(User).where(User.email.is_not(None)).values(email_verified_at=now)
        )
        await uow.commit()
    return True
