"""Case pages: filing a complaint, the lists of cases, one case and its operations.

Each handler parses the form, calls `odr.services`, and renders or redirects; the rules
(who may do what, in which state) are the services' and the domain's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from odr.domain.accounts import Role
from odr.domain.authz import Action, authorize, is_allowed
from odr.domain.cases import MAX_DESCRIPTION, MAX_DESIRED_OUTCOME, CaseState, ChannelKind
from odr.domain.categories import Category
from odr.domain.errors import DomainError, NotFound, ValidationFailed
from odr.domain.masking import MaskResult
from odr.domain.next_step import DESTRUCTIVE_STEPS
from odr.domain.numbers import parse_int
from odr.http.auth import csrf_token, require_user
from odr.http.errors import status_of
from odr.http.keys import ACCESS_LOG, CASE_VIEWS, CASES, EVIDENCE, INBOX, PASSWORDS, SETTINGS
from odr.http.multipart import UploadForm, read_files_form
from odr.http.params import path_id
from odr.services import case_views
from odr.services.accounts import UserInfo
from odr.services.cases import (
    CONTACT_PREFERENCES,
    TERMS_VERSION,
    ComplaintForm,
    Intake,
    check_form,
)
from odr.services.consumers import ConsumerIdentity
from odr.services.filing import MAX_FILING_FILES, file_with_evidence, no_files
from web import (
    case_lists,
    evidence,
    evidence_text_pages,
    forms,
    next_steps,
    outcome_section,
    scheduling_pages,
)
from web.flash import CASE_NOTICE, flash, take_flash
from web.formatting import countdown
from web.i18n import N_
from web.messages import message_for
from web.rendering import render, use_language, zone_of
from web.timeline import describe
from web.views import form_page

PAGE_SIZE = 50


def _case_id(request: web.Request) -> int:
    return path_id(request, "case_id")


def _case_url(request: web.Request, case_id: int) -> str:
    return str(request.app.router["case"].url_for(case_id=str(case_id)))


# --- filing a complaint ----------------------------------------------------------------------


async def terms(request: web.Request) -> web.Response:
    return await render(request, "terms.html", {"terms_version": TERMS_VERSION})


async def _complaint_page(
    request: web.Request,
    *,
    error: DomainError | None = None,
    values: Mapping[str, str] | None = None,
    referral: bool = False,
) -> web.Response:
    """The complaint form, or a supervisor's regulator referral (the same complaint fields)."""
    lang = await use_language(request)
    extra = {
        "insurers": await case_lists.insurers(request, lang),
        "categories": [c.value for c in Category],
        "contact_preferences": CONTACT_PREFERENCES,
        "terms_version": TERMS_VERSION,
        "max_description": MAX_DESCRIPTION,
        "max_desired_outcome": MAX_DESIRED_OUTCOME,
        "referral": referral,
        "max_file_bytes": request.app[SETTINGS].max_file_bytes,
        "max_filing_files": MAX_FILING_FILES,
        "error_file": (error.details.get("file") or "") if error is not None else "",
    }
    fields = forms.REFERRAL_FIELDS if referral else forms.COMPLAINT_FIELDS
    defaults = {name: "" for name in fields} | {"contact_preference": "in_app"}
    return await form_page(
        request,
        "referral_new.html" if referral else "complaint_new.html",
        error=error,
        values={**defaults, **(values or {})},
        extra=extra,
    )


async def complaint_form(request: web.Request) -> web.Response:
    user = await require_user(request)
    authorize(user.actor, Action.FILE_COMPLAINT)
    return await _complaint_page(request)


async def complaint_submit(request: web.Request) -> web.StreamResponse:
    """The complaint form; with files (a multipart form, the files last) they are streamed
    to storage and filed as the case's first evidence, or nothing is filed."""
    user = await require_user(request)
    authorize(user.actor, Action.FILE_COMPLAINT)
    values = {name: "" for name in forms.COMPLAINT_FIELDS}
    try:
        if request.content_type == "multipart/form-data":
            # a 5,000-character description in Chinese is about 15,000 bytes of UTF-8
            upload = await read_files_form(
                request, forms.COMPLAINT_FIELDS, max_field_bytes=4 * MAX_DESCRIPTION
            )
            values, files = upload.fields, upload.files()
        else:
            values, files = forms.strings(await request.post(), forms.COMPLAINT_FIELDS), no_files()
        intake = await file_with_evidence(
            request.app[CASES],
            request.app[EVIDENCE],
            user.actor,
            forms.complaint(values),
            consumer_id=user.id,
            files=files,
        )
    except DomainError as error:
        return await _complaint_page(request, error=error, values=values)
    await flash(request, CASE_NOTICE, intake.case_id, kind="filed", number=intake.number)
    raise web.HTTPSeeOther(location=_case_url(request, intake.case_id))


async def referral_form(request: web.Request) -> web.Response:
    user = await require_user(request)
    authorize(user.actor, Action.REGISTER_REFERRAL)
    return await _complaint_page(request, referral=True)


