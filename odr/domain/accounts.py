"""Roles, organisations and the acting principal (who is asking)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from odr.domain.errors import ValidationFailed


class Role(StrEnum):
    CONSUMER = "consumer"
    INSURER_REP = "insurer_rep"
    MEDIATOR = "mediator"
    CENTRE_LEAD = "centre_lead"
    SUPERVISOR = "supervisor"
    CHANNEL = "channel"  # a partner system; never a user's role
    SYSTEM = "system"  # the platform's own background work (triage, timers); never a user's role


#: Principals that are not people: they never log in and hold no account.
NON_USER_ROLES = frozenset({Role.CHANNEL, Role.SYSTEM})
USER_ROLES = frozenset(Role) - NON_USER_ROLES
STAFF_ROLES = frozenset({Role.INSURER_REP, Role.MEDIATOR, Role.CENTRE_LEAD, Role.SUPERVISOR})


class OrganisationKind(StrEnum):
    INSURER = "insurer"
    MEDIATION_CENTRE = "mediation_centre"
    PLATFORM = "platform"  # the operator; supervisors belong to it


#: Which kind of organisation a staff role belongs to.
ROLE_ORGANISATION_KIND: dict[Role, OrganisationKind] = {
    Role.INSURER_REP: OrganisationKind.INSURER,
    Role.MEDIATOR: OrganisationKind.MEDIATION_CENTRE,
    Role.CENTRE_LEAD: OrganisationKind.MEDIATION_CENTRE,
    Role.SUPERVISOR: OrganisationKind.PLATFORM,
}


def requires_second_factor(role: Role) -> bool:
    """Staff must log in with a TOTP code; consumers may."""
    return role in STAFF_ROLES


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind a request, as authorisation sees it.

    ``organisation_id`` is the organisation of the actor's *active* membership (an insurer for
    insurer staff, a centre for mediators and leads, the platform for supervisors); a member who
    has left has none. ``channel_id`` is set only for partner systems. The system principal
    (`Actor.system`) is the platform's background work and has neither.
    """

    user_id: int | None
    role: Role
    organisation_id: int | None = None
    channel_id: int | None = None
    is_admin: bool = False

    @classmethod
    def for_channel(cls, channel_id: int) -> Actor:
        return cls(user_id=None, role=Role.CHANNEL, channel_id=channel_id)

    @classmethod
    def system(cls) -> Actor:
        """The platform's background work: triage on intake, reminders and escalations."""
        return cls(user_id=None, role=Role.SYSTEM)


# --- Credentials -----------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
MAX_NAME_LENGTH = 80
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")  # mainland China mobile numbers
_BADGE = re.compile(r"^[A-Z0-9-]{4,32}$")


def normalise_login(identifier: str) -> tuple[str, str]:
    """Return ``("email" | "mobile", normalised value)`` for a login identifier."""
    value = identifier.strip()
    compact = value.replace(" ", "").replace("-", "")
    if compact.startswith("+86"):
        compact = compact[3:]
    if _MOBILE.match(compact):
        return "mobile", compact
    if _EMAIL.match(value):
        return "email", value.lower()
    raise ValidationFailed(
        "Enter a mainland mobile number (11 digits) or an e-mail address.",
        code="invalid_login",
        details={"field": "login"},
    )


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            code="password_too_short",
            details={"field": "password", "min": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password may have at most {MAX_PASSWORD_LENGTH} characters.",
            code="password_too_long",
            details={"field": "password", "max": MAX_PASSWORD_LENGTH},
        )
    if password.isdigit() or password.isalpha():
        raise ValidationFailed(
            "The password must mix letters with digits or symbols.",
            code="password_too_weak",
            details={"field": "password"},
        )


#: Birth dates are accepted from this day to today (registration, intake, forms alike).
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def check_birth_date(value: date | None, today: date) -> date | None:
    """A birth date a person can have, or `ValidationFailed` ``invalid_date``."""
    if value is not None and not EARLIEST_BIRTH_DATE <= value <= today:
        raise ValidationFailed(
            "Enter a real birth date as YYYY-MM-DD.",
            code="invalid_date",
            details={"field": "birth_date"},
        )
    return value


#: From this age, care mode (larger text, a call-back offer) is on by default.
SENIOR_AGE = 60


def is_senior(birth_date: date | None, today: date) -> bool:
    """Whether a person born on ``birth_date`` is `SENIOR_AGE` or older on ``today``."""
    if birth_date is None:
        return False
    had_birthday = (today.month, today.day) >= (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (not had_birthday) >= SENIOR_AGE


def check_display_name(name: str) -> str:
    value = " ".join(name.split())
    if not value:
        raise ValidationFailed("Enter a name.", code="name_required", details={"field": "name"})
    if len(value) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"The name may have at most {MAX_NAME_LENGTH} characters.",
            code="name_too_long",
            details={"field": "name", "max": MAX_NAME_LENGTH},
        )
    return value


def check_badge_number(badge: str) -> str:
    value = badge.strip().upper()
    if not _BADGE.match(value):
        raise ValidationFailed(
            "A badge number has 4 to 32 letters, digits or dashes.",
            code="invalid_badge_number",
            details={"field": "badge_number"},
        )
    return value
