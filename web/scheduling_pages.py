"""Scheduling pages: the hearings section of a case page (proposing, choosing, confirming,
rescheduling, cancelling; choosing and assigning the mediator) and the readiness check.

Handlers parse the form, call `odr.services.scheduling` and redirect back to the case page;
a refusal comes back as a one-time notice above the section (kept in the session).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from odr.domain.cases import CaseState
from odr.domain.errors import DomainError, NotFound, ValidationFailed
from odr.domain.hearings import MAX_REASON_LENGTH, MAX_SLOTS
from odr.domain.numbers import parse_int
from odr.http.auth import require_user
from odr.http.keys import CASES, SCHEDULING
from odr.http.params import path_id
from odr.services.accounts import UserInfo
from odr.services.scheduling import parse_moment
from web.flash import HEARING_NOTICE, flash, take_flash
from web.i18n import N_, _
from web.messages import message_for
from web.rendering import render, use_language

_REASONS: dict[str, str] = {
    "employed_by_insurer": N_("works for the insurer of this case"),
    "recently_employed_by_insurer": N_("worked for the insurer of this case until %(ended_on)s"),
    "acted_for_a_party": N_("acted for one of the parties in this case"),
    "earlier_mediation_not_settled": N_(
        "mediated the earlier case %(case_number)s between the same parties, not settled"
    ),
}

_ERRORS: dict[str, str] = {
    "slots_required": N_("Propose at least one time."),
    "too_many_slots": N_("Propose at most 6 times."),
    "invalid_slot": N_("Enter each time as a date and an hour."),
    "slot_in_past": N_("Every time must be in the future."),
    "duplicate_slot": N_("The same time is given twice."),
    "slot_not_proposed": N_("Choose one of the proposed times."),
    "reason_required": N_("Give a reason."),
    "hearing_reason_too_long": N_("The reason may have at most 500 characters."),
    "illegal_hearing_transition": N_("This cannot be done to the hearing now."),
    "case_not_ready_for_hearing": N_("A hearing can be set once a mediator is assigned."),
    "hearing_already_open": N_("The case already has a hearing ahead: reschedule it instead."),
    "stale_hearing": N_("Someone changed this hearing at the same time. Please try again."),
    "mediator_recused": N_("This mediator may not take the case (recusal)."),
    "mediator_not_in_centre": N_("Choose a mediator of the case's mediation centre."),
    "mediator_choice_closed": N_("A mediator can only be chosen while the case waits for one."),
    "mediator_already_assigned": N_("This mediator is already assigned."),
    "invalid_duration": N_("A hearing lasts 15 to 240 minutes."),
    "minutes_too_long": N_("The minutes may have at most 20,000 characters."),
}

#: What the page confirms after a scheduling step succeeded.
SCHEDULING_DONE: dict[str, str] = {
    "propose": N_("The times were proposed. The parties have been told."),
    "choose": N_("Thank you. Your choice was saved."),
    "confirm": N_("The hearing is set. Everyone received an invitation."),
    "reschedule": N_("New times were proposed. Everyone has been told."),
    "cancel": N_("The hearing was cancelled. Everyone has been told."),
    "assign": N_("The mediator was assigned."),
    "choose_mediator": N_("Your choice of mediator was saved."),
}


def _error_text(code: str, message: str) -> str:
    """What a refusal says, in the language of the page showing it."""
    return _(_ERRORS[code]) if code in _ERRORS else message_for(code, message)


def reason_text(reason: Mapping[str, Any]) -> str:
    template = _REASONS.get(str(reason.get("reason")), "")
    if not template:
        return str(reason.get("reason"))
    return _(
        template,
        ended_on=str(reason.get("ended_on") or ""),
        case_number=str(reason.get("case_number") or ""),
    )


def _case_url(request: web.Request, case_id: int, anchor: str = "hearings") -> str:
    return str(request.app.router["case"].url_for(case_id=str(case_id))) + f"#{anchor}"


_STATES: dict[str, str] = {
    "proposed": N_("Hearing: times proposed, waiting for answers"),
    "scheduled": N_("Hearing scheduled"),
    "in_progress": N_("Hearing in progress"),
    "ended": N_("Hearing ended"),
    "cancelled": N_("Hearing cancelled"),
}


def hearing_state_label(state: str) -> str:
    return _(_STATES[state]) if state in _STATES else state


def slot_takers(hearing: Any, slot: datetime) -> int:
    """How many of the answers received can attend ``slot``."""
    return sum(1 for picked in hearing.choices.values() if slot in picked)


def install(app: web.Application) -> None:
    """The template helpers of the hearing pages."""
    import aiohttp_jinja2

    env = aiohttp_jinja2.get_env(app)
    env.globals.update(
        hearing_state_label=hearing_state_label,
        recusal_reason=reason_text,
        slot_takers=slot_takers,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    r = router
    r.add_get("/check", check_page, name="readiness_check")
    r.add_get(r"/hearings/{hearing_id:\d+}", hearing_page, name="hearing")
    r.add_get(r"/hearings/{hearing_id:\d+}/check", check_page, name="hearing_check")
    r.add_post(r"/cases/{case_id:\d+}/hearings", propose_submit, name="hearing_propose")
    r.add_post(r"/hearings/{hearing_id:\d+}/choose", choose_submit, name="hearing_choose")
    r.add_post(r"/hearings/{hearing_id:\d+}/confirm", confirm_submit, name="hearing_confirm")
    r.add_post(
        r"/hearings/{hearing_id:\d+}/reschedule", reschedule_submit, name="hearing_reschedule"
    )
    r.add_post(r"/hearings/{hearing_id:\d+}/cancel", cancel_submit, name="hearing_cancel")
    r.add_post(r"/cases/{case_id:\d+}/mediator", assign_submit, name="hearing_assign")
    r.add_post(
        r"/cases/{case_id:\d+}/mediator-choice",
        choose_mediator_submit,
        name="hearing_choose_mediator",
    )


# --- the section of the case page ---------------------------------------------------------------


async def section(
    request: web.Request, user: UserInfo, detail: Mapping[str, Any]
) -> dict[str, Any]:
    """What the hearings section of a case page shows to ``user``."""
    service = request.app[SCHEDULING]
    case_id = int(detail["id"])
    hearings = await service.hearings_of_case(user.actor, case_id)
    open_ones = [h for h in hearings if h.is_open]
    state = str(detail["state"])
    notice = await take_flash(request, HEARING_NOTICE, case_id)
    if notice is not None:
        kind = notice.get("kind")
        done_text = SCHEDULING_DONE.get(str(notice.get("done")), "")
        notice["text"] = (
            _(done_text)
            if kind == "done"
            else _error_text(str(notice.get("code")), str(notice.get("message", "")))
        )
        notice["reasons"] = [reason_text(r) for r in notice.get("reasons", [])]
    context: dict[str, Any] = {
        "hearings": hearings,
        "open_hearing": open_ones[0] if open_ones else None,
        "may_propose": await service.may_propose(user.actor, case_id),
        "max_slots": MAX_SLOTS,
        "max_reason": MAX_REASON_LENGTH,
        "hearing_notice": notice,
        "mediator_options": [],
        "mediator_choices": None,
        "may_assign": False,
        "may_choose_mediator": False,
        "names": {},
    }
    if state in (CaseState.MEDIATION_REQUESTED.value, CaseState.MEDIATOR_ASSIGNED.value):
        try:
            options = await service.eligible_mediators(user.actor, case_id)
        except DomainError:
            options = []
        context["mediator_options"] = options
        context["names"] = {o.user_id: o.name for o in options}
        context["may_assign"] = bool(options) and await service.may_assign(user.actor, case_id)
        if state == CaseState.MEDIATION_REQUESTED.value:
            picks = await service.mediator_choices(user.actor, case_id)
            context["mediator_choices"] = picks
            context["may_choose_mediator"] = picks.my_side is not None and bool(options)
    return context


# --- the forms ----------------------------------------------------------------------------------


async def _form(request: web.Request) -> Mapping[str, Any]:
    return await request.post()


def _moments(request: web.Request, values: list[str], field: str = "slots") -> list[datetime]:
    zone = request.app[SCHEDULING].zone
    return [parse_moment(v, zone, field) for v in values if v.strip()]


async def _done(request: web.Request, case_id: int, done: str) -> web.StreamResponse:
    await flash(request, HEARING_NOTICE, case_id, kind="done", done=done)
    raise web.HTTPSeeOther(location=_case_url(request, case_id))


async def _refused(request: web.Request, case_id: int, error: DomainError) -> web.StreamResponse:
    await flash(
        request,
        HEARING_NOTICE,
        case_id,
        kind="error",
        code=error.code,
        message=error.message,
        reasons=list(error.details.get("reasons", [])),
    )
    raise web.HTTPSeeOther(location=_case_url(request, case_id))


async def propose_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    form = await _form(request)
    try:
        slots = _moments(request, [str(v) for v in form.getall("slot", [])])  # type: ignore[attr-defined]
        duration = parse_int(str(form.get("duration_minutes") or "60"))
        if duration is None:
            raise ValidationFailed(
                "Give the length in minutes.",
                code="invalid_duration",
                details={"field": "duration_minutes"},
            )
        await request.app[SCHEDULING].propose(user.actor, case_id, slots, duration)
    except NotFound:
        raise
    except DomainError as error:
        return await _refused(request, case_id, error)
    return await _done(request, case_id, "propose")


async def _hearing_case(request: web.Request, user: UserInfo, hearing_id: int) -> int:
    view = await request.app[SCHEDULING].hearing(user.actor, hearing_id)
    return view.case_id


HearingAction = Callable[[web.Request, UserInfo, int, Mapping[str, Any]], Awaitable[object]]


async def _on_hearing(request: web.Request, done: str, action: HearingAction) -> web.StreamResponse:
    """One hearing form: authorise through the hearing's case, apply, then back to the case
    page with a notice or the refusal next to the form."""
    user = await require_user(request)
    hearing_id = path_id(request, "hearing_id")
    case_id = await _hearing_case(request, user, hearing_id)
    form = await _form(request)
    try:
        await action(request, user, hearing_id, form)
    except NotFound:
        raise
    except DomainError as error:
        return await _refused(request, case_id, error)
    return await _done(request, case_id, done)


def _slots(request: web.Request, form: Mapping[str, Any]) -> list[datetime]:
    return _moments(request, [str(v) for v in form.getall("slot", [])])  # type: ignore[attr-defined]


async def choose_submit(request: web.Request) -> web.StreamResponse:
    async def choose(r: web.Request, user: UserInfo, hearing_id: int, form: Any) -> object:
        return await r.app[SCHEDULING].choose(user.actor, hearing_id, _slots(r, form))

    return await _on_hearing(request, "choose", choose)


async def confirm_submit(request: web.Request) -> web.StreamResponse:
    async def confirm(r: web.Request, user: UserInfo, hearing_id: int, form: Any) -> object:
        service = r.app[SCHEDULING]
        starts_at = parse_moment(str(form.get("starts_at") or ""), service.zone, "starts_at")
        return await service.confirm(user.actor, hearing_id, starts_at)

    return await _on_hearing(request, "confirm", confirm)


async def reschedule_submit(request: web.Request) -> web.StreamResponse:
    async def reschedule(r: web.Request, user: UserInfo, hearing_id: int, form: Any) -> object:
        reason = str(form.get("reason") or "")
        return await r.app[SCHEDULING].reschedule(user.actor, hearing_id, _slots(r, form), reason)

    return await _on_hearing(request, "reschedule", reschedule)


async def cancel_submit(request: web.Request) -> web.StreamResponse:
    async def cancel(r: web.Request, user: UserInfo, hearing_id: int, form: Any) -> object:
        return await r.app[SCHEDULING].cancel(user.actor, hearing_id, str(form.get("reason") or ""))

    return await _on_hearing(request, "cancel", cancel)


def _mediator_id(form: Mapping[str, Any]) -> int:
    mediator_id = parse_int(str(form.get("mediator_id") or ""), minimum=1)
    if mediator_id is None:
        raise ValidationFailed(
            "Choose a mediator.", code="mediator_not_in_centre", details={"field": "mediator_id"}
        )
    return mediator_id


async def assign_submit(request: web.Request) -> web.StreamResponse:
    """The centre's lead assigns a mediator (through the case's own operation, which checks
    recusal)."""
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    form = await _form(request)
    try:
        params = {"mediator_id": _mediator_id(form)}
        await request.app[CASES].act(user.actor, case_id, "assign_mediator", params)
    except NotFound:
        raise
    except DomainError as error:
        return await _refused(request, case_id, error)
    return await _done(request, case_id, "assign")


async def choose_mediator_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    form = await _form(request)
    try:
        await request.app[SCHEDULING].choose_mediator(user.actor, case_id, _mediator_id(form))
    except NotFound:
        raise
    except DomainError as error:
        return await _refused(request, case_id, error)
    return await _done(request, case_id, "choose_mediator")


async def hearing_page(request: web.Request) -> web.StreamResponse:
    """A hearing's own address (in e-mails and calendars): its case page, at the hearing."""
    user = await require_user(request)
    hearing_id = path_id(request, "hearing_id")
    case_id = await _hearing_case(request, user, hearing_id)
    raise web.HTTPSeeOther(location=_case_url(request, case_id, f"hearing-{hearing_id}"))


