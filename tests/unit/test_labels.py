"""Every code a person can meet has a person's wording in both languages: each state, event,
evidence kind, category, answer kind, channel, role and triage signal, and each error code the
code raises (found in the source, not listed by hand)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from odr import case_names
from odr.domain.accounts import Role
from odr.domain.cases import AnswerKind, CaseState, ChannelKind, EventKind, EvidenceKind
from odr.domain.categories import Category
from odr.domain.deadlines import Stage
from odr.domain.hearings import HearingState
from odr.domain.triage import REQUIRED_SIGNALS
from odr.http.errors import HTTP_CODES
from odr.i18n import translate
from odr.services import notifications
from tests.texts import ROOT, error_codes
from web import evidence as evidence_page
from web import form_errors, inbox, labels, messages, outcome_section, scheduling_pages
from web import i18n as web_i18n

CJK = re.compile(r"[\u4e00-\u9fff]")

TABLES: dict[str, tuple[Iterable[str], Mapping[str, str]]] = {
    "state": (CaseState, case_names.STATES),
    "event": (EventKind, case_names.EVENTS),
    "evidence kind": (EvidenceKind, case_names.EVIDENCE_KINDS),
    "category": (Category, case_names.CATEGORIES),
    "triage signal": (REQUIRED_SIGNALS, case_names.SIGNALS),
    "answer kind": (AnswerKind, labels.ANSWER_KINDS),
    "channel": (ChannelKind, labels.CHANNELS),
    "role": (Role, labels.ROLES),
    "hearing state": (HearingState, scheduling_pages._STATES),
    "deadline stage": (Stage, labels.STAGE_OWNERS),
    "notification kind (inbox)": (notifications.TEXTS, inbox.SENTENCES),
}

#: Every table pages read an error code's message from (`web.messages.message_for` and the
#: page-specific ones before it).
PAGE_MESSAGES: dict[str, str] = {
    **messages._MESSAGES,
    **form_errors._MESSAGES,
    **scheduling_pages._ERRORS,
    **outcome_section._ERRORS,
    **evidence_page._MESSAGES,
}


#: Codes only programs and operators meet, never a person on a page: each answered by the
#: command line, checked when the configuration is read, or sent to a partner's program.
FOR_PROGRAMS = {
    # backups and restores (`odr backup`, `odr restore`)
    "backup_altered",
    "backup_not_found",
    "restore_database_kind",
    "restore_target_not_empty",
    # configuration files, checked at start
    "invalid_deadline_policy",
    "invalid_time_zone",
    "invalid_rules",
    "invalid_thresholds",
    # the metrics endpoint, read by a scraper
    "metrics_disabled",
    "metrics_token_required",
    # the partner channel's signed requests
    "bad_signature",
    "stale_timestamp",
    "invalid_timestamp",
    "signature_required",
    "unknown_api_key",
    "invalid_idempotency_key",
    "idempotency_key_reused",
    "channel_exists",
}


def assert_worded(code: str, english: str) -> None:
    assert english.strip() and not CJK.search(english), f"{code}: English {english!r}"
    chinese = translate("zh-CN", english)
    assert chinese != english and CJK.search(chinese), f"{code}: no Chinese for {english!r}"


@pytest.mark.parametrize("what", sorted(TABLES))
def test_every_code_has_a_name_in_both_languages(what: str) -> None:
    codes, names = TABLES[what]
    missing = sorted(str(c) for c in codes if str(c) not in names)
    assert missing == [], f"{what} without a name: {missing}"
    for code in codes:
        assert_worded(str(code), names[str(code)])


def test_every_error_code_of_the_pages_and_the_api_has_a_message_in_both_languages() -> None:
    raised = {**error_codes("odr"), **error_codes("web")}
    raised.update({code: {"odr/http/errors.py"} for code, _ in HTTP_CODES.values()})
    assert len(raised) > 100  # the scan finds them
    shown = set(raised) - FOR_PROGRAMS
    missing = sorted(
        f"{c} ({', '.join(sorted(raised[c]))})" for c in shown if c not in PAGE_MESSAGES
    )
    assert missing == [], "error codes without a page message:\n" + "\n".join(missing)
    for code in shown:
        assert_worded(code, PAGE_MESSAGES[code])


def room_error_texts() -> set[str]:
    """The codes the hearing room's script has a text for (``error_<code>``)."""
    tree = ast.parse((ROOT / "web/hearing_room_pages.py").read_text(encoding="utf-8"))
    return {
        key.value.removeprefix("error_")
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and str(key.value).startswith("error_")
    }


def test_every_error_code_of_the_hearing_socket_has_a_text_in_the_room() -> None:
    raised = error_codes("signaling")
    missing = sorted(set(raised) - room_error_texts())
    assert missing == [], f"socket error codes the room cannot say: {missing}"


def test_the_scan_finds_the_codes_of_each_form(tmp_path: Path) -> None:
    sample = (
        'class E(DomainError):\n    code = "one"\n'
        'raise Conflict("x", code="two")\n'
        'raise HttpError(400, "three", "x")\n'
        'raise p.ProtocolError("four", "x")\n'
        'raise Conflict(f"not {a} code", details={"code": 3})\n'
        "def _bad(message, code, name):\n    return ValidationFailed(message, code=code)\n"
        'raise _bad("x", "five", "field")\n'
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "sample.py").write_text(sample, encoding="utf-8")
    assert set(error_codes("pkg", tmp_path)) == {"one", "two", "three", "four", "five"}


@pytest.mark.parametrize(
    ("said", "chinese", "english"),
    [
        ("consumer aged 76", "消费者 76 岁", "The consumer is 76 years old"),
        ("1 earlier complaint by this consumer", "此前已投诉过 1 次", "complained 1 time before"),
        ("3 earlier complaints by this consumer", "此前已投诉过 3 次", "complained 3 times"),
        ("received through channel hotline", "投诉渠道：", "Received through: Hotline"),
        ("amount 80000 CNY >= 50000", "80000 元", "80000 yuan, reaches 50000 yuan"),
        ("我已经投诉到12378", "我已经投诉到12378", "我已经投诉到12378"),  # the complaint's words
    ],
)
def test_a_triage_reason_is_said_in_words(said: str, chinese: str, english: str) -> None:
    web_i18n.activate("zh-CN")
    assert chinese in labels.signal_evidence(said)
    web_i18n.activate("en")
    assert english in labels.signal_evidence(said)


def test_a_file_type_and_a_category_reason_are_said_in_words() -> None:
    web_i18n.activate("zh-CN")
    assert labels.file_type("application/pdf") == "PDF"
    assert labels.file_type("text/plain; charset=utf-8") == "纯文本"
    assert labels.file_type("application/x-unknown") == "X-UNKNOWN"
    assert labels.category_reason("model: 住院 (+0.14)") == "文本特征“住院”（+0.14）"
    assert labels.category_reason("rule: 拒赔 (+2)") == "关键词“拒赔”（+2）"
    web_i18n.activate("en")
    assert labels.category_reason("rule: 拒赔 (+2)") == "keyword “拒赔” (+2)"
