"""Blind-offer rules: the settlement, the rounds, the commitment; which offer can be answered."""

from __future__ import annotations

import pytest

from odr.domain.errors import Conflict, ValidationFailed
from odr.domain.offers import (
    BlindOfferRules,
    OpenOffer,
    Round,
    SettlementRule,
    Side,
    check_figure,
    commitment,
    offer_to_answer,
    round_for,
    settlement,
)

C, INS = Side.CONSUMER, Side.INSURER


@pytest.mark.parametrize(
    ("consumer", "insurer", "rules", "expected"),
    [
        (300_000, 500_000, BlindOfferRules(), 400_000),
        (300_001, 300_002, BlindOfferRules(), 300_002),  # half a fen rounds up
        (300_000, 300_000, BlindOfferRules(), 300_000),  # touching figures overlap
        (300_001, 300_000, BlindOfferRules(), None),  # one fen apart: no overlap
        (300_000, 500_000, BlindOfferRules(rule=SettlementRule.CONSUMER_FIGURE), 300_000),
        (300_000, 500_000, BlindOfferRules(rule=SettlementRule.INSURER_FIGURE), 500_000),
        (300_050, 300_120, BlindOfferRules(round_to_fen=100), 300_100),
        (300_010, 300_040, BlindOfferRules(round_to_fen=100), 300_010),  # kept in the overlap
    ],
)
def test_settlement(
    consumer: int, insurer: int, rules: BlindOfferRules, expected: int | None
) -> None:
    assert settlement(consumer, insurer, rules) == expected


def test_rounds_open_wait_and_run_out() -> None:
    rules = BlindOfferRules(max_rounds=2)
    assert round_for(C, [], rules) == 1
    waiting = [Round(1, frozenset({C}))]
    assert round_for(INS, waiting, rules) == 1
    with pytest.raises(Conflict) as err:
        round_for(C, waiting, rules)
    assert err.value.code == "blind_offer_already_submitted"
    one = [Round(1, frozenset({C, INS}), overlap=False)]
    assert round_for(INS, one, rules) == 2
    two = [*one, Round(2, frozenset({C, INS}), overlap=False)]
    with pytest.raises(Conflict) as err:
        round_for(C, two, rules)
    assert err.value.code == "no_rounds_left"
    settled = [Round(1, frozenset({C, INS}), overlap=True, amount_fen=5)]
    with pytest.raises(Conflict) as err:
        round_for(C, settled, rules)
    assert err.value.code == "blind_offers_settled"


def test_the_commitment_hides_the_figure_and_binds_it() -> None:
    nonce = bytes(range(32))
    sealed = commitment(7, 1, C, 9_876_543, nonce)
    assert "9876543" not in sealed and len(sealed) == 64
    assert sealed == commitment(7, 1, C, 9_876_543, nonce)
    assert sealed != commitment(7, 1, C, 9_876_544, nonce)
    assert sealed != commitment(7, 1, INS, 9_876_543, nonce)
    assert sealed != commitment(7, 1, C, 9_876_543, bytes(32))
    with pytest.raises(ValueError):
        commitment(7, 1, C, 1, b"short")


@pytest.mark.parametrize("bad", [0, -1, True, 10**14])
def test_figures_are_positive_amounts(bad: int) -> None:
    with pytest.raises(ValidationFailed):
        check_figure(bad)


def test_only_the_other_sides_latest_open_offer_is_answered() -> None:
    offers = [OpenOffer(3, C, 300_000), OpenOffer(5, INS, 200_000)]
    assert offer_to_answer(C, offers, 5).amount_fen == 200_000
    for side, seq, code in [(INS, 5, "own_offer"), (C, 3, "offer_superseded")]:
        with pytest.raises(Conflict) as err:
            offer_to_answer(side, offers, seq)
        assert err.value.code == code
    with pytest.raises(Conflict):
        offer_to_answer(C, [OpenOffer(5, INS, 1, answered=True)], 5)
    with pytest.raises(Conflict):
        offer_to_answer(C, [], 1)
