"""Request and response bodies of the JSON API. They validate shape only; the rules live in
the domain. Their JSON schemas feed the OpenAPI document."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from odr.domain.accounts import MAX_NAME_LENGTH, MAX_PASSWORD_LENGTH, Role


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterRequest(Body):
    login: str = Field(max_length=320, description="Mobile number or e-mail address")
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    display_name: str = Field(max_length=MAX_NAME_LENGTH)
    birth_date: date | None = None
    locale: str | None = Field(default=None, pattern=r"^(zh-CN|en)$")


class LoginRequest(Body):
    login: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    otp: str | None = Field(default=None, max_length=10, description="TOTP code (staff)")


class CreateStaffRequest(Body):
    login: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    display_name: str = Field(max_length=MAX_NAME_LENGTH)
    role: Role
    organisation: str = Field(max_length=200)
    badge_number: str = Field(max_length=32)
    is_admin: bool = False


class UserOut(BaseModel):
    id: int
    display_name: str
    role: Role
    login: str
    organisation_id: int | None
    organisation_name: str | None
    badge_number: str | None
    care_mode: bool
    locale: str | None


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str


class CreatedStaffOut(BaseModel):
    user: UserOut
    totp_secret: str | None
    totp_uri: str | None
    recovery_codes: list[str] = []  # shown once; each usable once instead of a TOTP code


class OrganisationOut(BaseModel):
    id: int
    kind: str
    name: str
    name_en: str | None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, object] | None = None


class CasePageOut(BaseModel):
    """One page of a case list, in the list's order (care priority, nearest deadline, newest)."""

    items: list[dict[str, object]]
    next: str | None = Field(description="The cursor of the next page; null on the last page")
    previous: str | None = Field(
        description="The cursor of the page before; null on the first page"
    )


class NotificationPageOut(BaseModel):
    """One page of the caller's notifications, newest first."""

    items: list[dict[str, object]]
    next: str | None = Field(description="The cursor of the next page; null on the last page")
    previous: str | None = Field(
        description="The cursor of the page before; null on the first page"
    )


class EventPageOut(BaseModel):
    """One page of a case's events the caller may see, oldest first."""

    items: list[dict[str, object]]
    next: str | None = Field(description="The cursor of the next page; null on the last page")
    previous: str | None = Field(
        description="The cursor of the page before; null on the first page"
    )


class ErrorOut(BaseModel):
    error: ErrorDetail
