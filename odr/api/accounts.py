"""Account endpoints: log in and out, who am I, staff accounts (registering and resetting a
password by code: `odr.api.codes`)."""

from __future__ import annotations

from aiohttp import web

from odr.api.parsing import parse_json
from odr.api.schemas import (
    CreatedStaffOut,
    CreateStaffRequest,
    LoginRequest,
    OrganisationOut,
    SessionOut,
    UserOut,
)
from odr.domain.authz import Action, authorize
from odr.http.auth import csrf_token, end_login, require_user, start_login, today
from odr.http.clients import login_client, remember_device
from odr.http.keys import ACCOUNTS, LOGINS
from odr.services import accounts
from odr.services.passwords import totp_uri


def user_out(user: accounts.UserInfo) -> UserOut:
    return UserOut(
        id=user.id,
        display_name=user.display_name,
        role=user.role,
        login=user.login,
        organisation_id=user.organisation_id,
        organisation_name=user.organisation_name,
        badge_number=user.badge_number,
        care_mode=user.care_mode,
        locale=user.locale,
    )


def reply(model: object, status: int = 200) -> web.Response:
    from pydantic import BaseModel

    assert isinstance(model, BaseModel)
    return web.json_response(text=model.model_dump_json(), status=status)


async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, LoginRequest)
    logins = request.app[LOGINS]
    user = await request.app[ACCOUNTS].login(
        body.login, body.password, body.otp, today(request), login_client(request)
    )
    session = await start_login(request, user)
    response = reply(SessionOut(user=user_out(user), csrf_token=session["csrf_token"]))
    remember_device(request, response, logins.new_device_token(user.login))
    return response


async def logout(request: web.Request) -> web.Response:
    await end_login(request)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    user = await require_user(request)
    return reply(SessionOut(user=user_out(user), csrf_token=await csrf_token(request)))


async def create_staff(request: web.Request) -> web.Response:
    actor = (await require_user(request)).actor
    authorize(actor, Action.MANAGE_USERS)
    body = await parse_json(request, CreateStaffRequest)
    new = accounts.NewUser(
        login=body.login,
        password=body.password,
        display_name=body.display_name,
        role=body.role,
        organisation=body.organisation,
        badge_number=body.badge_number,
        is_admin=body.is_admin,
    )
    created = await request.app[ACCOUNTS].create_staff_account(actor, new, today(request))
    secret = created.totp_secret
    return reply(
        CreatedStaffOut(
            user=user_out(created.user),
            totp_secret=secret,
            totp_uri=totp_uri(secret, created.user.login) if secret else None,
            recovery_codes=list(created.recovery_codes),
        ),
        201,
    )


async def list_organisations(request: web.Request) -> web.Response:
    actor = (await require_user(request)).actor
    authorize(actor, Action.MANAGE_USERS)
    items = [
        OrganisationOut(id=o.id, kind=o.kind, name=o.name, name_en=o.name_en).model_dump()
        for o in await request.app[ACCOUNTS].organisations()
    ]
    return web.json_response({"items": items})


async def list_insurers(request: web.Request) -> web.Response:
    insurers = await request.app[ACCOUNTS].active_insurers()
    items = [{"id": o.id, "name": o.name, "name_en": o.name_en} for o in insurers]
    return web.json_response({"items": items})
