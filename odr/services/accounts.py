"""Use cases for accounts: registration, staff creation, login with a second factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import (
    ROLE_ORGANISATION_KIND,
    Actor,
    OrganisationKind,
    Role,
    check_badge_number,
    check_birth_date,
    check_display_name,
    check_password_policy,
    is_senior,
    normalise_login,
    requires_second_factor,
)
from odr.domain.authz import Action, authorize
from odr.domain.errors import Conflict, NotFound, RateLimited, Unauthenticated, ValidationFailed
from odr.domain.login_throttle import Scope, ThrottlePolicy, device_of, device_token, scopes
from odr.services.passwords import Passwords, new_totp_secret, verify_totp
from odr.services.ratelimit import RateLimiter
from odr.services.recovery_codes import looks_like_recovery_code, store_codes, use_code
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import Membership, Organisation, User
from odr.storage.sealed import SecretBox


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What the rest of the product needs to know about a logged-in user."""

    id: int
    display_name: str
    role: Role
    login: str
    organisation_id: int | None
    organisation_name: str | None
    badge_number: str | None
    is_admin: bool
    locale: str | None
    care_mode: bool
    has_second_factor: bool
    senior: bool = False  # aged 60 or more: care mode is offered (`odr.services.care`)

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.id,
            role=self.role,
            organisation_id=self.organisation_id,
            is_admin=self.is_admin,
        )


def user_info(user: User, today: date) -> UserInfo:
    membership = repo.active_membership(user, today)
    return UserInfo(
        id=user.id,
        display_name=user.display_name,
        role=Role(user.role),
        login=user.email or user.mobile or "",
        organisation_id=membership.organisation_id if membership else None,
        organisation_name=membership.organisation.name if membership else None,
        badge_number=membership.badge_number if membership else None,
        is_admin=user.is_admin,
        locale=user.locale,
        care_mode=user.care_mode,
        has_second_factor=user.totp_secret is not None,
        senior=is_senior(user.birth_date, today),
    )


@dataclass(frozen=True, slots=True)
class NewUser:
    login: str
    password: str
    display_name: str
    role: Role = Role.CONSUMER
    organisation: str | None = None  # organisation name, for staff
    badge_number: str | None = None  # for staff
    is_admin: bool = False
    birth_date: date | None = None
    locale: str | None = None
    totp_secret: str | None = None  # staff get a fresh one when not given


@dataclass(frozen=True, slots=True)
class CreatedUser:
    user: UserInfo
    totp_secret: str | None  # in clear, to show once; stored sealed
    recovery_codes: tuple[str, ...] = ()  # to show once with it; stored hashed


async def create_user(
    uow: UnitOfWork, passwords: Passwords, new: NewUser, today: date, *, box: SecretBox
) -> CreatedUser:
    """Create any account. Callers check who may do it (`register_consumer`,
    `create_staff_account`); the command line and the demo seed call it directly. A second
    factor is enrolled here (staff always): its secret is sealed with ``box`` and recovery
    codes are made with it."""
    kind, login = normalise_login(new.login)
    check_password_policy(new.password)
    name = check_display_name(new.display_name)
    check_birth_date(new.birth_date, today)
    if new.role is Role.CHANNEL:
        raise ValidationFailed("A channel is not a user.", details={"field": "role"})
    user = User(
        email=login if kind == "email" else None,
        mobile=login if kind == "mobile" else None,
        display_name=name,
        password_hash=await passwords.hash(new.password),
        role=new.role.value,
        is_admin=new.is_admin and new.role is Role.SUPERVISOR,
        locale=new.locale,
        birth_date=new.birth_date,
        care_mode=is_senior(new.birth_date, today),
    )
    secret = new.totp_secret or (new_totp_secret() if requires_second_factor(new.role) else None)
    if secret is not None:
        user.totp_secret = box.seal(secret)
    session = uow.session
    if await repo.user_by_login(session, kind, login) is not None:
        raise Conflict(
            "An account with this login already exists.",
            code="login_taken",
            details={"field": "login"},
        )
    if new.role is not Role.CONSUMER:
        user.memberships = [await _membership(uow, new, today)]
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "An account with this login or badge number already exists.",
            code="login_taken",
            details={"field": "login"},
        ) from None
    await session.refresh(user, ["memberships"])
    info = user_info(user, today)
    codes = await store_codes(session, box, user.id, now_utc()) if secret else []
    await uow.commit()
    return CreatedUser(info, secret, tuple(codes))


async def _membership(uow: UnitOfWork, new: NewUser, today: date) -> Membership:
    if not new.organisation:
        raise ValidationFailed(
            "Staff accounts belong to an organisation.",
            code="organisation_required",
            details={"field": "organisation"},
        )
    if not new.badge_number:
        raise ValidationFailed(
            "Staff accounts need a badge number.",
            code="badge_number_required",
            details={"field": "badge_number"},
        )
    badge = check_badge_number(new.badge_number)
    org = await repo.organisation_by_name(uow.session, new.organisation)
    if org is None:
        raise NotFound(
            "No such organisation.",
            code="organisation_not_found",
            details={"field": "organisation"},
        )
    if org.kind != ROLE_ORGANISATION_KIND[new.role].value:
        raise ValidationFailed(
            f"A {new.role.value} cannot belong to a {org.kind}.",
            code="wrong_organisation_kind",
            details={"field": "organisation"},
        )
    if await repo.membership_by_badge(uow.session, badge) is not None:
        raise Conflict(
            "This badge number is taken.",
            code="badge_number_taken",
            details={"field": "badge_number"},
        )
    return Membership(
        organisation_id=org.id, role=new.role.value, badge_number=badge, started_on=today
    )


