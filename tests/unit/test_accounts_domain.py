from __future__ import annotations

import pytest

from odr.domain.accounts import (
    check_badge_number,
    check_display_name,
    check_password_policy,
    normalise_login,
)
from odr.domain.errors import ValidationFailed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800000001", ("mobile", "13800000001")),
        ("+86 138-0000-0001", ("mobile", "13800000001")),
        (" Wang.Fang@Example.COM ", ("email", "wang.fang@example.com")),
    ],
)
def test_logins_are_normalised(raw: str, expected: tuple[str, str]) -> None:
    assert normalise_login(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "23800000001", "no-at-sign", "a@b", "王芳"])
def test_bad_logins_name_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalise_login(raw)
    assert err.value.details["field"] == "login"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1", "password_too_short"),
        ("a1" * 65, "password_too_long"),
        ("onlyletterslong", "password_too_weak"),
        ("12345678901", "password_too_weak"),
    ],
)
def test_password_policy(password: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_password_policy(password)
    assert err.value.code == code


def test_names_and_badges() -> None:
    assert check_display_name("  王   芳 ") == "王 芳"
    assert check_badge_number(" ak-1001 ") == "AK-1001"
    with pytest.raises(ValidationFailed):
        check_display_name("   ")
    with pytest.raises(ValidationFailed):
        check_badge_number("A/1")


def test_senior_from_the_sixtieth_birthday() -> None:
    from datetime import date

    from odr.domain.accounts import is_senior

    born = date(1966, 12, 2)
    assert not is_senior(born, date(2026, 12, 1))
    assert is_senior(born, date(2026, 12, 2))
    assert is_senior(date(1930, 2, 28), date(2026, 1, 1))
    assert not is_senior(None, date(2026, 12, 2))
