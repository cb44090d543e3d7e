"""Case lists one page at a time (keyset pages): every case exactly once and in order, across
ties in the sort key, cases added while reading, both directions; the page size's limits; a
bad cursor; no page loads more rows than it shows and one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from odr.domain import cursors
from odr.http.keys import SESSIONMAKER
from odr.storage.models import CaseEventRow, CaseRow, Notification, User
from tests.integration.helpers import ANKANG_REP, CONSUMER, SUPERVISOR, complaint, insurer_id, login


@contextmanager
def loaded_cases() -> Iterator[list[int]]:
    """How many case rows each ORM load brings in, counted as they arrive."""
    count = [0]

    def one(target: Any, context: Any) -> None:
        count[0] += 1

    event.listen(CaseRow, "load", one)
    try:
        yield count
    finally:
        event.remove(CaseRow, "load", one)


async def _file(consumer: Any, insurer: int, n: int) -> dict[str, Any]:
    body = complaint(
        insurer, policy_numbers=[f"AK{n:06d}"], description=f"第{n}次投诉：理赔一直没有结果。"
    )
    resp = await consumer.post("/api/v1/cases", body)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def _clone(app: Any, source_id: int, count: int) -> None:
    """``count`` more cases like ``source_id`` against the same insurer: deadlines on a few
    days (so many are equal), some without one, some in care mode."""
    async with app[SESSIONMAKER]() as s:
        row = await s.get(CaseRow, source_id)
        assert row is not None and row.due_at is not None
        base = {c.key: getattr(row, c.key) for c in CaseRow.__table__.columns if c.key != "id"}
        rows = [
            {
                **base,
                "number": f"ODR-T-{i:06d}",
                "care_priority": i % 7 == 0,
                "due_at": None if i % 11 == 0 else row.due_at + timedelta(days=i % 4),
            }
            for i in range(count)
        ]
        await s.execute(insert(CaseRow), rows)
        await s.commit()


async def _walk(caller: Any, query: str, limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    url = f"/api/v1/cases?{query}limit={limit}"
    while True:
        resp = await caller.get(url)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        pages.append([c["id"] for c in page["items"]])
        if page["next"] is None:
            return pages
        url = f"/api/v1/cases?{query}limit={limit}&cursor={page['next']}"


def _order(item: dict[str, Any]) -> tuple[Any, ...]:
    """The list's order: care priority, the nearest deadline (none last), the newest."""
    due = item["due_at"]
    far = datetime.max.replace(tzinfo=UTC)
    return (
        not item["care_priority"],
        due is None,
        datetime.fromisoformat(due) if due else far,
        -item["id"],
    )