async def referral_submit(request: web.Request) -> web.StreamResponse:
    """A complaint the regulator passed on (12378 hotline): filed by a supervisor for the
    consumer, found or created by mobile number, as `odr.api.cases.register_referral` does."""
    user = await require_user(request)
    authorize(user.actor, Action.REGISTER_REFERRAL)
    values = forms.strings(await request.post(), forms.REFERRAL_FIELDS)
    try:
        name = forms.consumer_name(values["consumer_name"])
        form = forms.referral(values, zone_of(request), datetime.now(UTC))
        check_form(form, accepting_terms=False)  # the complaint's errors before the consumer's
        intake = await _file_referral(request, user, form, name, values["consumer_mobile"])
    except DomainError as error:
        return await _complaint_page(request, error=error, values=values, referral=True)
    await flash(request, CASE_NOTICE, intake.case_id, kind="referred", number=intake.number)
    raise web.HTTPSeeOther(location=_case_url(request, intake.case_id))


async def _file_referral(
    request: web.Request, user: UserInfo, form: ComplaintForm, name: str, mobile: str
) -> Intake:
    try:
        return await request.app[CASES].file_for(
            user.actor,
            form,
            ConsumerIdentity(name=name, mobile=mobile),
            passwords=request.app[PASSWORDS],
            channel_kind=ChannelKind.REGULATOR_REFERRAL,
            accepting_terms=False,
        )
    except ValidationFailed as error:
        raise forms.consumer_error(error) from None


# --- lists -----------------------------------------------------------------------------------


def _filter(user: UserInfo, query: Mapping[str, str]) -> case_views.CaseFilter:
    """Supervisors filter every case; everyone else sees their own list, unfiltered.
    Unknown filter values are ignored rather than refused; a page link's cursor is not."""
    cursor = query.get("cursor") or None
    if not _sees_all_cases(user):
        return case_views.CaseFilter(limit=PAGE_SIZE, cursor=cursor)
    state = query.get("state", "")
    category = query.get("category", "")
    insurer = query.get("insurer_id", "")
    return case_views.CaseFilter(
        state=state if state in set(CaseState) else None,
        category=category if category in set(Category) else None,
        insurer_id=parse_int(insurer, minimum=1),
        care_only=query.get("care") == "1",
        limit=PAGE_SIZE,
        cursor=cursor,
    )


def _sees_all_cases(user: UserInfo) -> bool:
    return is_allowed(user.actor, Action.VIEW_ALL_CASES)


def _page_url(request: web.Request, cursor: str | None) -> str | None:
    """The same list (its filters kept) from ``cursor`` on; None when there is no such page."""
    return None if cursor is None else str(request.rel_url.update_query(cursor=cursor))


async def case_list(request: web.Request) -> web.Response:
    user = await require_user(request)
    lang = await use_language(request)
    f = _filter(user, request.query)
    insurers = await case_lists.insurers(request, lang)
    names = case_lists.names(insurers)
    page = await case_lists.load_page(request, user, f, names)
    context: dict[str, Any] = {
        "role": user.role.value,
        "rows": page.items,
        "prev_url": _page_url(request, page.previous),
        "next_url": _page_url(request, page.next),
        "filtering": _sees_all_cases(user),
        "escalated": [],
    }
    if context["filtering"]:
        escalated = case_views.CaseFilter(state=CaseState.ESCALATED.value)
        context["escalated"] = await case_lists.load(request, user, escalated, names)
        context["filters"] = {
            "state": f.state or "",
            "category": f.category or "",
            "insurer_id": f.insurer_id,
            "care": f.care_only,
        }
        context["insurers"] = insurers
        context["states"] = [s.value for s in CaseState]
        context["categories"] = [c.value for c in Category]
    return await render(request, "cases.html", context)


# --- one case --------------------------------------------------------------------------------


def _stage_started_at(detail: Mapping[str, Any], events: list[dict[str, Any]]) -> Any:
    """The start of the running deadline: receipt for the insurer's answer, the request for
    mediation for the mediation stage."""
    if detail["clock"]["stage"] == "answer":
        return detail["received_at"]
    starts = [e["at"] for e in events if "mediation_due_at" in (e.get("payload") or {})]
    return starts[-1] if starts else None


#: What the access log says was opened.
ACCESS_KINDS = {
    "case": N_("the case"),
    "evidence": N_("evidence item"),
    "recording": N_("recording"),
}


async def _access_log(request: web.Request, user: UserInfo, case_id: int) -> list[Any] | None:
    """The case's access log for its consumer and supervisors (None for everyone else)."""
    if user.role not in (Role.CONSUMER, Role.SUPERVISOR):
        return None
    return list(await request.app[ACCESS_LOG].case_log(user.actor, case_id))


