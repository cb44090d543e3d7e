"""Case pages: filing through the form, lists by role, the case page and its operations,
live-update script, languages."""

from __future__ import annotations

import contextvars
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    OTHER_CONSUMER,
    SUPERVISOR,
    Session,
    complaint,
    insurer_id,
    login,
)
from web import i18n
from web.formatting import Countdown, Urgency, countdown, format_deadline, format_left

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
DESCRIPTION = (
    "我因急性阑尾炎住院手术，按医疗险提交了全部材料，保险公司一直说在审核，已经过去40天了。"
)


async def page(session: Session, path: str, headers: dict[str, str] | None = None) -> str:
    resp = await session.client.get(path, headers=headers or EN)
    assert resp.status == 200, (path, resp.status)
    return await resp.text()


def token_of(text: str) -> str:
    match = TOKEN.search(text)
    assert match
    return match.group(1)


def complaint_form(text: str, **changes: str) -> dict[str, str]:
    """The complaint form's fields, filled in, with the token and insurer from the page."""
    insurer = re.search(r'<option value="(\d+)"[^>]*>(?:Ankang Life|安康人寿)</option>', text)
    terms = re.search(r'name="terms_version" value="([^"]+)"', text)
    assert insurer and terms
    data = {
        "csrf_token": token_of(text),
        "insurer_id": insurer.group(1),
        "policy_numbers": "AK2023100188, AK2023100189\nAK2023100190",
        "category": "claims",
        "amount": "3,200.50",
        "description": DESCRIPTION,
        "desired_outcome": "尽快赔付",
        "contact_preference": "sms",
        "birth_date": "",
        "terms_version": terms.group(1),
    }
    data.update(changes)
    return data


