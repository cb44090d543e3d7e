"""The outcome section of a case page: the agreement (drafted by the mediator, signed by each
party after re-authentication), blind offers and open offers, payment, ending without
agreement, closing, the documents and packages to download, and the satisfaction rating.

Handlers parse the form, call the service of that part (`odr.services.agreements`, `offers`,
`payments`, `closing`, `ratings`: they hold the rules) and redirect back to the case page
with a one-time notice; a refusal renders the case page again, with the message next to the
field it is about and the values typed (never a password or a code). Which forms the section
offers is the aggregate's own answer: each change is tried on a copy of the case.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp import web

from odr.domain.accounts import requires_second_factor
from odr.domain.agreements import MAX_TERMS
from odr.domain.cases import NEGOTIATION_STATES, CaseState
from odr.domain.errors import DomainError, NotFound, ValidationFailed
from odr.domain.money import parse_yuan, yuan
from odr.domain.sides import PARTY_OF_ROLE, side_of
from odr.http.auth import require_user
from odr.http.clients import login_client
from odr.http.errors import status_of
from odr.http.keys import AGREEMENTS, CASE_VIEWS, CLOSING, OFFERS, PAYMENTS, RATINGS
from odr.http.params import path_id
from odr.services.accounts import UserInfo
from web import forms
from web.flash import OUTCOME_NOTICE, flash, take_flash
from web.i18n import N_, _
from web.keys import CASE_PAGE
from web.messages import message_for
from web.rendering import zone_of

ANCHOR = "outcome"
MAX_REASON = 2000
MAX_REFERENCE = 200

#: The fields of each form (what is kept when the form comes back with an error). The
#: password and the code of the signing form are never kept.
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "draft": ("facts", "terms", "amount", "due_on", "confidential", "confirm"),
    "sign": ("read",),
    "sign_code": (),
    "blind": ("amount",),
    "offer": ("amount", "text"),
    "answer": (),
    "payment": ("amount", "paid_on", "reference"),
    "confirm": (),
    "dispute": ("reason",),
    "not_settled": ("reason",),
    "close": ("confirm",),
    "rating": ("score", "comment"),
}

#: The services name some fields after their meaning; the forms name them shortly.
_FIELD = {
    "amount_fen": "amount",
    "settled_fen": "amount",
    "offer_text": "text",
    "agreement_terms": "terms",
}
#: Errors that carry no field but are about one.
_CODE_FIELD = {
    "reauthentication_required": "password",
    "invalid_credentials": "password",
    "too_many_attempts": "password",
    "otp_required": "otp",
    "otp_invalid": "otp",
    "otp_not_enrolled": "otp",
    "code_invalid": "code",
    "code_expired": "code",
    "code_attempts_exceeded": "code",
    "code_resend_too_soon": "code",
    "code_limit_reached": "code",
    "no_verified_mobile": "code",
}

_ERRORS: dict[str, str] = {
    "reauthentication_required": N_("Enter your password again to sign."),
    "agreement_changed": N_(
        "The agreement was changed while you were reading it. Read the new text, then sign."
    ),
    "already_signed": N_("You have already signed this agreement."),
    "read_confirmation_required": N_("Tick the box to confirm that you read the agreement."),
    "agreement_incomplete": N_("Write both the facts and the terms."),
    "agreement_too_long": N_("The facts and the terms may have at most 5,000 characters each."),
    "due_date_required": N_("An agreement with a payment needs a due date."),
    "invalid_due_on": N_("Enter the due date as a date, like 2026-12-01."),
    "invalid_paid_on": N_("Enter the day of payment, not in the future."),
    "blind_offer_already_submitted": N_(
        "You have already given your figure in this round. Wait for the other side."
    ),
    "blind_offers_settled": N_("The blind offers have already settled."),
    "no_rounds_left": N_("No blind-offer round is left."),
    "no_offer": N_("There is no offer to answer."),
    "offer_superseded": N_("Only the latest offer can be answered."),
    "own_offer": N_("You cannot answer your own offer."),
    "offer_answered": N_("This offer has already been answered."),
    "offer_text_too_long": N_("The message may have at most 2,000 characters."),
    "reference_too_long": N_("The reference may have at most 200 characters."),
    "amount_required": N_("Enter the amount in yuan."),
    "invalid_score": N_("Choose 1 to 5 stars."),
    "comment_too_long": N_("The comment may have at most 2,000 characters."),
    "case_not_closed": N_("The service can be rated once the case is closed."),
    "reason_too_long": N_("The reason may have at most 2,000 characters."),
}

#: What the page confirms after an outcome step succeeded.
OUTCOME_DONE: dict[str, str] = {
    "draft": N_("The agreement was saved. The parties have been asked to read and sign it."),
    "sign": N_("You signed the agreement."),
    "sign_code": N_(
        "We sent a code by SMS to your mobile number. Enter it below instead of your password."
    ),
    "settled": N_("All parties have signed: the case is settled."),
    "blind": N_("Your figure was submitted. The other side will not see it."),
    "offer": N_("Your offer was sent to the other side."),
    "accept": N_("You accepted the offer."),
    "decline": N_("You declined the offer."),
    "payment": N_("The payment was recorded. The consumer has been asked to confirm it."),
    "confirm": N_("Thank you. You confirmed that you were paid."),
    "dispute": N_("Your objection was sent to the mediator and the insurer."),
    "not_settled": N_("Mediation ended without agreement"),
    "rating": N_("Thank you for your rating."),
}

#: The words next to each score of the rating form.
SCORES: dict[int, str] = {
    1: N_("1 – Very poor"),
    2: N_("2 – Poor"),
    3: N_("3 – Fair"),
    4: N_("4 – Good"),
    5: N_("5 – Very good"),
}

#: How a signer proved who they are.
METHODS: dict[str, str] = {
    "password": N_("password"),
    "password+totp": N_("password and one-time code"),
    "sms_code": N_("SMS code"),
    "sms_code+totp": N_("SMS code and one-time code"),
}

#: Which flag of the section says that a form is on the page (its errors are shown in it).
_FORM_SHOWN = {
    "draft": "may_draft",
    "sign": "may_sign",
    "sign_code": "may_sign",
    "blind": "may_blind",
    "offer": "may_offer",
    "payment": "may_record_payment",
    "dispute": "may_confirm_payment",
    "not_settled": "may_end",
    "close": "may_close",
    "rating": "may_rate",
}


@dataclass(frozen=True)
class Failure:
    """A refused form, for the page that shows it again."""

    form: str
    code: str
    message: str
    field: str | None
    values: Mapping[str, str]


FAILURE = web.RequestKey("web.outcome_failure", Failure)


def add_routes(router: web.UrlDispatcher) -> None:
    base = r"/cases/{case_id:\d+}/outcome"
    r = router
    r.add_post(f"{base}/agreement", draft_submit, name="outcome_draft")
    r.add_post(f"{base}/agreement/sign", sign_submit, name="outcome_sign")
    r.add_post(f"{base}/agreement/sign-code", sign_code_submit, name="outcome_sign_code")
    r.add_post(f"{base}/blind-offers", blind_submit, name="outcome_blind")
    r.add_post(f"{base}/offers", offer_submit, name="outcome_offer")
    r.add_post(base + r"/offers/{sequence:\d+}/answer", answer_submit, name="outcome_answer")
    r.add_post(f"{base}/payments", payment_submit, name="outcome_payment")
    r.add_post(f"{base}/payments/confirm", confirm_submit, name="outcome_confirm")
    r.add_post(f"{base}/payments/dispute", dispute_submit, name="outcome_dispute")
    r.add_post(f"{base}/not-settled", not_settled_submit, name="outcome_not_settled")
    r.add_post(f"{base}/close", close_submit, name="outcome_close")
    r.add_post(f"{base}/rating", rating_submit, name="outcome_rating")


# --- the section of the case page ---------------------------------------------------------------


def _plain_yuan(fen: object) -> str:
    """Fen as yuan the way one types it (``3200.50``), for a form's value; empty for none."""
    return yuan(fen, grouped=False) if isinstance(fen, int) and fen > 0 else ""


