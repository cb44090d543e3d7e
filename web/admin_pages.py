"""User and organisation administration, for supervisors with admin rights
(`Action.MANAGE_USERS`; the services refuse everyone else).

Creating a staff account shows its password (when generated) and its second-factor secret
once, on the page that answers the form; they are not stored anywhere they could be shown
again.

Register with `setup_admin_pages(app)` after `web.routes.setup` made the environment.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from odr.domain.accounts import ROLE_ORGANISATION_KIND, OrganisationKind, Role
from odr.domain.authz import Action, authorize
from odr.domain.errors import DomainError, ValidationFailed
from odr.domain.numbers import parse_int
from odr.http.auth import csrf_token, require_user, today
from odr.http.keys import ACCOUNTS, ADMIN
from odr.services import accounts, admin
from odr.services.accounts import UserInfo
from odr.services.passwords import totp_uri
from web.form_errors import form_again
from web.i18n import N_
from web.rendering import render, use_language

STAFF_ROLES: dict[str, str] = {
    Role.INSURER_REP.value: N_("Insurer's complaint staff"),
    Role.MEDIATOR.value: N_("Mediator"),
    Role.CENTRE_LEAD.value: N_("Head of a mediation centre"),
    Role.SUPERVISOR.value: N_("Platform supervisor"),
}
ORGANISATION_KINDS: dict[str, str] = {
    OrganisationKind.INSURER.value: N_("Insurer"),
    OrganisationKind.MEDIATION_CENTRE.value: N_("Mediation centre"),
    OrganisationKind.PLATFORM.value: N_("Platform operator"),
}
#: What the administration log says for each action.
ADMIN_ACTIONS: dict[str, str] = {
    "second_factor_reset": N_("New second factor set up"),
    "account_closed": N_("Account closed by its owner"),
}
USER_FIELDS = ("display_name", "login", "password", "role", "organisation", "badge_number")
ORGANISATION_FIELDS = ("kind", "name", "name_en", "policy_count")


def setup_admin_pages(app: web.Application) -> None:
    """The routes ``admin_users`` and ``admin_organisations``; once per app."""
    if "admin_users" in app.router.named_resources():
        return
    r = app.router
    r.add_get("/admin/users", users_page, name="admin_users")
    r.add_post("/admin/users", user_submit)
    r.add_post(
        r"/admin/users/{user_id:\d+}/second-factor",
        reset_second_factor,
        name="admin_reset_second_factor",
    )
    r.add_get("/admin/organisations", organisations_page, name="admin_organisations")
    r.add_post("/admin/organisations", organisation_submit)


async def _admin(request: web.Request) -> UserInfo:
    user = await require_user(request)
    authorize(user.actor, Action.MANAGE_USERS)
    await use_language(request)
    return user


def _role_filter(raw: str | None) -> Role | None:
    try:
        return Role(raw) if raw else None
    except ValueError:
        return None


async def _users_context(request: web.Request, user: UserInfo) -> dict[str, Any]:
    role = _role_filter(request.query.get("role"))
    users, organisations = await request.app[ADMIN].users_and_organisations(
        user.actor, today(request), role
    )
    return {
        "users": users,
        "admin_log": await request.app[ADMIN].admin_log(user.actor),
        "admin_actions": ADMIN_ACTIONS,
        "role_filter": role.value if role else "",
        "all_roles": [r.value for r in Role if r not in (Role.CHANNEL, Role.SYSTEM)],
        "staff_roles": STAFF_ROLES,
        "organisations": [o for o in organisations if o.active],
        "organisation_kinds": ORGANISATION_KINDS,
        "role_kinds": {r.value: k.value for r, k in ROLE_ORGANISATION_KIND.items()},
    }


async def users_page(request: web.Request) -> web.Response:
    user = await _admin(request)
    context = await _users_context(request, user)
    values = dict.fromkeys(USER_FIELDS, "")
    return await render(
        request,
        "admin_users.html",
        {
            **context,
            "csrf_token": await csrf_token(request),
            "values": values,
            "is_admin": False,
            "error": None,
            "error_field": None,
        },
    )


def _new_password() -> str:
    """A first password that meets the policy (letters with digits and a dash)."""
    return f"{secrets.token_urlsafe(12)}-{secrets.randbelow(90) + 10}"


def _staff_role(raw: str) -> Role:
    if raw not in STAFF_ROLES:
        raise ValidationFailed(
            "Choose a staff role.", code="invalid_role", details={"field": "role"}
        )
    return Role(raw)


async def user_submit(request: web.Request) -> web.Response:
    user = await _admin(request)
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in USER_FIELDS}
    is_admin = form.get("is_admin") == "1"
    password = values["password"] or _new_password()
    try:
        new = accounts.NewUser(
            login=values["login"],
            password=password,
            display_name=values["display_name"],
            role=_staff_role(values["role"]),
            organisation=values["organisation"],
            badge_number=values["badge_number"],
            is_admin=is_admin,
        )
        created = await request.app[ACCOUNTS].create_staff_account(user.actor, new, today(request))
    except DomainError as error:
        context = await _users_context(request, user)
        values["password"] = ""  # never sent back to the browser
        return await form_again(
            request,
            "admin_users.html",
            error,
            {**context, "values": values, "is_admin": is_admin},
        )
    secret = created.totp_secret
    return await render(
        request,
        "admin_user_created.html",
        {
            "created": created.user,
            "role_text": STAFF_ROLES[created.user.role.value],
            "password": None if values["password"] else password,
            "totp_secret": secret,
            "totp_uri": totp_uri(secret, created.user.login) if secret else None,
            "recovery_codes": created.recovery_codes,
        },
        status=201,
    )


async def reset_second_factor(request: web.Request) -> web.Response:
    """A new authenticator secret and recovery codes for a member of staff, shown once."""
    user = await _admin(request)
    target = parse_int(request.match_info["user_id"], minimum=1)
    if target is None:
        raise web.HTTPNotFound()
    enrolment = await request.app[ADMIN].reset_second_factor(user.actor, target, datetime.now(UTC))
    return await render(
        request,
        "admin_second_factor.html",
        {"enrolment": enrolment, "totp_uri": totp_uri(enrolment.totp_secret, enrolment.login)},
    )


async def _organisations_context(request: web.Request, user: UserInfo) -> dict[str, Any]:
    organisations = await request.app[ADMIN].list_organisations(user.actor, today(request))
    created = request.query.get("created", "")
    return {
        "organisations": organisations,
        "organisation_kinds": ORGANISATION_KINDS,
        "created_id": parse_int(created, minimum=1),
    }


async def organisations_page(request: web.Request) -> web.Response:
    user = await _admin(request)
    context = await _organisations_context(request, user)
    return await render(
        request,
        "admin_organisations.html",
        {
            **context,
            "csrf_token": await csrf_token(request),
            "values": dict.fromkeys(ORGANISATION_FIELDS, ""),
            "error": None,
            "error_field": None,
        },
    )


async def organisation_submit(request: web.Request) -> web.StreamResponse:
    user = await _admin(request)
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in ORGANISATION_FIELDS}
    try:
        new_id = await request.app[ADMIN].add_organisation(
            user.actor, admin.NewOrganisation(**values)
        )
    except DomainError as error:
        context = await _organisations_context(request, user)
        return await form_again(
            request, "admin_organisations.html", error, {**context, "values": values}
        )
    location = request.app.router["admin_organisations"].url_for().with_query(created=new_id)
    raise web.HTTPSeeOther(location=str(location))
