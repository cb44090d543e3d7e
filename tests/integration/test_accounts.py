"""Account use cases on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy.orm.exc import StaleDataError

from odr.domain.accounts import Actor, OrganisationKind, Role
from odr.domain.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from odr.services import accounts
from odr.services.accounts import LoginPolicy, Logins, NewUser
from odr.services.passwords import current_totp
from odr.services.ratelimit import MemoryRateLimiter
from odr.storage.db import UnitOfWork, make_engine, make_sessionmaker
from odr.storage.models import User
from odr.storage.sealed import SecretBox
from tests.conftest import FAST_PASSWORDS

TODAY = date(2026, 11, 22)
BOX = SecretBox("k" * 40)


@pytest.fixture
async def maker(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    for kind, name in [
        (OrganisationKind.INSURER, "安康人寿"),
        (OrganisationKind.MEDIATION_CENTRE, "滨江调解中心"),
        (OrganisationKind.PLATFORM, "平台"),
    ]:
        async with UnitOfWork(maker) as uow:
            await accounts.create_organisation(uow, kind=kind, name=name)
    yield maker
    await engine.dispose()


async def test_register_then_log_in(maker) -> None:  # type: ignore[no-untyped-def]
    async with UnitOfWork(maker) as uow:
        user = await accounts.register_consumer(
            uow,
            FAST_PASSWORDS,
            box=BOX,
            login="13800000009",
            password="good-pass-123",
            display_name="王芳",
            birth_date=date(1950, 1, 1),
            locale="zh-CN",
            today=TODAY,
        )
    assert user.role is Role.CONSUMER and user.care_mode  # 76 years old: care mode
    async with UnitOfWork(maker) as uow:
        stored = await uow.session.get(User, user.id)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert "good-pass-123" not in stored.password_hash
    logins = Logins(FAST_PASSWORDS, MemoryRateLimiter(), LoginPolicy(5, 900), BOX)
    async with UnitOfWork(maker) as uow:
        again = await logins.login(uow, "+86 13800000009", "good-pass-123", None, TODAY)
    assert again.id == user.id


async def test_duplicate_login_is_a_conflict_and_writes_nothing(maker) -> None:  # type: ignore[no-untyped-def]
    new = NewUser(login="a@example.com", password="good-pass-123", display_name="A")
    async with UnitOfWork(maker) as uow:
        await accounts.create_user(uow, FAST_PASSWORDS, new, TODAY, box=BOX)
    with pytest.raises(Conflict) as err:
        async with UnitOfWork(maker) as uow:
            await accounts.create_user(uow, FAST_PASSWORDS, new, TODAY, box=BOX)
    assert err.value.code == "login_taken"


async def test_staff_accounts_need_an_admin_and_a_matching_organisation(maker) -> None:  # type: ignore[no-untyped-def]
    new = NewUser(
        login="rep@ak.example",
        password="good-pass-123",
        display_name="Rep",
        role=Role.INSURER_REP,
        organisation="安康人寿",
        badge_number="AK-1",
    )
    plain_supervisor = Actor(99, Role.SUPERVISOR, 3)
    with pytest.raises(Forbidden):
        async with UnitOfWork(maker) as uow:
            await accounts.create_staff_account(
                uow, FAST_PASSWORDS, plain_supervisor, new, TODAY, box=BOX
            )
    admin = Actor(99, Role.SUPERVISOR, 3, is_admin=True)
    async with UnitOfWork(maker) as uow:
        created = await accounts.create_staff_account(
            uow, FAST_PASSWORDS, admin, new, TODAY, box=BOX
        )
    assert created.totp_secret  # staff always get a second factor
    assert created.user.organisation_name == "安康人寿"
    assert created.user.badge_number == "AK-1"
    wrong_kind = NewUser(
        login="m@ak.example",
        password="good-pass-123",
        display_name="M",
        role=Role.MEDIATOR,
        organisation="安康人寿",
        badge_number="MC-1",
    )
    with pytest.raises(ValidationFailed) as err:
        async with UnitOfWork(maker) as uow:
            await accounts.create_staff_account(
                uow, FAST_PASSWORDS, admin, wrong_kind, TODAY, box=BOX
            )
    assert err.value.code == "wrong_organisation_kind"
    nowhere = NewUser(
        login="x@ak.example",
        password="good-pass-123",
        display_name="X",
        role=Role.INSURER_REP,
        organisation="无此公司",
        badge_number="XX-1",
    )
    with pytest.raises(NotFound):
        async with UnitOfWork(maker) as uow:
            await accounts.create_staff_account(uow, FAST_PASSWORDS, admin, nowhere, TODAY, box=BOX)
    taken = NewUser(
        login="y@ak.example",
        password="good-pass-123",
        display_name="Y",
        role=Role.INSURER_REP,
        organisation="安康人寿",
        badge_number="ak-1",
    )
    with pytest.raises(Conflict) as err2:
        async with UnitOfWork(maker) as uow:
            await accounts.create_staff_account(uow, FAST_PASSWORDS, admin, taken, TODAY, box=BOX)
    assert err2.value.code == "badge_number_taken"


async def test_totp_codes_cannot_be_replayed(maker) -> None:  # type: ignore[no-untyped-def]
    new = NewUser(
        login="med@c.example",
        password="good-pass-123",
        display_name="Med",
        role=Role.MEDIATOR,
        organisation="滨江调解中心",
        badge_number="MC-9",
    )
    async with UnitOfWork(maker) as uow:
        created = await accounts.create_user(uow, FAST_PASSWORDS, new, TODAY, box=BOX)
    assert created.totp_secret
    logins = Logins(FAST_PASSWORDS, MemoryRateLimiter(), LoginPolicy(5, 900), BOX)
    with pytest.raises(Unauthenticated) as err:
        async with UnitOfWork(maker) as uow:
            await logins.login(uow, "med@c.example", "good-pass-123", None, TODAY)
    assert err.value.code == "otp_required"
    code = current_totp(created.totp_secret)
    async with UnitOfWork(maker) as uow:
        await logins.login(uow, "med@c.example", "good-pass-123", code, TODAY)
    with pytest.raises(Unauthenticated) as err:
        async with UnitOfWork(maker) as uow:
            await logins.login(uow, "med@c.example", "good-pass-123", code, TODAY)
    assert err.value.code == "otp_invalid"


async def test_concurrent_writers_one_wins(maker) -> None:  # type: ignore[no-untyped-def]
    """The version column: two sessions change the same user; the second gets StaleDataError."""
    async with UnitOfWork(maker) as uow:
        created = await accounts.create_user(
            uow,
            FAST_PASSWORDS,
            NewUser(login="v@example.com", password="good-pass-123", display_name="V"),
            TODAY,
            box=BOX,
        )
    uid = created.user.id
    async with UnitOfWork(maker) as first, UnitOfWork(maker) as second:
        one = await first.session.get(User, uid)
        two = await second.session.get(User, uid)
        assert one is not None and two is not None
        one.display_name = "first"
        await first.commit()
        two.display_name = "second"
        with pytest.raises(StaleDataError):
            await second.commit()
    async with UnitOfWork(maker) as uow:
        stored = await uow.session.get(User, uid)
        assert stored is not None and stored.display_name == "first" and stored.version == 2


async def test_a_uow_without_commit_writes_nothing(maker) -> None:  # type: ignore[no-untyped-def]
    async with UnitOfWork(maker) as uow:
        uow.session.add(
            User(
                email="ghost@example.com",
                display_name="G",
                password_hash="x",
                role="consumer",
                care_mode=False,
                is_admin=False,
                active=True,
            )
        )
        await uow.session.flush()
    async with UnitOfWork(maker) as uow:
        from odr.storage.accounts import user_by_login

        assert await user_by_login(uow.session, "email", "ghost@example.com") is None
    await asyncio.sleep(0)


async def test_authorisation_sees_stored_roles_and_memberships(maker) -> None:  # type: ignore[no-untyped-def]
    """An actor built from the database: staff act for their organisation while employed."""
    from sqlalchemy import update

    from odr.domain.authz import Action, CaseScope, authorize
    from odr.storage.models import Membership

    new = NewUser(
        login="rep2@ak.example",
        password="good-pass-123",
        display_name="Rep",
        role=Role.INSURER_REP,
        organisation="安康人寿",
        badge_number="AK-2",
    )
    async with UnitOfWork(maker) as uow:
        created = await accounts.create_user(uow, FAST_PASSWORDS, new, TODAY, box=BOX)
    insurer_id = created.user.organisation_id
    assert insurer_id is not None
    case = CaseScope(consumer_id=1, insurer_id=insurer_id)
    async with UnitOfWork(maker) as uow:
        info = await accounts.load_user(uow, created.user.id, TODAY)
    assert info is not None
    authorize(info.actor, Action.ANSWER_COMPLAINT, case)
    authorize(info.actor, Action.VIEW_INSURER_INBOX)
    async with UnitOfWork(maker) as uow:
        await uow.session.execute(update(Membership).values(ended_on=TODAY))
        await uow.commit()
    async with UnitOfWork(maker) as uow:
        info = await accounts.load_user(uow, created.user.id, TODAY)
    assert info is not None and info.organisation_id is None
    with pytest.raises(NotFound):
        authorize(info.actor, Action.VIEW_CASE, case)
    with pytest.raises(Forbidden):
        authorize(info.actor, Action.VIEW_INSURER_INBOX)