def _as_day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _payments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payment record: recorded payments, objections and the confirmation."""
    kinds = {"payment_recorded", "payment_disputed", "payment_confirmed"}
    return [
        {
            "kind": e["kind"],
            "at": e["at"],
            "amount_fen": (e.get("payload") or {}).get("amount_fen"),
            "paid_on": _as_day((e.get("payload") or {}).get("paid_on")),
            "reference": (e.get("payload") or {}).get("reference", ""),
            "reason": (e.get("payload") or {}).get("reason", ""),
        }
        for e in events
        if e.get("kind") in kinds
    ]


def _closed_outcome(events: list[dict[str, Any]]) -> str | None:
    closed = [e for e in events if e.get("kind") == "closed"]
    return str((closed[-1].get("payload") or {}).get("outcome")) if closed else None


async def section(
    request: web.Request,
    user: UserInfo,
    detail: Mapping[str, Any],
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """What the outcome section of a case page shows to ``user`` (one ``outcome`` key)."""
    agreements, offers = request.app[AGREEMENTS], request.app[OFFERS]
    actor = user.actor
    case_id = int(detail["id"])
    rights = await request.app[CASE_VIEWS].outcome_rights(actor, case_id)
    state = rights.state
    party = PARTY_OF_ROLE.get(user.role)
    side = side_of(user.role)
    kinds = {str(e.get("kind")) for e in events}
    agreement: dict[str, Any] = {}
    if rights.agreement_sha256:
        agreement = await agreements.agreement_view(actor, case_id)
    signatures = {s["party"]: s for s in agreement.get("signatures", [])}
    closed_outcome = _closed_outcome(events)
    negotiating = state in NEGOTIATION_STATES
    blind: dict[str, Any] = {"rounds": [], "max_rounds": 0, "can_submit": False}
    if negotiating or kinds & {"blind_offer_submitted", "blind_round_ended"}:
        blind = await offers.blind_offers_view(actor, case_id)
    items: list[dict[str, Any]] = []
    if negotiating or "offer_made" in kinds:
        items = (await offers.offers_view(actor, case_id))["items"]
    latest = items[-1] if items else None
    answerable = (
        latest
        if side is not None
        and negotiating
        and latest is not None
        and latest["status"] == "open"
        and latest["side"] != side
        else None
    )
    window = None
    if state in (CaseState.SETTLED, CaseState.FULFILLED, CaseState.CLOSED):
        window = await agreements.confirmation_window(actor, case_id)
    if window is not None:
        window = {**window, "ends_on": _as_day(window["ends_on"])}
    failure = request.get(FAILURE)
    notice = await take_flash(request, OUTCOME_NOTICE, case_id)
    if notice is not None:
        notice["text"] = _(OUTCOME_DONE.get(str(notice.get("done")), ""))
    rating = None
    if rights.may_rate:
        rating = await request.app[RATINGS].my_rating(actor, case_id)
    result = closed_outcome if state is CaseState.CLOSED else state.value
    outcome: dict[str, Any] = {
        "state": state.value,
        "side": side,
        "party": party.value if party else None,
        "agreement": agreement.get("agreement"),
        "due_on": _as_day((agreement.get("agreement") or {}).get("due_on")),
        "amount_yuan": _plain_yuan((agreement.get("agreement") or {}).get("amount_fen")),
        "signatures": signatures,
        "signed_by_me": party is not None and party.value in signatures,
        "may_draft": rights.may_draft,
        "may_sign": rights.may_sign,
        "needs_code": requires_second_factor(user.role) or user.has_second_factor,
        "may_end": rights.may_end,
        "may_close": rights.may_close,
        "blind": blind,
        "blind_rounds_left": max(0, blind["max_rounds"] - len(blind["rounds"])),
        "may_blind": side is not None and bool(blind["can_submit"]),
        "show_negotiation": negotiating or bool(blind["rounds"]) or bool(items),
        "offers": items,
        "answerable": answerable,
        "may_offer": rights.may_offer,
        "payments": _payments(events),
        "may_record_payment": rights.may_record_payment,
        "may_confirm_payment": rights.may_confirm_payment,
        "today": datetime.now(zone_of(request)).date().isoformat(),
        "closed": state is CaseState.CLOSED,
        "referable": result == CaseState.NOT_SETTLED.value and rights.may_export,
        "window": window,
        "may_confirmation_package": bool(window and window["open"]) and rights.may_export,
        "may_rate": rights.may_rate,
        "rating": rating,
        "scores": SCORES,
        "methods": METHODS,
        "notice": notice,
        "failed_form": failure.form if failure else None,
        "failed_field": failure.field if failure else None,
        "error": _error_text(failure) if failure else None,
        "values": dict(failure.values) if failure else {},
        "max_text": MAX_TERMS,
        "max_reason": MAX_REASON,
        "max_reference": MAX_REFERENCE,
    }
    if failure is not None:
        shown = outcome.get(_FORM_SHOWN.get(failure.form, ""), False)
        outcome["top_error"] = not shown  # the form is gone: say why above the section
    else:
        outcome["top_error"] = False
    outcome["visible"] = any(
        outcome[k]
        for k in (
            "top_error",
            "agreement",
            "may_draft",
            "may_end",
            "may_close",
            "show_negotiation",
            "payments",
            "closed",
            "referable",
            "window",
        )
    )
    return {"outcome": outcome}


#: Which flag of the section shows the form of each step (`odr.domain.next_step.Step`).
_FLAG_OF_STEP = {
    "draft_agreement": "may_draft",
    "sign_agreement": "may_sign",
    "declare_not_settled": "may_end",
    "close": "may_close",
    "make_offer": "may_offer",
    "blind_offer": "may_blind",
    "record_payment": "may_record_payment",
    "confirm_payment": "may_confirm_payment",
    "rate_service": "may_rate",
}


def offer_steps(outcome: dict[str, Any], steps: frozenset[str]) -> None:
    """Show exactly the forms of the reader's next steps (`odr.domain.next_step`)."""
    for step, flag in _FLAG_OF_STEP.items():
        outcome[flag] = step in steps
    if "answer_offer" not in steps:
        outcome["answerable"] = None
    failed = outcome["failed_form"]
    outcome["top_error"] = bool(failed) and not outcome.get(_FORM_SHOWN.get(failed, ""), False)
    outcome["visible"] = outcome["visible"] or any(
        outcome[k] for k in ("top_error", "may_draft", "may_end", "may_close")
    )


