"""Outcome endpoints: the agreement (draft, sign after re-authentication, PDF),
blind offers, open offers, payments, the closing report, referral and judicial-confirmation
packages, satisfaction ratings. Thin: parse, call the service of that part (agreements,
offers, payments, closing, ratings), reply."""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.domain.accounts import MAX_PASSWORD_LENGTH
from odr.domain.agreements import MAX_FACTS, MAX_TERMS
from odr.domain.errors import ValidationFailed
from odr.domain.money import fen_of_yuan
from odr.http.auth import require_actor
from odr.http.keys import AGREEMENTS, CLOSING, OFFERS, PAYMENTS, RATINGS
from odr.http.params import path_id


def _case_id(request: web.Request) -> int:
    return path_id(request, "case_id")


class DraftRequest(Body):
    facts: str = Field(max_length=MAX_FACTS, description="The facts of the dispute")
    terms: str = Field(max_length=MAX_TERMS, description="What the parties agree")
    amount_yuan: Decimal | None = Field(default=None, description="What the insurer pays")
    due_on: date | None = Field(default=None, description="The day it pays by")
    confidential: bool = True


class SignRequest(Body):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The hash of the text you read")
    password: str = Field(default="", max_length=MAX_PASSWORD_LENGTH)
    otp: str | None = Field(default=None, max_length=10, description="TOTP code (staff)")
    code: str | None = Field(
        default=None,
        max_length=20,
        description="Instead of the password: the SMS code sent by .../agreement/sign-code",
    )


class FigureRequest(Body):
    amount_yuan: Decimal = Field(description="Consumer: the least you accept; insurer: the most")


class OfferRequest(Body):
    amount_yuan: Decimal
    text: str = Field(default="", max_length=2000)


class AnswerOfferRequest(Body):
    accept: bool


class PaymentRequest(Body):
    amount_yuan: Decimal
    paid_on: date
    reference: str = Field(max_length=200)


class DisputeRequest(Body):
    reason: str = Field(max_length=2000)


class RatingRequest(Body):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class ReferralRequest(Body):
    forum: str = Field(pattern=r"^(arbitration|court)$")


# --- the agreement ------------------------------------------------------------------------------


async def get_agreement(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    service = request.app[AGREEMENTS]
    view = await service.agreement_view(actor, _case_id(request))
    view["confirmation_window"] = await service.confirmation_window(actor, _case_id(request))
    return web.json_response(view)


async def draft_agreement(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, DraftRequest)
    view = await request.app[AGREEMENTS].draft_agreement(
        actor,
        _case_id(request),
        facts=body.facts,
        terms=body.terms,
        amount_fen=None if body.amount_yuan is None else fen_of_yuan(body.amount_yuan),
        due_on=body.due_on,
        confidential=body.confidential,
    )
    return web.json_response(view)


async def sign_agreement(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, SignRequest)
    view = await request.app[AGREEMENTS].sign_agreement(
        actor,
        _case_id(request),
        sha256=body.sha256,
        password=body.password,
        otp=body.otp,
        code=body.code,
    )
    return web.json_response(view)


def _pdf(data: bytes, name: str) -> web.Response:
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def agreement_pdf(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    case_id = _case_id(request)
    return _pdf(
        await request.app[AGREEMENTS].agreement_pdf(actor, case_id), f"agreement-{case_id}.pdf"
    )


# --- blind offers and open offers ---------------------------------------------------------------


async def get_blind_offers(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(await request.app[OFFERS].blind_offers_view(actor, _case_id(request)))


async def submit_blind_offer(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, FigureRequest)
    amount = fen_of_yuan(body.amount_yuan)
    view = await request.app[OFFERS].submit_blind_offer(actor, _case_id(request), amount)
    return web.json_response(view, status=201)


async def get_offers(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(await request.app[OFFERS].offers_view(actor, _case_id(request)))


async def make_offer(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, OfferRequest)
    amount = fen_of_yuan(body.amount_yuan)
    view = await request.app[OFFERS].make_offer(
        actor, _case_id(request), amount_fen=amount, text=body.text
    )
    return web.json_response(view, status=201)


async def answer_offer(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    sequence = path_id(request, "sequence")
    body = await parse_json(request, AnswerOfferRequest)
    view = await request.app[OFFERS].answer_offer(
        actor, _case_id(request), offer_sequence=sequence, accept=body.accept
    )
    return web.json_response(view)


# --- fulfilment ---------------------------------------------------------------------------------


def _state(case: Any) -> web.Response:
    return web.json_response({"id": case.id, "state": case.state.value, "version": case.version})


async def record_payment(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, PaymentRequest)
    amount = fen_of_yuan(body.amount_yuan)
    case = await request.app[PAYMENTS].record_payment(
        actor, _case_id(request), amount_fen=amount, paid_on=body.paid_on, reference=body.reference
    )
    return _state(case)


async def confirm_payment(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return _state(await request.app[PAYMENTS].confirm_payment(actor, _case_id(request)))


async def dispute_payment(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, DisputeRequest)
    case = await request.app[PAYMENTS].dispute_payment(actor, _case_id(request), reason=body.reason)
    return _state(case)


# --- closing, the report, packages, satisfaction -------------------------------------------------


async def not_settled(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, DisputeRequest)
    return _state(
        await request.app[CLOSING].declare_not_settled(actor, _case_id(request), reason=body.reason)
    )


async def close_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(await request.app[CLOSING].close_case(actor, _case_id(request)))


async def get_report(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(await request.app[CLOSING].report(actor, _case_id(request)))


async def report_pdf(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    lang = request.query.get("lang")
    if lang not in (None, "zh-CN", "en"):
        raise ValidationFailed(
            "lang is zh-CN or en.", code="invalid_field", details={"field": "lang"}
        )
    case_id = _case_id(request)
    data = await request.app[CLOSING].report_pdf(actor, case_id, lang)
    return _pdf(data, f"closing-report-{case_id}.pdf")


async def _zip(request: web.Request, name: str, make: Any) -> web.StreamResponse:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        await make(out)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            }
        )
        response.content_length = out.stat().st_size
        await response.prepare(request)
        with out.open("rb") as fh:
            while chunk := fh.read(256 * 1024):
                await response.write(chunk)
        await response.write_eof()
        return response


async def referral_package(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    forum = request.query.get("forum", "court")
    case_id = _case_id(request)
    service = request.app[CLOSING]
    return await _zip(
        request,
        f"referral-{case_id}.zip",
        lambda out: service.referral_package(actor, case_id, out, forum),
    )


async def confirmation_package(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    case_id = _case_id(request)
    service = request.app[CLOSING]
    return await _zip(
        request,
        f"judicial-confirmation-{case_id}.zip",
        lambda out: service.confirmation_package(actor, case_id, out),
    )


async def get_rating(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(
        {"rating": await request.app[RATINGS].my_rating(actor, _case_id(request))}
    )


async def rate(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, RatingRequest)
    await request.app[RATINGS].rate(
        actor, _case_id(request), score=body.score, comment=body.comment
    )
    return web.Response(status=204)
