"""Money has one parser per input and one plain formatter: integer fen inside."""

from __future__ import annotations

from decimal import Decimal

import pytest

from odr.domain.errors import ValidationFailed
from odr.domain.money import MAX_YUAN, fen_of_yuan, parse_yuan, yuan


def test_typed_yuan() -> None:
    assert parse_yuan("3,200.50", "amount") == 320050
    assert parse_yuan("¥3200", "amount") == 320000
    assert parse_yuan("１２元", "amount") == 1200  # full-width digits, as a Chinese IME types
    assert parse_yuan("  ", "amount") is None


@pytest.mark.parametrize("text", ["١٢", "12.345", "-5", "1e3", "abc", "1" * 13])
def test_typed_yuan_refused(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_yuan(text, "amount")
    assert caught.value.code == "invalid_amount" and caught.value.details == {"field": "amount"}


def test_api_yuan() -> None:
    assert fen_of_yuan(Decimal("3200.5")) == 320050
    for bad in (Decimal("0.001"), Decimal("-1"), MAX_YUAN + 1, Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValidationFailed):
            fen_of_yuan(bad)
    assert fen_of_yuan(Decimal(str(3200.5))) == 320050  # a JSON number, as the API reads it


def test_plain_yuan() -> None:
    assert yuan(320050) == "3,200.50" and yuan(320050, grouped=False) == "3200.50"
    assert yuan(5) == "0.05"