def _error_text(failure: Failure) -> str:
    """What a refusal says, in the language of the page showing it."""
    if failure.code in _ERRORS:
        return _(_ERRORS[failure.code])
    return message_for(failure.code, failure.message)


# --- reading the forms --------------------------------------------------------------------------


def _text(raw: str, name: str, limit: int) -> str:
    text = raw.strip()
    if len(text) > limit:
        raise ValidationFailed(
            f"The {name} may have at most {limit} characters.",
            code=f"{name}_too_long",
            details={"field": name},
        )
    return text


def _amount(raw: str) -> int:
    fen = parse_yuan(raw, "amount")
    if fen is None:
        raise ValidationFailed(
            "Enter the amount in yuan.", code="amount_required", details={"field": "amount"}
        )
    return fen


def _day(raw: str, name: str) -> date | None:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "Enter a date like 2026-12-01.", code=f"invalid_{name}", details={"field": name}
        ) from None


def _field_of(form: str, error: DomainError) -> str | None:
    raw = error.details.get("field")
    if isinstance(raw, str):
        name = _FIELD.get(raw, forms.form_field(raw) or raw)
        if name in FORM_FIELDS[form] or name in ("password", "otp"):
            return name
    return _CODE_FIELD.get(error.code) if form == "sign" else None