async def _case_page(
    request: web.Request,
    user: UserInfo,
    case_id: int,
    *,
    error: DomainError | None = None,
    operation: str | None = None,
    values: Mapping[str, str] | None = None,
) -> web.Response:
    lang = await use_language(request)
    page = await request.app[CASE_VIEWS].case_page(user.actor, case_id)
    detail, events, may_upload = page.detail, page.events, page.may_upload
    items = await request.app[EVIDENCE].visible_items(user.actor, case_id)
    zone = zone_of(request)
    names = case_lists.names(await case_lists.insurers(request, lang))
    context: dict[str, Any] = {
        "case": detail,
        "insurer_name": names.get(detail["insurer"]["id"], detail["insurer"]["name"]),
        "countdown": countdown(
            detail.get("due_at"), _stage_started_at(detail, events), datetime.now(UTC)
        ),
        "events": [describe(e, lang, zone) for e in evidence.hide_unseen(events, items)],
        "staff": user.role is not Role.CONSUMER,
        "flash": await take_flash(request, CASE_NOTICE, case_id),
        "csrf_token": await csrf_token(request),
        "operation": operation,
        "values": values or {},
        "error": None,
        "error_field": None,
        "page_url": _case_url(request, case_id),  # also after a form sent back with an error
        "evidence": evidence.items_view(request, case_id, user.id, items),
        "may_upload": may_upload,
        "evidence_kinds": evidence.KINDS,
        "max_file_bytes": request.app[SETTINGS].max_file_bytes,
        "max_evidence_description": evidence.MAX_DESCRIPTION,
        "evidence_texts": evidence.script_texts() if may_upload else {},
        "access_log": await _access_log(request, user, case_id),
        "access_kinds": ACCESS_KINDS,
        "access_role": user.role.value,
    }
    hearings = await scheduling_pages.section(request, user, detail)
    outcome = await outcome_section.section(request, user, detail, events)
    step = next_steps.for_page(page.facts, page.viewer, hearings, outcome["outcome"])
    steps = frozenset(str(s) for s in step.steps)
    outcome_section.offer_steps(outcome["outcome"], steps)
    context.update(hearings)
    context.update(outcome)
    context.update(await evidence_text_pages.flags_for(request, user.actor, case_id))
    context.update(
        {
            "next": step,
            "steps": steps,
            # the case commands' forms; closing is the outcome section's (it shows the report),
            # assigning the hearing section's (it lists the eligible mediators)
            "command_steps": [
                str(s)
                for s in step.steps
                if s in forms.OPERATION_FIELDS and s not in ("close", "assign_mediator")
            ],
            "confirm_steps": DESTRUCTIVE_STEPS,
        }
    )
    status = 200
    headers: dict[str, str] = {}
    if error is not None:
        status = status_of(error)
        if operation == evidence.OPERATION:
            context["error"] = evidence.error_message(error)
            context["error_field"] = evidence.error_field(error)
        else:
            context["error"] = message_for(error.code, error.message)
            context["error_field"] = forms.form_field(error.details.get("field"))
        headers["X-Error-Code"] = error.code
    response = await render(request, "case.html", context, status=status)
    response.headers.update(headers)
    return response


async def case_page(request: web.Request) -> web.Response:
    """The case; what the viewer's inbox said about it counts as read now (their own
    notifications only, so a stranger's visit changes nothing of anyone else's)."""
    user = await require_user(request)
    case_id = _case_id(request)
    await request.app[INBOX].mark_case_read(user.id, case_id, datetime.now(UTC))
    return await _case_page(request, user, case_id)


async def case_act(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id = _case_id(request)
    operation = request.match_info["operation"]
    if operation not in forms.OPERATION_FIELDS:
        raise web.HTTPNotFound()
    posted = await request.post()
    values = forms.strings(posted, forms.OPERATION_FIELDS[operation])
    try:
        if operation in DESTRUCTIVE_STEPS:
            forms.require_confirmation(posted)
        params = forms.operation_params(operation, values)
        outcome = await request.app[CASES].act(user.actor, case_id, operation, params)
    except NotFound:
        raise  # a stranger learns nothing: the 404 page
    except DomainError as error:
        return await _case_page(
            request, user, case_id, error=error, operation=operation, values=values
        )
    notice: dict[str, Any] = {"kind": "done", "operation": operation}
    if isinstance(outcome.value, MaskResult) and outcome.value.masked:
        notice.update(masked=outcome.value.count, masked_kinds=list(outcome.value.kinds))
    await flash(request, CASE_NOTICE, case_id, **notice)
    raise web.HTTPSeeOther(location=_case_url(request, case_id))


async def evidence_submit(request: web.Request) -> web.StreamResponse:
    """The upload form without JavaScript: a multipart POST whose file is streamed to storage
    (the CSRF check reads the token from the form's first part, `leading_token`)."""
    user = await require_user(request)
    case_id = _case_id(request)
    form = UploadForm()
    try:
        form = await evidence.read_form(request)
        item = await request.app[EVIDENCE].upload(
            user.actor,
            case_id,
            form.require_file(),
            name=form.name,
            kind=form.fields["kind"] or "document",
            visibility=form.fields["visibility"] or "all_parties",
            description=form.fields["description"],
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _case_page(
            request, user, case_id, error=error, operation=evidence.OPERATION, values=form.fields
        )
    await flash(request, CASE_NOTICE, case_id, kind="evidence_added", name=item.name)
    raise web.HTTPSeeOther(location=_case_url(request, case_id) + "#evidence")
