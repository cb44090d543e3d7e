"""Lists of cases as pages show them: each row with its insurer's name in the reader's
language and the countdown of its running deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from odr.domain.cases import ANSWER_STAGE_STATES
from odr.domain.deadlines import DeadlineRules
from odr.http.keys import ACCOUNTS, CASE_VIEWS, CASES
from odr.services import case_views
from odr.services.accounts import UserInfo
from web.formatting import Countdown, countdown, moment

HOME_ROWS = 10


@dataclass(frozen=True)
class Insurer:
    id: int
    name: str


async def insurers(request: web.Request, lang: str) -> list[Insurer]:
    """The active insurers a complaint can be filed against, named in the reader's language."""
    rows = await request.app[ACCOUNTS].active_insurers()
    return [Insurer(o.id, (o.name_en or o.name) if lang == "en" else o.name) for o in rows]


def stage_started_at(item: dict[str, Any], deadlines: DeadlineRules) -> datetime | None:
    """When the running deadline started: receipt for the insurer's answer. A list does not
    carry the start of the mediation stage, so it is taken as the category's mediation days
    before the deadline (an extended mediation deadline then looks less urgent than it is;
    the case page reads the real start from the timeline)."""
    if item["state"] in ANSWER_STAGE_STATES:
        return moment(item["received_at"])
    due = moment(item.get("due_at"))
    if due is None:
        return None
    return due - timedelta(days=deadlines.for_category(item["category"]).mediation_days)


def row(
    item: dict[str, Any], names: dict[int, str], now: datetime, deadlines: DeadlineRules
) -> dict[str, Any]:
    clock: Countdown | None = countdown(item.get("due_at"), stage_started_at(item, deadlines), now)
    insurer = item["insurer"]
    return {
        **item,
        "insurer_name": names.get(insurer["id"], insurer["name"]),
        "countdown": clock,
    }


async def load(
    request: web.Request,
    user: UserInfo,
    f: case_views.CaseFilter,
    insurer_names: dict[int, str],
) -> list[dict[str, Any]]:
    """The first page of the user's cases, ready for `_case_table.html`."""
    return (await load_page(request, user, f, insurer_names)).items


async def load_page(
    request: web.Request,
    user: UserInfo,
    f: case_views.CaseFilter,
    insurer_names: dict[int, str],
) -> case_views.Page:
    """One page of the user's cases through `case_views.list_cases`, its rows ready for
    `_case_table.html`, with the cursors of the pages before and after it."""
    page = await request.app[CASE_VIEWS].list_cases(user.actor, f)
    now = datetime.now(UTC)
    deadlines = request.app[CASES].deadlines
    rows = [row(item, insurer_names, now, deadlines) for item in page.items]
    return case_views.Page(items=rows, next=page.next, previous=page.previous)


def names(insurers: list[Insurer]) -> dict[int, str]:
    return {i.id: i.name for i in insurers}
