"""Endpoints around a running hearing: a join ticket for the socket, the chat transcript, the call
record, the recordings (list and file) and the mediator's minutes."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.domain.hearings import MAX_MINUTES_LENGTH
from odr.http.auth import require_actor
from odr.http.keys import HEARING_ROOM
from odr.http.params import path_id


def _hearing_id(request: web.Request) -> int:
    return path_id(request, "hearing_id")


class MinutesRequest(Body):
    text: str = Field(max_length=MAX_MINUTES_LENGTH)


async def join_ticket(request: web.Request) -> web.Response:
    """A short-lived join token (bound to the user, the hearing and the role) for the socket."""
    actor = await require_actor(request)
    ticket = await request.app[HEARING_ROOM].join_ticket(actor, _hearing_id(request))
    return web.json_response(ticket, headers={"Cache-Control": "no-store"})


async def transcript(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    messages = await request.app[HEARING_ROOM].transcript(actor, _hearing_id(request))
    return web.json_response({"messages": messages})


async def call_record(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    record = await request.app[HEARING_ROOM].call_record(actor, _hearing_id(request))
    return web.json_response(record.public())


async def recordings(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    items = await request.app[HEARING_ROOM].recordings(actor, _hearing_id(request))
    return web.json_response({"recordings": items})


async def recording_file(request: web.Request) -> web.StreamResponse:
    """One segment (WebM), with byte ranges so a player can seek."""
    actor = await require_actor(request)
    recording_id = path_id(request, "recording_id")
    path = await request.app[HEARING_ROOM].recording_path(actor, _hearing_id(request), recording_id)
    return web.FileResponse(
        path, headers={"Content-Type": "video/webm", "Cache-Control": "private, max-age=3600"}
    )


async def minutes(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(await request.app[HEARING_ROOM].minutes(actor, _hearing_id(request)))


async def write_minutes(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, MinutesRequest)
    result = await request.app[HEARING_ROOM].write_minutes(actor, _hearing_id(request), body.text)
    return web.json_response(result)
