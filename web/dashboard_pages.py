"""The supervisor's dashboard page: the figures of `odr.services.dashboard` for a period, as
tables and server-drawn SVG charts (`web.charts`), with early warnings, each insurer against
its thresholds, and a link to the same figures as CSV.

Register with `setup_dashboard_pages(app)` after `web.routes.setup` made the environment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from babel.numbers import format_decimal, format_percent

from odr.api.dashboard import period_of
from odr.domain.errors import ValidationFailed
from odr.http.auth import require_user
from odr.http.keys import DASHBOARD, SETTINGS
from odr.services import dashboard
from web import charts
from web.formatting import babel_locale
from web.i18n import N_, _
from web.labels import label
from web.messages import message_for
from web.rendering import render, use_language

PATH = "/supervisor/dashboard"

#: The figures an insurer is measured on, named for people.
FIGURES: dict[str, str] = {
    "cases": N_("Complaints received"),
    "per_10k_policies": N_("Complaints per 10,000 policies"),
    "overdue_now": N_("Overdue now"),
    "escalation_share": N_("Share escalated"),
    "answer_share_in_time": N_("Answered in time"),
}
SHARES = frozenset({"escalation_share", "answer_share_in_time"})


def setup_dashboard_pages(app: web.Application) -> None:
    """The page's route (named ``dashboard``) and its template helpers; once per app."""
    if "dashboard" in app.router.named_resources():
        return
    env = aiohttp_jinja2.get_env(app)
    env.globals.update(
        figure_label=lambda code: label(FIGURES, code),
        bar_chart=charts.bar_chart,
        line_chart=charts.line_chart,
        gauge=charts.gauge,
        chart_series=charts.Series,
    )
    app.router.add_get(PATH, dashboard_page, name="dashboard")


def quick_ranges(today: date) -> list[dict[str, str]]:
    """Links to common periods, each ending today."""
    spans = [
        (N_("Last 7 days"), today - timedelta(days=6)),
        (N_("Last 30 days"), today - timedelta(days=29)),
        (N_("Last 90 days"), today - timedelta(days=89)),
        (N_("This year"), date(today.year, 1, 1)),
        (N_("Last 12 months"), today - timedelta(days=364)),
    ]
    return [
        {"label": _(name), "from": start.isoformat(), "to": today.isoformat()}
        for name, start in spans
    ]


def _share(value: float | None, lang: str) -> str:
    if value is None:
        return _("n/a")
    return str(format_percent(value, format="#,##0.#%", locale=babel_locale(lang)))


def _number(value: float | None, lang: str) -> str:
    if value is None:
        return _("n/a")
    return str(format_decimal(value, format="#,##0.##", locale=babel_locale(lang)))


def _figure(code: str, value: float | None, lang: str) -> str:
    return _share(value, lang) if code in SHARES else _number(value, lang)


async def dashboard_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    lang = await use_language(request)
    settings = request.app[SETTINGS]
    zone = settings.timezone
    error, error_field = None, None
    try:
        period = period_of(request, zone)
    except ValidationFailed as failed:
        error = message_for(failed.code, failed.message)
        error_field = failed.details.get("field")
        today = datetime.now(UTC).astimezone(settings.zone).date()
        period = dashboard.Period(today - timedelta(days=29), today)
    data = await request.app[DASHBOARD].figures(  # supervisors only: others get the 403 page
        user.actor, period, zone=zone, thresholds=settings.thresholds
    )
    if lang == "en":
        for item in data["insurers"]:
            item["name"] = item["name_en"] or item["name"]
    names = {i["insurer_id"]: i["name"] for i in data["insurers"]}
    for row in data["cases"]["by_insurer"]:
        row["name"] = names.get(row["insurer_id"], row["name"])
    warnings = data["warnings"]
    for listed in (
        warnings["high_risk"]["open_cases"],
        warnings["duplicate_clusters"]["clusters"],
        warnings["overdue_cases"],
        warnings["unpaid_agreements"]["cases"],
    ):
        for item in listed:
            item["insurer"] = names.get(item["insurer_id"], item["insurer"])
    for item in data["insurers"]:
        item["shown"] = {code: _figure(code, item[code], lang) for code in FIGURES}
        for reason in item["reasons"]:
            reason["shown_value"] = _figure(reason["figure"], reason["value"], lang)
            reason["shown_threshold"] = _figure(reason["figure"], reason["threshold"], lang)
    query = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    csv_url = request.app.router["api.dashboard.csv"].url_for().with_query(query)
    today = datetime.now(UTC).astimezone(settings.zone).date()
    context: dict[str, Any] = {
        "data": data,
        "period": period,
        "error": error,
        "error_field": error_field,
        "ranges": quick_ranges(today),
        "csv_url": str(csv_url),
        "page_url": str(request.rel_url),
        "shares": {
            "answer": _share(data["deadlines"]["answer"]["share_in_time"], lang),
            "decision": _share(data["deadlines"]["decision"]["share_in_time"], lang),
            "mediation": _share(data["mediation"]["success_rate"], lang),
            "fulfilment": _share(data["fulfilment"]["share_on_time"], lang),
        },
        "numbers": {
            "answer_hours": _number(data["durations"]["median_hours_to_first_answer"], lang),
            "decision_hours": _number(data["durations"]["median_hours_to_decision"], lang),
            "satisfaction": _number((data["satisfaction"] or {}).get("average"), lang),
        },
    }
    return await render(request, "dashboard.html", context)