async def test_every_page_in_turn_gives_each_case_once_in_order(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    first = await _file(consumer, insurer, 0)
    rep = await login(new_client, ANKANG_REP)
    await _clone(rep.client.app, first["id"], 230)
    everything = await (await rep.get(f"/api/v1/cases?limit={cursors.MAX_LIMIT}")).json()
    assert len(everything["items"]) == cursors.MAX_LIMIT  # the most a page holds
    huge = await (await rep.get("/api/v1/cases?limit=100000")).json()
    assert huge["items"] == everything["items"]
    pages = await _walk(rep, "", cursors.MAX_LIMIT)
    assert [len(p) for p in pages] == [200, 31]
    default = await (await rep.get("/api/v1/cases")).json()
    assert len(default["items"]) == cursors.DEFAULT_LIMIT == 50
    smallest = await (await rep.get("/api/v1/cases?limit=0")).json()
    assert len(smallest["items"]) == 1

    pages = await _walk(rep, "", 7)
    ids = [i for p in pages for i in p]
    assert len(ids) == len(set(ids)) == 231
    async with rep.client.app[SESSIONMAKER]() as s:
        rows = (await s.execute(select(CaseRow))).scalars().all()
    items = {
        r.id: {
            "id": r.id,
            "care_priority": r.care_priority,
            "due_at": r.due_at and r.due_at.isoformat(),
        }
        for r in rows
    }
    assert ids == sorted(ids, key=lambda i: _order(items[i]))
    assert all(len(p) == 7 for p in pages[:-1])

    # and back: from the last page, the previous ones in turn give the same rows
    last = await (await rep.get(f"/api/v1/cases?limit=7&cursor={default['next']}")).json()
    back: list[int] = []
    page = last
    while page["previous"] is not None:
        page = await (await rep.get(f"/api/v1/cases?limit=7&cursor={page['previous']}")).json()
        back = [c["id"] for c in page["items"]] + back
    assert back == ids[: len(back)] and len(back) == 50


async def test_cases_added_while_reading_do_not_repeat_or_hide_others(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    filed = [await _file(consumer, insurer, n) for n in range(5)]
    rep = await login(new_client, ANKANG_REP)
    seen: list[int] = []
    page = await (await rep.get("/api/v1/cases?limit=2")).json()
    seen += [c["id"] for c in page["items"]]
    added = [await _file(consumer, insurer, n) for n in range(5, 8)]  # all sort before the cursor
    while page["next"]:
        page = await (await rep.get(f"/api/v1/cases?limit=2&cursor={page['next']}")).json()
        seen += [c["id"] for c in page["items"]]
    assert len(seen) == len(set(seen))
    originals = [c["id"] for c in filed]
    assert [i for i in seen if i in originals] == sorted(
        originals, reverse=True
    )  # equal deadlines: newest first
    assert not {c["id"] for c in added} & set(seen)


async def test_a_page_loads_no_more_rows_than_it_shows_and_one(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    first = await _file(consumer, insurer, 0)
    supervisor = await login(new_client, SUPERVISOR)
    await _clone(supervisor.client.app, first["id"], 60)
    cursor = ""
    for _ in range(4):
        with loaded_cases() as count:
            page = await (await supervisor.get(f"/api/v1/cases?limit=10{cursor}")).json()
        assert len(page["items"]) == 10 and count[0] <= 11
        cursor = f"&cursor={page['next']}"
    with loaded_cases() as count:
        resp = await supervisor.get("/cases")  # the page, 50 rows
    assert resp.status == 200 and count[0] <= 51 + 51  # its list and the escalated ones


async def test_a_changed_or_foreign_cursor_is_refused(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    for n in range(3):
        await _file(consumer, insurer, n)
    page = await (await consumer.get("/api/v1/cases?limit=1")).json()
    token = page["next"]
    text, check = token.split(".")
    foreign = cursors.encode(cursors.Cursor("notifications", cursors.Direction.AFTER, (1, 2)))
    wrong_shape = cursors.encode(cursors.Cursor("cases", cursors.Direction.AFTER, (1, None, "x")))
    bad = [
        text[:-2] + ("AA" if text[-2:] != "AA" else "BB") + "." + check,
        text + "." + check[::-1],
        token[:10],
        "x" * 600,
        "%00",
        foreign,
        wrong_shape,
    ]
    for cursor in bad:
        resp = await consumer.client.get("/api/v1/cases", params={"cursor": cursor})
        assert resp.status == 400, cursor
        error = (await resp.json())["error"]
        assert error["code"] == "bad_cursor" and error["message"], cursor
    page_resp = await consumer.client.get("/cases", params={"cursor": bad[0]})
    assert page_resp.status == 400
    ok = await consumer.client.get("/api/v1/cases", params={"cursor": token, "limit": "1"})
    assert ok.status == 200


async def test_the_list_page_links_the_next_and_previous_pages(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    first = await _file(consumer, insurer, 0)
    rep = await login(new_client, ANKANG_REP)
    await _clone(rep.client.app, first["id"], 60)
    html = await (await rep.get("/cases")).text()
    assert 'rel="next"' in html and 'rel="prev"' not in html
    start = html.index('rel="next"')
    href = html[
        html.rindex('href="', 0, start) + 6 : html.index('"', html.rindex('href="', 0, start) + 6)
    ]
    second = await (await rep.get(href.replace("&amp;", "&"))).text()
    assert 'rel="prev"' in second and 'rel="next"' not in second  # 61 cases, 50 a page


async def _notify(app: Any, user_login: str, count: int, day: int = 1) -> int:
    """``count`` notifications for the user, three at each moment (ties in the sort key)."""
    async with app[SESSIONMAKER]() as s:
        user_id = (
            await s.execute(
                select(User.id).where((User.mobile == user_login) | (User.email == user_login))
            )
        ).scalar_one()
        start = datetime(2026, 11, day, 8, tzinfo=UTC)
        rows = [
            {
                "user_id": user_id,
                "case_id": None,
                "kind": "state_changed",
                "params": {"number": f"ODR-T-{i:06d}"},
                "created_at": start + timedelta(minutes=i // 3),
                "read_at": None,
            }
            for i in range(count)
        ]
        await s.execute(insert(Notification), rows)
        await s.commit()
        return int(user_id)


async def test_the_inbox_pages_give_each_notification_once_newest_first(new_client: Any) -> None:
    other = await login(new_client, ANKANG_REP)
    await _notify(other.client.app, ANKANG_REP, 5)  # someone else's: never shown
    consumer = await login(new_client, CONSUMER)
    await _notify(consumer.client.app, CONSUMER, 23)
    seen: list[dict[str, Any]] = []
    url = "/api/v1/notifications?limit=5"
    added = False
    while True:
        with loaded_notifications() as count:
            page = await (await consumer.get(url)).json()
        assert count[0] <= 6
        seen += page["items"]
        if not added:  # newer ones arrive while reading: they do not push older ones twice
            await _notify(consumer.client.app, CONSUMER, 2, day=2)
            added = True
        if page["next"] is None:
            break
        url = f"/api/v1/notifications?limit=5&cursor={page['next']}"
    ids = [n["id"] for n in seen]
    assert len(ids) == len(set(ids)) == 23
    assert seen == sorted(seen, key=lambda n: (n["created_at"], n["id"]), reverse=True)
    everything = await (await consumer.get("/api/v1/notifications?limit=1000")).json()
    assert len(everything["items"]) == 25  # at most MAX_LIMIT a page; all 25 fit
    default = await (await consumer.get("/api/v1/notifications")).json()
    assert len(default["items"]) == 25 and default["next"] is None
    # back from the last page
    back = await (
        await consumer.get(f"/api/v1/notifications?limit=5&cursor={page['previous']}")
    ).json()
    assert [n["id"] for n in back["items"]] == ids[-8:-3]
    resp = await consumer.client.get(
        "/api/v1/notifications", params={"cursor": page["previous"][:-1]}
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_cursor"
    foreign = await consumer.client.get(
        "/api/v1/notifications", params={"cursor": everything["items"] and _case_cursor()}
    )
    assert foreign.status == 400
    html = await (await consumer.client.get("/inbox")).text()
    assert 'rel="prev"' not in html and 'rel="next"' not in html  # 25 fit on the page


def _case_cursor() -> str:
    return cursors.encode(
        cursors.Cursor("cases", cursors.Direction.AFTER, (False, "2026-11-01T00:00:00+00:00", 1))
    )


@contextmanager
def loaded_notifications() -> Iterator[list[int]]:
    count = [0]

    def one(target: Any, context: Any) -> None:
        count[0] += 1

    event.listen(Notification, "load", one)
    try:
        yield count
    finally:
        event.remove(Notification, "load", one)


async def test_a_case_s_timeline_pages_give_each_event_once_in_order(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    case = await _file(consumer, insurer, 0)
    other = await _file(consumer, insurer, 1)
    url = f"/api/v1/cases/{case['id']}"
    for n in range(7):
        resp = await consumer.post(f"{url}/actions/send_message", {"text": f"第{n}条留言"})
        assert resp.status == 200, await resp.text()
    everything = await (await consumer.get(f"{url}/timeline?limit=200")).json()
    assert everything["next"] is None and len(everything["items"]) >= 9
    seen: list[int] = []
    page = {"next": None}
    query = f"{url}/timeline?limit=2"
    while True:
        with loaded_events() as count:
            page = await (await consumer.get(query)).json()
        assert count[0] <= 3 and len(page["items"]) <= 2
        seen += [e["sequence"] for e in page["items"]]
        if page["next"] is None:
            break
        if len(seen) == 2:  # an event added while reading comes at the end, once
            await consumer.post(f"{url}/actions/send_message", {"text": "又一条"})
        query = f"{url}/timeline?limit=2&cursor={page['next']}"
    assert seen == list(range(1, len(everything["items"]) + 2))
    back = await (await consumer.get(f"{url}/timeline?limit=2&cursor={page['previous']}")).json()
    last = len(page["items"])
    assert [e["sequence"] for e in back["items"]] == seen[-last - 2 : -last]
    elsewhere = await consumer.get(
        f"/api/v1/cases/{other['id']}/timeline?cursor={page['previous']}"
    )
    assert elsewhere.status == 400
    assert (await elsewhere.json())["error"]["code"] == "bad_cursor"


@contextmanager
def loaded_events() -> Iterator[list[int]]:
    count = [0]

    def one(target: Any, context: Any) -> None:
        count[0] += 1

    event.listen(CaseEventRow, "load", one)
    try:
        yield count
    finally:
        event.remove(CaseEventRow, "load", one)
