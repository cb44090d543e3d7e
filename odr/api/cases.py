"""Case endpoints: file, list, read, follow live; regulator referrals; the inbox (the
operations on a case are `odr.api.case_commands`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.domain import cursors
from odr.domain.accounts import Role
from odr.domain.authz import Action, authorize
from odr.domain.cases import MAX_DESCRIPTION, MAX_DESIRED_OUTCOME, ChannelKind
from odr.domain.errors import ValidationFailed
from odr.domain.money import fen_of_yuan
from odr.domain.numbers import MAX_ID
from odr.http.auth import require_actor
from odr.http.keys import BUS, CASE_VIEWS, CASES, INBOX, METRICS, PASSWORDS, WARNINGS
from odr.http.params import path_id, query_int
from odr.services import case_views, consumers
from odr.services.cases import CONTACT_PREFERENCES, ComplaintForm

HEARTBEAT_SECONDS = 15.0


class ComplaintRequest(Body):
    insurer_id: int = Field(ge=1, le=MAX_ID)
    policy_numbers: list[str] = Field(min_length=1, max_length=10)
    category: str
    amount_yuan: float = Field(
        default=0,
        ge=0,
        le=1e11,
        description="Yuan, at most two decimals (whole fen); from 0 to 100 billion",
    )
    description: str = Field(max_length=MAX_DESCRIPTION)
    desired_outcome: str = Field(default="", max_length=MAX_DESIRED_OUTCOME)
    contact_preference: str = Field(default="in_app", description=" | ".join(CONTACT_PREFERENCES))
    birth_date: date | None = None
    care_requested: bool = False
    terms_version: str = Field(description="The version of the terms the consumer accepted")


class ConsumerIdentity(Body):
    name: str = Field(max_length=80)
    mobile: str = Field(max_length=20)


class ReferralRequest(ComplaintRequest):
    consumer: ConsumerIdentity
    regulator_reference: str = Field(min_length=3, max_length=64)
    received_at: datetime | None = None
    terms_version: str = ""


class IntakeOut(BaseModel):
    id: int
    number: str
    state: str
    duplicate_of: str | None


def form_of(body: ComplaintRequest, **extra: Any) -> ComplaintForm:
    return ComplaintForm(
        insurer_id=body.insurer_id,
        policy_numbers=tuple(p.strip() for p in body.policy_numbers),
        category=body.category,
        amount_fen=fen_of_yuan(Decimal(str(body.amount_yuan))),
        description=body.description,
        desired_outcome=body.desired_outcome,
        contact_preference=body.contact_preference,
        birth_date=body.birth_date,
        care_requested=body.care_requested,
        terms_version=body.terms_version,
        **extra,
    )


async def file_complaint(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    authorize(actor, Action.FILE_COMPLAINT)
    if actor.role is not Role.CONSUMER or actor.user_id is None:
        raise ValidationFailed("Only consumers file here.", code="forbidden")
    body = await parse_json(request, ComplaintRequest)
    intake = await request.app[CASES].file(actor, form_of(body), consumer_id=actor.user_id)
    return web.json_response(intake_out(intake), status=201)


def intake_out(intake: Any) -> dict[str, Any]:
    return IntakeOut(
        id=intake.case_id,
        number=intake.number,
        state=intake.state,
        duplicate_of=intake.duplicate_of,
    ).model_dump()


async def register_referral(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    authorize(actor, Action.REGISTER_REFERRAL)
    body = await parse_json(request, ReferralRequest)
    form = form_of(body, received_at=body.received_at, regulator_reference=body.regulator_reference)
    intake = await request.app[CASES].file_for(
        actor,
        form,
        consumer_of(body.consumer),
        passwords=request.app[PASSWORDS],
        channel_kind=ChannelKind.REGULATOR_REFERRAL,
        accepting_terms=False,
    )
    return web.json_response(intake_out(intake), status=201)


def consumer_of(who: ConsumerIdentity) -> consumers.ConsumerIdentity:
    return consumers.ConsumerIdentity(name=who.name, mobile=who.mobile)


def _case_id(request: web.Request) -> int:
    return path_id(request, "case_id")


async def list_cases(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    message = "Filters must be numbers where numbers are expected."
    f = case_views.CaseFilter(
        state=q.get("state") or None,
        insurer_id=query_int(q, "insurer_id", minimum=1, message=message),
        category=q.get("category") or None,
        care_only=q.get("care") == "1",
        limit=query_int(
            q,
            "limit",
            cursors.DEFAULT_LIMIT,
            minimum=1,
            maximum=cursors.MAX_LIMIT,
            message=message,
            clamp=True,
        ),
        cursor=q.get("cursor") or None,
    )
    page = await request.app[CASE_VIEWS].list_cases(actor, f)
    return web.json_response({"items": page.items, "next": page.next, "previous": page.previous})


async def get_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    detail = await request.app[CASE_VIEWS].case_detail(actor, _case_id(request), opened=True)
    return web.json_response(detail)


async def get_timeline(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    page = await request.app[CASE_VIEWS].timeline_page(
        actor,
        _case_id(request),
        cursor=q.get("cursor") or None,
        limit=query_int(
            q, "limit", cursors.DEFAULT_LIMIT, minimum=1, maximum=cursors.MAX_LIMIT, clamp=True
        ),
    )
    return web.json_response({"items": page.items, "next": page.next, "previous": page.previous})


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``changed`` event each time the case changes, on any node."""
    actor = await require_actor(request)
    case_id = _case_id(request)
    await request.app[CASE_VIEWS].case_detail(actor, case_id)  # authorises, or 404
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
    except (ConnectionResetError, RuntimeError):
        return response  # the client left before the stream began: nothing failed here
    async with (
        request.app[BUS].subscribe(f"case:{case_id}") as messages,
        _open_stream(request),
    ):
        while True:
            try:
                # not an async iterator: a timeout would close it for good
                message = await asyncio.wait_for(messages.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                payload = b": heartbeat\n\n"
            else:
                payload = f"event: changed\ndata: {json.dumps(message)}\n\n".encode()
            try:
                await response.write(payload)
            except (ConnectionResetError, RuntimeError):
                break
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


@contextlib.asynccontextmanager
async def _open_stream(request: web.Request) -> AsyncIterator[None]:
    """Counted in the open-streams gauge while it lasts."""
    gauge = request.app[METRICS].sse_connections
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


async def notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    page = await request.app[INBOX].page(
        actor.user_id or 0,
        cursor=q.get("cursor") or None,
        limit=query_int(
            q, "limit", cursors.DEFAULT_LIMIT, minimum=1, maximum=cursors.MAX_LIMIT, clamp=True
        ),
    )
    items = [
        {
            "id": n.id,
            "kind": n.kind,
            "case_id": n.case_id,
            "params": n.params,
            "created_at": n.created_at.isoformat(),
            "read": n.read_at is not None,
        }
        for n in page.items
    ]
    return web.json_response({"items": items, "next": page.next, "previous": page.previous})


async def mark_read(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await request.app[INBOX].mark_all_read(actor.user_id or 0, datetime.now(UTC))
    return web.Response(status=204)


async def early_warnings(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    items = await request.app[WARNINGS].list_warnings(actor)
    return web.json_response({"items": items})


async def chain(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(await request.app[CASE_VIEWS].chain_check(actor, _case_id(request)))
