"""The rules over the text read from evidence: boxes of parts of a line, the regions to black
out (the masking rules of messages), search, who gets which copy, the mediator's flags."""

from __future__ import annotations

import pytest

from odr.domain.authz import Relation
from odr.domain.errors import ValidationFailed
from odr.domain.evidence_flags import FlagKind, FlagRules, find_flags, fold
from odr.domain.evidence_text import (
    MAX_QUERY,
    Copy,
    PageText,
    TextLine,
    copy_for,
    occurrences,
    page_hits,
    part_box,
    redaction_regions,
    search_query,
)
from odr.domain.masking import MaskKind, find_personal_numbers, mask_personal_numbers
from odr.services.evidence_text import packaged_flag_rules

ID = "11010519491231002X"


def page(*texts: str) -> PageText:
    lines = tuple(
        TextLine(t, (10, 10 + 40 * i, 10 + 30 * len(t), 40 + 40 * i)) for i, t in enumerate(texts)
    )
    return PageText(1, 800, 600, lines)


def test_find_personal_numbers_gives_what_masking_masks() -> None:
    text = f"身份证{ID}，手机+86 139 1234 5678，卡号4111 1111 1111 1111，保单AK2023100188"
    spans = find_personal_numbers(text)
    assert [s.kind for s in spans] == [MaskKind.RESIDENT_ID, MaskKind.MOBILE, MaskKind.BANK_CARD]
    assert text[spans[0].start : spans[0].end] == ID
    masked = mask_personal_numbers(text).text
    assert masked.count("*") > 0 and "AK2023100188" in masked
    assert find_personal_numbers("合同金额12000元，日期2023年10月18日") == []


def test_part_box_weighs_wide_and_narrow_characters() -> None:
    line = TextLine("号码" + "1234", (0, 0, 310, 30))  # 2 wide + 4 narrow = 4.2 em
    x0, y0, x1, y1 = part_box(line, 2, 6)
    assert (y0, y1) == (0, 30) and x1 == 310 and 140 <= x0 <= 150
    wide = part_box(line, 0, 2, margin=0.5)
    assert wide[0] == 0 and wide[2] > 150  # widened, within the line
    assert part_box(line, 0, 6, margin=5) == (0, 0, 310, 30)


def test_redaction_regions_cover_each_number_with_a_margin() -> None:
    regions = redaction_regions(
        [page("公民身份号码", f"号码{ID}", "联系电话13912345678", "金额12000元")]
    )
    assert [r.kind for r in regions] == [MaskKind.RESIDENT_ID, MaskKind.MOBILE]
    line = page("x", f"号码{ID}").lines[1]
    exact = part_box(line, 2, 20)
    assert regions[0].box[0] < exact[0] and regions[0].box[1:] == (50, line.box[2], 80)


def test_search_queries_are_bounded_and_case_insensitive() -> None:
    assert search_query("  保本   保息 ") == "保本 保息"
    for bad, code in (("   ", "search_empty"), ("字" * (MAX_QUERY + 1), "search_too_long")):
        with pytest.raises(ValidationFailed) as info:
            search_query(bad)
        assert info.value.code == code
    assert occurrences("Guaranteed RETURN, guaranteed", "guaranteed") == [(0, 10), (19, 29)]
    hits = page_hits(page("第一行", "和存款一样稳赚，和存款一样"), "存款")
    assert [(h.line, h.excerpt) for h in hits] == [(1, "和存款一样稳赚，和存款一样")] * 2
    assert hits[0].box[0] < hits[1].box[0]


@pytest.mark.parametrize(
    "relations,mine,redact_for_mediator,expected",
    [
        (frozenset({Relation.CONSUMER}), True, False, (Copy.ORIGINAL, True)),
        (frozenset({Relation.INSURER}), False, False, (Copy.REDACTED, False)),
        (frozenset({Relation.CONSUMER}), False, True, (Copy.REDACTED, False)),
        (frozenset({Relation.MEDIATOR}), False, False, (Copy.ORIGINAL, True)),
        (frozenset({Relation.MEDIATOR}), False, True, (Copy.REDACTED, True)),
        (frozenset({Relation.SUPERVISOR}), False, False, (Copy.ORIGINAL, True)),
    ],
)
def test_who_gets_which_copy(
    relations: frozenset[Relation], mine: bool, redact_for_mediator: bool, expected: object
) -> None:
    got = copy_for(relations, mine=mine, has_redacted=True, redact_for_mediator=redact_for_mediator)
    assert got == expected
    plain = copy_for(relations, mine=mine, has_redacted=False, redact_for_mediator=True)
    assert plain == (Copy.ORIGINAL, False)  # nothing to black out: the original for everyone


def test_fold_makes_full_width_half_and_drops_spaces() -> None:
    folded, index = fold("保 本１２％")
    assert folded == "保本12%" and index == [0, 2, 3, 4, 5]


def test_the_packaged_flags() -> None:
    rules = packaged_flag_rules()
    sales = page(
        "业务员说：这款产品保本保息，", "和存款一样，年缴保费１２０００元", "保单号：AK2023100188"
    )
    flags = find_flags(rules, [(3, [sales])])
    found = {(f.kind, f.key): f for f in flags}
    promise = found[(FlagKind.PHRASE, "guaranteed_returns")]
    assert (promise.sequence, promise.page, promise.line, promise.excerpt) == (3, 1, 0, "保本保息")
    assert promise.box is not None and promise.box[0] > sales.lines[0].box[0]
    assert (FlagKind.PHRASE, "like_a_deposit") in found
    assert found[(FlagKind.FACT, "amount")].excerpt == "１２０００元"
    assert (FlagKind.FACT, "policy_number") in found
    assert found[(FlagKind.MISSING, "cooling_off")].line == 1  # the line with 保费
    told = page("年缴保费12000元", "犹豫期为十五日")
    assert not [f for f in find_flags(rules, [(4, [told])]) if f.kind is FlagKind.MISSING]
    assert find_flags(rules, [(5, [page("理赔被拒，已申请调解")])]) == []


def test_bad_flag_rules_are_refused() -> None:
    for data in (
        {"phrase": {"x": {"patterns": []}}},
        {"phrase": {"x": {"patterns": ["("]}}},
        {"missing": {"x": {"patterns": ["犹豫期"]}}},
    ):
        with pytest.raises(ValidationFailed):
            FlagRules.from_mapping(data)