# --- answering ----------------------------------------------------------------------------------


async def _done(request: web.Request, case_id: int, done: str) -> web.StreamResponse:
    await flash(request, OUTCOME_NOTICE, case_id, done=done)
    location = str(request.app.router["case"].url_for(case_id=str(case_id)))
    raise web.HTTPSeeOther(location=f"{location}#{ANCHOR}")


async def _failed(
    request: web.Request, form: str, error: DomainError, values: Mapping[str, str]
) -> web.StreamResponse:
    """The case page again, the refused form showing why and what was typed."""
    kept = {k: v for k, v in values.items() if k in FORM_FIELDS[form]}
    request[FAILURE] = Failure(form, error.code, error.message, _field_of(form, error), kept)
    response = await request.app[CASE_PAGE](request)
    response.set_status(status_of(error))
    response.headers["X-Error-Code"] = error.code
    return response


async def _values(request: web.Request, form: str) -> dict[str, str]:
    posted = await request.post()
    return {name: str(posted.get(name, "")) for name in FORM_FIELDS[form]}


async def draft_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "draft")
    try:
        amount = parse_yuan(values["amount"], "amount")
        await request.app[AGREEMENTS].draft_agreement(
            user.actor,
            case_id,
            facts=values["facts"],
            terms=values["terms"],
            amount_fen=amount,
            due_on=_day(values["due_on"], "due_on"),
            confidential=values["confidential"] == "1",
            void_signatures=values["confirm"] == "1",
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "draft", error, values)
    return await _done(request, case_id, "draft")


