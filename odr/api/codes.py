"""Endpoints proved by one-time codes: registration with a code, password reset (and the
activation of an account someone else created), a code to sign an agreement."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from odr.api.accounts import reply, user_out
from odr.api.parsing import parse_json
from odr.api.schemas import Body, RegisterRequest, SessionOut
from odr.domain.accounts import MAX_PASSWORD_LENGTH
from odr.http.auth import require_actor, start_login, today
from odr.http.clients import login_client
from odr.http.keys import ACCOUNT_CODES, AGREEMENTS
from odr.http.params import path_id
from odr.services.codes import CodeSent


class CodeSentOut(Body):
    """Where the code went (masked) and for how long; the same answer whether or not an
    account exists."""

    medium: str = Field(description="sms or email")
    destination: str = Field(description="masked: 138****0001")
    expires_in: int = Field(description="seconds the code is valid")
    resend_after: int = Field(description="seconds before another code may be asked for")


class RegisterConfirmRequest(Body):
    login: str = Field(max_length=320, description="The mobile number or e-mail registered")
    code: str = Field(max_length=20, description="The code sent to it")


class PasswordCodeRequest(Body):
    login: str = Field(max_length=320, description="The account's mobile number or e-mail")


class PasswordResetRequest(Body):
    login: str = Field(max_length=320)
    code: str = Field(max_length=20)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH, description="The new password")


class SignCodeRequest(Body):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The hash of the text you read")


def sent_out(sent: CodeSent) -> CodeSentOut:
    return CodeSentOut(
        medium=sent.medium.value,
        destination=sent.destination,
        expires_in=sent.expires_in,
        resend_after=sent.resend_after,
    )


async def confirm_registration(request: web.Request) -> web.Response:
    body = await parse_json(request, RegisterConfirmRequest)
    user = await request.app[ACCOUNT_CODES].confirm_registration(
        login=body.login, code=body.code, today=today(request)
    )
    session = await start_login(request, user)
    return reply(SessionOut(user=user_out(user), csrf_token=session["csrf_token"]), 201)


async def request_password_code(request: web.Request) -> web.Response:
    body = await parse_json(request, PasswordCodeRequest)
    sent = await request.app[ACCOUNT_CODES].request_password_code(
        login=body.login, client=login_client(request).address
    )
    return reply(sent_out(sent), 202)


async def reset_password(request: web.Request) -> web.Response:
    body = await parse_json(request, PasswordResetRequest)
    user = await request.app[ACCOUNT_CODES].reset_password(
        login=body.login, code=body.code, password=body.password, today=today(request)
    )
    session = await start_login(request, user)
    return reply(SessionOut(user=user_out(user), csrf_token=session["csrf_token"]))


async def signing_code(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, SignCodeRequest)
    sent = await request.app[AGREEMENTS].send_signing_code(
        actor,
        path_id(request, "case_id"),
        sha256=body.sha256,
        client=login_client(request).address,
    )
    return reply(sent_out(sent), 202)


async def start_registration(request: web.Request) -> web.Response:
    body = await parse_json(request, RegisterRequest)
    sent = await request.app[ACCOUNT_CODES].start_registration(
        login=body.login,
        password=body.password,
        display_name=body.display_name,
        birth_date=body.birth_date,
        locale=body.locale,
        today=today(request),
        client=login_client(request).address,
    )
    return reply(sent_out(sent), 202)
