"""The supervisor's dashboard: on a data set built through the real API with a controlled clock,
every figure equals what the test computes from what it did itself."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from odr.app import create_app
from odr.config import Settings
from odr.domain.accounts import Actor, Role
from odr.http.keys import CASES, SESSIONMAKER
from odr.services import dashboard
from odr.services.warnings import detect_early_warnings
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.migrate import downgrade, upgrade
from odr.storage.models import Membership, Organisation, User
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    HUAXIN_REP,
    OTHER_CONSUMER,
    SUPERVISOR,
    Session,
    complaint,
    insurer_id,
    login,
)
from web.dashboard_pages import setup_dashboard_pages

T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
H = timedelta(hours=1)
D = timedelta(days=1)
PERIOD = "from=2025-03-01&to=2025-03-31"
LO = datetime(2025, 2, 28, 16, 0, tzinfo=UTC)  # 2025-03-01 00:00 in Shanghai
HI = datetime(2025, 3, 31, 16, 0, tzinfo=UTC)  # 2025-04-01 00:00 in Shanghai
POLICIES = {"安康人寿": 1_200_000, "华信财险": 800_000}  # the demo data's policy counts
RUNNING = {"awaiting_insurer", "escalated", "mediation_requested"}  # states with a live clock


@dataclass
class Filed:
    id: int
    insurer: str
    category: str
    received: datetime
    state: str = "awaiting_insurer"
    answered: datetime | None = None
    answered_in_time: bool | None = None
    escalated: datetime | None = None
    decided: datetime | None = None
    duplicate: bool = False


def within(moment: datetime | None) -> bool:
    return moment is not None and LO <= moment < HI


async def build(new_client: Any) -> tuple[dict[str, Session], list[Filed]]:
    people = {
        who: await login(new_client, who)
        for who in (CONSUMER, OTHER_CONSUMER, ANKANG_REP, HUAXIN_REP, SUPERVISOR)
    }
    a, b = people[CONSUMER], people[OTHER_CONSUMER]
    service = a.client.app[CASES]
    ids = {name: await insurer_id(a, name) for name in POLICIES}
    reps = {"安康人寿": people[ANKANG_REP], "华信财险": people[HUAXIN_REP]}
    cases: list[Filed] = []
    serial = iter(range(1, 100))

    async def file(who: Session, insurer: str, category: str, at: datetime) -> Filed:
        service.clock = lambda: at
        body = complaint(ids[insurer], category=category, policy_numbers=[f"P{next(serial)}"])
        resp = await who.post("/api/v1/cases", body)
        assert resp.status == 201, await resp.text()
        out = await resp.json()
        filed = Filed(out["id"], insurer, category, at, duplicate=out["duplicate_of"] is not None)
        cases.append(filed)
        return filed

    async def act(who: Session, c: Filed, operation: str, at: datetime, **body: Any) -> None:
        service.clock = lambda: at
        resp = await who.post(f"/api/v1/cases/{c.id}/actions/{operation}", body)
        assert resp.status == 200, await resp.text()
        c.state = (await resp.json())["state"]

    async def answer(c: Filed, at: datetime, *, in_time: bool) -> None:
        await act(reps[c.insurer], c, "answer", at, kind="reject", text="不予赔付")
        c.answered, c.answered_in_time = at, in_time

    c1 = await file(a, "安康人寿", "claims", T0)
    await answer(c1, T0 + 10 * H, in_time=True)
    await act(a, c1, "accept_answer", T0 + 20 * H)
    c1.decided = T0 + 20 * H
    c2 = await file(a, "安康人寿", "surrender", T0 + H)
    await answer(c2, T0 + 31 * H, in_time=True)
    await act(a, c2, "reject_answer", T0 + 49 * H)
    c3 = await file(b, "安康人寿", "claims", T0 + 2 * H)
    await answer(c3, T0 + 52 * H, in_time=True)
    c4 = await file(b, "华信财险", "service", T0 + 3 * H)
    await act(b, c4, "withdraw", T0 + 5 * H)
    c5 = await file(a, "华信财险", "claims", T0 + 4 * H)
    c6 = await file(b, "华信财险", "privacy", T0 + 5 * H)

    # 20 days on, both unanswered complaints are past their 15-day deadline: escalated
    later = T0 + 20 * D
    service.clock = lambda: later
    assert await service.run_clock(later) >= 2
    for c in (c5, c6):
        c.escalated, c.state = later, "escalated"
    await act(people[SUPERVISOR], c6, "return_to_insurer", later + D)
    await answer(c6, later + D + H, in_time=False)

    # the period's last minutes and the next period's first, in Shanghai time
    await file(b, "安康人寿", "mis_selling", datetime(2025, 3, 31, 15, 50, tzinfo=UTC))
    await file(a, "安康人寿", "claims", datetime(2025, 3, 31, 16, 10, tzinfo=UTC))
    return people, cases


def expected_figures(cases: list[Filed]) -> dict[str, Any]:
    """The figures, from what the test did (see the definitions in odr.services.dashboard)."""
    inside = [c for c in cases if within(c.received)]
    cohort = [c for c in cases if within(c.answered) or within(c.escalated)]
    in_time = [c for c in cohort if c.answered_in_time and c.escalated is None]
    answered = [c for c in cases if within(c.answered)]
    decided = [c for c in cases if within(c.decided)]
    insurers = {}
    for name, policies in POLICIES.items():
        mine = [c for c in inside if c.insurer == name]
        escalated = [c for c in cases if c.insurer == name and within(c.escalated)]
        insurers[name] = {
            "cases": len(mine),
            "per_10k_policies": round(len(mine) * 10_000 / policies, 4),
            # every deadline the test set lies in 2025, long past now
            "overdue_now": sum(1 for c in cases if c.insurer == name and c.state in RUNNING),
            "escalations": len(escalated),
            "escalation_share": round(len(escalated) / len(mine), 4) if mine else None,
        }
    return {
        "by_category": Counter(c.category for c in inside),
        "by_insurer": Counter(c.insurer for c in inside),
        "by_state": Counter(c.state for c in inside),
        "answer": (len(cohort), len(in_time)),
        "median_answer": statistics.median(
            (c.answered - c.received) / H for c in answered if c.answered
        ),
        "median_decision": statistics.median(
            (c.decided - c.received) / H for c in decided if c.decided
        ),
        "decisions": len(decided),
        "insurers": insurers,
        "duplicates": sum(1 for c in inside if c.duplicate),
    }


def reasons(figures: dict[str, Any], t: dashboard.InsurerThresholds) -> set[str]:
    limits = {
        "cases": t.max_cases,
        "per_10k_policies": t.max_per_10k_policies,
        "overdue_now": t.max_overdue,
        "escalation_share": t.max_escalation_share,
    }
    return {k for k, limit in limits.items() if figures[k] is not None and figures[k] > limit}


async def test_figures_match_what_was_done(new_client: Any) -> None:
    people, cases = await build(new_client)
    want = expected_figures(cases)
    sup = people[SUPERVISOR]
    resp = await sup.get(f"/api/v1/dashboard?{PERIOD}")
    assert resp.status == 200, await resp.text()
    got = await resp.json()

    assert got["period"] == {**got["period"], "from": "2025-03-01", "to": "2025-03-31"}
    counts = got["cases"]
    assert {r["category"]: r["count"] for r in counts["by_category"]} == want["by_category"]
    assert {r["name"]: r["count"] for r in counts["by_insurer"]} == want["by_insurer"]
    assert {r["state"]: r["count"] for r in counts["by_state"]} == want["by_state"]
    assert {r["channel_kind"]: r["count"] for r in counts["by_channel"]} == {
        "web": sum(want["by_state"].values())
    }
    assert counts["total"] == 7

    cohort, in_time = want["answer"]
    assert (cohort, in_time) == (5, 3)  # the data set is what the test means it to be
    assert got["deadlines"]["answer"] == {
        "cases": cohort,
        "in_time": in_time,
        "missed": cohort - in_time,
        "share_in_time": round(in_time / cohort, 4),
    }
    assert got["deadlines"]["decision"] == {
        "cases": want["decisions"],
        "in_time": want["decisions"],
        "missed": 0,
        "share_in_time": 1.0,
    }
    durations = got["durations"]
    assert durations["answers"] == 4
    assert durations["median_hours_to_first_answer"] == round(want["median_answer"], 2)
    assert durations["median_hours_to_decision"] == round(want["median_decision"], 2)
    assert got["mediation"] == {"ended": 0, "settled": 0, "not_settled": 0, "success_rate": None}
    assert got["fulfilment"]["confirmed"] == 0 and got["fulfilment"]["share_on_time"] is None
    assert got["satisfaction"]["average"] is None

    warnings = got["warnings"]
    assert warnings["overdue_now"] == sum(i["overdue_now"] for i in want["insurers"].values())
    assert warnings["duplicate_clusters"]["count"] == 0
    assert warnings["duplicate_clusters"]["duplicates_filed"] == want["duplicates"]
    assert warnings["unpaid_agreements"]["count"] == 0
    risky = []
    for c in cases:
        if within(c.received):
            detail = await (await sup.get(f"/api/v1/cases/{c.id}")).json()
            if detail["risk_score"] >= dashboard.HIGH_RISK_SCORE:
                risky.append(c)
    assert warnings["high_risk"]["count"] == len(risky)
    assert {r["id"] for r in warnings["high_risk"]["open_cases"]} == {
        c.id for c in risky if c.state in RUNNING | {"insurer_answered"}
    }

    per_insurer = {i["name"]: i for i in got["insurers"]}
    for name, figures in want["insurers"].items():
        item = per_insurer[name]
        assert {k: item[k] for k in figures} == figures, name
        expected_reasons = reasons(figures, dashboard.DEFAULT)
        assert item["warning"] is bool(expected_reasons), name
        assert {r["figure"] for r in item["reasons"]} == expected_reasons, name
    assert per_insurer["华信财险"]["warning"]  # two escalations out of three cases
    assert not per_insurer["安康人寿"]["warning"]

    # low thresholds raise the warning on the figures that exceed them
    low = dashboard.InsurerThresholds(
        max_cases=2, max_per_10k_policies=0.035, max_overdue=1, max_escalation_share=0.9
    )
    app = sup.client.app
    async with app[SESSIONMAKER]() as s:
        user = (await s.execute(select(User).where(User.email == SUPERVISOR))).scalar_one()
        org = (
            await s.execute(select(Membership.organisation_id).where(Membership.user_id == user.id))
        ).scalar_one()
        actor = Actor(user.id, Role.SUPERVISOR, organisation_id=org)
        period = dashboard.Period(date(2025, 3, 1), date(2025, 3, 31))
        direct = await dashboard.figures(s, actor, period, zone="Asia/Shanghai", thresholds=low)
    for item in direct["insurers"]:
        expected_reasons = reasons(want["insurers"][item["name"]], low)
        assert expected_reasons, item["name"]  # both insurers trip some threshold
        assert item["warning"] and {r["figure"] for r in item["reasons"]} == expected_reasons
    assert direct["thresholds"]["max_cases"] == 2

    # a period that holds only the last case of the boundary pair
    resp = await sup.get("/api/v1/dashboard?from=2025-04-01&to=2025-04-01")
    assert (await resp.json())["cases"]["total"] == 1

    # the CSV carries the same numbers
    resp = await sup.get(f"/api/v1/dashboard.csv?{PERIOD}")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    sections = _sections(text)
    assert set(sections) >= {
        "summary",
        "cases by category",
        "cases by insurer",
        "cases by channel",
        "cases by state",
        "insurers",
    }
    by_insurer = {r["insurer"]: int(r["count"]) for r in sections["cases by insurer"]}
    assert by_insurer == want["by_insurer"]
    by_category = {r["category"]: int(r["count"]) for r in sections["cases by category"]}
    assert by_category == want["by_category"]
    rows = {r["name"]: r for r in sections["insurers"]}
    assert (
        rows["华信财险"]["warning"] == "True" and "escalation_share" in rows["华信财险"]["reasons"]
    )


def _sections(text: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    rows = list(csv.reader(io.StringIO(text)))
    i = 0
    while i < len(rows):
        if rows[i] and rows[i][0].startswith("# "):
            title, header = rows[i][0][2:], rows[i + 1]
            i += 2
            found[title] = []
            while i < len(rows) and rows[i]:
                found[title].append(dict(zip(header, rows[i], strict=True)))
                i += 1
        i += 1
    return found


async def test_only_supervisors_and_valid_periods(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    rep = await login(new_client, ANKANG_REP)
    for who in (consumer, rep):
        for path in ("/api/v1/dashboard", "/api/v1/dashboard.csv"):
            assert (await who.get(path)).status == 403, path
    sup = await login(new_client, SUPERVISOR)
    resp = await sup.get("/api/v1/dashboard")  # the last 30 days by default
    assert resp.status == 200
    period = (await resp.json())["period"]
    days = date.fromisoformat(period["to"]) - date.fromisoformat(period["from"])
    assert days == timedelta(days=29)
    bad = {
        "from=2025-02-30": "from",
        "to=2025-3-1": "to",
        "from=yesterday": "from",
        "from=2025-03-02&to=2025-03-01": "from",
        "from=2021-01-01&to=2025-01-01": "from",
    }
    for query, field in bad.items():
        for path in ("/api/v1/dashboard", "/api/v1/dashboard.csv"):
            resp = await sup.get(f"{path}?{query}")
            assert resp.status == 422, (query, resp.status)
            assert (await resp.json())["error"]["details"]["field"] == field, query
    assert (await sup.get("/api/v1/dashboard?from=2022-01-01&to=2024-12-31")).status == 200


# --- thresholds from configuration, time series, early warnings, the page ---------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def pages_server(seeded: Settings, aiohttp_server: Any, tmp_path: Path) -> Any:
    """The app with the dashboard page registered and per-insurer thresholds from a file
    (``ODR_THRESHOLDS``): 安康人寿 by name, 华信财险 by its organisation id."""
    engine = make_engine(seeded.database_url)
    async with make_sessionmaker(engine)() as s:
        huaxin = (
            await s.execute(select(Organisation.id).where(Organisation.name == "华信财险"))
        ).scalar_one()
    await engine.dispose()
    path = tmp_path / "thresholds.toml"
    path.write_text(
        "[defaults]\nper_days = 30\nmax_cases = 1000\nmax_escalation_share = false\n\n"
        '[insurers."安康人寿"]\nmax_cases = 2\nmin_answer_share_in_time = 0.9\n\n'
        f"[insurers.{huaxin}]\nmax_overdue = 0\nmin_answer_share_in_time = 0.5\n",
        encoding="utf-8",
    )
    rules = Settings.from_env(
        {"ODR_VAR_DIR": str(tmp_path / "var"), "ODR_THRESHOLDS": str(path)}
    ).thresholds
    app = create_app(seeded.with_overrides(thresholds=rules), passwords=FAST_PASSWORDS)
    setup_dashboard_pages(app)
    return await aiohttp_server(app)


@pytest.fixture
def pages_client(pages_server: Any, aiohttp_client: Any) -> Any:
    async def build() -> Any:
        return await aiohttp_client(pages_server)

    return build


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


async def test_thresholds_from_configuration_raise_the_right_warnings(pages_client: Any) -> None:
    people, cases = await build(pages_client)
    want = expected_figures(cases)["insurers"]
    got = await (await people[SUPERVISOR].get(f"/api/v1/dashboard?{PERIOD}")).json()
    per_insurer = {i["name"]: i for i in got["insurers"]}
    ankang, huaxin = per_insurer["安康人寿"], per_insurer["华信财险"]
    # what the file says, against what the test did: 安康人寿 received 4 complaints (limit 2
    # per 30 days: 2.0667 for 31 days) and answered all 3 of its answer cohort in time;
    # 华信财险 has one overdue case (limit 0) and answered none of 2 in time (minimum 0.5)
    assert want["安康人寿"]["cases"] == 4 and ankang["answer_share_in_time"] == 1.0
    assert want["华信财险"]["overdue_now"] == 1 and huaxin["answer_share_in_time"] == 0.0
    assert [(r["figure"], r["threshold"]) for r in ankang["reasons"]] == [("cases", 2.0667)]
    assert {(r["figure"], r["kind"]) for r in huaxin["reasons"]} == {
        ("overdue_now", "max"),
        ("answer_share_in_time", "min"),
    }
    assert ankang["warning"] and huaxin["warning"]
    # the escalation limit is switched off for everyone: 2 of 3 escalated raises nothing
    assert huaxin["escalation_share"] == round(2 / 3, 4)
    assert huaxin["thresholds"]["max_escalation_share"] is None
    assert got["warnings"]["insurers_over_threshold"] == 2
    # a wider period scales the count limit: 4 complaints in 90 days are within 6
    wide = await (
        await people[SUPERVISOR].get("/api/v1/dashboard?from=2025-02-01&to=2025-05-01")
    ).json()
    ankang_wide = next(i for i in wide["insurers"] if i["name"] == "安康人寿")
    assert ankang_wide["cases"] == 5 and ankang_wide["reasons"] == []

    page = await people[SUPERVISOR].client.get(f"/supervisor/dashboard?{PERIOD}&lang=en")
    await people[SUPERVISOR].client.get("/lang/en")
    page = await people[SUPERVISOR].client.get(f"/supervisor/dashboard?{PERIOD}")
    html = await page.text()
    assert "Overdue now: 1, above 0" in html
    assert "Answered in time: 0%, below 50%" in html
    assert "Complaints received: 4, above 2.07" in html


async def test_time_series_and_early_warnings_match_what_was_done(pages_client: Any) -> None:
    people, cases = await build(pages_client)
    consumer = people[CONSUMER]
    app = consumer.client.app
    service = app[CASES]
    ankang = await insurer_id(consumer, "安康人寿")
    # three very similar complaints on 2025-03-10: the early-warning job finds a cluster
    similar = []
    for n, text in enumerate(CLUSTER_TEXTS):
        at = datetime(2025, 3, 10, 3, n, tzinfo=UTC)
        service.clock = lambda at=at: at
        body = complaint(
            ankang, description=text, category="mis_selling", policy_numbers=[f"CL{n}"]
        )
        resp = await consumer.post("/api/v1/cases", body)
        assert resp.status == 201
        out = await resp.json()
        similar.append(out)
        cases.append(Filed(out["id"], "安康人寿", "mis_selling", at))
    found_at = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)
    assert await detect_early_warnings(app[SESSIONMAKER], service.triage_rules, found_at) == 1

    sup = people[SUPERVISOR]
    got = await (await sup.get(f"/api/v1/dashboard?{PERIOD}")).json()

    # the series: one point per local day, cases by local day of receipt, escalations by the
    # local day of the escalation
    series = got["series"]
    assert series["unit"] == "day" and len(series["points"]) == 31
    received = Counter(local_day(c.received) for c in cases if within(c.received))
    escalated = Counter(local_day(c.escalated) for c in cases if within(c.escalated))
    for point in series["points"]:
        day = date.fromisoformat(point["start"])
        assert point["end"] == point["start"]
        assert (point["cases"], point["escalations"]) == (received[day], escalated[day]), day
    assert sum(p["cases"] for p in series["points"]) == got["cases"]["total"] == 10

    # a longer period is shown per week (Monday to Sunday, cut to the period)
    weekly = await (await sup.get("/api/v1/dashboard?from=2025-02-15&to=2025-06-30")).json()
    points = weekly["series"]["points"]
    assert weekly["series"]["unit"] == "week"
    assert points[0]["start"] == "2025-02-15" and points[0]["end"] == "2025-02-16"
    assert points[-1]["end"] == "2025-06-30"
    for point in points:
        first, last = date.fromisoformat(point["start"]), date.fromisoformat(point["end"])
        assert point["cases"] == sum(1 for c in cases if first <= local_day(c.received) <= last), (
            point
        )

    # early warnings: the cluster with the complaints behind it, the overdue cases
    warnings = got["warnings"]
    clusters = warnings["duplicate_clusters"]
    assert clusters["count"] == 1 and clusters["unacknowledged"] == 1
    (cluster,) = clusters["clusters"]
    assert cluster["insurer"] == "安康人寿" and cluster["category"] == "mis_selling"
    assert {(c["id"], c["number"]) for c in cluster["cases"]} == {
        (c["id"], c["number"]) for c in similar
    }
    overdue_ids = {c.id for c in cases if c.state in RUNNING}  # every 2025 deadline is past
    assert warnings["overdue_now"] == len(overdue_ids)
    assert {c["id"] for c in warnings["overdue_cases"]} == overdue_ids
    due = [c["due_at"] for c in warnings["overdue_cases"]]
    assert due == sorted(due)  # the longest overdue first
    assert warnings["unpaid_agreements"] == {"count": 0, "case_ids": [], "cases": []}

    # the page lists the same and links every case
    page = await (await sup.client.get(f"/supervisor/dashboard?{PERIOD}")).text()
    for c in cluster["cases"]:
        assert f'href="/cases/{c["id"]}"' in page
    for c in warnings["overdue_cases"]:
        assert f'href="/cases/{c["id"]}"' in page
    # the CSV has the series too
    csv_text = (await (await sup.get(f"/api/v1/dashboard.csv?{PERIOD}")).read()).decode("utf-8-sig")
    rows = {r["start"]: r for r in _sections(csv_text)["cases per day"]}
    assert int(rows["2025-03-10"]["cases"]) == received[date(2025, 3, 10)] == 3


CLUSTER_TEXTS = [
    "业务员说这是银行存款产品，利息比定期高，结果是分红保险，现在取不出钱，我们小区很多老人都被骗了。",
    "业务员在银行推销时说是存款，利息比定期存款高，后来才发现买的是分红险，钱取不出来。",
    "在银行被业务员误导，说是高利息存款，实际是分红型保险，想取钱才发现，损失很大。",
]


async def test_the_page_in_both_languages_for_supervisors_only(pages_client: Any) -> None:
    consumer = await login(pages_client, CONSUMER)
    body = complaint(await insurer_id(consumer, "华信财险"), policy_numbers=["HX-P1"])
    assert (await consumer.post("/api/v1/cases", body)).status == 201
    sup = await login(pages_client, SUPERVISOR)
    resp = await sup.client.get("/supervisor/dashboard")  # the last 30 days
    assert resp.status == 200
    html = await resp.text()
    assert resp.headers["Content-Language"] == "zh-CN" and '<html lang="zh-CN">' in html
    # codes and headings in the reader's language (the page's own texts are Chinese once
    # /work/notes/dashboard_messages.po is merged into the catalogue)
    assert "理赔被拒、少赔或拖延" in html and "风险预警" in html and "华信财险" in html
    assert html.count('role="img"') >= 5  # gauges, the series, the breakdowns
    assert "<title id=" in html and "<desc id=" in html
    assert 'style="' not in html  # the page's CSP forbids style attributes
    assert "/api/v1/dashboard.csv?from=" in html
    await sup.client.get("/lang/en")
    resp = await sup.client.get("/supervisor/dashboard?from=2025-03-01&to=2025-03-31")
    html = await resp.text()
    assert resp.headers["Content-Language"] == "en"
    assert "Supervision dashboard" in html and "Ankang Life" in html
    assert "/api/v1/dashboard.csv?from=2025-03-01&amp;to=2025-03-31" in html
    resp = await sup.client.get("/supervisor/dashboard?from=2025-13-01")
    html = await resp.text()  # the last 30 days, and the form says what was wrong
    assert resp.status == 200 and "Please check the highlighted field." in html
    assert 'name="from" value="' in html and 'aria-invalid="true"' in html
    for who in (CONSUMER, ANKANG_REP):
        other = await login(pages_client, who)
        assert (await other.client.get("/supervisor/dashboard")).status == 403, who
    anonymous = await pages_client()
    resp = await anonymous.get("/supervisor/dashboard", allow_redirects=False)
    assert resp.status in (302, 303, 401)


# --- the daily aggregates (migration 0012) -------------------------------------------------------


def _recount(
    cases: list[Any], facts: list[Any], events: list[Any]
) -> Counter[tuple[str, str, str]]:
    """`DashboardDaily` recomputed from the cases and the facts, as its docstring defines it."""

    def day(at: datetime) -> str:
        return at.astimezone(UTC).date().isoformat()

    def quarter(at: datetime) -> str:
        at = at.astimezone(UTC)
        return str(at.hour * 4 + at.minute // 15)

    out: Counter[tuple[str, str, str]] = Counter()
    for c in cases:
        d = day(c.received_at)
        for dimension, key in (
            ("category", c.category),
            ("insurer", str(c.insurer_id)),
            ("channel", c.channel_kind),
            ("state", c.state),
            ("received_q", quarter(c.received_at)),
        ):
            out[(d, dimension, key)] += 1
        if c.risk_score is not None and c.risk_score >= dashboard.HIGH_RISK_SCORE:
            out[(d, "high_risk", "")] += 1
        if c.duplicate_of_id is not None:
            out[(d, "duplicate", "")] += 1
    for e in events:
        if (e.kind == "agreement_signed" and e.to_state == "settled") or e.kind == "not_settled":
            out[(day(e.at), "mediation", e.kind)] += 1
    state = {c.id: c.state for c in cases}
    for f in facts:
        if state[f.case_id] == "settled" and f.paid_at is None and f.due_on:
            out[("2000-01-01", "settled_due", f.due_on)] += 1
        if f.escalated_at is not None:
            out[(day(f.escalated_at), "escalation", str(f.insurer_id))] += 1
            out[(day(f.escalated_at), "escalated_q", quarter(f.escalated_at))] += 1
        if f.decided_at is not None and f.decided_in_time:
            out[(day(f.decided_at), "decided_in_time", "")] += 1
        for dimension, at in (("answer_days", f.answered_at), ("decision_days", f.decided_at)):
            if at is not None:
                whole = int((at - f.received_at).total_seconds() // 86400)
                out[(day(at), dimension, str(whole))] += 1
    return out


async def test_daily_aggregates_equal_a_recount_after_inserts_and_updates(
    database_url: str,
) -> None:
    from odr.storage.models import (
        CaseEventRow,
        CaseRow,
        DashboardCaseFacts,
        DashboardDaily,
        DashboardDuration,
    )

    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)

    async def check() -> None:
        async with maker() as s:
            cases = list((await s.execute(select(CaseRow))).scalars())
            facts = list((await s.execute(select(DashboardCaseFacts))).scalars())
            events = list((await s.execute(select(CaseEventRow))).scalars())
            stored = {
                (r.day.isoformat(), r.dimension, r.key): r.n
                for r in (await s.execute(select(DashboardDaily))).scalars()
                if r.n
            }
        assert stored == dict(_recount(cases, facts, events))
        assert stored  # not vacuously equal
        want = {
            (measure, f.case_id): (at, (at - f.received_at).total_seconds() / 3600)
            for f in facts
            for measure, at in (("answer", f.answered_at), ("decision", f.decided_at))
            if at is not None
        }
        async with maker() as s:
            got = {
                (r.measure, r.case_id): (r.at, r.hours, r.days)
                for r in (await s.execute(select(DashboardDuration))).scalars()
            }
        assert set(got) == set(want)
        for key, (at, hours, days) in got.items():
            assert at == want[key][0]
            assert hours == pytest.approx(want[key][1], abs=1e-6)
            assert days == int(want[key][1] // 24)

    try:
        async with maker() as s, s.begin():
            insurers = [
                Organisation(kind="insurer", name=f"Aggregate insurer {i}") for i in range(2)
            ]
            consumer = User(display_name="C", password_hash="x", role="consumer")
            s.add_all([*insurers, consumer])
            await s.flush()
            base = datetime(2025, 3, 1, 15, 50, tzinfo=UTC)  # near UTC midnight and quarters
            rows = []
            for i in range(24):
                received = base + i * timedelta(hours=5, minutes=7)
                rows.append(
                    CaseRow(
                        number=f"AGG-{i}",
                        consumer_id=consumer.id,
                        insurer_id=insurers[i % 2].id,
                        channel_kind=("web", "hotline", "partner_api")[i % 3],
                        category=("claims", "surrender", "privacy", "other")[i % 4],
                        state="awaiting_insurer",
                        risk_score=(i * 13) % 100 if i % 5 else None,
                        received_at=received,
                        due_at=received + 15 * D,
                        description="d",
                        contact_preference="sms",
                        terms_version="v1",
                        triage={},
                        snapshot={},
                        version=1,
                    )
                )
            s.add_all(rows)
            await s.flush()
        await check()

        async with maker() as s, s.begin():
            cases = list((await s.execute(select(CaseRow).order_by(CaseRow.id))).scalars())

            def event(c: Any, seq: int, kind: str, at: datetime, to: str, **payload: Any) -> Any:
                return CaseEventRow(
                    case_id=c.id,
                    sequence=seq,
                    kind=kind,
                    actor_role="system",
                    at=at,
                    to_state=to,
                    payload=payload,
                )

            for i, c in enumerate(cases):
                if i % 3 == 0:
                    s.add(
                        event(
                            c, 1, "escalated", c.received_at + 15 * D, "escalated", stage="answer"
                        )
                    )
                if i % 2 == 0:
                    at = c.received_at + timedelta(hours=7 + 11 * i)
                    s.add(event(c, 2, "answered", at, "insurer_answered", in_time=i % 4 == 0))
                    s.add(event(c, 3, "answer_accepted", at + 2 * D + H, "resolved"))
                    c.state = "resolved"
                elif i % 5 == 1:
                    s.add(event(c, 2, "not_settled", c.received_at + 30 * D, "not_settled"))
                    c.state = "not_settled"
            for i in (1, 7, 13):  # mediation: agreement proposed and signed, one paid
                c = cases[i]
                due = (c.received_at + 40 * D).date().isoformat()
                s.add(
                    event(
                        c,
                        4,
                        "agreement_proposed",
                        c.received_at + 20 * D,
                        "agreement_pending",
                        due_on=due,
                    )
                )
                s.add(event(c, 5, "agreement_signed", c.received_at + 21 * D, "settled"))
                c.state = "settled"
            s.add(
                event(
                    cases[13], 6, "payment_confirmed", cases[13].received_at + 25 * D, "fulfilled"
                )
            )
            cases[1].duplicate_of_id = cases[0].id
            cases[3].category = "mis_selling"
            cases[5].risk_score = 99
            cases[6].risk_score = 1
            cases[7].insurer_id = cases[0].insurer_id
            cases[9].received_at = cases[9].received_at - 3 * D
        await check()

        async with maker() as s, s.begin():
            for c in (await s.execute(select(CaseRow))).scalars():
                if c.state == "resolved":
                    c.state = "closed"
                if c.number == "AGG-13":
                    c.state = "fulfilled"
            later = list((await s.execute(select(CaseRow).order_by(CaseRow.id))).scalars())[1]
            s.add(
                CaseEventRow(
                    case_id=later.id,
                    sequence=9,
                    kind="escalated",
                    actor_role="system",
                    at=later.received_at + 40 * D,
                    to_state="escalated",
                    payload={"stage": "mediation"},
                )
            )
        await check()

        # the migration's backfill builds the same counts from existing rows
        await engine.dispose()
        await downgrade(engine, "0011")
        await upgrade(engine)
        await check()
    finally:
        await engine.dispose()
