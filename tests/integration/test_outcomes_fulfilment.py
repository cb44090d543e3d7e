"""Payment under the agreement: recorded, confirmed or disputed; past the due date the worker
reminds, then escalates, exactly once each however many workers race; the judicial-confirmation
window reminds twice before it closes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from odr.config import Settings
from odr.http.keys import SESSIONMAKER
from odr.services.bus import MemoryBus
from odr.services.case_changes import CaseChanges, load_rules
from odr.services.cases import case_service
from odr.services.outcome_clock import OutcomeClock
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.models import CaseEventRow, Notification
from tests.integration.helpers import ANKANG_REP, CONSUMER
from tests.integration.outcome_setup import settled_case

ZONE = ZoneInfo("Asia/Shanghai")


def at_local(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), ZONE).astimezone(UTC)


async def kinds(app: Any, case_id: int, wanted: set[str]) -> list[str]:
    async with app[SESSIONMAKER]() as s:
        rows = (
            await s.execute(
                select(CaseEventRow.kind)
                .where(CaseEventRow.case_id == case_id, CaseEventRow.kind.in_(wanted))
                .order_by(CaseEventRow.sequence)
            )
        ).scalars()
        return list(rows)


async def notices(app: Any, kind: str) -> int:
    async with app[SESSIONMAKER]() as s:
        stmt = select(func.count()).select_from(Notification).where(Notification.kind == kind)
        return int((await s.execute(stmt)).scalar_one())


async def race(settings: Settings, moments: list[datetime]) -> None:
    """Two workers, each on its own engine, run the outcome clock together at each moment."""
    engines = [make_engine(settings.database_url) for _ in range(2)]
    workers = []
    for engine in engines:
        cases = case_service(settings, make_sessionmaker(engine), MemoryBus())
        workers.append(OutcomeClock(CaseChanges(cases), load_rules()))
    try:
        for moment in moments:
            for _ in range(3):
                await asyncio.gather(*(w.run_clock(moment) for w in workers))
    finally:
        for e in engines:
            await e.dispose()


async def test_unpaid_agreement_reminds_then_escalates_once_each(
    new_client: Any, seeded: Settings
) -> None:
    due = date.today() + timedelta(days=2)
    case_id, people, app, _ = await settled_case(new_client, due_on=due)
    watched = {"payment_reminder", "payment_escalated"}
    before = await notices(app, "escalated")
    await race(seeded, [at_local(due), at_local(due, 23)])  # not overdue on the day itself
    assert await kinds(app, case_id, watched) == []
    await race(
        seeded,
        [at_local(due + timedelta(days=d)) for d in (1, 2, 3, 5, 7, 8, 30)],
    )
    assert await kinds(app, case_id, watched) == [
        "payment_reminder",  # a day late
        "payment_reminder",  # three days late
        "payment_escalated",  # a week late: to the supervisors
    ]
    # the supervisor and the three parties, once
    assert await notices(app, "escalated") == before + 4
    timeline = (await (await people[ANKANG_REP].get(f"/api/v1/cases/{case_id}/timeline")).json())[
        "items"
    ]
    keys = [e["payload"]["key"] for e in timeline if e["kind"] in watched]
    assert keys == ["payment:reminder:1", "payment:reminder:3", "payment:escalation"]


async def test_payment_recorded_disputed_then_confirmed(new_client: Any) -> None:
    case_id, people, _app, _ = await settled_case(new_client)
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    base = f"/api/v1/cases/{case_id}/payments"
    # only the insurer records, only the consumer confirms
    body = {"amount_yuan": "3000", "paid_on": date.today().isoformat(), "reference": "TX-88"}
    assert (await consumer.post(base, body)).status == 403
    future = {**body, "paid_on": (date.today() + timedelta(days=3)).isoformat()}
    assert (await rep.post(base, future)).status == 422
    resp = await rep.post(base, body)
    assert resp.status == 200, await resp.text()
    assert (await rep.post(f"{base}/confirm")).status == 403
    resp = await consumer.post(f"{base}/dispute", {"reason": "只收到2000元"})
    assert resp.status == 200 and (await resp.json())["state"] == "settled"
    resp = await consumer.post(f"{base}/confirm")
    assert resp.status == 200 and (await resp.json())["state"] == "fulfilled"
    timeline = (await (await rep.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    [recorded] = [e for e in timeline if e["kind"] == "payment_recorded"]
    assert recorded["payload"] == {
        "amount_fen": 300000,
        "reference": "TX-88",
        "paid_on": date.today().isoformat(),
    }
    assert [e["kind"] for e in timeline][-2:] == ["payment_disputed", "payment_confirmed"]


async def test_confirmation_window_reminds_twice_and_the_package(
    new_client: Any, seeded: Settings
) -> None:
    case_id, people, app, _ = await settled_case(new_client)
    consumer = people[CONSUMER]
    view = await (await consumer.get(f"/api/v1/cases/{case_id}/agreement")).json()
    window = view["confirmation_window"]
    ends = date.fromisoformat(window["ends_on"])
    assert ends == date.fromisoformat(window["effective_on"]) + timedelta(days=30)
    assert window["open"] is True
    await race(
        seeded,
        [at_local(ends - timedelta(days=d)) for d in (20, 10, 9, 3, 1, 0)]
        + [at_local(ends + timedelta(days=1))],
    )
    assert await kinds(app, case_id, {"confirmation_reminder"}) == [
        "confirmation_reminder",
        "confirmation_reminder",
    ]
    import io
    import zipfile

    from odr.bundle import verify_bundle

    resp = await consumer.get(f"/api/v1/cases/{case_id}/confirmation-package")
    assert resp.status == 200, await resp.text()
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as z:
        names = set(z.namelist())
        assert names == {
            "confirmation-letter.pdf",
            "parties.json",
            "agreement.pdf",
            "evidence-bundle.zip",
        }
        assert verify_bundle(io.BytesIO(z.read("evidence-bundle.zip"))).ok
        assert b"13800000001" in z.read("parties.json")
