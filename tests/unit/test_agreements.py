"""The agreement template, its PDF (text extractable, Chinese included), and the timing of
payment alerts and of the judicial-confirmation window."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from odr.domain.agreements import (
    AgreementDraft,
    AgreementParties,
    ConfirmationRules,
    FulfilmentRules,
    confirmation_action,
    payment_action,
    window_ends_on,
)
from odr.domain.cases import Agreement
from odr.domain.errors import ValidationFailed
from odr.services.agreement_text import render_agreement
from odr.services.pdf import Heading, Table, Text, render_pdf

ZONE = ZoneInfo("Asia/Shanghai")
PARTIES = AgreementParties(
    "ODR-2026-000123", "王芳", "安康人寿", "陈调解", "滨江调解中心", ("AK1",)
)
DRAFT = AgreementDraft("拒赔引发争议。", "保险公司赔付。", 320_050, date(2026, 5, 1))


def test_the_template_names_parties_amount_due_date_and_confidentiality() -> None:
    text = render_agreement(PARTIES, DRAFT)
    for part in (
        "调解协议书",
        "ODR-2026-000123",
        "王芳",
        "安康人寿",
        "陈调解",
        "AK1",
        "3,200.50",
        "2026年5月1日（含当日）",
        "保密",
        "司法确认",
    ):
        assert part in text
    english = render_agreement(PARTIES, AgreementDraft("f", "t", None, None, False), "en")
    assert "involves no payment" in english and "not confidential" in english


def test_any_edit_changes_the_hash_the_parties_sign() -> None:
    base = render_agreement(PARTIES, DRAFT)
    edited = render_agreement(
        PARTIES, AgreementDraft("拒赔引发争议。", "保险公司赔付！", 320_050, date(2026, 5, 1))
    )
    assert Agreement.digest(base, 320_050, date(2026, 5, 1)) != Agreement.digest(
        edited, 320_050, date(2026, 5, 1)
    )


@pytest.mark.parametrize(
    "draft",
    [("", "t", None, None), ("f", " ", None, None), ("f", "t", 100, None), ("f", "t", -1, None)],
)
def test_an_incomplete_draft_is_refused(draft: tuple[str, str, int | None, date | None]) -> None:
    with pytest.raises(ValidationFailed):
        AgreementDraft(*draft)


def test_the_pdf_renders_and_its_text_is_extractable() -> None:
    data = render_pdf(
        "调解协议书",
        [
            Text(render_agreement(PARTIES, DRAFT)),
            Heading("签署记录"),
            Table([["签署方", "SHA-256"], ["消费者", "ab" * 32]]),
        ],
        lang="zh-CN",
        subtitle="案件 ODR-2026-000123",
        footer="ODR-2026-000123",
    )
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace("\n", "")
    for part in ("调解协议书", "王芳", "安康人寿", "3,200.50", "签署记录", "ab" * 32):
        assert part in text


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), ZONE).astimezone(UTC)


def test_payment_alerts_follow_the_due_date_once_each() -> None:
    due, rules = date(2026, 5, 1), FulfilmentRules(reminder_days=(1, 3), escalation_day=7)
    fired: set[str] = set()
    seen = []
    for d in range(0, 12):
        action = payment_action(due, at(due + timedelta(days=d)), ZONE, rules, fired)
        if action:
            fired.add(action.key)
            seen.append((d, action.kind))
    assert seen == [(1, "reminder"), (3, "reminder"), (7, "escalation")]
    # a worker that was down does not send an overtaken reminder late
    assert payment_action(due, at(due + timedelta(days=9)), ZONE, rules, set()).kind == "escalation"


def test_the_confirmation_window_and_its_reminders() -> None:
    rules = ConfirmationRules()
    ends = window_ends_on(at(date(2026, 5, 1), 23), ZONE, rules)
    assert ends == date(2026, 5, 31)
    fired: set[str] = set()
    seen = []
    for d in range(25, -3, -1):
        action = confirmation_action(ends, at(ends - timedelta(days=d)), ZONE, rules, fired)
        if action:
            fired.add(action.key)
            seen.append(d)
    assert seen == [10, 3]
