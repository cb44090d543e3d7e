"""The supervisor's dashboard: figures for a period as JSON or as a CSV download."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from odr.domain.errors import ValidationFailed
from odr.http.auth import require_actor
from odr.http.keys import DASHBOARD, SETTINGS
from odr.services import dashboard

DEFAULT_DAYS = 30
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _day(request: web.Request, field: str, default: date) -> date:
    raw = request.query.get(field, "").strip()
    if not raw:
        return default
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            f"'{field}' must be a date written YYYY-MM-DD.",
            code="invalid_field",
            details={"field": field},
        ) from None


def period_of(request: web.Request, zone: str) -> dashboard.Period:
    """``from`` and ``to`` (local days, both included); by default the last 30 days."""
    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    end = _day(request, "to", today)
    start = _day(request, "from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise ValidationFailed(
            "'from' must not be after 'to'.", code="invalid_field", details={"field": "from"}
        )
    period = dashboard.Period(start, end)
    if period.days > dashboard.MAX_PERIOD_DAYS:
        raise ValidationFailed(
            "The period may be at most three years.",
            code="invalid_field",
            details={"field": "from"},
        )
    return period


async def figures_of(request: web.Request) -> dict[str, object]:
    actor = await require_actor(request)
    settings = request.app[SETTINGS]
    period = period_of(request, settings.timezone)
    return await request.app[DASHBOARD].figures(
        actor, period, zone=settings.timezone, thresholds=settings.thresholds
    )


async def get_dashboard(request: web.Request) -> web.Response:
    return web.json_response(await figures_of(request))


async def get_dashboard_csv(request: web.Request) -> web.Response:
    data = await figures_of(request)
    period = data["period"]
    assert isinstance(period, dict)
    filename = f"odr-dashboard-{period['from']}-{period['to']}.csv"
    return web.Response(
        body=dashboard.figures_csv(data).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
