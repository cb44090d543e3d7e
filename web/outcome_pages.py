"""Outcome pages: the printable closing report (结案报告) of a case.

The handler reads `ClosingService.report` (which authorises) and renders; the PDF links go to
the JSON API's ``report.pdf`` in either language.
"""

from __future__ import annotations

from aiohttp import web

from odr.http.auth import require_user
from odr.http.keys import CLOSING
from odr.http.params import path_id
from web import labels
from web.i18n import N_
from web.rendering import render, use_language

DEADLINE_NAMES = {
    "answer": N_("Insurer's answer"),
    "mediation": N_("Mediation"),
    "payment": N_("Payment under the agreement"),
}
DEADLINE_STATUS = {"met": N_("Met"), "missed": N_("Missed"), "pending": N_("Open")}
#: How a signer proved who they were, as the report says it.
SIGNATURE_METHODS = {
    "password": N_("Password"),
    "password+totp": N_("Password + authenticator code"),
    "sms_code": N_("SMS code"),
    "sms_code+totp": N_("SMS code + authenticator code"),
}
SIGNATURE_PARTIES = {
    "consumer": N_("Consumer"),
    "insurer": N_("Insurer"),
    "mediator": N_("Mediator"),
}


def _case_id(request: web.Request) -> int:
    return path_id(request, "case_id")


async def report_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    case_id = _case_id(request)
    data = await request.app[CLOSING].report(user.actor, case_id)
    await use_language(request)
    return await render(
        request,
        "outcome_report.html",
        {
            "report": data,
            "event_name": lambda kind: labels.label(labels.EVENTS, kind),
            "deadline_names": DEADLINE_NAMES,
            "deadline_status": DEADLINE_STATUS,
            "signature_methods": SIGNATURE_METHODS,
            "signature_parties": SIGNATURE_PARTIES,
            "pdf_zh": str(
                request.app.router["api.outcomes.report.pdf"].url_for(case_id=str(case_id))
            )
            + "?lang=zh-CN",
            "pdf_en": str(
                request.app.router["api.outcomes.report.pdf"].url_for(case_id=str(case_id))
            )
            + "?lang=en",
            "case_url": str(request.app.router["case"].url_for(case_id=str(case_id))),
        },
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(r"/cases/{case_id:\d+}/report", report_page, name="case_report")