async def sign_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    posted = await request.post()
    values = {"read": str(posted.get("read", ""))}
    try:
        if values["read"] != "1":
            raise ValidationFailed(
                "Confirm that you read the agreement.",
                code="read_confirmation_required",
                details={"field": "read"},
            )
        otp = str(posted.get("otp", "")).strip()
        code = str(posted.get("code", "")).strip()
        view = await request.app[AGREEMENTS].sign_agreement(
            user.actor,
            case_id,
            sha256=str(posted.get("sha256", "")),
            password=str(posted.get("password", "")),
            otp=otp or None,
            code=code or None,
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "sign", error, values)
    return await _done(request, case_id, "settled" if view.get("all_signed") else "sign")


async def sign_code_submit(request: web.Request) -> web.StreamResponse:
    """A one-time code by SMS to sign instead of typing the password."""
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    posted = await request.post()
    try:
        await request.app[AGREEMENTS].send_signing_code(
            user.actor,
            case_id,
            sha256=str(posted.get("sha256", "")),
            client=login_client(request).address,
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "sign", error, {})
    return await _done(request, case_id, "sign_code")


async def blind_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "blind")
    try:
        await request.app[OFFERS].submit_blind_offer(user.actor, case_id, _amount(values["amount"]))
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "blind", error, values)
    return await _done(request, case_id, "blind")


async def offer_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "offer")
    try:
        await request.app[OFFERS].make_offer(
            user.actor, case_id, amount_fen=_amount(values["amount"]), text=values["text"]
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "offer", error, values)
    return await _done(request, case_id, "offer")


async def answer_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    sequence = path_id(request, "sequence")
    accept = str((await request.post()).get("accept", "")) == "1"
    try:
        await request.app[OFFERS].answer_offer(
            user.actor, case_id, offer_sequence=sequence, accept=accept
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "answer", error, {})
    return await _done(request, case_id, "accept" if accept else "decline")


async def payment_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "payment")
    try:
        paid_on = _day(values["paid_on"], "paid_on")
        if paid_on is None:
            raise ValidationFailed(
                "Enter the day of payment.", code="invalid_paid_on", details={"field": "paid_on"}
            )
        await request.app[PAYMENTS].record_payment(
            user.actor,
            case_id,
            amount_fen=_amount(values["amount"]),
            paid_on=paid_on,
            reference=_text(values["reference"], "reference", MAX_REFERENCE),
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "payment", error, values)
    return await _done(request, case_id, "payment")


async def confirm_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    try:
        await request.app[PAYMENTS].confirm_payment(user.actor, case_id)
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "confirm", error, {})
    return await _done(request, case_id, "confirm")


async def dispute_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "dispute")
    try:
        reason = _text(values["reason"], "reason", MAX_REASON)
        await request.app[PAYMENTS].dispute_payment(user.actor, case_id, reason=reason)
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "dispute", error, values)
    return await _done(request, case_id, "dispute")


async def not_settled_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "not_settled")
    try:
        reason = _text(values["reason"], "reason", MAX_REASON)
        await request.app[CLOSING].declare_not_settled(user.actor, case_id, reason=reason)
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "not_settled", error, values)
    return await _done(request, case_id, "not_settled")


async def close_submit(request: web.Request) -> web.StreamResponse:
    """Close the case (its closing report enters the evidence) and show the report."""
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    posted = await request.post()
    try:
        forms.require_confirmation(posted)
        await request.app[CLOSING].close_case(user.actor, case_id)
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "close", error, {})
    raise web.HTTPSeeOther(
        location=str(request.app.router["case_report"].url_for(case_id=str(case_id)))
    )


async def rating_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    values = await _values(request, "rating")
    try:
        raw = values["score"].strip()
        if raw not in {str(n) for n in SCORES}:
            raise ValidationFailed(
                "Choose 1 to 5 stars.", code="invalid_score", details={"field": "score"}
            )
        await request.app[RATINGS].rate(
            user.actor, case_id, score=int(raw), comment=values["comment"]
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _failed(request, "rating", error, values)
    return await _done(request, case_id, "rating")