async def file_case(session: Session, **changes: str) -> tuple[int, str]:
    """File through the page; return the case's id and number."""
    data = complaint_form(await page(session, "/complaints/new"), **changes)
    resp = await session.client.post("/complaints/new", data=data, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    match = re.fullmatch(r"/cases/(\d+)", resp.headers["Location"])
    assert match
    case_id = int(match.group(1))
    detail = await (await session.get(f"/api/v1/cases/{case_id}")).json()
    return case_id, detail["number"]


async def act(
    session: Session,
    case_id: int,
    operation: str,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> Any:
    text = await page(session, f"/cases/{case_id}")
    return await session.client.post(
        f"/cases/{case_id}/act/{operation}",
        data={"csrf_token": token_of(text), **fields},
        headers=headers or EN,
        allow_redirects=False,
    )


async def test_consumer_files_a_complaint_through_the_form(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    text = await page(consumer, "/complaints/new", ZH)
    assert "提交投诉" in text and 'data-counter="description-count"' in text
    assert 'href="/terms"' in text
    # a missing description: the form comes back, in Chinese, the field marked, values kept
    resp = await consumer.client.post(
        "/complaints/new", data=complaint_form(text, description="  "), headers=ZH
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "description_required"
    again = await resp.text()
    assert re.search(r'<textarea id="description"[^>]*aria-invalid="true"', again)
    assert "请描述事情经过。" in again
    assert "AK2023100190" in again and 'value="sms" checked' in again
    # the terms not accepted
    data = complaint_form(text)
    del data["terms_version"]
    resp = await consumer.client.post("/complaints/new", data=data, headers=EN)
    assert resp.status == 422
    again = await resp.text()
    assert re.search(r'id="terms_version"[^>]*aria-invalid="true"', again)
    assert "Please read and accept the terms and privacy notice." in again
    # a wrong amount
    resp = await consumer.client.post(
        "/complaints/new", data=complaint_form(text, amount="about 3000"), headers=EN
    )
    assert resp.status == 422 and re.search(
        r'id="amount"[^>]*aria-invalid="true"', await resp.text()
    )
    # success: to the case page, with the number once
    resp = await consumer.client.post("/complaints/new", data=complaint_form(text), headers=ZH)
    assert resp.status == 200 and re.search(r"/cases/\d+$", str(resp.url))
    shown = await resp.text()
    number = re.search(r"ODR-\d{4}-\d{6}", shown)
    assert number and "投诉已提交，编号为 " + number.group(0) in shown
    assert 'src="/static/case.js' in shown and "data-stream=" in shown
    assert "编号为" not in await page(consumer, str(resp.url.path), ZH)  # shown once
    case_id = int(resp.url.path.rsplit("/", 1)[1])
    detail = await (await consumer.get(f"/api/v1/cases/{case_id}")).json()
    assert detail["policy_numbers"] == ["AK2023100188", "AK2023100189", "AK2023100190"]
    assert detail["amount_fen"] == 320050 and detail["contact_preference"] == "sms"
    # listed on the consumer's pages
    listed = await page(consumer, "/cases", ZH)
    assert number.group(0) in listed and "理赔被拒、少赔或拖延" in listed
    assert "等待保险公司答复" in listed
    home = await page(consumer, "/home", ZH)
    assert number.group(0) in home and 'href="/complaints/new"' in home


async def test_insurer_answers_and_consumer_rejects_through_the_pages(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, number = await file_case(consumer)
    rep = await login(new_client, ANKANG_REP)
    inbox = await page(rep, "/cases", EN)
    assert number in inbox and "Inbox" in inbox
    assert re.search(r'class="deadline urgency-normal"', inbox)
    assert re.search(r"On time</strong> · \d+ days left", inbox)
    assert number in await page(rep, "/home", EN)  # complaints to answer
    text = await page(rep, f"/cases/{case_id}", EN)
    assert "Triage" in text and "Risk score" in text
    assert f'action="/cases/{case_id}/act/answer"' in text
    assert "/act/withdraw" not in text and "/act/accept_answer" not in text
    # an answer without text: the form comes back with the field marked and the choice kept
    resp = await act(rep, case_id, "answer", kind="propose", text=" ", offered_amount="2000")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "answer_text_required"
    again = await resp.text()
    assert re.search(r'id="answer-text"[^>]*aria-invalid="true"', again)
    assert 'value="propose" checked' in again and 'value="2000"' in again
    resp = await act(
        rep, case_id, "answer", kind="propose", text="我们愿意赔付2000元。", offered_amount="2000"
    )
    assert resp.status == 303 and resp.headers["Location"] == f"/cases/{case_id}"
    shown = await page(rep, f"/cases/{case_id}", EN)
    assert "Your answer was sent to the consumer." in shown
    # the consumer reads the answer and rejects it
    text = await page(consumer, f"/cases/{case_id}", ZH)
    assert "保险公司的答复" in text and "我们愿意赔付2000元。" in text and "¥2,000.00" in text
    assert f'action="/cases/{case_id}/act/reject_answer"' in text
    assert '/act/answer"' not in text and "Triage" not in text and "风险评分" not in text
    resp = await act(consumer, case_id, "reject_answer", reason="金额太低")
    assert resp.status == 303
    text = await page(consumer, f"/cases/{case_id}", ZH)
    assert "您已拒绝答复，案件将进入调解。" in text
    assert "消费者拒绝了答复并申请调解" in text and "金额太低" in text
    assert "已申请调解" in text  # the state
    english = await page(consumer, f"/cases/{case_id}", EN)
    for sentence in (
        "Complaint filed",
        "Routed to the insurer",
        "The insurer answered",
        "The consumer rejected the answer and asked for mediation",
    ):
        assert sentence in english
    # a form from a page that is out of date: the case page comes back with the reason
    resp = await act(rep, case_id, "answer", kind="accept", text="again")
    assert resp.status == 409 and resp.headers["X-Error-Code"] == "illegal_transition"
    again = html.unescape(await resp.text())
    assert "This cannot be done in the case's current state." in again
    assert "Mediation requested" in again and f'action="/cases/{case_id}/act/answer"' not in again
    assert f'/lang/zh-CN?next=/cases/{case_id}"' in again  # not to the address of the form


async def test_messages_tell_the_sender_what_was_hidden(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, _ = await file_case(consumer)
    resp = await act(consumer, case_id, "send_message", text="")
    assert resp.status == 422
    assert re.search(r'id="message-text"[^>]*aria-invalid="true"', await resp.text())
    resp = await act(consumer, case_id, "send_message", text="请打我电话13912345678")
    assert resp.status == 303
    text = await page(consumer, f"/cases/{case_id}", EN)
    assert "Personal numbers in your message were hidden" in text and "mobile number" in text
    assert "13912345678" not in text and "139****5678" in html.unescape(text)
    assert "Message from 王芳" in text


async def test_strangers_get_the_404_page(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, number = await file_case(consumer)
    stranger = await login(new_client, OTHER_CONSUMER)
    resp = await stranger.client.get(f"/cases/{case_id}", headers=EN)
    assert resp.status == 404 and resp.headers["X-Error-Code"] == "case_not_found"
    text = await resp.text()
    assert "There is no such case" in text and number not in text
    assert number not in await page(stranger, "/cases")
    token = token_of(await page(stranger, "/cases"))
    resp = await stranger.client.post(
        f"/cases/{case_id}/act/withdraw", data={"csrf_token": token}, allow_redirects=False
    )
    assert resp.status == 404
    resp = await consumer.client.get("/cases/999999")
    assert resp.status == 404
    resp = await consumer.client.post(
        f"/cases/{case_id}/act/fly", data={"csrf_token": consumer.token}, allow_redirects=False
    )
    assert resp.status == 404
    # the insurer's staff cannot file
    rep = await login(new_client, ANKANG_REP)
    assert (await rep.client.get("/complaints/new")).status == 403


async def test_form_posts_without_csrf_token_are_refused(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, _ = await file_case(consumer)
    resp = await consumer.client.post(
        f"/cases/{case_id}/act/withdraw", data={"reason": "x"}, allow_redirects=False
    )
    assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"
    text = await page(consumer, "/complaints/new")
    data = complaint_form(text)
    del data["csrf_token"]
    resp = await consumer.client.post("/complaints/new", data=data, allow_redirects=False)
    assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"
    detail = await (await consumer.get(f"/api/v1/cases/{case_id}")).json()
    assert detail["state"] == "awaiting_insurer"


async def test_pages_need_a_login(new_client: Any) -> None:
    visitor = await new_client()
    for path in ("/cases", "/complaints/new", "/cases/1"):
        resp = await visitor.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=")
    resp = await visitor.get("/terms", headers=ZH)
    assert resp.status == 200 and "服务条款与隐私声明" in await resp.text()


async def test_supervisor_filters_all_cases(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    first, first_number = await file_case(consumer)
    _, second_number = await file_case(consumer, policy_numbers="AK2023100999")
    assert (await act(consumer, first, "withdraw", reason="已自行解决", confirm="1")).status == 303
    supervisor = await login(new_client, SUPERVISOR)
    everything = await page(supervisor, "/cases", EN)
    assert first_number in everything and second_number in everything
    assert "Escalated cases" in everything and "No case is escalated." in everything
    withdrawn = await page(supervisor, "/cases?state=withdrawn", EN)
    assert first_number in withdrawn and second_number not in withdrawn
    assert '<option value="withdrawn" selected>' in withdrawn
    waiting = await page(supervisor, "/cases?state=awaiting_insurer&category=claims", EN)
    assert second_number in waiting and first_number not in waiting
    assert first_number not in await page(supervisor, "/cases?care=1", EN)
    # unknown filters are ignored, not an error
    assert second_number in await page(supervisor, "/cases?state=nonsense&insurer_id=x", EN)
    text = await page(supervisor, f"/cases/{first}", ZH)
    assert "已撤回" in text and "投诉已撤回" in text and "已自行解决" in text


async def test_pages_speak_both_languages(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, _ = await file_case(consumer)
    checks = {
        "/complaints/new": (
            ["File a complaint", "How should we contact you?", "Birth date (optional)"],
            ["提交投诉", "您希望我们如何联系您？", "出生日期（选填）"],
        ),
        "/cases": (["My cases", "Next step"], ["我的案件", "下一步"]),
        f"/cases/{case_id}": (
            ["Complaint filed", "What happened", "Withdraw the complaint", "History"],
            ["投诉已提交", "事情经过", "撤回投诉", "案件记录"],
        ),
    }
    for path, (english, chinese) in checks.items():
        text = await page(consumer, path, EN)
        assert all(s in text for s in english), (path, [s for s in english if s not in text])
        text = await page(consumer, path, ZH)
        assert all(s in text for s in chinese), (path, [s for s in chinese if s not in text])
    # dates in the configured time zone, localised
    text = await page(consumer, f"/cases/{case_id}", ZH)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", text)
    assert (await consumer.client.get("/static/case.js")).status == 200


def row_of(text: str, number: str) -> str:
    start = text.index(number)
    return text[start : text.index("</tr>", start)]


async def test_the_inbox_shows_how_urgent_each_deadline_is(new_client: Any) -> None:
    """Referrals received days ago (the regulator's date counts) put deadlines at every
    urgency; the words say it, not only the colour."""
    supervisor = await login(new_client, SUPERVISOR)
    insurer = await insurer_id(supervisor)
    numbers = {}
    for days_ago, mobile in ((20, "13600000001"), (14, "13600000002"), (9, "13600000003")):
        data = complaint(
            insurer,
            regulator_reference=f"12378-2026-{days_ago:06d}",
            consumer={"name": "赵敏", "mobile": mobile},
            received_at=(datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
        )
        data.pop("terms_version")
        resp = await supervisor.post("/api/v1/referrals", data)
        assert resp.status == 201, await resp.text()
        numbers[days_ago] = (await resp.json())["number"]
    rep = await login(new_client, ANKANG_REP)
    inbox = await page(rep, "/cases", EN)
    rows = {
        n: inbox[inbox.index(n) : inbox.index("</tr>", inbox.index(n))] for n in numbers.values()
    }
    overdue, urgent, soon = rows[numbers[20]], rows[numbers[14]], rows[numbers[9]]
    assert "urgency-overdue" in overdue and "Overdue</strong> · Overdue by" in overdue
    assert "urgency-urgent" in urgent and "Urgent</strong>" in urgent
    assert "urgency-soon" in soon and "Due soon</strong>" in soon and "days left" in soon
    # the nearest deadline first
    assert inbox.index(numbers[20]) < inbox.index(numbers[14]) < inbox.index(numbers[9])
    chinese = await page(rep, "/cases", ZH)
    assert "已超期" in chinese and "紧急" in chinese and "即将到期" in chinese


def in_language(lang: str, text: Callable[[], str]) -> str:
    """``text()`` with ``lang`` active, leaving the test's own context as it was."""

    def run() -> str:
        i18n.activate(lang)
        return text()

    return contextvars.copy_context().run(run)


def test_countdowns_and_deadlines_read_as_people_expect() -> None:
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    due = start + timedelta(days=10)

    def after(**elapsed: int) -> Countdown:
        clock = countdown(due, start, start + timedelta(**elapsed))
        assert clock is not None
        return clock

    assert after(days=4).urgency is Urgency.NORMAL  # more than half left
    assert after(days=6).urgency is Urgency.SOON  # less than half
    assert after(days=8, hours=1).urgency is Urgency.URGENT  # less than a fifth
    assert after(days=10, hours=3).overdue
    assert countdown(None, start, start) is None
    late = after(days=10, hours=3)
    assert in_language("zh-CN", lambda: format_left(late, "zh-CN")) == "已超期 3小时"
    soon = after(days=5, hours=12)
    assert in_language("en", lambda: format_left(soon, "en")) == "4 days left"  # whole days
    # a deadline at local midnight is shown as its last day, the day before
    shanghai = ZoneInfo("Asia/Shanghai")
    midnight = datetime(2026, 12, 8, tzinfo=shanghai)
    assert format_deadline(midnight, "zh-CN", shanghai) == "2026年12月7日（含当日）"
    assert format_deadline(midnight.isoformat(), "en", shanghai) == "Dec 7, 2026 (inclusive)"


def test_every_code_a_page_shows_has_a_name() -> None:
    """A new event kind, state, category or operation in the core needs words on the pages."""
    from odr.domain.cases import CaseState, EventKind
    from odr.domain.categories import Category
    from odr.domain.commands import COMMANDS as OPERATIONS
    from odr.domain.next_step import Step, Waiting
    from odr.services.cases import CONTACT_PREFERENCES
    from web import forms, labels, next_steps

    assert set(EventKind) <= set(labels.EVENTS)
    assert set(CaseState) <= set(labels.STATES)
    assert set(Category) <= set(labels.CATEGORIES)
    assert set(Waiting) == set(next_steps.WAITING)
    assert set(Step) <= set(next_steps.STEPS)
    assert set(CONTACT_PREFERENCES) <= set(labels.CONTACT_PREFERENCES)
    assert set(OPERATIONS) == set(forms.OPERATION_FIELDS) == set(labels.OPERATIONS)
    assert set(OPERATIONS) == set(labels.DONE)


async def test_out_of_range_numbers_on_pages_are_not_server_errors(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    huge = "9" * 25
    assert (await consumer.client.get(f"/cases/{huge}")).status == 404
    assert (await consumer.client.get(f"/cases?page={huge}")).status == 200
    supervisor = await login(new_client, SUPERVISOR)
    resp = await supervisor.client.get(f"/cases?insurer_id={huge}")
    assert resp.status in (200, 422)
