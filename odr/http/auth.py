"""Who is asking: the logged-in user of a request, and the CSRF token of its session."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import UTC, date, datetime

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from odr.domain.accounts import Actor
from odr.domain.errors import Unauthenticated
from odr.http.keys import LOGIN_SESSIONS, SETTINGS
from odr.services.accounts import UserInfo

_USER: web.RequestKey[UserInfo | None] = web.RequestKey("odr.user")
SESSION_ID = "sid"  # the login session's row (`odr.services.login_sessions`)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def today(request: web.Request) -> date:
    return date.today()


async def current_user(request: web.Request) -> UserInfo | None:
    if _USER in request:
        return request[_USER]
    session = await get_session(request)
    user = None
    uid, sid = session.get("uid"), session.get(SESSION_ID)
    if isinstance(uid, int):
        user = await request.app[LOGIN_SESSIONS].session_user(
            uid, sid if isinstance(sid, str) else None, today(request), datetime.now(UTC)
        )
        if user is None:  # ended elsewhere ("log out everywhere"), or the account closed
            session.invalidate()
    request[_USER] = user
    return user


async def require_user(request: web.Request) -> UserInfo:
    user = await current_user(request)
    if user is None:
        raise Unauthenticated("Please log in.", code="unauthenticated")
    return user


async def require_actor(request: web.Request) -> Actor:
    return (await require_user(request)).actor


async def start_login(request: web.Request, user: UserInfo) -> Session:
    """A fresh session (new key, new CSRF token) for a user who just proved who they are."""
    sid = await request.app[LOGIN_SESSIONS].open(
        user.id, request.headers.get("User-Agent"), datetime.now(UTC)
    )
    session = await new_session(request)
    session["uid"] = user.id
    session[SESSION_ID] = sid
    session["auth_at"] = int(time.time())
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    request[_USER] = user
    return session


async def end_login(request: web.Request) -> None:
    session = await get_session(request)
    sid = session.get(SESSION_ID)
    if isinstance(sid, str):
        await request.app[LOGIN_SESSIONS].end(sid, datetime.now(UTC))
    session.invalidate()
    request[_USER] = None


async def session_id(request: web.Request) -> str | None:
    """The id of the request's login session (None for a visitor)."""
    sid = (await get_session(request)).get(SESSION_ID)
    return sid if isinstance(sid, str) else None


def treat_as_visitor(request: web.Request) -> None:
    """Let the rest of this request see no user, without touching the session: for the error
    page when the user cannot be looked up (the database or Redis is what failed)."""
    request[_USER] = None


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def csrf_ok(request: web.Request, supplied: str | None) -> bool:
    if not supplied:
        return False
    session = await get_session(request)
    expected = session.get(CSRF_FIELD)
    return isinstance(expected, str) and hmac.compare_digest(expected, supplied)


def session_ttl(request: web.Request) -> int:
    return request.app[SETTINGS].session_ttl
