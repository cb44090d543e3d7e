"""Hearing scheduling through HTTP: recusal and the choice of mediator, proposing, choosing,
confirming with calendar invitations, rescheduling, cancelling, reminders, no-shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from odr.domain.accounts import Role
from odr.http.keys import SCHEDULING, SESSIONMAKER
from odr.services.demo import DEMO_PASSWORD
from odr.storage.models import (
    CaseRow,
    HearingLogEntry,
    Membership,
    Notification,
    Organisation,
    OutboxMessage,
    User,
)
from tests.builders import assign_mediator, mediation_case, user_id
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    HUAXIN_REP,
    LEAD,
    MEDIATOR,
    OTHER_CONSUMER,
    Session,
    callers,
    complaint,
    insurer_id,
    login,
)

ZONE = ZoneInfo("Asia/Shanghai")


async def to_mediation(new_client: Any) -> tuple[int, dict[str, Session]]:
    """A case against Ankang in ``mediation_requested``, and everyone logged in."""
    people = {
        name: await login(new_client, name)
        for name in (CONSUMER, ANKANG_REP, MEDIATOR, LEAD, HUAXIN_REP, OTHER_CONSUMER)
    }
    return await mediation_case(callers(people)), people


async def assign(people: dict[str, Session], case_id: int, mediator_id: int) -> Any:
    return await people[LEAD].post(
        f"/api/v1/cases/{case_id}/actions/assign_mediator", {"mediator_id": mediator_id}
    )


async def scheduled_case(new_client: Any) -> tuple[int, dict[str, Session], Any]:
    case_id, people = await to_mediation(new_client)
    app = people[LEAD].client.app
    await assign_mediator(callers(people), case_id, await user_id(app, MEDIATOR))
    return case_id, people, app


def future(days: int, hour: int) -> datetime:
    day = datetime.now(ZONE).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=ZONE)


async def outbox(app: Any, like: str) -> list[OutboxMessage]:
    async with app[SESSIONMAKER]() as s:
        stmt = select(OutboxMessage).where(OutboxMessage.key.like(like)).order_by(OutboxMessage.id)
        return list((await s.execute(stmt)).scalars())


def event_of(message: OutboxMessage) -> Any:
    assert message.attachments, message.key
    (attachment,) = message.attachments
    assert attachment["name"] == "invitation.ics" and attachment["mime"] == "text/calendar"
    calendar = Calendar.from_ical(attachment["text"])
    return calendar, calendar.walk("VEVENT")[0]


async def test_propose_choose_confirm_invites_everyone(new_client: Any) -> None:
    case_id, people, app = await scheduled_case(new_client)
    mediator = people[MEDIATOR]
    slots = [future(3, 10), future(3, 15), future(4, 9)]
    resp = await mediator.post(
        f"/api/v1/cases/{case_id}/hearings",
        {"slots": [s.replace(tzinfo=None).isoformat() for s in slots]},  # local, no offset
    )
    assert resp.status == 201, await resp.text()
    hearing = await resp.json()
    hid = hearing["id"]
    assert hearing["state"] == "proposed"
    assert [datetime.fromisoformat(s) for s in hearing["slots"]] == slots

    # both parties tick what suits them; each sees only their own choice
    resp = await people[CONSUMER].post(
        f"/api/v1/hearings/{hid}/choose", {"slots": [slots[0].isoformat(), slots[1].isoformat()]}
    )
    assert resp.status == 200, await resp.text()
    resp = await people[ANKANG_REP].post(
        f"/api/v1/hearings/{hid}/choose", {"slots": [slots[1].isoformat()]}
    )
    seen = await resp.json()
    assert len(seen["choices"]) == 1
    assert [datetime.fromisoformat(t) for t in seen["my_choice"]] == [slots[1]]
    seen = await (await mediator.get(f"/api/v1/hearings/{hid}")).json()
    assert len(seen["choices"]) == 2 and seen["may_schedule"]

    # a party cannot confirm; a time not proposed is refused
    resp = await people[CONSUMER].post(
        f"/api/v1/hearings/{hid}/confirm", {"starts_at": slots[1].isoformat()}
    )
    assert resp.status == 403
    resp = await mediator.post(
        f"/api/v1/hearings/{hid}/confirm", {"starts_at": future(5, 10).isoformat()}
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "slot_not_proposed"

    resp = await mediator.post(
        f"/api/v1/hearings/{hid}/confirm", {"starts_at": slots[1].isoformat()}
    )
    assert resp.status == 200, await resp.text()
    confirmed = await resp.json()
    assert confirmed["state"] == "scheduled"
    assert datetime.fromisoformat(confirmed["starts_at"]) == slots[1]

    # the case's own transition ran: state and history
    case = await (await people[CONSUMER].get(f"/api/v1/cases/{case_id}")).json()
    assert case["state"] == "hearing_scheduled"
    timeline = await (await people[CONSUMER].get(f"/api/v1/cases/{case_id}/timeline")).json()
    assert timeline["items"][-1]["kind"] == "hearing_scheduled"

    # e-mail with a parseable .ics in the configured zone (the rep and the mediator have
    # addresses; the consumer has a mobile number only and gets an SMS)
    mails = await outbox(app, f"hearing:{hid}:invitation:0:%")
    assert {m.medium for m in mails} == {"email", "sms"}
    emails = [m for m in mails if m.medium == "email"]
    assert {m.recipient for m in emails} == {ANKANG_REP, MEDIATOR}
    for mail in emails:
        calendar, event = event_of(mail)
        assert str(calendar["method"]) == "REQUEST"
        assert event.decoded("dtstart") == slots[1]
        assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
        assert str(event["uid"]) == f"hearing-{hid}@127.0.0.1"
        assert int(event["sequence"]) == 0
        assert f"/hearings/{hid}" in str(event["url"])
        assert calendar.walk("VTIMEZONE")
    async with app[SESSIONMAKER]() as s:
        kinds = (
            await s.execute(
                select(Notification.kind, Notification.user_id).where(
                    Notification.case_id == case_id
                )
            )
        ).all()
    invited = {uid for kind, uid in kinds if kind == "hearing_invitation"}
    assert invited == {
        await user_id(app, CONSUMER),
        await user_id(app, ANKANG_REP),
        await user_id(app, MEDIATOR),
    }
    assert {uid for kind, uid in kinds if kind == "hearing_proposed"} == {
        await user_id(app, CONSUMER),
        await user_id(app, ANKANG_REP),
    }

    # anyone on the case downloads the invitation
    resp = await people[CONSUMER].get(f"/api/v1/hearings/{hid}/invitation.ics?lang=en")
    assert resp.status == 200 and resp.content_type == "text/calendar"
    assert "invitation.ics" in resp.headers["Content-Disposition"]
    event = Calendar.from_ical(await resp.text()).walk("VEVENT")[0]
    assert event.decoded("dtstart") == slots[1] and "Mediation hearing" in str(event["summary"])


async def test_reschedule_and_cancel_tell_everyone(new_client: Any) -> None:
    case_id, people, app = await scheduled_case(new_client)
    mediator = people[MEDIATOR]
    first = future(2, 10)
    resp = await mediator.post(f"/api/v1/cases/{case_id}/hearings", {"slots": [first.isoformat()]})
    hid = (await resp.json())["id"]
    resp = await mediator.post(
        f"/api/v1/cases/{case_id}/hearings", {"slots": [future(6, 10).isoformat()]}
    )
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "hearing_already_open"
    await mediator.post(f"/api/v1/hearings/{hid}/confirm", {"starts_at": first.isoformat()})

    later = future(5, 14)
    resp = await mediator.post(
        f"/api/v1/hearings/{hid}/reschedule", {"slots": [later.isoformat()], "reason": ""}
    )
    assert resp.status == 422 and (await resp.json())["error"]["details"]["field"] == "reason"
    resp = await mediator.post(
        f"/api/v1/hearings/{hid}/reschedule",
        {"slots": [later.isoformat()], "reason": "调解员临时出差"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["state"] == "proposed" and body["sequence"] == 1 and body["choices"] == {}
    notices = await outbox(app, f"hearing:{hid}:rescheduled:1:%")
    assert {m.recipient for m in notices if m.medium == "email"} == {ANKANG_REP, MEDIATOR}
    assert all("调解员临时出差" in m.body for m in notices)

    resp = await mediator.post(f"/api/v1/hearings/{hid}/confirm", {"starts_at": later.isoformat()})
    assert resp.status == 200
    mails = [m for m in await outbox(app, f"hearing:{hid}:invitation:1:%") if m.medium == "email"]
    assert len(mails) == 2
    for mail in mails:
        _, event = event_of(mail)
        assert int(event["sequence"]) == 1 and event.decoded("dtstart") == later

    resp = await mediator.post(f"/api/v1/hearings/{hid}/cancel", {"reason": "双方已和解"})
    assert resp.status == 200 and (await resp.json())["state"] == "cancelled"
    mails = [m for m in await outbox(app, f"hearing:{hid}:cancelled:2:%") if m.medium == "email"]
    assert len(mails) == 2
    for mail in mails:
        calendar, event = event_of(mail)
        assert str(calendar["method"]) == "CANCEL" and int(event["sequence"]) == 2
    resp = await mediator.post(f"/api/v1/hearings/{hid}/cancel", {"reason": "again"})
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "illegal_hearing_transition"
    # a new hearing may be proposed once the old one is cancelled
    resp = await mediator.post(
        f"/api/v1/cases/{case_id}/hearings", {"slots": [future(7, 10).isoformat()]}
    )
    assert resp.status == 201


async def test_reminders_go_out_once_each_with_two_workers(new_client: Any) -> None:
    case_id, people, app = await scheduled_case(new_client)
    mediator = people[MEDIATOR]
    starts = future(3, 10)
    resp = await mediator.post(f"/api/v1/cases/{case_id}/hearings", {"slots": [starts.isoformat()]})
    hid = (await resp.json())["id"]
    await mediator.post(f"/api/v1/hearings/{hid}/confirm", {"starts_at": starts.isoformat()})
    service = app[SCHEDULING]

    assert await service.send_reminders(starts - timedelta(hours=25)) == 0
    moment = starts - timedelta(hours=23)
    sent = await asyncio.gather(service.send_reminders(moment), service.send_reminders(moment))
    assert sorted(sent) == [0, 1]
    assert await service.send_reminders(moment + timedelta(minutes=5)) == 0
    day_before = await outbox(app, f"hearing:{hid}:reminder:24h:%")
    assert len(day_before) == 3  # consumer (SMS), rep and mediator (e-mail)

    moment = starts - timedelta(minutes=10)
    sent = await asyncio.gather(service.send_reminders(moment), service.send_reminders(moment))
    assert sorted(sent) == [0, 1]
    assert len(await outbox(app, f"hearing:{hid}:reminder:15m:%")) == 3
    assert await service.send_reminders(starts + timedelta(minutes=1)) == 0


async def test_no_shows_are_recorded_once(new_client: Any) -> None:
    case_id, people, app = await scheduled_case(new_client)
    mediator = people[MEDIATOR]
    starts = future(1, 10)
    resp = await mediator.post(f"/api/v1/cases/{case_id}/hearings", {"slots": [starts.isoformat()]})
    hid = (await resp.json())["id"]
    rep = await user_id(app, ANKANG_REP)
    missing = await app[SCHEDULING].record_no_shows(hid, [rep, await user_id(app, MEDIATOR)])
    assert [(m.side, m.user_id) for m in missing] == [("consumer", await user_id(app, CONSUMER))]
    assert await app[SCHEDULING].record_no_shows(hid, []) == []
    async with app[SESSIONMAKER]() as s:
        rows = list(
            (
                await s.execute(
                    select(HearingLogEntry).where(
                        HearingLogEntry.hearing_id == hid, HearingLogEntry.kind == "no_show"
                    )
                )
            ).scalars()
        )
    assert [(r.user_id, r.details["side"]) for r in rows] == [
        (await user_id(app, CONSUMER), "consumer")
    ]


async def test_strangers_and_other_parties_learn_nothing(new_client: Any) -> None:
    case_id, people, _app = await scheduled_case(new_client)
    resp = await people[MEDIATOR].post(
        f"/api/v1/cases/{case_id}/hearings", {"slots": [future(2, 10).isoformat()]}
    )
    hid = (await resp.json())["id"]
    for stranger in (people[OTHER_CONSUMER], people[HUAXIN_REP]):
        for path in (
            f"/api/v1/hearings/{hid}",
            f"/api/v1/cases/{case_id}/hearings",
            f"/api/v1/hearings/{hid}/invitation.ics",
            f"/api/v1/cases/{case_id}/mediators",
        ):
            resp = await stranger.get(path)
            assert resp.status == 404, path
        resp = await stranger.post(f"/api/v1/hearings/{hid}/choose", {"slots": []})
        assert resp.status == 404
    # the parties may not propose, the mediator may not choose for them
    resp = await people[CONSUMER].post(
        f"/api/v1/cases/{case_id}/hearings", {"slots": [future(2, 11).isoformat()]}
    )
    assert resp.status == 403
    resp = await people[MEDIATOR].post(f"/api/v1/hearings/{hid}/choose", {"slots": []})
    assert resp.status == 403
    # without the CSRF header, a write is refused
    resp = await people[MEDIATOR].client.post(
        f"/api/v1/hearings/{hid}/cancel", json={"reason": "x"}
    )
    assert resp.status == 403


# --- recusal and the choice of mediator ----------------------------------------------------------


async def add_mediator(
    app: Any, *, login_name: str, badge: str, past_insurer: str | None, ended_on: date | None
) -> int:
    """A mediator of the demo centre, who may once have worked for an insurer."""
    async with app[SESSIONMAKER]() as s:
        centre = (
            await s.execute(select(Organisation).where(Organisation.kind == "mediation_centre"))
        ).scalar_one()
        user = User(
            email=login_name,
            display_name=login_name.split("@")[0],
            password_hash=await FAST_PASSWORDS.hash(DEMO_PASSWORD),
            role=Role.MEDIATOR.value,
            version=1,
        )
        s.add(user)
        await s.flush()
        s.add(
            Membership(
                user_id=user.id,
                organisation_id=centre.id,
                role=Role.MEDIATOR.value,
                badge_number=badge,
                started_on=date(2020, 1, 1),
            )
        )
        if past_insurer is not None:
            insurer = (
                await s.execute(select(Organisation).where(Organisation.name == past_insurer))
            ).scalar_one()
            s.add(
                Membership(
                    user_id=user.id,
                    organisation_id=insurer.id,
                    role=Role.INSURER_REP.value,
                    badge_number=badge + "-OLD",
                    started_on=date(2010, 1, 1),
                    ended_on=ended_on,
                )
            )
        await s.commit()
        return int(user.id)


async def test_recusal_refuses_with_reasons_and_the_list_shows_eligible_only(
    new_client: Any,
) -> None:
    case_id, people = await to_mediation(new_client)
    app = people[LEAD].client.app
    today = datetime.now(ZONE).date()
    recent = await add_mediator(
        app,
        login_name="recent@binjiang.demo",
        badge="MC-3101",
        past_insurer="安康人寿",
        ended_on=today - timedelta(days=365),
    )
    long_ago = await add_mediator(
        app,
        login_name="longago@binjiang.demo",
        badge="MC-3102",
        past_insurer="安康人寿",
        ended_on=date(today.year - 4, 1, 1),
    )
    resp = await assign(people, case_id, recent)
    assert resp.status == 409, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "mediator_recused"
    assert [r["reason"] for r in error["details"]["reasons"]] == ["recently_employed_by_insurer"]
    case = await (await people[LEAD].get(f"/api/v1/cases/{case_id}")).json()
    assert case["state"] == "mediation_requested"

    lead_view = (await (await people[LEAD].get(f"/api/v1/cases/{case_id}/mediators")).json())[
        "items"
    ]
    by_id = {m["id"]: m for m in lead_view}
    assert by_id[recent]["eligible"] is False and by_id[long_ago]["eligible"] is True
    assert by_id[recent]["reasons"][0]["reason"] == "recently_employed_by_insurer"
    party_view = (await (await people[CONSUMER].get(f"/api/v1/cases/{case_id}/mediators")).json())[
        "items"
    ]
    assert recent not in {m["id"] for m in party_view}
    assert all(m["eligible"] and not m["reasons"] for m in party_view)

    resp = await assign(people, case_id, long_ago)
    assert resp.status == 200, await resp.text()


async def test_an_earlier_unsettled_mediation_recuses(new_client: Any) -> None:
    """The mediator who failed to settle an earlier case between the same consumer and
    insurer is not assigned again."""
    case_id, people = await to_mediation(new_client)
    app = people[LEAD].client.app
    mediator = await user_id(app, MEDIATOR)
    assert (await assign(people, case_id, mediator)).status == 200
    resp = await people[MEDIATOR].post(
        f"/api/v1/cases/{case_id}/actions/declare_not_settled", {"reason": "分歧过大"}
    )
    if resp.status == 404:  # not an operation of the API: record it through the aggregate
        from odr.domain.accounts import Actor
        from odr.storage import cases as repo

        async with app[SESSIONMAKER]() as s:
            row = await s.get(CaseRow, case_id)
            assert row is not None
            _, case = await repo.load(s, case_id)
            before = case.version
            centre = case.centre_id
            case.declare_not_settled(
                Actor(mediator, Role.MEDIATOR, centre), datetime.now(UTC), reason="分歧过大"
            )
            await repo.save(s, case, before, datetime.now(UTC))
            await s.commit()
    resp = await people[CONSUMER].post(
        "/api/v1/cases",
        complaint(await insurer_id(people[CONSUMER]), policy_numbers=["AK2023100999"]),
    )
    second = (await resp.json())["id"]
    await people[ANKANG_REP].post(
        f"/api/v1/cases/{second}/actions/answer", {"kind": "reject", "text": "不予赔付"}
    )
    await people[CONSUMER].post(f"/api/v1/cases/{second}/actions/request_mediation")
    resp = await assign(people, second, mediator)
    assert resp.status == 409
    reasons = (await resp.json())["error"]["details"]["reasons"]
    assert reasons[0]["reason"] == "earlier_mediation_not_settled"
    assert reasons[0]["case_number"].startswith("ODR-")


async def test_parties_choosing_the_same_mediator_assigns_them(new_client: Any) -> None:
    case_id, people = await to_mediation(new_client)
    app = people[LEAD].client.app
    mediator = await user_id(app, MEDIATOR)
    lead = await user_id(app, LEAD)
    path = f"/api/v1/cases/{case_id}/mediator-choice"
    resp = await people[CONSUMER].post(path, {"mediator_id": mediator})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["assigned_mediator_id"] is None
    resp = await people[ANKANG_REP].post(path, {"mediator_id": lead})
    assert (await resp.json())["assigned_mediator_id"] is None  # they differ: the lead decides
    resp = await people[LEAD].post(path, {"mediator_id": mediator})
    assert resp.status == 403  # the lead assigns; choosing is the parties'
    resp = await people[MEDIATOR].post(path, {"mediator_id": mediator})
    assert resp.status == 404  # not (yet) on the case
    resp = await people[ANKANG_REP].post(path, {"mediator_id": mediator})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["assigned_mediator_id"] == mediator
    case = await (await people[CONSUMER].get(f"/api/v1/cases/{case_id}")).json()
    assert case["state"] == "mediator_assigned"
    timeline = await (await people[CONSUMER].get(f"/api/v1/cases/{case_id}/timeline")).json()
    assert timeline["items"][-1]["actor"]["role"] == "system"
    resp = await people[CONSUMER].post(path, {"mediator_id": lead})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "mediator_choice_closed"