# --- the readiness check ------------------------------------------------------------------------


async def check_page(request: web.Request) -> web.Response:
    """Camera, microphone, connection and browser check, before a hearing or any time."""
    hearing = None
    if "hearing_id" in request.match_info:
        user = await require_user(request)
        hearing = await request.app[SCHEDULING].hearing(user.actor, path_id(request, "hearing_id"))
    await use_language(request)
    return await render(
        request,
        "hearing_check.html",
        {
            "hearing": hearing,
            "health_url": str(request.app.router["healthz"].url_for()),
            "now": datetime.now(UTC),
            "check_texts": check_texts(),
        },
    )


def check_texts() -> dict[str, str]:
    """The sentences check.js shows, in the page's language."""
    return {
        "camera_ok": _("Your camera works. You should see yourself above."),
        "camera_fail": _(
            "We could not use your camera. Allow this page to use the camera, close other "
            "programs that use it, and try again."
        ),
        "mic_ok": _("Your microphone works. The bar moves when you speak."),
        "mic_quiet": _("We hear nothing yet. Say a few words out loud."),
        "mic_fail": _(
            "We could not use your microphone. Allow this page to use the microphone and try again."
        ),
        "net_good": _("Your connection is good (%(ms)s ms)."),
        "net_poor": _(
            "Your connection is slow (%(ms)s ms). Move closer to your Wi-Fi router or use "
            "another network if you can."
        ),
        "net_fail": _("We could not reach the service. Check that you are online."),
        "browser_ok": _("Your browser supports video hearings."),
        "browser_fail": _(
            "This browser cannot take part in video hearings. Please use a recent Chrome, "
            "Edge, Firefox or Safari."
        ),
        "checking": _("Checking…"),
        "all_ok": _("Everything works. You are ready for the hearing."),
        "some_fail": _("Something does not work yet. Follow the advice above, then check again."),
    }
