"""Account flows proved by a one-time code: registration, password reset, activation of an
account someone else created, and signing by SMS code.

- **Registration** asks for a code to the mobile number (or e-mail address) first; the
  account exists only once the code is confirmed, with that contact marked verified. A login
  already registered gets the same answer and counts against the same limits, but nothing is
  sent (`Codes.issue` with ``deliver=False``): the form never tells whether a number has an
  account.
- **Password reset** ("忘记密码"): a code to the account's mobile or e-mail, then a new
  password; every login session of the account ends. The answer is the same whether or not
  the account exists.
- **Activation**: a consumer created by a partner channel or a regulator referral
  (`odr.services.consumers`) has no password of their own (``User.password_set`` false); the
  same steps set it (purpose ``activate``), and their mobile is then verified.
- **Signing by SMS code**: a code to the signer's verified mobile, bound to the case and the
  hash of the text; the signature records the method ``sms_code`` (staff: ``sms_code+totp``,
  their authenticator code is still needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import (
    Role,
    check_birth_date,
    check_display_name,
    check_password_policy,
    is_senior,
    normalise_login,
)
from odr.domain.errors import Conflict, Forbidden, ValidationFailed
from odr.domain.one_time_codes import Medium, Purpose, wrong_code
from odr.services.accounts import UserInfo, user_info
from odr.services.codes import Codes, CodeSent, UsedCode
from odr.services.login_sessions import end_sessions
from odr.services.passwords import Passwords
from odr.storage import accounts as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import User


@dataclass(frozen=True, slots=True)
class SigningCode:
    """What a signing code is bound to: the case and the hash of the text read."""

    case_id: int
    sha256: str


class AccountCodes:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        passwords: Passwords,
        codes: Codes,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.passwords = passwords
        self.codes = codes

    async def _user(self, login: str) -> User | None:
        kind, value = normalise_login(login)
        async with self.sessionmaker() as s:
            return await repo.user_by_login(s, kind, value)

    # --- registration --------------------------------------------------------------------

    async def start_registration(
        self,
        *,
        login: str,
        password: str,
        display_name: str,
        birth_date: date | None,
        locale: str | None,
        today: date,
        client: str | None = None,
    ) -> CodeSent:
        """Check the form, then send a code to the login (a mobile number by SMS, an e-mail
        address by e-mail). Nothing is created yet."""
        _, value = normalise_login(login)
        check_password_policy(password)
        name = check_display_name(display_name)
        check_birth_date(birth_date, today)
        password_hash = await self.passwords.hash(password)  # the same work either way
        taken = await self._user(value) is not None
        return await self.codes.issue(
            Purpose.REGISTER,
            value,
            client=client,
            payload=None
            if taken
            else {
                "password_hash": password_hash,
                "display_name": name,
                "birth_date": birth_date.isoformat() if birth_date else None,
                "locale": locale,
            },
            deliver=not taken,
            language=locale,
        )

    async def confirm_registration(self, *, login: str, code: str, today: date) -> UserInfo:
        """The code was right: the consumer's account, with the login verified."""
        async with UnitOfWork(self.sessionmaker) as uow:
            s = uow.session
            used = await self.codes.consume_in(s, Purpose.REGISTER, login, code)
            p = used.payload
            if not p:
                raise wrong_code(self.codes.policy, None)
            kind = "mobile" if used.medium is Medium.SMS else "email"
            taken = Conflict(
                "An account with this login already exists.",
                code="login_taken",
                details={"field": "login"},
            )
            if await repo.user_by_login(s, kind, used.destination) is not None:
                raise taken  # registered meanwhile, by another code
            now = self.codes.clock()
            birth = date.fromisoformat(p["birth_date"]) if p.get("birth_date") else None
            user = User(
                email=used.destination if kind == "email" else None,
                mobile=used.destination if kind == "mobile" else None,
                display_name=str(p["display_name"]),
                password_hash=str(p["password_hash"]),
                role=Role.CONSUMER.value,
                is_admin=False,
                locale=p.get("locale"),
                birth_date=birth,
                care_mode=is_senior(birth, today),
                active=True,
                password_set=True,
                mobile_verified_at=now if kind == "mobile" else None,
                email_verified_at=now if kind == "email" else None,
            )
            s.add(user)
            try:
                await s.flush()
            except IntegrityError:
                raise taken from None
            await s.refresh(user, ["memberships"])
            info = user_info(user, today)
            await uow.commit()
            return info

    async def resend(self, purpose: Purpose, login: str, *, client: str | None = None) -> CodeSent:
        """Another code for the same request (after the resend interval): what the last code
        of ``purpose`` to ``login`` was issued for, again; nothing is sent when nothing was."""
        last = await self.codes.last_issued(purpose, login)
        return await self.codes.issue(
            purpose,
            login,
            client=client,
            user_id=last.user_id if last else None,
            payload=last.payload if last else None,
            deliver=bool(last and last.delivered),
            language=(last.payload or {}).get("locale") if last else None,
        )

    # --- password reset and activation ---------------------------------------------------

    @staticmethod
    def _password_purpose(user: User | None) -> Purpose:
        return Purpose.ACTIVATE if user is not None and not user.password_set else Purpose.RESET

    @staticmethod
    def _may_recover(user: User | None) -> bool:
        return user is not None and user.active and getattr(user, "closed_at", None) is None

    async def request_password_code(
        self, *, login: str, client: str | None = None, language: str | None = None
    ) -> CodeSent:
        """A code to set a new password (or a first one: activation), to the login given when
        it is an account's mobile or e-mail. The same answer for a login without account."""
        _, value = normalise_login(login)
        user = await self._user(value)
        ok = self._may_recover(user)
        return await self.codes.issue(
            self._password_purpose(user if ok else None),
            value,
            client=client,
            user_id=user.id if ok and user else None,
            deliver=ok,
            language=(user.locale if user else None) or language,
        )

    async def resend_password_code(self, *, login: str, client: str | None = None) -> CodeSent:
        user = await self._user(login)
        ok = self._may_recover(user)
        return await self.resend(self._password_purpose(user if ok else None), login, client=client)

    async def reset_password(
        self, *, login: str, code: str, password: str, today: date
    ) -> UserInfo:
        """The code was right: the new password is set, the contact the code went to is
        verified, and every login session of the account is ended (the caller logs this
        browser in anew)."""
        check_password_policy(password)
        new_hash = await self.passwords.hash(password)
        kind, value = normalise_login(login)
        async with UnitOfWork(self.sessionmaker) as uow:
            s = uow.session
            user = await repo.user_by_login(s, kind, value)
            ok = self._may_recover(user)
            purpose = self._password_purpose(user if ok else None)
            used = await self.codes.consume_in(s, purpose, value, code)
            if user is None or not ok or used.user_id != user.id:
                raise wrong_code(self.codes.policy, None)
            now = self.codes.clock()
            user.password_hash = new_hash
            user.password_set = True
            if used.medium is Medium.SMS:
                user.mobile_verified_at = now
            else:
                user.email_verified_at = now
            await end_sessions(s, user.id, now)
            info = user_info(user, today)
            await uow.commit()
            return info

    # --- signing by SMS code -------------------------------------------------------------

    async def _signer(self, user_id: int | None) -> User:
        if user_id is None:
            raise Forbidden("Only people sign.", code="forbidden")
        async with self.sessionmaker() as s:
            user = await repo.user_by_id(s, user_id)
        if user is None or not user.active:
            raise Forbidden("Only people sign.", code="forbidden")
        if not user.mobile or user.mobile_verified_at is None:
            raise Conflict(
                "Your account has no verified mobile number. Sign with your password.",
                code="no_verified_mobile",
                details={"field": "code"},
            )
        return user

    async def send_signing_code(
        self, user_id: int | None, bound: SigningCode, *, client: str | None = None
    ) -> CodeSent:
        """A code by SMS to the signer's verified mobile, for this case and this text."""
        user = await self._signer(user_id)
        assert user.mobile is not None
        return await self.codes.issue(
            Purpose.SIGN,
            user.mobile,
            client=client,
            user_id=user.id,
            payload={"case_id": bound.case_id, "sha256": bound.sha256},
            language=user.locale,
        )

    async def check_signing_code(self, user_id: int | None, bound: SigningCode, code: str) -> None:
        """The signer's code for this case and text is right (and now spent)."""
        user = await self._signer(user_id)
        assert user.mobile is not None
        used: UsedCode = await self.codes.verify(Purpose.SIGN, user.mobile, code)
        payload = used.payload or {}
        if (
            used.user_id != user.id
            or payload.get("case_id") != bound.case_id
            or payload.get("sha256") != bound.sha256
        ):
            raise ValidationFailed(
                "This code was sent for another document. Ask for a new code.",
                code="code_invalid",
                details={"field": "code"},
            )
