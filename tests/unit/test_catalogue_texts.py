"""Every text sent or printed comes from the catalogue: each notification kind, the calendar
invitation, the agreement, the closing report and the package letters, rendered in Chinese
and in English. The Chinese says everything in Chinese (no English text left untranslated);
the English has no Chinese."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from odr.case_names import EVENTS
from odr.domain.agreements import AgreementDraft, AgreementParties
from odr.domain.cases import EventKind
from odr.i18n import translate
from odr.services import notifications, outcome_documents, reports
from odr.services.agreement_text import render_agreement
from odr.services.invitations import Invitation, calendar_file

ZONE = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
#: Two English words in a row: a text the catalogue did not translate.
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,.:;'()-]+[A-Za-z]{2,}")
#: What Chinese texts say in Latin letters on purpose.
LATIN_IN_CHINESE = (
    "SHA-256",
    "odr verify-bundle",
    "evidence-bundle.zip",
    "agreement.pdf",
    "parties.json",
    "manifest.json",
)
SHA = "ab" * 32

#: A value for every placeholder the notification texts use (no English words among them).
PARAMS: dict[str, Any] = {
    "number": "ODR-2026-000123",
    "due": "2026-05-01 18:00",
    "reason": "调解员请假",
    "insurer": "安康人寿",
    "count": 4,
    "category": "理赔",
    "when": "2026-05-02 09:30",
    "zone": "Asia/Shanghai",
    "minutes": 60,
    "url": "https://odr.example/hearings/7",
    "name": "王芳",
    "phone": "13800000002",
    "phone_masked": "138****0002",
    "time": "morning",
    "mediator": "周敏",
}


def values_of(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for value in data.values():
            yield from values_of(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from values_of(value)
    elif data is not None and not isinstance(data, bool):
        yield str(data)


def without(text: str, data: Any) -> str:
    """``text`` without the data filled into it (longest first), nor the Latin words Chinese
    texts keep."""
    for value in sorted({*values_of(data), *LATIN_IN_CHINESE}, key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def assert_chinese(text: str, data: Any) -> None:
    rest = without(text, data)
    assert CJK.search(rest), text
    assert not ENGLISH.search(rest), f"untranslated: {ENGLISH.findall(rest)} in {text!r}"


def assert_english(text: str, data: Any) -> None:
    rest = without(text, data)
    assert not CJK.search(rest), f"Chinese in the English text: {text!r}"
    assert ENGLISH.search(rest), text


def pdf_text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return "\n".join(page.extract_text() for page in pages).replace("\n", "")


@pytest.mark.parametrize("kind", sorted(notifications.TEXTS))
def test_every_notification_is_told_in_both_languages(kind: str) -> None:
    for time in notifications.CALLBACK_TIMES:
        params = {**PARAMS, "time": time}
        zh_subject, zh_body = notifications.render(kind, "zh-CN", params)
        en_subject, en_body = notifications.render(kind, "en", params)
        for text in (zh_subject, zh_body):
            assert_chinese(text, params)
        assert_english(en_body, params)
        assert not CJK.search(without(en_subject, params))
        assert notifications.render(kind, None, params) == (zh_subject, zh_body)


def test_a_call_back_names_the_time_in_the_readers_language() -> None:
    params = {**PARAMS, "time": "evening"}
    assert "傍晚 18:00–20:00" in notifications.render("callback_requested", "zh-CN", params)[1]
    assert (
        "in the evening, 18:00–20:00" in notifications.render("callback_requested", "en", params)[1]
    )


def test_the_calendar_invitation_in_both_languages() -> None:
    invitation = Invitation(
        7,
        "ODR-2026-000123",
        datetime(2026, 5, 2, 1, 30, tzinfo=UTC),
        60,
        0,
        "https://odr.example/hearings/7",
        "周敏",
    )
    data = [invitation.case_number, invitation.url]
    for lang, check in (("zh-CN", assert_chinese), ("en", assert_english)):
        text = calendar_file(invitation, zone=ZONE, language=lang)
        unfolded = text.replace("\r\n ", "")
        summary = re.search(r"^SUMMARY:(.*)$", unfolded, re.M)
        description = re.search(r"^DESCRIPTION:(.*)$", unfolded, re.M)
        assert summary is not None and description is not None
        check(description.group(1).replace("\\", "").strip(), data)
        assert CJK.search(summary.group(1)) if lang == "zh-CN" else True


PARTIES = AgreementParties(
    "ODR-2026-000123", "王芳", "安康人寿", "陈调解", "滨江调解中心", ("AK1",)
)


def agreement_data(lang: str, *, confidential: bool) -> dict[str, Any]:
    draft = AgreementDraft(
        "拒赔引发争议。", "保险公司赔付。", 320_050, date(2026, 5, 1), confidential
    )
    text = render_agreement(PARTIES, draft, lang)
    signature = {"name": "王芳", "at": "2026-04-20T10:00:00+08:00", "sha256": SHA}
    return {
        "agreement": {
            "text": text,
            "sha256": SHA,
            "amount_fen": 320_050,
            "due_on": "2026-05-01",
            "language": lang,
        },
        "signatures": [
            {**signature, "party": "consumer", "method": "password"},
            {**signature, "party": "insurer", "method": "password+totp"},
            {**signature, "party": "mediator", "method": "password+totp"},
        ],
    }


@pytest.mark.parametrize("confidential", [True, False])
def test_the_agreement_and_its_pdf_in_both_languages(confidential: bool) -> None:
    facts = [
        PARTIES.case_number,
        "王芳",
        "安康人寿",
        "陈调解",
        "滨江调解中心",
        "AK1",
        "拒赔引发争议。",
        "保险公司赔付。",
        "3,200.50",
        "2026-05-01",
        SHA,
    ]
    for lang, check in (("zh-CN", assert_chinese), ("en", assert_english)):
        data = agreement_data(lang, confidential=confidential)
        check(data["agreement"]["text"], facts)
        pdf = pdf_text(outcome_documents.agreement_pdf(PARTIES.case_number, data, ZONE))
        check(pdf, [facts, data["signatures"]])
        unsigned = {**data, "signatures": []}
        check(pdf_text(outcome_documents.agreement_pdf(PARTIES.case_number, unsigned, ZONE)), facts)


def report_data() -> dict[str, Any]:
    """A closing report with every part filled in, and every public event in its timeline."""
    kinds = [k.value for k in EventKind if k is not EventKind.BLIND_OFFER_SUBMITTED]
    return {
        "case": {
            "number": "ODR-2026-000123",
            "category": "理赔",
            "received_at": "2026-03-01T09:00:00+08:00",
            "amount_fen": 320_050,
            "policy_numbers": ["AK1"],
        },
        "parties": {
            "consumer": "王芳",
            "insurer": "安康人寿",
            "mediator": None,
            "centre": "滨江调解中心",
        },
        "timeline": [
            {"sequence": n, "at": "2026-03-01T09:00:00+08:00", "kind": kind, "actor": "王芳"}
            for n, kind in enumerate(kinds, 1)
        ],
        "deadlines": [
            {"name": "answer", "due": "2026-03-16T23:59:00+08:00", "done": None, "status": "met"},
            {"name": "mediation", "due": None, "done": None, "status": "missed"},
            {"name": "payment", "due": None, "done": None, "status": "pending"},
        ],
        "evidence": [
            {"sequence": 3, "name": "发票.pdf", "kind": "document", "size": 1024, "sha256": SHA}
        ],
        "hearings": [
            {
                "id": 7,
                "scheduled_for": "2026-04-01T09:00:00+08:00",
                "duration_minutes": 45,
                "recordings": [{"name": "第一段.webm", "seconds": 60, "sha256": SHA}],
            },
            {"id": 8, "scheduled_for": None, "duration_minutes": None, "recordings": []},
        ],
        "outcome": {
            "result": "fulfilled",
            "closed_at": "2026-05-02T10:00:00+08:00",
            "agreement_sha256": SHA,
            "agreement_amount_fen": 320_050,
            "agreement_due_on": "2026-05-01",
            "payments": [
                {"amount_fen": 320_050, "paid_on": "2026-04-30", "reference": "转账 0001"}
            ],
            "payment_confirmed": True,
            "blind_offer_settlement_fen": 300_000,
            "not_settled_reason": "双方分歧过大",
        },
        "chain_head": SHA,
    }


def test_the_closing_report_in_both_languages() -> None:
    data = report_data()
    zh = pdf_text(reports.report_pdf(data, "zh-CN", ZONE))
    assert_chinese(zh, data)
    assert all(translate("zh-CN", EVENTS[k["kind"]]) in zh for k in data["timeline"])
    en = pdf_text(reports.report_pdf(data, "en", ZONE))
    assert_english(en, data)
    assert "Closing report" in en and "Deadlines" in en
    empty = {**data, "deadlines": [], "evidence": [], "hearings": []}
    assert_chinese(pdf_text(reports.report_pdf(empty, "zh-CN", ZONE)), empty)


def test_the_package_letters_say_everything_in_chinese_then_in_english() -> None:
    data = report_data()
    parties = {
        "applicant": {"name": "王芳", "mobile": "13800000002"},
        "respondent": {"name": "安康人寿"},
        "mediator": {"name": "周敏", "organisation": "滨江调解中心", "badge_number": "M-001"},
    }
    window = {"effective_on": "2026-04-20", "ends_on": "2026-05-20"}
    for kind, forum in (("referral", "arbitration"), ("referral", "court"), ("confirmation", "")):
        text = pdf_text(outcome_documents.package_letter(kind, data, parties, window, forum, ZONE))
        chinese, _, english = text.partition("Case " if kind == "referral" else "The agreement")
        assert english, text
        assert CJK.search(chinese) and "申请人" in text and "Applicant" in text
        assert not CJK.search(without(english.split("当事人")[0], data)), english