async def register_consumer(
    uow: UnitOfWork,
    passwords: Passwords,
    *,
    box: SecretBox,
    login: str,
    password: str,
    display_name: str,
    birth_date: date | None,
    locale: str | None,
    today: date,
) -> UserInfo:
    new = NewUser(
        login=login,
        password=password,
        display_name=display_name,
        birth_date=birth_date,
        locale=locale,
    )
    return (await create_user(uow, passwords, new, today, box=box)).user


async def create_staff_account(
    uow: UnitOfWork,
    passwords: Passwords,
    actor: Actor,
    new: NewUser,
    today: date,
    *,
    box: SecretBox,
) -> CreatedUser:
    authorize(actor, Action.MANAGE_USERS)
    if new.role not in ROLE_ORGANISATION_KIND:
        raise ValidationFailed(
            "Choose a staff role.", code="invalid_role", details={"field": "role"}
        )
    return await create_user(uow, passwords, new, today, box=box)


async def create_organisation(
    uow: UnitOfWork,
    *,
    kind: OrganisationKind,
    name: str,
    name_en: str | None = None,
    policy_count: int | None = None,
) -> int:
    if await repo.organisation_by_name(uow.session, name) is not None:
        raise Conflict(
            "An organisation with this name exists.",
            code="organisation_exists",
            details={"field": "name"},
        )
    org = Organisation(kind=kind.value, name=name, name_en=name_en, policy_count=policy_count)
    uow.session.add(org)
    await uow.session.flush()
    await uow.commit()
    return org.id


# --- Login ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """The login service's settings: the failure rules (`odr.domain.login_throttle`) and the
    key that signs device tokens."""

    max_failures: int  # per account and address, or per known device
    window: int  # seconds
    device_secret: str = ""  # empty: no device is ever known
    account_failures: int = 50
    address_failures: int = 20
    first_delay: int = 60

    def throttle(self) -> ThrottlePolicy:
        return ThrottlePolicy(
            pair_failures=self.max_failures,
            account_failures=self.account_failures,
            address_failures=self.address_failures,
            window=self.window,
            first_delay=min(self.first_delay, self.window),
            max_delay=self.window,
        )


@dataclass(frozen=True, slots=True)
class LoginClient:
    """Who is trying: the client's address and the device token its browser presented."""

    address: str | None = None  # None: not known (a re-authentication inside the app)
    device_token: str | None = None


UNKNOWN_CLIENT = LoginClient()


