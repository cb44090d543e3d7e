"""`odr triage FILE.jsonl`: successive intakes into an empty store, one JSON row per complaint."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from odr.domain.duplicates import DuplicateReason
from odr.domain.errors import ValidationFailed
from odr.services.triage_file import ROW_KEYS, FileTriage, triage_jsonl

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "complaints.jsonl"
TODAY = date(2025, 6, 1)


def run(records: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    return list(triage_jsonl(lines, today=TODAY, **kwargs))


# --- The sample file: the acceptance of the triage issue ---------------------------------------


@pytest.fixture(scope="module")
def samples() -> list[dict[str, Any]]:
    if not SAMPLES.is_file():
        pytest.skip(f"sample complaints not found at {SAMPLES}")
    return [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def sample_rows(samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in triage_jsonl(lines, today=TODAY)}


def test_sample_categories(samples: list[dict[str, Any]], sample_rows: dict[str, Any]) -> None:
    right = [s["id"] for s in samples if sample_rows[s["id"]]["category"] == s["category"]]
    # model and rules together (the keyword rules alone, written on these samples, get 18);
    # S06, S09, S13 and S17 each name two topics (a call-back that leaked data, a renewal's
    # rise and its refund, a claim's paperwork run-around, a surrender no branch would take)
    assert len(right) >= 16, f"categories right: {len(right)}/{len(samples)}"


def test_sample_signals(samples: list[dict[str, Any]], sample_rows: dict[str, Any]) -> None:
    missing = {
        s["id"]: sorted(set(s["expect"]["signals"]) - set(sample_rows[s["id"]]["signals"]))
        for s in samples
    }
    assert {k: v for k, v in missing.items() if v} == {}


def test_sample_duplicates(sample_rows: dict[str, Any]) -> None:
    flagged = {i: row["duplicate_of"] for i, row in sample_rows.items() if row["duplicate_of"]}
    assert flagged == {"S04": "S03", "S14": "S01"}


def test_sample_care(samples: list[dict[str, Any]], sample_rows: dict[str, Any]) -> None:
    wrong = [
        s["id"] for s in samples if sample_rows[s["id"]]["care_priority"] != s["expect"]["care"]
    ]
    assert wrong == []


def test_sample_rows_have_exactly_the_promised_keys(sample_rows: dict[str, Any]) -> None:
    for row in sample_rows.values():
        assert tuple(row)[: len(ROW_KEYS)] == ROW_KEYS  # new fields come after
        assert row["signals"] == sorted(row["signals"])
        assert 0 <= row["risk_score"] <= 100
        json.dumps(row, ensure_ascii=False)


def test_near_duplicate_text_alone_links_the_sample_paraphrase(
    samples: list[dict[str, Any]],
) -> None:
    """Without anything to tell consumers apart, only the text links S04 to S03."""
    anonymous = [{k: v for k, v in s.items() if k != "birth_date"} for s in samples]
    run_ = FileTriage(today=TODAY)
    links = {s["id"]: run_.intake(s).duplicates for s in anonymous}
    flagged = {i: (d[0].of, d[0].reason) for i, d in links.items() if d}
    assert flagged == {"S04": ("S03", DuplicateReason.NEAR_DUPLICATE_TEXT)}
    similarity = links["S04"][0].similarity
    assert similarity is not None and similarity >= run_.rules.similarity.near_duplicate + 0.04


# --- Held-out duplicates ---------------------------------------------------------------------

HELD_OUT_FILE = [
    # A copy-paste campaign: different consumers file the same story against one insurer.
    {"id": "T01", "insurer": "福瑞人寿", "policy_no": "FR2021000101", "birth_date": "1958-03-02",
     "amount_cny": 50000, "category": "mis_selling",
     "text": "我于2021年在银行网点购买了该公司的分红型年金保险，销售人员称该产品是存款，保本且"
             "收益高于定期存款，现在才发现是保险产品，要求全额退还本金。"},
    {"id": "T02", "insurer": "福瑞人寿", "policy_no": "FR2020004417", "birth_date": "1962-07-19",
     "amount_cny": 80000, "category": "mis_selling",
     "text": "本人2020年在某银行网点买了这家公司的分红型年金险，当时销售人员说这个产品就是存款，"
             "保本而且收益比定期存款高，现在才发现买的是保险，要求全额退还本金。"},
    # The same consumer comes back about the same policy while the first case is open.
    {"id": "T03", "insurer": "众诚健康", "policy_no": "ZC7788001", "birth_date": "1979-06-01",
     "amount_cny": 500000, "category": "claims",
     "text": "我老公出车祸去世了，意外险的受益人是我，保险公司说要等交警的事故认定书，认定书"
             "早就交过去了，到现在一分钱都没给。"},
    {"id": "T04", "insurer": "众诚健康", "policy_no": "zc-7788001", "birth_date": "1979-06-01",
     "amount_cny": 500000, "category": "claims",
     "text": "关于我丈夫的身故理赔，已经过去三个月了，保险公司还是没有任何说法，请平台督促。"},
    # Same birth date and insurer, another policy: another consumer (or another matter).
    {"id": "T05", "insurer": "众诚健康", "policy_no": "ZC5500123", "birth_date": "1979-06-01",
     "amount_cny": 1200, "category": "payment_refund",
     "text": "退保已经审核通过，说好五个工作日到账，现在一个月了钱还没有退回来。"},
    # Same complaint kind, told differently by another consumer: similar, not a duplicate.
    {"id": "T06", "insurer": "福瑞人寿", "policy_no": "FR2019000033", "birth_date": "1955-01-01",
     "amount_cny": 30000, "category": "mis_selling",
     "text": "业务员说这个是银行存款，利息比定期高，我就存了3万，现在要用钱取不出来，才知道买的"
             "是分红保险，我们小区好多老人都被骗了。"},
    # A near-copy of T05's text by someone else, against another insurer.
    {"id": "T07", "insurer": "安康人寿", "policy_no": "AK9900", "birth_date": "1990-01-01",
     "amount_cny": 800, "category": "payment_refund",
     "text": "我的退保已经审核通过了，说好五个工作日到账，现在一个多月了钱还是没有退回来。"},
]  # fmt: skip


def test_held_out_duplicates() -> None:
    rows = {row["id"]: row for row in run(HELD_OUT_FILE)}
    # T02 and T07 are near copies by other consumers: a cluster at most, never a duplicate
    assert {i: r["duplicate_of"] for i, r in rows.items() if r["duplicate_of"]} == {"T04": "T03"}
    assert "repeat" in rows["T04"]["signals"]  # the consumer complained before (T03)
    assert "repeat" not in rows["T05"]["signals"]  # another policy: not known as the same person
    assert rows["T01"]["care_priority"] and not rows["T03"]["care_priority"]


def test_duplicate_reasons_and_similarity() -> None:
    run_ = FileTriage(today=TODAY)
    outcomes = {r["id"]: run_.intake(r) for r in HELD_OUT_FILE}
    assert outcomes["T02"].duplicates == ()  # another consumer's near copy
    again = run_.intake(
        {
            "id": "T08",
            "consumer_id": "u-T01",
            "insurer": "福瑞人寿",
            "policy_no": "FR-NEW-1",
            "text": HELD_OUT_FILE[1]["text"],
        }
    )
    assert again.duplicates == ()  # u-T01 is not known to be T01's consumer
    mine = run_.intake(
        {
            "id": "T09",
            "consumer_id": "u-T01",
            "insurer": "福瑞人寿",
            "policy_no": "FR-NEW-2",
            "text": HELD_OUT_FILE[0]["text"],
        }
    )
    (t09,) = mine.duplicates  # the same consumer again: a near-duplicate text of T08
    assert (t09.of, t09.reason) == ("T08", DuplicateReason.NEAR_DUPLICATE_TEXT)
    assert t09.similarity is not None
    (t04,) = outcomes["T04"].duplicates
    assert (t04.of, t04.reason, t04.similarity) == (
        "T03",
        DuplicateReason.SAME_POLICY_OPEN_CASE,
        None,
    )


def test_a_campaign_raises_an_early_warning() -> None:
    story = (
        "在银行网点被销售人员推荐了分红型年金保险，说是存款产品保本保息，结果取钱的时候才发现是"
        "保险，要损失本金。"
    )
    records = [
        {"id": f"W{i}", "insurer": "福瑞人寿", "policy_no": f"FR{i}", "birth_date": "1960-01-01",
         "category": "mis_selling", "text": prefix + story}
        for i, prefix in enumerate(["", "我母亲", "我父亲", "本人"])
    ]  # fmt: skip
    records.append(
        {"id": "X", "insurer": "福瑞人寿", "text": "回访时客服语速太快，我没听清楚就挂了。"}
    )
    run_ = FileTriage(today=TODAY)
    for record in records:
        run_.intake(record)
    (warning,) = run_.early_warnings()
    assert warning.insurer == "福瑞人寿" and warning.product == "mis_selling"
    assert warning.item_ids == ("W0", "W1", "W2", "W3")


# --- Input handling --------------------------------------------------------------------------


def test_optional_fields() -> None:
    rows = run(
        [
            {"id": 1, "text": "请尽快处理我的理赔。", "care_requested": True},
            {"id": 2, "text": "理赔还是没结果。", "consumer_id": "u7", "received_on": "2025-05-01"},
            {"id": 3, "text": "理赔还是没结果，请处理。", "consumer_id": "u7"},
        ]
    )
    assert rows[0]["care_priority"] is True and rows[0]["duplicate_of"] is None
    assert "repeat" in rows[2]["signals"] and "repeat" not in rows[1]["signals"]


def test_blank_lines_are_skipped() -> None:
    rows = list(triage_jsonl(["", '{"id": "A", "text": "退保难"}', "  "], today=TODAY))
    assert [r["id"] for r in rows] == ["A"]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("{not json", "line"),
        ("[1, 2]", "line"),
        ('{"text": "退保"}', "id"),
        ('{"id": "A"}', "text"),
        ('{"id": "A", "text": "退保", "category": "refunds"}', "category"),
        ('{"id": "A", "text": "退保", "birth_date": "01/02/1960"}', "birth_date"),
        ('{"id": "A", "text": "退保", "amount_cny": -3}', "amount_cny"),
        ('{"id": "A", "text": "退保", "policy_numbers": "AK1"}', "policy_numbers"),
    ],
)
def test_bad_lines_are_refused_with_their_number(line: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        list(triage_jsonl(['{"id": "ok", "text": "退保"}', line], today=TODAY))
    assert err.value.details["field"] == field
    assert err.value.details["line"] == 2
    assert err.value.message.startswith("line 2: ")


def test_an_id_may_appear_once() -> None:
    with pytest.raises(ValidationFailed) as err:
        run([{"id": "A", "text": "退保"}, {"id": "A", "text": "退款"}])
    assert err.value.details == {"field": "id", "line": 2}
