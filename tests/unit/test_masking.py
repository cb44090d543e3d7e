"""Masking of resident ID, bank card and mobile numbers in party messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odr.domain.masking import (
    MaskKind,
    MaskResult,
    id_checksum_ok,
    luhn_ok,
    mask_personal_numbers,
)

ID_VALID = "11010519491231002X"  # the standard's own example
ID_VALID_DIGIT = "110105199003070017"
ID_BAD_CHECKSUM = "110105199003070018"  # plausible date, wrong check digit
ID_BAD_DATE = "110105199002300010"  # 30 February (and neither ID nor Luhn checksum holds)
CARD_19 = "6222021234567890128"
CARD_16 = "4581234567890128"
CARD_BAD_LUHN = "4581234567890127"

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "complaints.jsonl"


def test_check_algorithms() -> None:
    assert id_checksum_ok(ID_VALID)
    assert id_checksum_ok(ID_VALID.lower())
    assert id_checksum_ok(ID_VALID_DIGIT)
    assert not id_checksum_ok(ID_BAD_CHECKSUM)
    assert luhn_ok(CARD_19)
    assert luhn_ok(CARD_16)
    assert not luhn_ok(CARD_BAD_LUHN)


# --- Resident IDs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number,masked",
    [
        (ID_VALID, "110105********002X"),
        (ID_VALID.lower(), "110105********002x"),
        (ID_VALID_DIGIT, "110105********0017"),
        # A wrong check digit still masks: region, birth date and most digits would leak.
        (ID_BAD_CHECKSUM, "110105********0018"),
        ("110105490101123", "110105******123"),  # old 15-digit ID, born 1949-01-01
    ],
)
def test_resident_ids_are_masked_keeping_region_and_last_digits(number: str, masked: str) -> None:
    result = mask_personal_numbers(f"我的身份证号{number}，请核实")
    assert result.text == f"我的身份证号{masked}，请核实"
    assert result.kinds == (MaskKind.RESIDENT_ID,)
    assert result.count == 1


@pytest.mark.parametrize(
    "number",
    [
        ID_BAD_DATE,
        "110105199013070011",  # month 13
        "011105199003070017",  # area code cannot start with 0
        "110105180003070010",  # born in 1800
        "110105491301123",  # 15 digits, month 13
    ],
)
def test_id_shaped_numbers_without_a_real_birth_date_are_left(number: str) -> None:
    result = mask_personal_numbers(f"编号{number}")
    assert result.text == f"编号{number}"
    assert result.count == 0


def test_sample_s12_id_number_is_masked() -> None:
    record = next(
        json.loads(line) for line in SAMPLES.read_text("utf-8").splitlines() if '"S12"' in line
    )
    result = mask_personal_numbers(record["text"])
    assert "110105199202290012" not in result.text
    assert "身份证号110105********0012，我怀疑" in result.text
    assert result.kinds == ("resident_id",)


# --- Bank cards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written,masked",
    [
        (CARD_19, "6222***********0128"),
        (CARD_16, "4581********0128"),
        ("4581 2345 6789 0128", "4581 **** **** 0128"),
        ("4581-2345-6789-0128", "4581-****-****-0128"),
        ("6222 0212 3456 7890 128", "6222 **** **** ***0 128"),
        ("6228480012345678903", "6228***********8903"),
    ],
)
def test_luhn_valid_card_numbers_are_masked(written: str, masked: str) -> None:
    result = mask_personal_numbers(f"退款请打到卡号{written}谢谢")
    assert result.text == f"退款请打到卡号{masked}谢谢"
    assert result.kinds == (MaskKind.BANK_CARD,)
    assert result.count == 1


@pytest.mark.parametrize(
    "written",
    [
        CARD_BAD_LUHN,
        "4581 2345 6789 0127",
        "4581 2345-6789 0128",  # mixed separators are not one card number
        "458123456789",  # 12 digits: too short
        "45812345678901234567",  # 20 digits: too long
        "4581 2345 6789 0128 1234",  # a fifth full group: some longer number
    ],
)
def test_other_digit_groups_are_left(written: str) -> None:
    text = f"号码{written}。"
    assert mask_personal_numbers(text).text == text


# --- Mobiles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written,masked",
    [
        ("13812345678", "138****5678"),
        ("19912345678", "199****5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678", "138-****-5678"),
        ("+8613812345678", "+86138****5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("008613812345678", "0086138****5678"),
        ("8613812345678", "86138****5678"),  # a bare 86 prefix (this run is also Luhn-valid)
        ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits
    ],
)
def test_mobile_numbers_are_masked(written: str, masked: str) -> None:
    result = mask_personal_numbers(f"请打我电话{written}联系")
    assert result.text == f"请打我电话{masked}联系"
    assert result.kinds == (MaskKind.MOBILE,)
    assert result.count == 1


@pytest.mark.parametrize(
    "written",
    [
        "12812345678",  # 12x is not a mobile prefix
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "010-12345678",  # a landline
        "400-820-8820",  # a service line
    ],
)
def test_numbers_that_are_not_mobiles_are_left(written: str) -> None:
    text = f"电话{written}。"
    assert mask_personal_numbers(text).text == text


# --- Mixed text and what must stay untouched ----------------------------------------------------


def test_mixed_chinese_text_masks_each_number_and_reports_kinds_in_order() -> None:
    text = (
        f"我叫张三，手机13812345678，身份证{ID_VALID}，"
        f"理赔款3200元请转到{CARD_19}，另一个手机号 139 8765 4321。"
    )
    result = mask_personal_numbers(text)
    assert result.text == (
        "我叫张三，手机138****5678，身份证110105********002X，"
        "理赔款3200元请转到6222***********0128，另一个手机号 139 **** 4321。"
    )
    assert result.kinds == ("mobile", "resident_id", "bank_card")
    assert result.count == 4
    assert result.masked


@pytest.mark.parametrize(
    "text",
    [
        "花费医疗费3200元，重疾险应该赔付25万元，扣款9800元，250000元",
        "保单号AK2023100188、HX88012003、ZC1020339",
        "保单号HX13812345678",  # letters and digits: a policy number, not a mobile
        "案件编号ODR-2026-000123",
        "日期2024-03-15、2024年3月15日、20240315、2024/03/15 10:30",
        "12378热线，3个工作日，72岁",
        "交易单号4200001234202403151234567890",  # a long digit run holds no card or ID
        "订单20240315123456789012",
    ],
)
def test_amounts_dates_policy_and_case_numbers_are_not_touched(text: str) -> None:
    result = mask_personal_numbers(text)
    assert result.text == text
    assert (result.kinds, result.count, result.masked) == ((), 0, False)


def test_a_grouped_card_next_to_a_date_or_an_amount_is_still_masked() -> None:
    result = mask_personal_numbers("2024-03-15 4581 2345 6789 0128 退款 3200 元")
    assert result.text == "2024-03-15 4581 **** **** 0128 退款 3200 元"


def test_a_number_is_never_masked_in_part_inside_a_longer_digit_run() -> None:
    for text in (
        f"9{ID_VALID_DIGIT}",
        f"{ID_VALID_DIGIT}9",
        f"1{CARD_16}",
        "913812345678",
        "8813812345678",
    ):
        assert mask_personal_numbers(text).text == text


def test_a_number_with_two_readings_is_masked_once_by_the_surer_one() -> None:
    both = "110105199013070017"  # passes Luhn, fails the ID checksum, has no real birth date
    assert luhn_ok(both)
    assert mask_personal_numbers(both) == MaskResult("1101**********0017", ("bank_card",), 1)
    checked_id = "110105180003070017"  # passes the ID checksum: an ID even with an odd year
    assert mask_personal_numbers(checked_id).kinds == ("resident_id",)


def test_sample_complaints_lose_nothing_but_personal_numbers() -> None:
    for line in SAMPLES.read_text("utf-8").splitlines():
        record = json.loads(line)
        result = mask_personal_numbers(record["text"])
        if record["id"] == "S12":
            assert result.count == 1
        else:
            assert result.text == record["text"], record["id"]


def test_empty_text() -> None:
    assert mask_personal_numbers("") == MaskResult("", (), 0)
