"""Case endpoints: file, list, read, act, follow live; regulator referrals; the inbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.domain.accounts import Role
from odr.domain.authz import Action, authorize
from odr.domain.cases import ChannelKind
from odr.domain.errors import ValidationFailed
from odr.domain.masking import MaskResult
from odr.http.auth import require_actor
from odr.http.keys import BUS, CASES, OUTCOMES, PASSWORDS, SESSIONMAKER
from odr.services import case_views
from odr.services.cases import (
    CONTACT_PREFERENCES,
    MAX_DESCRIPTION,
    MAX_DESIRED_OUTCOME,
    ComplaintForm,
)
from odr.services.consumers import find_or_create_consumer
from odr.services.warnings import list_warnings
from odr.storage import notifications as inbox
from odr.storage.db import UnitOfWork

HEARTBEAT_SECONDS = 15.0


MAX_ID = 2**63 - 1  # ids are 64-bit in the database; larger numbers name nothing


class ComplaintRequest(Body):
    insurer_id: int = Field(ge=1, le=MAX_ID)
    policy_numbers: list[str] = Field(min_length=1, max_length=10)
    category: str
    amount_yuan: float = Field(default=0, ge=0, le=1e11)
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


class ActionRequest(Body):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


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
        amount_fen=round(body.amount_yuan * 100),
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
    consumer_id = await _consumer(request, body.consumer)
    form = form_of(body, received_at=body.received_at, regulator_reference=body.regulator_reference)
    intake = await request.app[CASES].file(
        actor,
        form,
        consumer_id=consumer_id,
        channel_kind=ChannelKind.REGULATOR_REFERRAL,
        accepting_terms=False,
    )
    return web.json_response(intake_out(intake), status=201)


async def _consumer(request: web.Request, who: ConsumerIdentity) -> int:
    async with UnitOfWork(request.app[SESSIONMAKER]) as uow:
        return await find_or_create_consumer(uow, request.app[PASSWORDS], who.name, who.mobile)


def _case_id(request: web.Request) -> int:
    raw = request.match_info["case_id"]
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise web.HTTPNotFound()
    return int(raw)


async def list_cases(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    try:
        f = case_views.CaseFilter(
            state=q.get("state") or None,
            insurer_id=int(q["insurer_id"]) if q.get("insurer_id") else None,
            category=q.get("category") or None,
            care_only=q.get("care") == "1",
            limit=int(q.get("limit", 50)),
            offset=int(q.get("offset", 0)),
        )
        if f.insurer_id is not None and not 0 < f.insurer_id <= MAX_ID:
            raise ValueError(f.insurer_id)
    except ValueError:
        raise ValidationFailed(
            "Filters must be numbers where numbers are expected.",
            code="invalid_field",
            details={"field": "query"},
        ) from None
    async with request.app[SESSIONMAKER]() as s:
        items = await case_views.list_cases(s, actor, f)
    return web.json_response({"items": items})


async def get_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with request.app[SESSIONMAKER]() as s:
        return web.json_response(await case_views.case_detail(s, actor, _case_id(request)))


async def get_timeline(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with request.app[SESSIONMAKER]() as s:
        items = await case_views.timeline(s, actor, _case_id(request))
    return web.json_response({"items": items})


async def act(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, ActionRequest)
    operation = request.match_info["operation"]
    outcome = await request.app[CASES].act(actor, _case_id(request), operation, body.model_dump())
    await request.app[OUTCOMES].after_operation(outcome.case.id, operation)
    reply: dict[str, Any] = {
        "id": outcome.case.id,
        "state": outcome.case.state.value,
        "version": outcome.case.version,
    }
    if isinstance(outcome.value, MaskResult):
        reply["masked"] = {
            "kinds": list(outcome.value.kinds),
            "count": outcome.value.count,
            "text": outcome.value.text,
        }
    return web.json_response(reply)


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``changed`` event each time the case changes, on any node."""
    actor = await require_actor(request)
    case_id = _case_id(request)
    async with request.app[SESSIONMAKER]() as s:
        await case_views.case_detail(s, actor, case_id)  # authorises, or 404
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    async with request.app[BUS].subscribe(f"case:{case_id}") as messages:
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


async def notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    rows = await inbox.latest(request.app[SESSIONMAKER], actor.user_id or 0)
    items = [
        {
            "id": n.id,
            "kind": n.kind,
            "case_id": n.case_id,
            "params": n.params,
            "created_at": n.created_at.isoformat(),
            "read": n.read_at is not None,
        }
        for n in rows
    ]
    return web.json_response({"items": items})


async def mark_read(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await inbox.mark_all_read(request.app[SESSIONMAKER], actor.user_id or 0, datetime.now(UTC))
    return web.Response(status=204)


async def early_warnings(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with request.app[SESSIONMAKER]() as s:
        items = await list_warnings(s, actor)
    return web.json_response({"items": items})


async def chain(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with request.app[SESSIONMAKER]() as s:
        return web.json_response(await case_views.chain_check(s, actor, _case_id(request)))
