"""The one parser for numbers in requests: ASCII digits only, bounded, never an exception."""

from __future__ import annotations

import pytest

from odr.domain.errors import ValidationFailed
from odr.domain.numbers import MAX_ID, parse_int
from odr.http.params import query_int


@pytest.mark.parametrize(
    "text",
    [
        "¹",
        "١",
        "٣",
        "1e3",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1_000",
        "",
        None,
        "\x00",
        "99999999999999999999",
    ],
)
def test_only_plain_ascii_numbers_in_range_parse(text: str | None) -> None:
    assert parse_int(text) is None


def test_bounds() -> None:
    assert parse_int("0") == 0 and parse_int("0", minimum=1) is None
    assert parse_int(str(MAX_ID)) == MAX_ID and parse_int(str(MAX_ID + 1)) is None
    assert parse_int("007") == 7
    assert parse_int("61", maximum=60) is None


def test_query_int_names_the_field() -> None:
    assert query_int({}, "limit", 50) == 50 and query_int({"limit": ""}, "limit") is None
    assert query_int({"limit": "20"}, "limit", 50) == 20
    with pytest.raises(ValidationFailed) as caught:
        query_int({"limit": "²"}, "limit", 50)
    assert caught.value.code == "invalid_field" and caught.value.details == {"field": "limit"}


def test_query_int_can_clamp_a_page_past_the_end() -> None:
    assert query_int({"offset": "9" * 5000}, "offset", 0, maximum=1000, clamp=True) == 1000
    assert query_int({"offset": "20"}, "offset", 0, maximum=1000, clamp=True) == 20
    with pytest.raises(ValidationFailed):
        query_int({"offset": "-1"}, "offset", 0, clamp=True)
