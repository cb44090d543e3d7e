"""Hearing scheduling endpoints: list and read hearings, propose, choose, confirm,
reschedule, cancel, the calendar file; the mediators of a case and the parties' choice."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.domain.hearings import (
    DEFAULT_DURATION_MINUTES,
    MAX_DURATION_MINUTES,
    MAX_REASON_LENGTH,
    MAX_SLOTS,
    MIN_DURATION_MINUTES,
)
from odr.domain.numbers import MAX_ID
from odr.http.auth import require_actor
from odr.http.keys import SCHEDULING
from odr.http.params import path_id
from odr.services.invitations import FILENAME, MEDIA_TYPE
from odr.services.scheduling import parse_moment

_SLOT = "ISO 8601 time; without an offset it is read in the configured time zone"


class ProposeRequest(Body):
    slots: list[str] = Field(min_length=1, max_length=MAX_SLOTS, description=_SLOT)
    duration_minutes: int = Field(
        default=DEFAULT_DURATION_MINUTES, ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES
    )


class ChooseRequest(Body):
    slots: list[str] = Field(max_length=MAX_SLOTS, description="The proposed times you can attend")


class ConfirmRequest(Body):
    starts_at: str = Field(description="One of the proposed times")


class RescheduleRequest(Body):
    slots: list[str] = Field(min_length=1, max_length=MAX_SLOTS, description=_SLOT)
    reason: str = Field(max_length=MAX_REASON_LENGTH)


class CancelRequest(Body):
    reason: str = Field(max_length=MAX_REASON_LENGTH)


class MediatorChoiceRequest(Body):
    mediator_id: int = Field(ge=1, le=MAX_ID)


def _moments(request: web.Request, raw: list[str], field: str = "slots") -> list[datetime]:
    zone = request.app[SCHEDULING].zone
    return [parse_moment(r, zone, field) for r in raw]


async def list_hearings(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    views = await request.app[SCHEDULING].hearings_of_case(actor, path_id(request, "case_id"))
    return web.json_response({"items": [v.as_dict() for v in views]})


async def propose(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, ProposeRequest)
    view = await request.app[SCHEDULING].propose(
        actor, path_id(request, "case_id"), _moments(request, body.slots), body.duration_minutes
    )
    return web.json_response(view.as_dict(), status=201)


async def get_hearing(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    view = await request.app[SCHEDULING].hearing(actor, path_id(request, "hearing_id"))
    return web.json_response(view.as_dict())


async def choose(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, ChooseRequest)
    view = await request.app[SCHEDULING].choose(
        actor, path_id(request, "hearing_id"), _moments(request, body.slots)
    )
    return web.json_response(view.as_dict())


async def confirm(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, ConfirmRequest)
    service = request.app[SCHEDULING]
    starts_at = parse_moment(body.starts_at, service.zone, "starts_at")
    view = await service.confirm(actor, path_id(request, "hearing_id"), starts_at)
    return web.json_response(view.as_dict())


async def reschedule(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, RescheduleRequest)
    view = await request.app[SCHEDULING].reschedule(
        actor, path_id(request, "hearing_id"), _moments(request, body.slots), body.reason
    )
    return web.json_response(view.as_dict())


async def cancel(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, CancelRequest)
    view = await request.app[SCHEDULING].cancel(actor, path_id(request, "hearing_id"), body.reason)
    return web.json_response(view.as_dict())


async def invitation(request: web.Request) -> web.Response:
    """The calendar file in the caller's language (``?lang=en``; Chinese by default)."""
    actor = await require_actor(request)
    lang = "en" if request.query.get("lang") == "en" else "zh-CN"
    text = await request.app[SCHEDULING].invitation(actor, path_id(request, "hearing_id"), lang)
    return web.Response(
        text=text,
        content_type=MEDIA_TYPE,
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


async def mediators(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    service = request.app[SCHEDULING]
    options = await service.eligible_mediators(actor, path_id(request, "case_id"))
    return web.json_response({"items": [o.as_dict() for o in options]})


async def get_mediator_choice(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    picks = await request.app[SCHEDULING].mediator_choices(actor, path_id(request, "case_id"))
    return web.json_response(picks.as_dict())


async def choose_mediator(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, MediatorChoiceRequest)
    picks = await request.app[SCHEDULING].choose_mediator(
        actor, path_id(request, "case_id"), body.mediator_id
    )
    return web.json_response(picks.as_dict())