class Logins:
    """Password check, second factor and the failure limits, as one service."""

    def __init__(
        self, passwords: Passwords, limiter: RateLimiter, policy: LoginPolicy, box: SecretBox
    ) -> None:
        self.passwords = passwords
        self.box = box
        self.limiter = limiter
        self.policy = policy
        self.throttle = policy.throttle()

    def _keys(self, login: str, client: LoginClient) -> list[tuple[Scope, str]]:
        device = (
            device_of(self.policy.device_secret, client.device_token, login)
            if self.policy.device_secret
            else None
        )
        names = {
            Scope.PAIR: f"{login}|{client.address or '-'}",
            Scope.DEVICE: f"{login}|{device}",
            Scope.ACCOUNT: login,
            Scope.ADDRESS: client.address or "",
        }
        return [
            (scope, f"login:{scope}:{names[scope]}")
            for scope in scopes(device is not None)
            if names[scope]
        ]

    def _too_many(self, retry_after: int) -> RateLimited:
        return RateLimited(
            "Too many failed attempts. Please wait and try again.",
            retry_after=retry_after,
            code="too_many_attempts",
        )

    async def _refuse_when_delayed(self, login: str, client: LoginClient) -> None:
        waits = [(await self.limiter.peek(f"{key}:wait")) for _, key in self._keys(login, client)]
        longest = max((w.retry_after for w in waits if w.count), default=0)
        if longest:
            raise self._too_many(longest)

    async def _failed(
        self, login: str, client: LoginClient, error: Unauthenticated
    ) -> Unauthenticated | RateLimited:
        longest = 0
        for scope, key in self._keys(login, client):
            window = await self.limiter.hit(key, self.throttle.window)
            delay = self.throttle.delay(scope, window.count)
            if delay:
                await self.limiter.reset(f"{key}:wait")
                await self.limiter.hit(f"{key}:wait", delay)
                longest = max(longest, delay)
        return self._too_many(longest) if longest else error

    async def succeeded(self, login: str, client: LoginClient = UNKNOWN_CLIENT) -> None:
        """The owner got in: their own failures (this address or device) are forgotten; the
        account's and the address's wider counts stay."""
        for scope, key in self._keys(login, client):
            if scope in (Scope.PAIR, Scope.DEVICE):
                await self.limiter.reset(key)
                await self.limiter.reset(f"{key}:wait")

    def new_device_token(self, login: str) -> str | None:
        """A token to keep in the browser that just logged in (None without a secret)."""
        return device_token(self.policy.device_secret, login) if self.policy.device_secret else None

    async def check_password(
        self,
        uow: UnitOfWork,
        login: str,
        password: str,
        today: date,
        client: LoginClient = UNKNOWN_CLIENT,
    ) -> UserInfo:
        """First step: the password. Staff still need `check_second_factor`."""
        try:
            kind, value = normalise_login(login)
        except ValidationFailed:
            kind, value = "email", login.strip().lower()
        await self._refuse_when_delayed(value, client)
        user = await repo.user_by_login(uow.session, kind, value)
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            raise await self._failed(
                value,
                client,
                Unauthenticated("The login or the password is wrong.", code="invalid_credentials"),
            )
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
            await uow.commit()
        return user_info(user, today)

    async def check_second_factor(
        self,
        uow: UnitOfWork,
        user_id: int,
        code: str | None,
        today: date,
        at: datetime | None = None,
        client: LoginClient = UNKNOWN_CLIENT,
    ) -> UserInfo:
        user = await repo.user_by_id(uow.session, user_id)
        if user is None or not user.active:
            raise Unauthenticated("Please log in again.", code="unauthenticated")
        if user.totp_secret is None:
            if requires_second_factor(Role(user.role)):
                raise Unauthenticated(
                    "This staff account has no second factor set up.", code="otp_not_enrolled"
                )
            return user_info(user, today)
        login = user.email or user.mobile or str(user.id)
        await self._refuse_when_delayed(login, client)
        if not code:
            raise Unauthenticated(
                "Enter the 6-digit code from your authenticator app.", code="otp_required"
            )
        if looks_like_recovery_code(code):
            ok = await use_code(uow.session, self.box, user.id, code, at or now_utc())
        else:
            step = verify_totp(
                self.box.open(user.totp_secret),
                code,
                user.totp_last_step,
                at.timestamp() if at else None,
            )
            ok = step is not None
            if step is not None:
                user.totp_last_step = step
        if not ok:
            raise await self._failed(
                login,
                client,
                Unauthenticated("The code is wrong or has expired.", code="otp_invalid"),
            )
        await uow.commit()
        await self.succeeded(login, client)
        return user_info(user, today)

    async def login(
        self,
        uow: UnitOfWork,
        login: str,
        password: str,
        otp: str | None,
        today: date,
        client: LoginClient = UNKNOWN_CLIENT,
    ) -> UserInfo:
        """Both steps at once (the JSON API)."""
        info = await self.check_password(uow, login, password, today, client)
        if info.has_second_factor or requires_second_factor(info.role):
            return await self.check_second_factor(uow, info.id, otp, today, client=client)
        await self.succeeded(info.login, client)
        return info


async def load_user(uow: UnitOfWork, user_id: int, today: date) -> UserInfo | None:
    user = await repo.user_by_id(uow.session, user_id)
    if user is None or not user.active:
        return None
    return user_info(user, today)


def now_utc() -> datetime:
    return datetime.now(UTC)


class Accounts:
    """The account use cases as the server calls them: each owns its unit of work."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords, logins: Logins
    ) -> None:
        self.sessionmaker = sessionmaker
        self.passwords = passwords
        self.logins = logins
        self.box = logins.box

    async def create_staff_account(self, actor: Actor, new: NewUser, today: date) -> CreatedUser:
        async with UnitOfWork(self.sessionmaker) as uow:
            return await create_staff_account(uow, self.passwords, actor, new, today, box=self.box)

    async def login(
        self,
        login: str,
        password: str,
        otp: str | None,
        today: date,
        client: LoginClient = UNKNOWN_CLIENT,
    ) -> UserInfo:
        """Both steps at once (the JSON API)."""
        async with UnitOfWork(self.sessionmaker) as uow:
            return await self.logins.login(uow, login, password, otp, today, client)

    async def check_password(
        self, login: str, password: str, today: date, client: LoginClient = UNKNOWN_CLIENT
    ) -> UserInfo:
        async with UnitOfWork(self.sessionmaker) as uow:
            return await self.logins.check_password(uow, login, password, today, client)

    async def check_second_factor(
        self, user_id: int, code: str | None, today: date, client: LoginClient = UNKNOWN_CLIENT
    ) -> UserInfo:
        async with UnitOfWork(self.sessionmaker) as uow:
            return await self.logins.check_second_factor(uow, user_id, code, today, client=client)

    async def organisations(self) -> list[Organisation]:
        """Every organisation, by id (read whole: usable after the session closed)."""
        async with self.sessionmaker() as s:
            return await repo.list_organisations(s)

    async def active_insurers(self) -> list[Organisation]:
        """The insurers a complaint can be filed against, by id."""
        return [
            o
            for o in await self.organisations()
            if o.kind == OrganisationKind.INSURER.value and o.active
        ]
