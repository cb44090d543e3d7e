"""The rules of one-time codes (`odr.domain.one_time_codes`) and their settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from odr.config import ConfigError, Settings
from odr.domain.errors import RateLimited, ValidationFailed
from odr.domain.one_time_codes import (
    CodePolicy,
    IssuedCode,
    IssueHistory,
    Medium,
    Purpose,
    check_issue,
    check_usable,
    destination_of,
    digest,
    generate,
    mask,
    matches,
    normalise_code,
    wrong_code,
)

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
POLICY = CodePolicy()


def history(last: datetime | None = None, to: int = 0, client: int = 0) -> IssueHistory:
    return IssueHistory(last, to, client)


def test_defaults_and_bounds() -> None:
    assert (POLICY.length, POLICY.lifetime, POLICY.max_attempts) == (6, 600, 5)
    assert (POLICY.resend_interval, POLICY.per_destination, POLICY.per_client) == (60, 5, 20)
    assert POLICY.window == 3600 and POLICY.lifetime_minutes == 10
    for bad in ({"length": 3}, {"length": 11}, {"lifetime": 0}, {"max_attempts": 0}):
        with pytest.raises(ValueError):
            CodePolicy(**bad)  # type: ignore[arg-type]


def test_codes_are_digits_of_the_length() -> None:
    digits = iter([1, 2, 3, 4, 5, 6, 7, 8])
    assert generate(CodePolicy(length=8), lambda n: next(digits)) == "12345678"


def test_stored_as_an_hmac_bound_to_purpose_and_destination() -> None:
    stored = digest("k" * 32, Purpose.RESET, "13800000001", "123456")
    assert "123456" not in stored and len(stored) == 64
    assert matches("k" * 32, Purpose.RESET, "13800000001", "123456", stored)
    assert not matches("k" * 32, Purpose.SIGN, "13800000001", "123456", stored)
    assert not matches("k" * 32, Purpose.RESET, "13800000002", "123456", stored)
    assert not matches("another-key" * 3, Purpose.RESET, "13800000001", "123456", stored)
    assert not matches("k" * 32, Purpose.RESET, "13800000001", "123456", "")  # pretended


def test_the_code_as_typed() -> None:
    assert normalise_code(" 123 456 ", POLICY) == "123456"
    assert normalise_code("１２３４５６", POLICY) == "123456"  # full-width digits
    for bad in ("12345", "1234567", "12a456", "", "١٢٣٤٥٦"):
        with pytest.raises(ValidationFailed) as refused:
            normalise_code(bad, POLICY)
        assert refused.value.code == "code_invalid"


def test_resend_interval() -> None:
    check_issue(POLICY, history(), NOW)
    with pytest.raises(RateLimited) as refused:
        check_issue(POLICY, history(last=NOW - timedelta(seconds=45)), NOW)
    assert refused.value.code == "code_resend_too_soon" and refused.value.retry_after == 15
    check_issue(POLICY, history(last=NOW - timedelta(seconds=60)), NOW)


def test_limits_per_destination_and_per_client() -> None:
    check_issue(POLICY, history(to=4, client=19), NOW)
    for h in (history(to=5), history(client=20)):
        with pytest.raises(RateLimited) as refused:
            check_issue(POLICY, h, NOW)
        assert refused.value.code == "code_limit_reached"
        assert refused.value.retry_after == POLICY.window


def test_usable_codes() -> None:
    fresh = IssuedCode(NOW, NOW + timedelta(minutes=10), 0, None)
    check_usable(POLICY, fresh, NOW + timedelta(minutes=9, seconds=59))
    cases = [
        (None, NOW, "code_invalid"),  # never sent: just wrong
        (IssuedCode(NOW, NOW + timedelta(minutes=10), 0, NOW), NOW, "code_invalid"),  # used
        (fresh, NOW + timedelta(minutes=10), "code_expired"),
        (IssuedCode(NOW, NOW + timedelta(minutes=10), 5, None), NOW, "code_attempts_exceeded"),
    ]
    for code, at, expected in cases:
        with pytest.raises(ValidationFailed) as refused:
            check_usable(POLICY, code, at)
        assert refused.value.code == expected and refused.value.details["field"] == "code"


def test_wrong_code_says_how_many_tries_are_left() -> None:
    assert wrong_code(POLICY, 1).details["attempts_left"] == 4
    assert wrong_code(POLICY, 5).code == "code_attempts_exceeded"
    assert "attempts_left" not in wrong_code(POLICY, None).details


def test_destinations_and_masks() -> None:
    assert destination_of("+86 138-0000-0001") == (Medium.SMS, "13800000001")
    assert destination_of("Wang.Fang@Example.com") == (Medium.EMAIL, "wang.fang@example.com")
    with pytest.raises(ValidationFailed):
        destination_of("12345")
    assert mask(Medium.SMS, "13800000001") == "138****0001"
    assert mask(Medium.EMAIL, "wang.fang@example.com") == "w***@example.com"


def test_settings_read_the_code_policy(tmp_path: Path) -> None:
    env = {"ODR_VAR_DIR": str(tmp_path), "ODR_CODE_LENGTH": "8", "ODR_CODE_LIFETIME": "300"}
    env |= {"ODR_CODE_MAX_ATTEMPTS": "3", "ODR_CODE_RESEND_INTERVAL": "90"}
    env |= {"ODR_CODE_PER_DESTINATION": "4", "ODR_CODE_PER_CLIENT": "10", "ODR_CODE_WINDOW": "7200"}
    assert Settings.from_env(env).code_policy == CodePolicy(8, 300, 3, 90, 4, 10, 7200)
    assert Settings.from_env({"ODR_VAR_DIR": str(tmp_path)}).code_policy == CodePolicy()
    for bad in ({"ODR_CODE_LENGTH": "3"}, {"ODR_CODE_LIFETIME": "-1"}, {"ODR_CODE_WINDOW": "x"}):
        with pytest.raises(ConfigError):
            Settings.from_env({"ODR_VAR_DIR": str(tmp_path), **bad})


def test_settings_of_the_sms_gateway(tmp_path: Path) -> None:
    base = {"ODR_VAR_DIR": str(tmp_path), "ODR_SMS_GATEWAY_URL": "https://sms.example/send"}
    with pytest.raises(ConfigError, match="ODR_SMS_GATEWAY_KEY"):
        Settings.from_env(base)
    full = base | {
        "ODR_SMS_GATEWAY_KEY": "k",
        "ODR_SMS_GATEWAY_SECRET": "s",
        "ODR_SMS_TEMPLATE_ID": "t",
    }
    settings = Settings.from_env(full)
    assert settings.sms_gateway_url == "https://sms.example/send"
    assert (settings.sms_gateway_key, settings.sms_template_id) == ("k", "t")
    with pytest.raises(ConfigError):
        Settings.from_env(full | {"ODR_SMS_GATEWAY_URL": "ftp://sms.example"})
